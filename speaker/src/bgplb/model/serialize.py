"""Objects back to plain dicts: the canonical form `bgplbctl get` prints and the store writes."""

from __future__ import annotations

import dataclasses
from typing import Any

from bgplb.model.objects import KIND_CLASSES, Expression, Selector

REDACTED = "********"


def _value(value: Any, redact: bool) -> Any:
    if isinstance(value, Selector):
        out: dict[str, Any] = {}
        if value.match_labels:
            out["match_labels"] = dict(value.match_labels)
        if value.match_expressions:
            out["match_expressions"] = [_value(e, redact) for e in value.match_expressions]
        return out
    if isinstance(value, Expression):
        return {
            "key": value.key,
            "operator": value.operator,
            **({"values": list(value.values)} if value.values else {}),
        }
    if dataclasses.is_dataclass(value):
        return to_dict(value, redact=redact)
    if isinstance(value, tuple):
        return [_value(v, redact) for v in value]
    return value


def to_dict(obj: Any, *, redact: bool = True) -> dict[str, Any]:
    """Every field with its value or default (unset optional fields left out); secrets (the fields declared with
    `repr=False`: a peer's password, its BFD auth_key) hidden if `redact`."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if value is None:
            continue
        if not f.repr and redact:
            value = REDACTED
        out[f.name] = dict(value) if f.name == "labels" else _value(value, redact)
    return out


def kind_of(obj: Any) -> str:
    return next(k for k, cls in KIND_CLASSES.items() if isinstance(obj, cls))
