"""ORIGIN (type 1): IGP, EGP or INCOMPLETE."""

from __future__ import annotations

from bgplb.bgp.wire.attributes.header import ORIGIN, WELL_KNOWN, attribute

IGP, EGP, INCOMPLETE = 0, 1, 2


def encode(origin: int) -> bytes:
    return attribute(WELL_KNOWN, ORIGIN, bytes((origin,)))


def decode(value: bytes) -> int:
    """The origin, or ValueError (RFC 7606: treat-as-withdraw)."""
    if len(value) != 1 or value[0] > INCOMPLETE:
        raise ValueError(f"ORIGIN {value.hex()} is not 1 byte of 0..2")
    return value[0]
