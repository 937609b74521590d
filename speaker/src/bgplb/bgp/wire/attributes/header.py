"""The path attribute header: flags, type code, 1- or 2-byte length (RFC 4271 §4.3)."""

from __future__ import annotations

OPTIONAL = 0x80
TRANSITIVE = 0x40
PARTIAL = 0x20
EXTENDED_LENGTH = 0x10

ORIGIN = 1
AS_PATH = 2
NEXT_HOP = 3
MED = 4
LOCAL_PREF = 5
ATOMIC_AGGREGATE = 6
AGGREGATOR = 7
COMMUNITIES = 8
ORIGINATOR_ID = 9
CLUSTER_LIST = 10
MP_REACH_NLRI = 14
MP_UNREACH_NLRI = 15
AS4_PATH = 17
AS4_AGGREGATOR = 18
LARGE_COMMUNITY = 32

WELL_KNOWN = TRANSITIVE
OPTIONAL_TRANSITIVE = OPTIONAL | TRANSITIVE
OPTIONAL_NON_TRANSITIVE = OPTIONAL


def attribute(flags: int, code: int, value: bytes) -> bytes:
    """One encoded attribute; the extended-length flag is set when the value needs it."""
    if len(value) > 255:
        return bytes((flags | EXTENDED_LENGTH, code)) + len(value).to_bytes(2, "big") + value
    return bytes((flags & ~EXTENDED_LENGTH, code, len(value))) + value
