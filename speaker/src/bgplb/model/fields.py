"""Value types of the object fields and the one generic builder: each field of a dataclass in `objects` declares its
type (a `Kind`: converter, JSON Schema, documentation text, Ansible option type) and its documentation in its
metadata; `build` parses a mapping into that dataclass from those declarations alone.

Everything else is derived from the same declarations: the parser (`parse`), the JSON Schema (`schema`), the
collection's argument specs, doc fragments and the tables of speaker/docs/objects.md (scripts/generate-schema.py).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import reprlib
from collections.abc import Callable
from dataclasses import MISSING
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

MAX_ASN = 4294967295
# The widest pool entry accepted, per family: a wider one is a mistake (0.0.0.0/0 would announce a default route).
MAX_POOL_PREFIX = {4: 8, 6: 32}
MAX_LABEL_KEY, MAX_LABEL_VALUE = 253, 63  # Kubernetes' limits
_repr = reprlib.Repr()
_repr.maxstring = _repr.maxother = 100
_repr.maxlong, _repr.maxlevel, _repr.maxlist, _repr.maxdict = 40, 2, 4, 4


def show(value: Any) -> str:
    """A bounded repr for messages: a YAML alias bomb or a 4,000-digit integer must not become a huge message."""
    return _repr.repr(value)


def clip(text: str) -> str:
    """Text for a message, cut at 60 characters."""
    return text if len(text) <= 60 else text[:57] + "..."


class FieldError(ValueError):
    """One invalid field: `path` like 'addresses[1]', message without the object's name."""

    def __init__(self, path: str, message: str) -> None:
        self.path, self.message = path, message
        super().__init__(f"{path}: {message}" if path else message)


Convert = Callable[[Any, str], Any]


@dataclasses.dataclass(frozen=True)
class Kind:
    """The type of a field: `convert(value, path)` checks and normalises a value; `schema` is its JSON Schema,
    `text` its name in the docs, `ansible` its Ansible option type (`type`, `elements`, `choices`), `cls` the
    dataclass of a nested object (its fields become sub-options)."""

    convert: Convert
    schema: dict[str, Any]
    text: str
    ansible: dict[str, Any]
    cls: type | None = None

    def __call__(self, value: Any, path: str) -> Any:
        return self.convert(value, path)


def attr(kind: Kind, doc: str = "", default: Any = MISSING, *, default_doc: str | None = None,
         secret: bool = False, compare: bool = True) -> Any:  # fmt: skip
    """A dataclass field declared with its type and documentation. No default: the field is required. `secret`:
    never shown (`repr=False`: redacted by `serialize`, `no_log` in the modules, `writeOnly` in the schema).
    `compare=False`: changing it does not reset a peer's session. `default_doc` replaces the default in the docs."""
    metadata = {"kind": kind, "doc": doc, "default_doc": default_doc}
    return dataclasses.field(default=default, repr=not secret, compare=compare, metadata=metadata)


def required(f: dataclasses.Field[Any]) -> bool:
    return f.default is MISSING and f.default_factory is MISSING


def _type_name(value: Any) -> str:
    return type(value).__name__ if value is not None else "null"


