"""NEXT_HOP (type 3): an IPv4 address."""

from __future__ import annotations

import ipaddress

from bgplb.bgp.wire.attributes.header import NEXT_HOP, WELL_KNOWN, attribute


def encode(next_hop: str) -> bytes:
    return attribute(WELL_KNOWN, NEXT_HOP, ipaddress.IPv4Address(next_hop).packed)


def decode(value: bytes) -> str:
    if len(value) != 4:
        raise ValueError(f"NEXT_HOP of {len(value)} bytes")
    return str(ipaddress.IPv4Address(value))
