"""Pool address arithmetic: ranges as networks, membership, aggregation, and stable auto-assignment."""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterator

from bgplb.model.objects import Pool

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_ASSIGN_CANDIDATES = 1 << 16


def networks(entry: str) -> list[Network]:
    """The CIDRs that exactly cover one pool entry (a CIDR or a range)."""
    if "-" in entry:
        first, last = (ipaddress.ip_address(x) for x in entry.split("-"))
        return list(ipaddress.summarize_address_range(first, last))  # type: ignore[arg-type]
    return [ipaddress.ip_network(entry)]


def pool_networks(pool: Pool) -> list[Network]:
    return [n for entry in pool.addresses for n in networks(entry)]


def contains(pool: Pool, address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return any(ip in n for n in pool_networks(pool))


def aggregate(address: str, length_v4: int, length_v6: int) -> str:
    """The prefix announced for a service address: the address itself, or its aggregate."""
    ip = ipaddress.ip_address(address)
    return str(ipaddress.ip_network(f"{ip}/{length_v4 if ip.version == 4 else length_v6}", strict=False))


def _candidates(pool: Pool) -> Iterator[Address]:
    for net in pool_networks(pool):
        for count, ip in enumerate(net):
            if count >= MAX_ASSIGN_CANDIDATES:
                break
            if pool.avoid_buggy_ips and ip.version == 4 and int(ip) & 0xFF in (0, 255):
                continue
            yield ip


def assign(pool: Pool, service: str, taken: set[str]) -> str | None:
    """The free pool address that ranks highest for `service` by rendezvous hashing (None if the pool is full).

    The ranking depends only on the service name and the address, so every node computes the same answer from
    the same taken set; once assigned, the address is stored in the object and never recomputed (stability).
    Large pools are searched in their first 65,536 addresses per CIDR.
    """

    def rank(ip: Address) -> bytes:
        return hashlib.blake2b(f"{service}|{ip}".encode(), digest_size=8).digest()

    free = [ip for ip in _candidates(pool) if str(ip) not in taken]
    return str(max(free, key=rank)) if free else None
