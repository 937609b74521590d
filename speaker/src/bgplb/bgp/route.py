"""What we announce for one prefix, apart from what each session fills in itself (NEXT_HOP, AS_PATH, ORIGIN)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Route:
    """Policy attributes of an announced prefix; hashable so identical sets share one UPDATE.

    `communities` holds 32-bit values and `large_communities` (global, local1, local2) triples, both sorted and
    unique. `local_pref` is sent to iBGP peers only (the planner refuses it for eBGP).
    """

    local_pref: int | None = None
    med: int | None = None
    communities: tuple[int, ...] = ()
    large_communities: tuple[tuple[int, int, int], ...] = ()
