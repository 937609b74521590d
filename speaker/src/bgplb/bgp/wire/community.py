"""Community values as people write them: '65000:100', well-known names (RFC 1997, 3765, 8326), '1:2:3'."""

from __future__ import annotations

COMMUNITY_GRACEFUL_SHUTDOWN = 0xFFFF0000
COMMUNITY_NO_EXPORT = 0xFFFFFF01
COMMUNITY_NO_ADVERTISE = 0xFFFFFF02
COMMUNITY_NO_EXPORT_SUBCONFED = 0xFFFFFF03

WELL_KNOWN_COMMUNITIES = {
    "graceful-shutdown": COMMUNITY_GRACEFUL_SHUTDOWN,
    "no-export": COMMUNITY_NO_EXPORT,
    "no-advertise": COMMUNITY_NO_ADVERTISE,
    "no-export-subconfed": COMMUNITY_NO_EXPORT_SUBCONFED,
    "local-as": COMMUNITY_NO_EXPORT_SUBCONFED,
}
_NAMES = {v: k for k, v in reversed(WELL_KNOWN_COMMUNITIES.items())}


def _numbers(text: str, count: int, limit: int, what: str) -> list[int]:
    parts = text.split(":")
    if len(parts) != count or not all(p.isdigit() for p in parts):
        raise ValueError(f"{text!r} is not a {what}")
    values = [int(p) for p in parts]
    if any(v > limit for v in values):
        raise ValueError(f"{text!r} is not a {what}: each part must be at most {limit}")
    return values


def parse_community(text: str) -> int:
    """'65000:100' or a well-known name -> the 32-bit value; ValueError naming the text otherwise."""
    known = WELL_KNOWN_COMMUNITIES.get(text.strip().lower())
    if known is not None:
        return known
    high, low = _numbers(text, 2, 0xFFFF, "community (ASN:VALUE, each 0-65535, or a well-known name)")
    return high << 16 | low


def format_community(value: int) -> str:
    return _NAMES.get(value) or f"{value >> 16}:{value & 0xFFFF}"


def parse_large_community(text: str) -> tuple[int, int, int]:
    a, b, c = _numbers(text, 3, 0xFFFFFFFF, "large community (GLOBAL:LOCAL1:LOCAL2, each 0-4294967295)")
    return a, b, c


def format_large_community(value: tuple[int, int, int]) -> str:
    return "{}:{}:{}".format(*value)
