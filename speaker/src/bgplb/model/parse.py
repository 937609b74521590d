"""From plain dicts (YAML/JSON) to objects, checking every field; errors name the object and the field."""

from __future__ import annotations

from typing import Any

from bgplb.bgp.wire import parse_large_community
from bgplb.model.fields import CHECKS, FieldError, build, clip, show
from bgplb.model.objects import KIND_CLASSES, Advertisement, Bfd, Expression, Node, Peer, Pool, Service

__all__ = ["FieldError", "ObjectError", "clip", "parse_node", "parse_object", "show"]


class ObjectError(ValueError):
    """An invalid object; the message names kind, object and field: `pool public: addresses[1]: ... is not an IP`."""


def parse_object(kind: str, data: Any) -> Any:
    """Build one object of `kind` from a dict, checking each field (as declared in `objects`) and the object's own
    consistency."""
    if kind not in KIND_CLASSES:
        raise ObjectError(f"unknown kind {kind!r} (known: {', '.join(KIND_CLASSES)})")
    label = f"{kind} {data.get('name')}" if isinstance(data, dict) and isinstance(data.get("name"), str) else kind
    try:
        return build(KIND_CLASSES[kind], data, "")
    except FieldError as err:
        raise ObjectError(f"{label}: {err}") from None


def parse_node(data: Any) -> Node:
    try:
        return build(Node, data, "")
    except FieldError as err:
        raise ObjectError(f"node: {err}") from None


def _check_expression(e: Expression) -> None:
    if e.operator in ("In", "NotIn") and not e.values:
        raise FieldError("values", f"operator {e.operator} needs at least one value")


def _check_bfd(b: Bfd) -> None:
    if b.echo_mode:
        raise FieldError("echo_mode", "echo mode is not supported (only false)")
    if (b.auth_type is None) != (b.auth_key is None):
        raise FieldError("auth_key", "auth_type and auth_key go together")
    if b.auth_key is not None and not 1 <= len(b.auth_key.encode()) <= 20:
        raise FieldError("auth_key", "must be 1 to 20 bytes (keyed SHA1)")


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


CHECKS.update({Expression: _check_expression, Bfd: _check_bfd, Peer: _check_object, Service: _check_object,
               Pool: _check_object, Advertisement: _check_object})  # fmt: skip
