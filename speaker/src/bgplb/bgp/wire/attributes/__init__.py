"""Path attributes: `PathAttributes` and the block codec with the error handling of RFC 7606.

`decode()` raises NotificationError only where RFC 7606 keeps a session reset (a broken attribute list, MP_REACH /
MP_UNREACH errors, an unrecognised well-known attribute); per-attribute problems come back as a treat-as-withdraw
reason or as discarded attributes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bgplb.bgp.wire.attributes import as_path, communities, metrics, mp, next_hop, origin
from bgplb.bgp.wire.attributes.as_path import Segments
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
    as_path_segments: Segments | None = None
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
            partial = PARTIAL if flags & OPTIONAL and flags & TRANSITIVE and code not in _KNOWN else 0
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


@dataclass(slots=True)
class _Block:
    """What the decoders of one attribute block collect."""

    asn4: bool
    ebgp: bool
    fields: dict[str, Any] = field(default_factory=dict)
    other: list[tuple[int, int, bytes]] = field(default_factory=list)
    discarded: list[str] = field(default_factory=list)
    segments: Segments | None = None
    as4_segments: Segments | None = None


Decoder = Callable[[_Block, int, int, bytes], None]  # (block, flags, code, value); ValueError = malformed


@dataclass(frozen=True, slots=True)
class _Known:
    name: str
    flags: int  # what the Optional/Transitive flags must be
    decode: Decoder
    resets: bool = False  # malformed: session reset (RFC 7606 §5.3, §7.3) instead of treat-as-withdraw


def _into(name: str, convert: Callable[[bytes], Any]) -> Decoder:
    def decode(block: _Block, flags: int, code: int, value: bytes) -> None:
        block.fields[name] = convert(value)

    return decode


def _as_path(block: _Block, flags: int, code: int, value: bytes) -> None:
    block.segments = as_path.decode(value, 4 if block.asn4 else 2)


def _as4_path(block: _Block, flags: int, code: int, value: bytes) -> None:
    try:
        block.as4_segments = as_path.decode(value, 4)
    except ValueError as err:  # RFC 6793 §6: discard a malformed AS4_PATH
        block.discarded.append(str(err).replace("AS_PATH", "AS4_PATH"))


def _local_pref(block: _Block, flags: int, code: int, value: bytes) -> None:
    if block.ebgp:  # RFC 7606 §7.5: discard LOCAL_PREF from an external peer
        block.discarded.append("LOCAL_PREF from an eBGP peer")
    else:
        block.fields["local_pref"] = metrics.decode(value, "LOCAL_PREF")


def _carried(valid: Callable[[int], bool], *, discard: bool) -> Decoder:
    """An attribute carried without interpreting it; malformed: discarded (`discard`) or treat-as-withdraw."""

    def decode(block: _Block, flags: int, code: int, value: bytes) -> None:
        if valid(len(value)):
            block.other.append((flags & ~EXTENDED_LENGTH, code, value))
        elif discard:
            block.discarded.append(f"{_KNOWN[code].name} of {len(value)} bytes")
        else:
            raise ValueError(f"{_KNOWN[code].name} of {len(value)} bytes")

    return decode


_KNOWN: dict[int, _Known] = {
    ORIGIN: _Known("ORIGIN", WELL_KNOWN, _into("origin", origin.decode)),
    AS_PATH: _Known("AS_PATH", WELL_KNOWN, _as_path),
    NEXT_HOP: _Known("NEXT_HOP", WELL_KNOWN, _into("next_hop", next_hop.decode)),
    MED: _Known("MULTI_EXIT_DISC", OPTIONAL_NON_TRANSITIVE,
                _into("med", lambda v: metrics.decode(v, "MULTI_EXIT_DISC"))),
    LOCAL_PREF: _Known("LOCAL_PREF", WELL_KNOWN, _local_pref),
    ATOMIC_AGGREGATE: _Known("ATOMIC_AGGREGATE", WELL_KNOWN,
                             _carried(lambda n: n == 0, discard=True)),
    AGGREGATOR: _Known("AGGREGATOR", OPTIONAL_TRANSITIVE, _carried(lambda n: n in (6, 8), discard=True)),
    COMMUNITIES: _Known("COMMUNITIES", OPTIONAL_TRANSITIVE, _into("communities", communities.decode)),
    ORIGINATOR_ID: _Known("ORIGINATOR_ID", OPTIONAL_NON_TRANSITIVE,
                          _carried(lambda n: n == 4, discard=False)),
    CLUSTER_LIST: _Known("CLUSTER_LIST", OPTIONAL_NON_TRANSITIVE,
                         _carried(lambda n: n > 0 and n % 4 == 0, discard=False)),
    MP_REACH_NLRI: _Known("MP_REACH_NLRI", OPTIONAL_NON_TRANSITIVE, _into("mp_reach", mp.decode_reach), resets=True),
    MP_UNREACH_NLRI: _Known("MP_UNREACH_NLRI", OPTIONAL_NON_TRANSITIVE, _into("mp_unreach", mp.decode_unreach),
                            resets=True),
    AS4_PATH: _Known("AS4_PATH", OPTIONAL_TRANSITIVE, _as4_path),
    AS4_AGGREGATOR: _Known("AS4_AGGREGATOR", OPTIONAL_TRANSITIVE,
                           _carried(lambda n: n == 8, discard=True)),
    LARGE_COMMUNITY: _Known("LARGE_COMMUNITY", OPTIONAL_TRANSITIVE,
                            _into("large_communities", communities.decode_large)),
}  # fmt: skip


def decode(data: bytes, *, asn4: bool = True, ebgp: bool = False) -> Decoded:
    block = _Block(asn4, ebgp)
    withdraw: list[str] = []
    seen: set[int] = set()
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
        known = _KNOWN.get(code)
        if start + length > end:  # RFC 7606 §4: attribute runs past the path attributes
            withdraw.append(f"attribute {known.name if known else code} runs past the attribute list")
            break
        value = bytes(data[start : start + length])
        i = start + length
        if code in seen:
            if known is not None and known.resets:
                raise _reset(UpdateSubcode.MALFORMED_ATTRIBUTE_LIST, f"{known.name} appears twice")
            block.discarded.append(f"duplicate {known.name if known else f'type {code}'}")  # RFC 7606 §3g: first kept
            continue
        seen.add(code)
        if known is None:
            if not flags & OPTIONAL:
                raise NotificationError(
                    ErrorCode.UPDATE_MESSAGE,
                    UpdateSubcode.UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE,
                    data[start - (4 if flags & EXTENDED_LENGTH else 3) : i],
                    f"unrecognized well-known attribute type {code}",
                )
            if flags & TRANSITIVE:
                block.other.append((flags & ~EXTENDED_LENGTH, code, value))
            continue
        try:
            if flags & (OPTIONAL | TRANSITIVE) != known.flags:
                raise ValueError(f"{known.name} has flags {flags:#04x}")
            known.decode(block, flags, code, value)
        except ValueError as err:
            if known.resets:
                raise _reset(UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR, str(err)) from None
            withdraw.append(str(err))
    fields = block.fields
    segments = block.segments
    if segments is not None:
        if block.as4_segments is not None and not asn4:
            segments = as_path.merge_as4(segments, block.as4_segments)
        flat = as_path.flatten(segments)
        if flat is None:
            fields["as_path_segments"] = segments
            fields["as_path"] = tuple(a for _, asns in segments for a in asns)
        else:
            fields["as_path"] = flat
    attrs = PathAttributes(other=tuple(block.other), **fields)
    return Decoded(attrs, "; ".join(withdraw) or None, tuple(block.discarded), frozenset(seen))
