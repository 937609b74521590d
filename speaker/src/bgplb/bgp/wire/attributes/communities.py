"""COMMUNITIES (type 8, RFC 1997) and LARGE_COMMUNITY (type 32, RFC 8092)."""

from __future__ import annotations

import struct

from bgplb.bgp.wire.attributes.header import COMMUNITIES, LARGE_COMMUNITY, OPTIONAL_TRANSITIVE, attribute


def encode(communities: tuple[int, ...]) -> bytes:
    return attribute(OPTIONAL_TRANSITIVE, COMMUNITIES, struct.pack(f"!{len(communities)}I", *communities))


def decode(value: bytes) -> tuple[int, ...]:
    if not value or len(value) % 4:
        raise ValueError(f"COMMUNITIES of {len(value)} bytes")
    return struct.unpack(f"!{len(value) // 4}I", value)


def encode_large(large: tuple[tuple[int, int, int], ...]) -> bytes:
    return attribute(OPTIONAL_TRANSITIVE, LARGE_COMMUNITY, b"".join(struct.pack("!III", *c) for c in large))


def decode_large(value: bytes) -> tuple[tuple[int, int, int], ...]:
    if not value or len(value) % 12:
        raise ValueError(f"LARGE_COMMUNITY of {len(value)} bytes")
    return tuple(struct.iter_unpack("!III", value))
