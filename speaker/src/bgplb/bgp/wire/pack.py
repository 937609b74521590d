"""Packing many prefixes that share attributes into as few UPDATEs as fit: the outbound hot path.

Works on NLRI bytes and a pre-encoded attribute block, so the cost per prefix is a length lookup and a join.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from bgplb.bgp.wire.attributes.header import EXTENDED_LENGTH, MP_REACH_NLRI, MP_UNREACH_NLRI, OPTIONAL
from bgplb.bgp.wire.attributes.mp import reach_head
from bgplb.bgp.wire.constants import HEADER_LEN, IPV4_UNICAST, MARKER, MsgType

_UPDATE = bytes((MsgType.UPDATE,))
_NO_WITHDRAWN = b"\0\0"
_MP_FLAGS = OPTIONAL | EXTENDED_LENGTH  # always the 2-byte length: the size is known only after packing


def _chunks(nlri: Sequence[bytes], room: int) -> Iterator[bytes]:
    """Consecutive runs of `nlri` joined, each at most `room` bytes."""
    start, used = 0, 0
    for i, prefix in enumerate(nlri):
        n = len(prefix)
        if used + n > room:
            yield b"".join(nlri[start:i])
            start, used = i, 0
        used += n
    if used:
        yield b"".join(nlri[start:])


def _message(body: bytes) -> bytes:
    return MARKER + (HEADER_LEN + len(body)).to_bytes(2, "big") + _UPDATE + body


def _split_at(block: bytes, code: int) -> tuple[bytes, bytes]:
    """Split an attribute block before the first attribute whose type code is above `code`."""
    i = 0
    while i < len(block):
        flags, attr_code = block[i], block[i + 1]
        if attr_code > code:
            break
        i += (4 + int.from_bytes(block[i + 2 : i + 4], "big")) if flags & EXTENDED_LENGTH else (3 + block[i + 2])
    return block[:i], block[i:]


def pack_announce(
    afi: int, safi: int, attributes: bytes, nlri: Sequence[bytes], max_length: int, next_hops: tuple[str, ...] = ()
) -> list[bytes]:
    """UPDATEs announcing `nlri` with `attributes` (which, for IPv4 unicast, include NEXT_HOP)."""
    if (afi, safi) == IPV4_UNICAST:
        head = _NO_WITHDRAWN + len(attributes).to_bytes(2, "big") + attributes
        room = max_length - HEADER_LEN - len(head)
        return [_message(head + chunk) for chunk in _chunks(nlri, room)]
    before, after = _split_at(attributes, MP_REACH_NLRI)
    mp_head = reach_head(afi, safi, next_hops)
    room = max_length - HEADER_LEN - 4 - len(attributes) - 4 - len(mp_head)
    out = []
    for chunk in _chunks(nlri, room):
        value = mp_head + chunk
        mp = bytes((_MP_FLAGS, MP_REACH_NLRI)) + len(value).to_bytes(2, "big") + value
        block = before + mp + after
        out.append(_message(_NO_WITHDRAWN + len(block).to_bytes(2, "big") + block))
    return out


def pack_withdraw(afi: int, safi: int, nlri: Sequence[bytes], max_length: int) -> list[bytes]:
    """UPDATEs withdrawing `nlri`."""
    if (afi, safi) == IPV4_UNICAST:
        room = max_length - HEADER_LEN - 4
        return [_message(len(c).to_bytes(2, "big") + c + b"\0\0") for c in _chunks(nlri, room)]
    family = afi.to_bytes(2, "big") + bytes((safi,))
    room = max_length - HEADER_LEN - 4 - 4 - len(family)
    out = []
    for chunk in _chunks(nlri, room):
        value = family + chunk
        mp = bytes((_MP_FLAGS, MP_UNREACH_NLRI)) + len(value).to_bytes(2, "big") + value
        out.append(_message(b"\0\0" + len(mp).to_bytes(2, "big") + mp))
    return out
