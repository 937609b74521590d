"""Path attributes: `PathAttributes` and the block codec with the error handling of RFC 7606.

`decode()` raises NotificationError only where RFC 7606 keeps a session reset (a broken attribute list, MP_REACH /
MP_UNREACH errors, an unrecognised well-known attribute); per-attribute problems come back as a treat-as-withdraw
reason or as discarded attributes.
"""

from __future__ import annotations

from dataclasses import dataclass

from bgplb.bgp.wire.attributes import as_path, communities, metrics, mp, next_hop, origin
from bgplb.bgp.wire.attributes.header import (
    AGGREGATOR,
    AS4_AGGREGATOR,
    AS4_PATH,
    AS_PATH,
    ATOMIC_AGGREGATE,
    CLUSTER_LIST,
    COMMUNITIES,
    EXTENDED_LENGTH,
    LARGE_COMMUNITY,
    LOCAL_PREF,
    MED,
    MP_REACH_NLRI,
    MP_UNREACH_NLRI,
    NEXT_HOP,
    OPTIONAL,
    OPTIONAL_NON_TRANSITIVE,
    OPTIONAL_TRANSITIVE,
    ORIGIN,
    ORIGINATOR_ID,
    PARTIAL,
    TRANSITIVE,
    WELL_KNOWN,
    attribute,
)
from bgplb.bgp.wire.attributes.mp import MPReach, MPUnreach
from bgplb.bgp.wire.errors import ErrorCode, NotificationError, UpdateSubcode

__all__ = ["MPReach", "MPUnreach", "PathAttributes", "decode"]

# What the Optional/Transitive flags must be for the attributes we know, and the expected value length where fixed.
_FLAGS = {
    ORIGIN: WELL_KNOWN,
    AS_PATH: WELL_KNOWN,
    NEXT_HOP: WELL_KNOWN,
    MED: OPTIONAL_NON_TRANSITIVE,
    LOCAL_PREF: WELL_KNOWN,
    ATOMIC_AGGREGATE: WELL_KNOWN,
    AGGREGATOR: OPTIONAL_TRANSITIVE,
    COMMUNITIES: OPTIONAL_TRANSITIVE,
    ORIGINATOR_ID: OPTIONAL_NON_TRANSITIVE,
    CLUSTER_LIST: OPTIONAL_NON_TRANSITIVE,
    MP_REACH_NLRI: OPTIONAL_NON_TRANSITIVE,
    MP_UNREACH_NLRI: OPTIONAL_NON_TRANSITIVE,
    AS4_PATH: OPTIONAL_TRANSITIVE,
    AS4_AGGREGATOR: OPTIONAL_TRANSITIVE,
    LARGE_COMMUNITY: OPTIONAL_TRANSITIVE,
}
# Attributes we carry without interpreting, with the RFC 7606 action when malformed: (valid lengths, discard?)
_CARRIED = {
    ATOMIC_AGGREGATE: (lambda n: n == 0, True),
    AGGREGATOR: (lambda n: n in (6, 8), True),
    AS4_AGGREGATOR: (lambda n: n == 8, True),
    ORIGINATOR_ID: (lambda n: n == 4, False),
    CLUSTER_LIST: (lambda n: n > 0 and n % 4 == 0, False),
}
_NAMES = {
    ORIGIN: "ORIGIN",
    AS_PATH: "AS_PATH",
    NEXT_HOP: "NEXT_HOP",
    MED: "MULTI_EXIT_DISC",
    LOCAL_PREF: "LOCAL_PREF",
    ATOMIC_AGGREGATE: "ATOMIC_AGGREGATE",
    AGGREGATOR: "AGGREGATOR",
    COMMUNITIES: "COMMUNITIES",
    ORIGINATOR_ID: "ORIGINATOR_ID",
    CLUSTER_LIST: "CLUSTER_LIST",
    MP_REACH_NLRI: "MP_REACH_NLRI",
    MP_UNREACH_NLRI: "MP_UNREACH_NLRI",
    AS4_PATH: "AS4_PATH",
    AS4_AGGREGATOR: "AS4_AGGREGATOR",
    LARGE_COMMUNITY: "LARGE_COMMUNITY",
}


@dataclass(frozen=True, slots=True)
class PathAttributes:
    """The attributes of one UPDATE. `as_path` is a plain AS_SEQUENCE path; a path with AS_SETs or confederation
    segments is kept whole in `as_path_segments`. `other` holds attributes we carry as (flags, type, value)."""

    origin: int = origin.IGP
    as_path: tuple[int, ...] = ()
    next_hop: str | None = None
    med: int | None = None
    local_pref: int | None = None
    communities: tuple[int, ...] = ()
    large_communities: tuple[tuple[int, int, int], ...] = ()
    mp_reach: MPReach | None = None
    mp_unreach: MPUnreach | None = None
    as_path_segments: as_path.Segments | None = None
    other: tuple[tuple[int, int, bytes], ...] = ()

    def encode(self, asn4: bool = True) -> bytes:
        """The attribute block, in type-code order."""
        parts: list[tuple[int, bytes]] = [
            (ORIGIN, origin.encode(self.origin)),
            (AS_PATH, as_path.encode(self.as_path_segments or as_path.sequence(self.as_path), asn4)),
        ]
        if self.next_hop is not None:
            parts.append((NEXT_HOP, next_hop.encode(self.next_hop)))
        if self.med is not None:
            parts.append((MED, metrics.encode_med(self.med)))
        if self.local_pref is not None:
            parts.append((LOCAL_PREF, metrics.encode_local_pref(self.local_pref)))
        if self.communities:
            parts.append((COMMUNITIES, communities.encode(self.communities)))
        if self.mp_reach is not None:
            parts.append((MP_REACH_NLRI, mp.encode_reach(self.mp_reach)))
        if self.mp_unreach is not None:
            parts.append((MP_UNREACH_NLRI, mp.encode_unreach(self.mp_unreach)))
        if self.large_communities:
            parts.append((LARGE_COMMUNITY, communities.encode_large(self.large_communities)))
        for flags, code, value in self.other:
            partial = PARTIAL if flags & OPTIONAL and flags & TRANSITIVE and code not in _FLAGS else 0
            parts.append((code, attribute(flags | partial, code, value)))
        parts.sort(key=lambda p: p[0])
        return b"".join(p for _, p in parts)


