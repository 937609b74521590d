"""MULTI_EXIT_DISC (type 4) and LOCAL_PREF (type 5): one 32-bit number each."""

from __future__ import annotations

from bgplb.bgp.wire.attributes.header import LOCAL_PREF, MED, OPTIONAL_NON_TRANSITIVE, WELL_KNOWN, attribute


def encode_med(med: int) -> bytes:
    return attribute(OPTIONAL_NON_TRANSITIVE, MED, med.to_bytes(4, "big"))


def encode_local_pref(local_pref: int) -> bytes:
    return attribute(WELL_KNOWN, LOCAL_PREF, local_pref.to_bytes(4, "big"))


def decode(value: bytes, name: str) -> int:
    if len(value) != 4:
        raise ValueError(f"{name} of {len(value)} bytes")
    return int.from_bytes(value, "big")
