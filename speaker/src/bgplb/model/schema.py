"""The JSON Schema of bgplb's configuration, derived from the field declarations of `objects` (docs:
speaker/docs/objects.md). `python -m bgplb.model.schema` prints it; speaker/docs/schema.json is that output.

The root describes speaker.yaml (`node`, the object lists, `kubernetes`); an object file `objects/<kind>/<name>.yaml`
is one `$defs/<Class>` (e.g. `#/$defs/Peer`). The checks that span fields or objects (a hold time of 1 or 2,
references, overlaps) are beyond JSON Schema: `bgplbctl validate` is the authority.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from bgplb.model.fields import required
from bgplb.model.kubernetes import KubernetesSettings
from bgplb.model.objects import KIND_CLASSES, KIND_FIELDS, Node

ID = "urn:bgplb:speaker.yaml"


def plain(value: Any) -> Any:
    """A default as JSON: tuples as lists (labels, a tuple of pairs, as a mapping)."""
    if isinstance(value, tuple):
        return [plain(v) for v in value]
    return value


def nested_classes(cls: type) -> list[type]:
    """`cls` and every dataclass its fields hold, depth first, each once."""
    out = [cls]
    for f in dataclasses.fields(cls):
        inner = f.metadata["kind"].cls
        if inner is not None:
            out += [c for c in nested_classes(inner) if c not in out]
    return out


def class_schema(cls: type) -> dict[str, Any]:
    properties = {}
    for f in dataclasses.fields(cls):
        prop = {**f.metadata["kind"].schema}
        if f.metadata["doc"]:
            prop["description"] = f.metadata["doc"]
        if not required(f) and f.default is not None:
            prop["default"] = {} if f.name.endswith("labels") else plain(f.default)
        if not f.repr:
            prop["writeOnly"] = True  # a secret: shown as ******** by bgplbctl get
        properties[f.name] = prop
    schema: dict[str, Any] = {"type": "object"}
    if cls.__doc__:
        schema["description"] = cls.__doc__.split("\n\n")[0].replace("\n", " ")
    schema["properties"] = properties
    names = [f.name for f in dataclasses.fields(cls) if required(f)]
    if names:
        schema["required"] = names
    schema["additionalProperties"] = False
    return schema


def json_schema() -> dict[str, Any]:
    roots = [Node, *KIND_CLASSES.values(), KubernetesSettings]
    classes: list[type] = []
    for root in roots:
        classes += [c for c in nested_classes(root) if c not in classes]
    properties: dict[str, Any] = {"node": {"$ref": "#/$defs/Node"}}
    for kind, cls in KIND_CLASSES.items():
        properties[KIND_FIELDS[kind]] = {
            "type": "array",
            "items": {"$ref": f"#/$defs/{cls.__name__}"},
            "description": f"{kind} objects defined inline (read-only for bgplbctl)",
        }
    properties["kubernetes"] = {"$ref": "#/$defs/KubernetesSettings"}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": ID,
        "title": "bgplb speaker.yaml",
        "description": "speaker.yaml; an object file objects/<kind>/<name>.yaml is one of $defs (kind: "
        + ", ".join(f"{k} = {c.__name__}" for k, c in KIND_CLASSES.items())
        + "). Generated from bgplb.model.objects.",
        "type": "object",
        "properties": properties,
        "required": ["node"],
        "additionalProperties": False,
        "$defs": {c.__name__: class_schema(c) for c in classes},
    }


def dumps() -> str:
    return json.dumps(json_schema(), indent=2) + "\n"


if __name__ == "__main__":
    print(dumps(), end="")
