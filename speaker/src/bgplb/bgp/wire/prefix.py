"""NLRI: a prefix on the wire is one length byte and just enough address bytes (RFC 4271 §4.3)."""

from __future__ import annotations

import ipaddress

from bgplb.bgp.wire.constants import ADDRESS_BITS, AFI_IPV4
from bgplb.bgp.wire.errors import ErrorCode, NotificationError, UpdateSubcode

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def prefix_to_nlri(prefix: str | Network) -> bytes:
    """'10.0.0.1/32' -> b'\\x20\\x0a\\x00\\x00\\x01'. Host bits must be zero (ValueError otherwise)."""
    net = prefix if isinstance(prefix, ipaddress.IPv4Network | ipaddress.IPv6Network) else ipaddress.ip_network(prefix)
    length = net.prefixlen
    return bytes((length,)) + net.network_address.packed[: (length + 7) // 8]


def nlri_to_prefix(afi: int, nlri: bytes) -> str:
    size = 4 if afi == AFI_IPV4 else 16
    address = bytes(nlri[1:]).ljust(size, b"\0")
    ip = ipaddress.IPv4Address(address) if size == 4 else ipaddress.IPv6Address(address)
    return f"{ip}/{nlri[0]}"


def split_nlri(afi: int, data: bytes) -> tuple[bytes, ...]:
    """Cut a run of NLRI into single prefixes; a bad length is an INVALID_NETWORK_FIELD error."""
    max_bits = ADDRESS_BITS.get(afi, 128)
    out = []
    i, end = 0, len(data)
    while i < end:
        length = data[i]
        if length > max_bits:
            raise NotificationError(
                ErrorCode.UPDATE_MESSAGE,
                UpdateSubcode.INVALID_NETWORK_FIELD,
                reason=f"prefix length {length} exceeds {max_bits}",
            )
        nxt = i + 1 + (length + 7) // 8
        if nxt > end:
            raise NotificationError(
                ErrorCode.UPDATE_MESSAGE, UpdateSubcode.INVALID_NETWORK_FIELD, reason="NLRI runs past its field"
            )
        out.append(bytes(data[i:nxt]))
        i = nxt
    return tuple(out)
