"""From plain dicts (YAML/JSON) to objects, checking every field; errors name the object and the field."""

from __future__ import annotations

import ipaddress
import reprlib
from collections.abc import Callable
from typing import Any

from bgplb.bgp.wire import parse_large_community
from bgplb.model.objects import (
    KIND_CLASSES,
    Advertisement,
    Bfd,
    Expression,
    HealthCheck,
    Node,
    Peer,
    Pool,
    Selector,
    Service,
)

Convert = Callable[[Any, str], Any]
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
        super().__init__(f"{path}: {message}" if path else message)


def _type_name(value: Any) -> str:
    return type(value).__name__ if value is not None else "null"


def string(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value:
        raise FieldError(path, f"expected a non-empty string, got {_type_name(value)}")
    return value


def name(value: Any, path: str) -> str:
    text = string(value, path)
    if len(text) > 63 or not all(c.isalnum() or c in "-_." for c in text):
        raise FieldError(path, f"{show(text)} is not a valid name (letters, digits, '-', '_', '.', at most 63)")
    return text


def boolean(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise FieldError(path, f"expected true or false, got {show(value)}")
    return value


def integer(low: int, high: int) -> Convert:
    def convert(value: Any, path: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise FieldError(path, f"expected an integer from {low} to {high}, got {show(value)}")
        return value

    return convert


def seconds(low: float, high: float) -> Convert:
    def convert(value: Any, path: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            raise FieldError(path, f"expected a number of seconds from {low} to {high}, got {show(value)}")
        return float(value)

    return convert


def ip_scoped(value: Any, path: str) -> str:
    """An IP address; an IPv6 zone id (`fe80::1%eth0`) allowed (a peer's address)."""
    text = string(value, path)
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise FieldError(path, f"{clip(text)} is not an IP address") from None


def ip(value: Any, path: str) -> str:
    """An IP address without a zone id: `2001:db8::5%eth0` would escape the duplicate-address check."""
    text = ip_scoped(value, path)
    if "%" in text:
        raise FieldError(path, f"{clip(text)}: an IPv6 zone id (%...) is not allowed here")
    return text


def ipv4(value: Any, path: str) -> str:
    text = ip(value, path)
    if ":" in text:
        raise FieldError(path, f"{text} is not an IPv4 address")
    return text


def choice(*options: str) -> Convert:
    def convert(value: Any, path: str) -> str:
        if value not in options:
            raise FieldError(path, f"{show(value)} is not one of {', '.join(options)}")
        return value

    return convert


def listof(item: Convert, *, scalar_ok: bool = False) -> Convert:
    def convert(value: Any, path: str) -> tuple[Any, ...]:
        if scalar_ok and not isinstance(value, list):
            value = [value]
        if not isinstance(value, list):
            raise FieldError(path, f"expected a list, got {_type_name(value)}")
        return tuple(item(v, f"{path}[{i}]") for i, v in enumerate(value))

    return convert


def labels(value: Any, path: str) -> tuple[tuple[str, str], ...]:
    """Label names to scalar values (stored as strings), at most 253 and 63 characters: no lists or mappings, which
    used to be stringified (a YAML alias bomb of a few hundred bytes became megabytes)."""
    if not isinstance(value, dict):
        raise FieldError(path, f"expected a mapping of label names to values, got {_type_name(value)}")
    out = []
    for k, v in value.items():
        key = string(k, path)
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


def address_range(value: Any, path: str) -> str:
    """A CIDR ('198.51.100.0/24') or a range ('198.51.100.10-198.51.100.20'), canonical form, no zone ids, at most
    as wide as MAX_POOL_PREFIX (a /8 of IPv4, a /32 of IPv6)."""
    text = string(value, path).strip()
    if "%" in text:
        raise FieldError(path, f"{clip(text)}: an IPv6 zone id (%...) is not allowed in a pool")
    canonical = _address_range(text, path)
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


def _address_range(text: str, path: str) -> str:
    if "-" in text:
        first, _, last = text.partition("-")
        try:
            a, b = ipaddress.ip_address(first.strip()), ipaddress.ip_address(last.strip())
        except ValueError as err:
            raise FieldError(path, f"{clip(text)}: {err}") from None
        if a.version != b.version or a > b:
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


def expression(value: Any, path: str) -> Expression:
    data = _mapping(value, path, {"key", "operator", "values"})
    op = choice("In", "NotIn", "Exists", "DoesNotExist")(data.get("operator"), f"{path}.operator")
    values = listof(string)(data.get("values", []), f"{path}.values")
    if op in ("In", "NotIn") and not values:
        raise FieldError(f"{path}.values", f"operator {op} needs at least one value")
    return Expression(string(data.get("key"), f"{path}.key"), op, values)


def selector(value: Any, path: str) -> Selector:
    data = _mapping(value, path, {"match_labels", "match_expressions"})
    return Selector(
        labels(data.get("match_labels", {}), f"{path}.match_labels"),
        listof(expression)(data.get("match_expressions", []), f"{path}.match_expressions"),
    )


def multihop(value: Any, path: str) -> bool | int:
    return boolean(value, path) if isinstance(value, bool) else integer(2, 255)(value, path)


def http_path(value: Any, path: str) -> str:
    """An HTTP request path: starts with '/', printable ASCII without spaces (CR/LF would inject headers)."""
    text = string(value, path)
    if not text.startswith("/") or len(text) > 2048 or not all("!" <= c <= "~" for c in text):
        raise FieldError(path, f"{show(text)} is not a request path ('/' then printable ASCII without spaces, "
                               "percent-encode the rest; at most 2048 characters)")  # fmt: skip
    return text


def argument(value: Any, path: str) -> str:
    """One argv element: a NUL cannot be passed to a program."""
    text = string(value, path)
    if "\0" in text:
        raise FieldError(path, "must not contain a NUL character")
    return text


def health_check(value: Any, path: str) -> HealthCheck:
    return _build(HealthCheck, HEALTH_CHECK, value, path)


def bfd(value: Any, path: str) -> Bfd | None:
    """`true` = BFD with the defaults, `false` = none, a mapping = BFD with those settings."""
    if isinstance(value, bool):
        return Bfd() if value else None
    result = _build(Bfd, BFD, value, path)
    if result.echo_mode:
        raise FieldError(f"{path}.echo_mode", "echo mode is not supported (only false)")
    if (result.auth_type is None) != (result.auth_key is None):
        raise FieldError(f"{path}.auth_key", "auth_type and auth_key go together")
    if result.auth_key is not None and not 1 <= len(result.auth_key.encode()) <= 20:
        raise FieldError(f"{path}.auth_key", "must be 1 to 20 bytes (keyed SHA1)")
    return result


def _mapping(value: Any, path: str, known: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise FieldError(path, f"expected a mapping, got {_type_name(value)}")
    unknown = sorted(set(value) - known)
    if unknown:
        prefix = f"{path}." if path else ""
        raise FieldError(f"{prefix}{unknown[0]}", "unknown field")
    return value


def _build(cls: type, spec: dict[str, tuple[Convert, bool]], value: Any, path: str) -> Any:
    data = _mapping(value, path, set(spec))
    kwargs = {}
    prefix = f"{path}." if path else ""
    for key, (convert, required) in spec.items():
        if key not in data or data[key] is None:
            if required:
                raise FieldError(f"{prefix}{key}", "is required")
            continue
        kwargs[key] = convert(data[key], f"{prefix}{key}")
    return cls(**kwargs)


# field -> (converter, required)
NODE = {"name": (name, True), "router_id": (ipv4, True), "asn": (integer(1, MAX_ASN), True),
        "labels": (labels, False), "ipv4_next_hop": (ipv4, False), "ipv6_next_hop": (ip, False)}  # fmt: skip
PEER = {
    "name": (name, True),
    "address": (ip_scoped, True),
    "asn": (integer(1, MAX_ASN), True),
    "port": (integer(1, 65535), False),
    "source_address": (ip_scoped, False),
    "hold_time": (integer(0, 65535), False),
    "keepalive_time": (integer(0, 21845), False),
    "connect_time": (integer(1, 3600), False),
    "password": (string, False),
    "ebgp_multihop": (multihop, False),
    "ttl_security": (boolean, False),
    "passive": (boolean, False),
    "graceful_restart": (boolean, False),
    "restart_time": (integer(1, 4095), False),
    "families": (listof(choice("ipv4", "ipv6")), False),
    "node_selectors": (listof(selector), False),
    "bfd": (bfd, False),
}
POOL = {"name": (name, True), "addresses": (listof(address_range), True), "auto_assign": (boolean, False),
        "avoid_buggy_ips": (boolean, False), "labels": (labels, False)}  # fmt: skip
COMMUNITY = {"name": (name, True), "value": (string, True)}
ADVERTISEMENT = {
    "name": (name, True),
    "pools": (listof(name), False),
    "pool_selectors": (listof(selector), False),
    "aggregation_length": (integer(MAX_POOL_PREFIX[4], 32), False),
    "aggregation_length_v6": (integer(MAX_POOL_PREFIX[6], 128), False),
    "local_pref": (integer(0, 4294967295), False),
    "communities": (listof(string), False),
    "large_communities": (listof(string), False),
    "peers": (listof(name), False),
    "node_selectors": (listof(selector), False),
    "max_announcers": (integer(1, 1024), False),
}
BFD = {
    "receive_interval": (integer(10, 60000), False),
    "transmit_interval": (integer(10, 60000), False),
    "detect_multiplier": (integer(2, 255), False),
    "passive_mode": (boolean, False),
    "minimum_ttl": (integer(1, 254), False),
    "echo_mode": (boolean, False),
    "auth_type": (choice("keyed-sha1", "meticulous-keyed-sha1"), False),
    "auth_key_id": (integer(0, 255), False),
    "auth_key": (string, False),
}
HEALTH_CHECK = {
    "type": (choice("tcp", "http", "exec"), True),
    "port": (integer(1, 65535), False),
    "path": (http_path, False),
    "expected_status": (integer(100, 599), False),
    "command": (listof(argument), False),
    "interval": (seconds(0.1, 3600), False),
    "timeout": (seconds(0.1, 3600), False),
    "rise": (integer(1, 100), False),
    "fall": (integer(1, 100), False),
}
SERVICE = {"name": (name, True), "address": (listof(ip, scalar_ok=True), False), "pool": (name, False),
           "health_check": (health_check, False), "node_selectors": (listof(selector), False)}  # fmt: skip
SPECS: dict[str, dict[str, tuple[Convert, bool]]] = {"peer": PEER, "pool": POOL, "community": COMMUNITY,
                                                     "advertisement": ADVERTISEMENT, "service": SERVICE}  # fmt: skip


class ObjectError(ValueError):
    """An invalid object; the message names kind, object and field: `pool public: addresses[1]: ... is not an IP`."""


def parse_object(kind: str, data: Any) -> Any:
    """Build one object of `kind` from a dict, checking each field and the object's own consistency."""
    if kind not in SPECS:
        raise ObjectError(f"unknown kind {kind!r} (known: {', '.join(SPECS)})")
    label = f"{kind} {data.get('name')}" if isinstance(data, dict) and isinstance(data.get("name"), str) else kind
    try:
        obj = _build(KIND_CLASSES[kind], SPECS[kind], data, "")
        _check_object(obj)
    except FieldError as err:
        raise ObjectError(f"{label}: {err}") from None
    return obj


def parse_node(data: Any) -> Node:
    try:
        return _build(Node, NODE, data, "")
    except FieldError as err:
        raise ObjectError(f"node: {err}") from None


def _check_object(obj: Any) -> None:
    """Rules that involve several fields of one object."""
    if isinstance(obj, Peer):
        if obj.hold_time in (1, 2):
            raise FieldError("hold_time", "must be 0 or at least 3 seconds (RFC 4271)")
        if obj.keepalive_time == 0 and obj.hold_time:
            raise FieldError("keepalive_time", f"0 sends no keepalives: the session would expire every hold_time "
                                               f"({obj.hold_time}); use 0 only with hold_time 0")  # fmt: skip
        if obj.keepalive_time is not None and obj.hold_time and obj.keepalive_time * 3 > obj.hold_time:
            raise FieldError("keepalive_time", f"must be at most a third of hold_time ({obj.hold_time})")
        if obj.password is not None and len(obj.password.encode()) > 80:
            raise FieldError("password", "TCP MD5 keys are at most 80 bytes")
        if obj.source_address and (":" in obj.source_address) != (":" in obj.address):
            raise FieldError("source_address", "must be of the same family as address")
        if obj.ttl_security and obj.ebgp_multihop:
            raise FieldError("ttl_security", "is for directly connected peers (1 hop): not with ebgp_multihop")
    elif isinstance(obj, Service):
        if not obj.address and not obj.pool:
            raise FieldError("address", "give an address, or a pool to assign one from")
        if len(obj.address) > 2 or len({":" in a for a in obj.address}) != len(obj.address):
            raise FieldError("address", "at most one IPv4 and one IPv6 address")
        hc = obj.health_check
        if hc is not None:
            if hc.type in ("tcp", "http") and hc.port is None:
                raise FieldError("health_check.port", f"is required for a {hc.type} check")
            if hc.type == "exec" and not hc.command:
                raise FieldError("health_check.command", "is required for an exec check")
            if hc.timeout > hc.interval:
                raise FieldError("health_check.timeout", "must not exceed interval")
    elif isinstance(obj, Pool) and not obj.addresses:
        raise FieldError("addresses", "needs at least one CIDR or range")
    elif isinstance(obj, Advertisement):
        for i, text in enumerate(obj.large_communities):
            try:
                parse_large_community(text)
            except ValueError as err:
                raise FieldError(f"large_communities[{i}]", str(err)) from None