@dataclass(slots=True)
class Decoded:
    attributes: PathAttributes
    treat_as_withdraw: str | None
    discarded: tuple[str, ...]
    seen: frozenset[int]


def _reset(subcode: int, reason: str) -> NotificationError:
    return NotificationError(ErrorCode.UPDATE_MESSAGE, subcode, reason=reason)


def decode(data: bytes, *, asn4: bool = True, ebgp: bool = False) -> Decoded:
    fields: dict[str, object] = {}
    other: list[tuple[int, int, bytes]] = []
    withdraw: list[str] = []
    discarded: list[str] = []
    seen: set[int] = set()
    segments = as4_segments = None
    i, end = 0, len(data)
    while i < end:
        if end - i < 3:
            withdraw.append("attribute header truncated")
            break
        flags, code = data[i], data[i + 1]
        if flags & EXTENDED_LENGTH:
            if end - i < 4:
                withdraw.append("attribute header truncated")
                break
            length, start = int.from_bytes(data[i + 2 : i + 4], "big"), i + 4
        else:
            length, start = data[i + 2], i + 3
        if start + length > end:  # RFC 7606 §4: attribute runs past the path attributes
            withdraw.append(f"attribute {_NAMES.get(code, code)} runs past the attribute list")
            break
        value = bytes(data[start : start + length])
        i = start + length
        name = _NAMES.get(code, f"type {code}")
        if code in seen:
            if code in (MP_REACH_NLRI, MP_UNREACH_NLRI):
                raise _reset(UpdateSubcode.MALFORMED_ATTRIBUTE_LIST, f"{name} appears twice")
            discarded.append(f"duplicate {name}")  # RFC 7606 §3g: keep the first
            continue
        seen.add(code)
        expected = _FLAGS.get(code)
        if expected is None:
            if not flags & OPTIONAL:
                raise NotificationError(
                    ErrorCode.UPDATE_MESSAGE,
                    UpdateSubcode.UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE,
                    data[start - (4 if flags & EXTENDED_LENGTH else 3) : i],
                    f"unrecognized well-known attribute type {code}",
                )
            if flags & TRANSITIVE:
                other.append((flags & ~EXTENDED_LENGTH, code, value))
            continue
        try:
            if flags & (OPTIONAL | TRANSITIVE) != expected:
                raise ValueError(f"{name} has flags {flags:#04x}")
            if code == MP_REACH_NLRI:
                fields["mp_reach"] = mp.decode_reach(value)
            elif code == MP_UNREACH_NLRI:
                fields["mp_unreach"] = mp.decode_unreach(value)
            elif code == ORIGIN:
                fields["origin"] = origin.decode(value)
            elif code == AS_PATH:
                segments = as_path.decode(value, 4 if asn4 else 2)
            elif code == AS4_PATH:
                try:
                    as4_segments = as_path.decode(value, 4)
                except ValueError as err:  # RFC 6793 §6: discard a malformed AS4_PATH
                    discarded.append(str(err).replace("AS_PATH", "AS4_PATH"))
            elif code == NEXT_HOP:
                fields["next_hop"] = next_hop.decode(value)
            elif code == MED:
                fields["med"] = metrics.decode(value, name)
            elif code == LOCAL_PREF:
                if ebgp:  # RFC 7606 §7.5: discard LOCAL_PREF from an external peer
                    discarded.append("LOCAL_PREF from an eBGP peer")
                else:
                    fields["local_pref"] = metrics.decode(value, name)
            elif code == COMMUNITIES:
                fields["communities"] = communities.decode(value)
            elif code == LARGE_COMMUNITY:
                fields["large_communities"] = communities.decode_large(value)
            else:
                valid, discard = _CARRIED[code]
                if not valid(length):
                    if discard:
                        discarded.append(f"{name} of {length} bytes")
                        continue
                    raise ValueError(f"{name} of {length} bytes")
                other.append((flags & ~EXTENDED_LENGTH, code, value))
        except ValueError as err:
            if code in (MP_REACH_NLRI, MP_UNREACH_NLRI):
                raise _reset(UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR, str(err)) from None
            withdraw.append(str(err))
    if segments is not None:
        if as4_segments is not None and not asn4:
            segments = as_path.merge_as4(segments, as4_segments)
        flat = as_path.flatten(segments)
        if flat is None:
            fields["as_path_segments"] = segments
            fields["as_path"] = tuple(a for _, asns in segments for a in asns)
        else:
            fields["as_path"] = flat
    attrs = PathAttributes(other=tuple(other), **fields)  # type: ignore[arg-type]
    return Decoded(attrs, "; ".join(withdraw) or None, tuple(discarded), frozenset(seen))
