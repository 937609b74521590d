"""Pool address arithmetic: ranges as networks, membership, aggregation, and stable auto-assignment."""

from __future__ import annotations

import bisect
import functools
import hashlib
import ipaddress
from collections.abc import Iterable

from bgplb.model.objects import Pool

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# Pools of up to this many addresses rank every address; larger pools rank this many sampled ones.
ASSIGN_SAMPLE = 1024


def networks(entry: str) -> list[Network]:
    """The CIDRs that exactly cover one pool entry (a CIDR or a range)."""
    if "-" in entry:
        first, last = (ipaddress.ip_address(x) for x in entry.split("-"))
        return list(ipaddress.summarize_address_range(first, last))
    return [ipaddress.ip_network(entry)]


def pool_networks(pool: Pool) -> list[Network]:
    return [n for entry in pool.addresses for n in networks(entry)]


def contains(pool: Pool, address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return any(ip in n for n in pool_networks(pool))


@functools.lru_cache(maxsize=1 << 18)
def parse_address(address: str) -> Address:
    """`ipaddress.ip_address`, remembered: the planner parses every service address on every replan."""
    return ipaddress.ip_address(address)


@functools.lru_cache(maxsize=1 << 18)
def aggregate(address: str, length_v4: int, length_v6: int) -> str:
    """The prefix announced for a service address: the address itself, or its aggregate (remembered, as above)."""
    ip = parse_address(address)
    length = length_v4 if ip.version == 4 else length_v6
    if length == ip.max_prefixlen:
        return f"{ip}/{length}"
    host_bits = ip.max_prefixlen - length
    return str(ipaddress.ip_network((int(ip) >> host_bits << host_bits, length)))


class _Addresses:
    """The addresses of a pool as one sequence 0..size-1 (its CIDRs in order), without listing them."""

    def __init__(self, pool: Pool) -> None:
        self.nets = pool_networks(pool)
        self.starts: list[int] = []
        total = 0
        for net in self.nets:
            self.starts.append(total)
            total += net.num_addresses
        self.size = total
        self.avoid_buggy = pool.avoid_buggy_ips

    def __getitem__(self, offset: int) -> Address:
        i = bisect.bisect_right(self.starts, offset) - 1
        return self.nets[i][offset - self.starts[i]]

    def usable(self, ip: Address, taken: set[str]) -> bool:
        if self.avoid_buggy and ip.version == 4 and int(ip) & 0xFF in (0, 255):
            return False
        return str(ip) not in taken


def pool_usage(pools: Iterable[Pool], addresses: Iterable[str]) -> dict[str, tuple[int, int]]:
    """Per pool: (distinct service addresses inside it, addresses it holds). An address outside every pool counts
    nowhere; one inside overlapping pools (refused by validation) would count in the first."""
    nets = [(net, pool.name) for pool in pools for net in pool_networks(pool)]
    used: dict[str, set[str]] = {pool.name: set() for pool in pools}
    for address in set(addresses):
        ip = parse_address(address)
        owner = next((name for net, name in nets if ip.version == net.version and ip in net), None)
        if owner is not None:
            used[owner].add(address)
    return {pool.name: (len(used[pool.name]), _Addresses(pool).size) for pool in pools}


def _hash(text: str, size: int = 8) -> bytes:
    return hashlib.blake2b(text.encode(), digest_size=size).digest()


def assign(pool: Pool, service: str, taken: set[str]) -> str | None:
    """The pool address for `service` (None if the pool is full), by rendezvous hashing.

    Every candidate address is ranked by blake2b(`service|address`) and the highest-ranked free one wins. The
    candidates are every address of the pool when it has at most ASSIGN_SAMPLE (1,024) addresses; in a larger pool,
    the ASSIGN_SAMPLE addresses at offsets blake2b(`service|#i`) mod pool size, i = 0..1023 (the pool's CIDRs taken
    as one sequence). If every candidate is taken, the first free address from offset blake2b(`service`) mod size
    on (wrapping around) is used. So the cost is bounded by ASSIGN_SAMPLE hashes plus the number of taken
    addresses, whatever the pool size (a /8 of IPv4 or a /32 of IPv6 included).

    The result depends only on the pool, the service name and the taken set, so every node computes the same answer;
    taking an address only moves the service whose pick it was. Once assigned, the address is stored in the object
    and never recomputed (stability).
    """
    space = _Addresses(pool)
    if space.size == 0:
        return None
    offsets: Iterable[int]
    if space.size <= ASSIGN_SAMPLE:
        offsets = range(space.size)
    else:
        offsets = {int.from_bytes(_hash(f"{service}|#{i}", 16), "big") % space.size for i in range(ASSIGN_SAMPLE)}
    best: tuple[bytes, Address] | None = None
    for offset in offsets:
        ip = space[offset]
        if space.usable(ip, taken):
            rank = _hash(f"{service}|{ip}")
            if best is None or rank > best[0]:
                best = (rank, ip)
    if best is not None:
        return str(best[1])
    start = int.from_bytes(_hash(service, 16), "big") % space.size
    # Only taken (and, with avoid_buggy_ips, .0/.255) addresses are stepped over: len(taken) + a little steps.
    for step in range(space.size):
        ip = space[(start + step) % space.size]
        if space.usable(ip, taken):
            return str(ip)
    return None
