"""MP_REACH_NLRI (type 14) and MP_UNREACH_NLRI (type 15), RFC 4760; IPv6 next hops per RFC 2545."""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

from bgplb.bgp.wire.attributes.header import MP_REACH_NLRI, MP_UNREACH_NLRI, OPTIONAL_NON_TRANSITIVE, attribute
from bgplb.bgp.wire.constants import AFI_IPV4, AFI_IPV6
from bgplb.bgp.wire.errors import ErrorCode, NotificationError, UpdateSubcode
from bgplb.bgp.wire.prefix import split_nlri

_FAMILY = struct.Struct("!HB")


@dataclass(frozen=True, slots=True)
class MPReach:
    afi: int
    safi: int
    next_hops: tuple[str, ...]
    nlri: tuple[bytes, ...] = ()


@dataclass(frozen=True, slots=True)
class MPUnreach:
    afi: int
    safi: int
    withdrawn: tuple[bytes, ...] = ()


def reach_head(afi: int, safi: int, next_hops: tuple[str, ...]) -> bytes:
    """AFI, SAFI, next hop length and next hops, reserved byte: what precedes the NLRI."""
    hops = b"".join(ipaddress.ip_address(h).packed for h in next_hops)
    return _FAMILY.pack(afi, safi) + bytes((len(hops),)) + hops + b"\0"


def encode_reach(mp: MPReach) -> bytes:
    return attribute(
        OPTIONAL_NON_TRANSITIVE, MP_REACH_NLRI, reach_head(mp.afi, mp.safi, mp.next_hops) + b"".join(mp.nlri)
    )


def encode_unreach(mp: MPUnreach) -> bytes:
    return attribute(OPTIONAL_NON_TRANSITIVE, MP_UNREACH_NLRI, _FAMILY.pack(mp.afi, mp.safi) + b"".join(mp.withdrawn))


def _error(reason: str) -> NotificationError:
    # RFC 7606 §7.11: a malformed MP_REACH/MP_UNREACH ends the session (we do not implement AFI/SAFI disable).
    return NotificationError(ErrorCode.UPDATE_MESSAGE, UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR, reason=reason)


def _next_hops(afi: int, hops: bytes) -> tuple[str, ...]:
    if afi == AFI_IPV6 and len(hops) in (16, 32):
        return tuple(str(ipaddress.IPv6Address(hops[i : i + 16])) for i in range(0, len(hops), 16))
    if afi == AFI_IPV4 and len(hops) == 4:
        return (str(ipaddress.IPv4Address(hops)),)
    if afi == AFI_IPV4 and len(hops) in (16, 32):  # RFC 8950: IPv4 NLRI with IPv6 next hop
        return _next_hops(AFI_IPV6, hops)
    raise _error(f"MP_REACH_NLRI next hop of {len(hops)} bytes for AFI {afi}")


def decode_reach(value: bytes) -> MPReach:
    if len(value) < 5:
        raise _error("MP_REACH_NLRI shorter than 5 bytes")
    afi, safi = _FAMILY.unpack_from(value)
    hop_len = value[3]
    if 4 + hop_len + 1 > len(value):
        raise _error("MP_REACH_NLRI next hop runs past the attribute")
    hops = _next_hops(afi, value[4 : 4 + hop_len]) if afi in (AFI_IPV4, AFI_IPV6) else ()
    nlri = split_nlri(afi, value[5 + hop_len :]) if afi in (AFI_IPV4, AFI_IPV6) else ()
    return MPReach(afi, safi, hops, nlri)


def decode_unreach(value: bytes) -> MPUnreach:
    if len(value) < 3:
        raise _error("MP_UNREACH_NLRI shorter than 3 bytes")
    afi, safi = _FAMILY.unpack_from(value)
    withdrawn = split_nlri(afi, value[3:]) if afi in (AFI_IPV4, AFI_IPV6) else ()
    return MPUnreach(afi, safi, withdrawn)
