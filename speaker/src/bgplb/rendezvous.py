"""Which nodes announce a service address when an advertisement sets `max_announcers`: rendezvous (highest random
weight) hashing. Every node computes the same answer from the same eligible set, and a node joining or leaving
changes the announcers only of the addresses whose top k it enters or leaves (about k/N of them)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def weight(key: str, node: str) -> int:
    """A stable 64-bit weight of (key, node), the same on every node and every run."""
    return int.from_bytes(hashlib.blake2b(f"{key}\0{node}".encode(), digest_size=8).digest(), "big")


def announcers(key: str, nodes: Iterable[str], k: int) -> frozenset[str]:
    """The k eligible nodes with the highest weight for `key` (all of them when there are at most k)."""
    ranked = sorted(set(nodes), key=lambda n: (weight(key, n), n), reverse=True)
    return frozenset(ranked[:k])
