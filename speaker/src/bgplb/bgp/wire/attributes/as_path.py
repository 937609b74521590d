"""AS_PATH (type 2) and AS4_PATH (type 17), 2- and 4-octet (RFC 4271, RFC 6793)."""

from __future__ import annotations

import struct

from bgplb.bgp.wire.attributes.header import AS4_PATH, AS_PATH, OPTIONAL_TRANSITIVE, WELL_KNOWN, attribute
from bgplb.bgp.wire.constants import AS_TRANS

AS_SET = 1
AS_SEQUENCE = 2
AS_CONFED_SEQUENCE = 3
AS_CONFED_SET = 4

Segments = tuple[tuple[int, tuple[int, ...]], ...]


def sequence(asns: tuple[int, ...]) -> Segments:
    """A plain path as AS_SEQUENCE segments of at most 255 ASes."""
    return tuple((AS_SEQUENCE, asns[i : i + 255]) for i in range(0, len(asns), 255))


def _pack(segments: Segments, width: int) -> bytes:
    fmt = "!%dI" if width == 4 else "!%dH"
    return b"".join(bytes((kind, len(asns))) + struct.pack(fmt % len(asns), *asns) for kind, asns in segments)


def encode(segments: Segments, asn4: bool) -> bytes:
    """AS_PATH, plus AS4_PATH when a 4-octet AS must travel to a 2-octet-only peer."""
    if asn4:
        return attribute(WELL_KNOWN, AS_PATH, _pack(segments, 4))
    needs_as4 = any(a > 0xFFFF for _, asns in segments for a in asns)
    narrow = tuple((kind, tuple(a if a <= 0xFFFF else AS_TRANS for a in asns)) for kind, asns in segments)
    out = attribute(WELL_KNOWN, AS_PATH, _pack(narrow, 2))
    if needs_as4:
        out += attribute(OPTIONAL_TRANSITIVE, AS4_PATH, _pack(segments, 4))
    return out


def decode(value: bytes, width: int) -> Segments:
    """Segments, or ValueError when malformed (RFC 7606: treat-as-withdraw for AS_PATH)."""
    segments = []
    i = 0
    while i < len(value):
        if i + 2 > len(value):
            raise ValueError("AS_PATH segment header truncated")
        kind, count = value[i], value[i + 1]
        if kind not in (AS_SET, AS_SEQUENCE, AS_CONFED_SEQUENCE, AS_CONFED_SET) or count == 0:
            raise ValueError(f"AS_PATH segment type {kind} with {count} ASes")
        end = i + 2 + count * width
        if end > len(value):
            raise ValueError("AS_PATH segment runs past the attribute")
        fmt = "!%dI" if width == 4 else "!%dH"
        segments.append((kind, struct.unpack(fmt % count, value[i + 2 : end])))
        i = end
    return tuple(segments)


def flatten(segments: Segments) -> tuple[int, ...] | None:
    """The ASes of a path made only of AS_SEQUENCE segments, or None if it has sets or confederation parts."""
    if any(kind != AS_SEQUENCE for kind, _ in segments):
        return None
    return tuple(a for _, asns in segments for a in asns)


def merge_as4(as_path: Segments, as4_path: Segments) -> Segments:
    """RFC 6793 §4.2.3: rebuild the real path from a 2-octet AS_PATH and an AS4_PATH."""

    def count(segs: Segments) -> int:
        return sum(1 if kind in (AS_SET,) else len(asns) for kind, asns in segs if kind in (AS_SET, AS_SEQUENCE))

    keep = count(as_path) - count(as4_path)
    if keep < 0:
        return as_path
    head: list[tuple[int, tuple[int, ...]]] = []
    for kind, asns in as_path:
        if keep <= 0:
            break
        if kind == AS_SEQUENCE and len(asns) > keep:
            head.append((kind, asns[:keep]))
            keep = 0
        else:
            head.append((kind, asns))
            keep -= 1 if kind == AS_SET else len(asns)
    return tuple(head) + as4_path
