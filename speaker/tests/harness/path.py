"""What a router holds for one prefix from one peer, the same shape whichever daemon we read it from."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Path:
    next_hop: str
    as_path: tuple[int, ...] = ()
    origin: str = "IGP"
    med: int | None = None
    local_pref: int | None = None
    communities: tuple[str, ...] = ()
    large_communities: tuple[str, ...] = ()
    stale: bool = False
    best: bool = False
    multipath: bool = False
    peer: str = ""


def wait_until(predicate: Callable[[], object], timeout: float, interval: float, what: str) -> float:
    """`wait_for`, returning the `time.perf_counter()` at which the predicate held (for benchmarks)."""
    wait_for(predicate, timeout, interval, what)
    return time.perf_counter()


def wait_for(predicate: Callable[[], T], timeout: float = 10.0, interval: float = 0.05, what: str = "") -> T:
    """Poll until `predicate()` is truthy and return it; AssertionError naming `what` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}; last value {value!r}")
        time.sleep(interval)
