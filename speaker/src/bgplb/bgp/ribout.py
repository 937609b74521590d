"""The outbound table of one peer (adj-RIB-out): what we want the peer to have versus what it has been sent.

Prefixes are NLRI bytes (see `bgplb.bgp.wire.prefix_to_nlri`) grouped per address family. `set_desired()` records
which prefixes changed; `flush()` turns only those into UPDATE messages, prefixes with identical attributes packed
together, withdrawals first. After a session reset everything desired is pending again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from bgplb.bgp import wire
from bgplb.bgp.route import Route

Family = tuple[int, int]
Table = Mapping[Family, Mapping[bytes, Route]]


class AttributeEncoder:
    """Turns a `Route` into the path attribute block this session sends (next-hop self, our AS, ORIGIN IGP)."""

    def __init__(
        self, *, local_asn: int, ebgp: bool, next_hop_v4: str | None, next_hops_v6: tuple[str, ...], asn4: bool = True
    ) -> None:
        self.ebgp = ebgp
        self.next_hop_v4 = next_hop_v4
        self.next_hops_v6 = next_hops_v6
        self._as_path = (local_asn,) if ebgp else ()
        self._asn4 = asn4
        self._cache: dict[tuple[Family, Route], bytes] = {}

    def next_hops(self, family: Family) -> tuple[str, ...]:
        return self.next_hops_v6 if family[0] == wire.AFI_IPV6 else ()

    def encode(self, family: Family, route: Route) -> bytes:
        key = (family, route)
        block = self._cache.get(key)
        if block is None:
            attrs = wire.PathAttributes(
                origin=0,
                as_path=self._as_path,
                next_hop=self.next_hop_v4 if family == wire.IPV4_UNICAST else None,
                med=route.med,
                local_pref=None if self.ebgp else (100 if route.local_pref is None else route.local_pref),
                communities=route.communities,
                large_communities=route.large_communities,
            )
            block = self._cache[key] = attrs.encode(asn4=self._asn4)
        return block


class AdjRibOut:
    """Desired versus sent routes for one peer."""

    def __init__(self) -> None:
        self.desired: dict[Family, dict[bytes, Route]] = {}
        self.sent: dict[Family, dict[bytes, Route]] = {}
        self._dirty: dict[Family, set[bytes]] = defaultdict(set)

    def __len__(self) -> int:
        return sum(len(t) for t in self.sent.values())

    @property
    def pending(self) -> bool:
        return any(self._dirty.values())

    def set_desired(self, table: Table) -> None:
        """Replace the desired table; remember which prefixes differ from what was desired before."""
        for family in set(self.desired) | set(table):
            old = self.desired.get(family, {})
            new = dict(table.get(family, {}))
            dirty = self._dirty[family]
            if not old:
                dirty.update(new)
            else:
                dirty.update(p for p, r in new.items() if old.get(p) != r)
                dirty.update(p for p in old if p not in new)
            self.desired[family] = new

    def reset(self) -> None:
        """The session went down: the peer has nothing from us, everything desired is pending."""
        self.sent = {}
        self._dirty = defaultdict(set)
        for family, table in self.desired.items():
            self._dirty[family].update(table)

    def refresh(self, family: Family) -> None:
        """ROUTE-REFRESH: send the whole table of a family again."""
        self.sent.pop(family, None)
        self._dirty[family].update(self.desired.get(family, {}))

    def flush(self, encoder: AttributeEncoder, families: tuple[Family, ...], max_length: int) -> list[bytes]:
        """UPDATE messages that bring the peer from `sent` to `desired`, for the negotiated families."""
        messages: list[bytes] = []
        for family in families:
            dirty = self._dirty.get(family)
            if not dirty:
                continue
            desired = self.desired.get(family, {})
            sent = self.sent.setdefault(family, {})
            withdraw: list[bytes] = []
            announce: dict[Route, list[bytes]] = defaultdict(list)
            for prefix in dirty:
                route = desired.get(prefix)
                if route is None:
                    if sent.pop(prefix, None) is not None:
                        withdraw.append(prefix)
                elif sent.get(prefix) != route:
                    sent[prefix] = route
                    announce[route].append(prefix)
            dirty.clear()
            afi, safi = family
            if withdraw:
                messages += wire.pack_withdraw(afi, safi, withdraw, max_length)
            for route, prefixes in announce.items():
                block = encoder.encode(family, route)
                messages += wire.pack_announce(afi, safi, block, prefixes, max_length, encoder.next_hops(family))
        return messages