def _string(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value:
        raise FieldError(path, f"expected a non-empty string, got {_type_name(value)}")
    return value


def _name(value: Any, path: str) -> str:
    text = _string(value, path)
    if len(text) > 63 or not all(c.isalnum() or c in "-_." for c in text):
        raise FieldError(path, f"{show(text)} is not a valid name (letters, digits, '-', '_', '.', at most 63)")
    return text


def _boolean(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise FieldError(path, f"expected true or false, got {show(value)}")
    return value


STR = {"type": "str"}
string = Kind(_string, {"type": "string", "minLength": 1}, "string", STR)
name = Kind(_name, {"type": "string", "pattern": r"^[\w.-]{1,63}$"}, "name", STR)
boolean = Kind(_boolean, {"type": "boolean"}, "boolean", {"type": "bool"})


def integer(low: int, high: int) -> Kind:
    def convert(value: Any, path: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise FieldError(path, f"expected an integer from {low} to {high}, got {show(value)}")
        return value

    schema = {"type": "integer", "minimum": low, "maximum": high}
    return Kind(convert, schema, f"integer {low}-{high}", {"type": "int"})


def seconds(low: float, high: float) -> Kind:
    def convert(value: Any, path: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            raise FieldError(path, f"expected a number of seconds from {low} to {high}, got {show(value)}")
        return float(value)

    schema = {"type": "number", "minimum": low, "maximum": high}
    return Kind(convert, schema, f"seconds {low:g}-{high:g}", {"type": "float"})


def _ip_scoped(value: Any, path: str) -> str:
    text = _string(value, path)
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise FieldError(path, f"{clip(text)} is not an IP address") from None


def _ip(value: Any, path: str) -> str:
    text = _ip_scoped(value, path)
    if "%" in text:
        raise FieldError(path, f"{clip(text)}: an IPv6 zone id (%...) is not allowed here")
    return text


def _ipv4(value: Any, path: str) -> str:
    text = _ip(value, path)
    if ":" in text:
        raise FieldError(path, f"{text} is not an IPv4 address")
    return text


IP_SCHEMA = {"type": "string", "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]}
# An IP address; an IPv6 zone id (`fe80::1%eth0`) allowed (a peer's address).
ip_scoped = Kind(_ip_scoped, {"type": "string", "minLength": 2}, "IP (zone id allowed)", STR)
# Without a zone id: `2001:db8::5%eth0` would escape the duplicate-address check.
ip = Kind(_ip, IP_SCHEMA, "IP", STR)
ipv4 = Kind(_ipv4, {"type": "string", "format": "ipv4"}, "IPv4", STR)


def choice(*options: str) -> Kind:
    def convert(value: Any, path: str) -> str:
        if value not in options:
            raise FieldError(path, f"{show(value)} is not one of {', '.join(options)}")
        return str(value)

    text = ", ".join(f"`{o}`" for o in options[:-1]) + f" or `{options[-1]}`" if len(options) > 1 else options[0]
    return Kind(convert, {"type": "string", "enum": list(options)}, text, {**STR, "choices": list(options)})


def listof(item: Kind, *, scalar_ok: bool = False, text: str | None = None) -> Kind:
    def convert(value: Any, path: str) -> tuple[Any, ...]:
        if scalar_ok and not isinstance(value, list):
            value = [value]
        if not isinstance(value, list):
            raise FieldError(path, f"expected a list, got {_type_name(value)}")
        return tuple(item(v, f"{path}[{i}]") for i, v in enumerate(value))

    array = {"type": "array", "items": item.schema}
    schema = {"oneOf": [item.schema, array]} if scalar_ok else array
    if text is None:
        text = f"{item.text} or list of {item.text}s" if scalar_ok else f"list of {item.text}s"
    ansible = {"type": "list", "elements": item.ansible["type"]}
    if "choices" in item.ansible:
        ansible["choices"] = item.ansible["choices"]
    return Kind(convert, schema, text, ansible, item.cls)


def _labels(value: Any, path: str) -> tuple[tuple[str, str], ...]:
    """Label names to scalar values (stored as strings), at most 253 and 63 characters: no lists or mappings, which
    used to be stringified (a YAML alias bomb of a few hundred bytes became megabytes)."""
    if not isinstance(value, dict):
        raise FieldError(path, f"expected a mapping of label names to values, got {_type_name(value)}")
    out = []
    for k, v in value.items():
        key = _string(k, path)
        if len(key) > MAX_LABEL_KEY:
            raise FieldError(path, f"label name {show(key)} is longer than {MAX_LABEL_KEY} characters")
        if isinstance(v, bool | int | float) and not isinstance(v, str):
            v = str(v) if not isinstance(v, int) or abs(v) < 10**MAX_LABEL_VALUE else None
        if not isinstance(v, str):
            raise FieldError(f"{path}.{key}", f"expected a string value of at most {MAX_LABEL_VALUE} characters, "
                                              f"got {_type_name(v)}")  # fmt: skip
        if len(v) > MAX_LABEL_VALUE:
            raise FieldError(f"{path}.{key}", f"value is longer than {MAX_LABEL_VALUE} characters")
        out.append((key, v))
    return tuple(sorted(out))


labels = Kind(
    _labels,
    {"type": "object", "propertyNames": {"minLength": 1, "maxLength": MAX_LABEL_KEY},
     "additionalProperties": {"type": ["string", "number", "boolean"], "maxLength": MAX_LABEL_VALUE}},
    "labels", {"type": "dict"},
)  # fmt: skip


def _address_range(value: Any, path: str) -> str:
    """A CIDR ('198.51.100.0/24') or a range ('198.51.100.10-198.51.100.20'), canonical form, no zone ids, at most
    as wide as MAX_POOL_PREFIX (a /8 of IPv4, a /32 of IPv6)."""
    text = _string(value, path).strip()
    if "%" in text:
        raise FieldError(path, f"{clip(text)}: an IPv6 zone id (%...) is not allowed in a pool")
    canonical = _canonical_range(text, path)
    first, _, last = canonical.partition("-")
    size = (
        int(ipaddress.ip_address(last)) - int(ipaddress.ip_address(first)) + 1
        if last
        else ipaddress.ip_network(first).num_addresses
    )
    version = 6 if ":" in canonical else 4
    limit = MAX_POOL_PREFIX[version]
    if size > 1 << ((32 if version == 4 else 128) - limit):
        raise FieldError(path, f"{canonical} is wider than a /{limit}, the widest IPv{version} pool entry allowed")
    return canonical


def _canonical_range(text: str, path: str) -> str:
    if "-" in text:
        first, _, last = text.partition("-")
        try:
            a, b = ipaddress.ip_address(first.strip()), ipaddress.ip_address(last.strip())
        except ValueError as err:
            raise FieldError(path, f"{clip(text)}: {err}") from None
        if a.version != b.version or int(a) > int(b):
            raise FieldError(path, f"{clip(text)} is not a range of one family from low to high")
        return f"{a}-{b}"
    try:
        return str(ipaddress.ip_network(text))
    except ValueError as err:
        bad = text.split("/")[0]
        try:
            ipaddress.ip_address(bad)
        except ValueError:
            raise FieldError(path, f"{clip(bad)} is not an IP") from None
        raise FieldError(path, f"{clip(text)} is not a CIDR ({err})") from None


address_range = Kind(_address_range, {"type": "string", "minLength": 3}, "CIDR or range", STR)


def _multihop(value: Any, path: str) -> bool | int:
    return _boolean(value, path) if isinstance(value, bool) else integer(2, 255)(value, path)


multihop = Kind(_multihop, {"oneOf": [{"type": "boolean"}, {"type": "integer", "minimum": 2, "maximum": 255}]},
                "boolean or integer 2-255", {"type": "raw"})  # fmt: skip


def _http_path(value: Any, path: str) -> str:
    """An HTTP request path: starts with '/', printable ASCII without spaces (CR/LF would inject headers)."""
    text = _string(value, path)
    if not text.startswith("/") or len(text) > 2048 or not all("!" <= c <= "~" for c in text):
        raise FieldError(path, f"{show(text)} is not a request path ('/' then printable ASCII without spaces, "
                               "percent-encode the rest; at most 2048 characters)")  # fmt: skip
    return text


http_path = Kind(_http_path, {"type": "string", "pattern": "^/[!-~]*$", "maxLength": 2048}, "string", STR)


def _argument(value: Any, path: str) -> str:
    """One argv element: a NUL cannot be passed to a program."""
    text = _string(value, path)
    if "\0" in text:
        raise FieldError(path, "must not contain a NUL character")
    return text


argument = Kind(_argument, {"type": "string", "minLength": 1, "pattern": "^[^\\u0000]*$"}, "string", STR)


# Rules that involve several fields of one object, by class (registered by `parse`); paths relative to the object.
CHECKS: dict[type, Callable[[Any], None]] = {}
T = TypeVar("T", bound="DataclassInstance")


def mapping(value: Any, path: str, known: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise FieldError(path, f"expected a mapping, got {_type_name(value)}")
    unknown = sorted(set(value) - known)
    if unknown:
        prefix = f"{path}." if path else ""
        raise FieldError(f"{prefix}{unknown[0]}", "unknown field")
    return value


def build(cls: type[T], value: Any, path: str) -> T:
    """An instance of the dataclass `cls` from a mapping, each field checked by its declared Kind; a field given as
    null counts as absent; then the class's CHECKS."""
    fields = dataclasses.fields(cls)
    data = mapping(value, path, {f.name for f in fields})
    kwargs = {}
    prefix = f"{path}." if path else ""
    for f in fields:
        if data.get(f.name) is None:
            if required(f):
                raise FieldError(f"{prefix}{f.name}", "is required")
            continue
        kwargs[f.name] = f.metadata["kind"](data[f.name], f"{prefix}{f.name}")
    obj = cls(**kwargs)
    check = CHECKS.get(cls)
    if check is not None:
        try:
            check(obj)
        except FieldError as err:
            raise FieldError(f"{prefix}{err.path}" if err.path else path, err.message) from None
    return obj


def nested(cls: type, text: str, *, boolean_ok: bool = False) -> Kind:
    """A field holding an object of the dataclass `cls`. `boolean_ok`: `true` means `cls()` (all defaults), `false`
    means none (a peer's `bfd`)."""

    def convert(value: Any, path: str) -> Any:
        if boolean_ok and isinstance(value, bool):
            return cls() if value else None
        return build(cls, value, path)

    ref = {"$ref": f"#/$defs/{cls.__name__}"}
    schema = {"oneOf": [{"type": "boolean"}, ref]} if boolean_ok else ref
    return Kind(convert, schema, text, {"type": "dict"}, cls)
