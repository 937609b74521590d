"""The planner: a pure function from the objects, health states and drain state to the routes for each peer."""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from bgplb.bgp.route import Route
from bgplb.bgp.wire import COMMUNITY_GRACEFUL_SHUTDOWN, parse_large_community
from bgplb.model import Config, Peer, Service, peers_for_node
from bgplb.model.addresses import aggregate, parse_address, pool_networks
from bgplb.model.selectors import selects
from bgplb.model.validate import advertised_peers, advertised_pools, community_value
from bgplb.rendezvous import announcers

Plan = dict[str, dict[str, Route]]


@dataclass(frozen=True)
class _Rule:
    """What one advertisement does with the addresses of a pool it selects."""

    len4: int
    len6: int
    communities: frozenset[int]
    large: frozenset[tuple[int, int, int]]
    local_pref: int | None
    targets: tuple[Peer, ...]
    top: int | None  # max_announcers


@dataclass
class _Merged:
    """The attributes of one prefix towards one peer, joined over the advertisements that select it."""

    communities: frozenset[int] = frozenset()
    large: frozenset[tuple[int, int, int]] = frozenset()
    local_pref: int | None = None


def serves(config: Config, service: Service) -> bool:
    """Whether this node is one of the service's nodes."""
    return selects(service.node_selectors, config.node.labels)


def peer_families(peer: Peer) -> tuple[str, ...]:
    return peer.families or (("ipv6",) if ":" in peer.address else ("ipv4",))


def announced(service: Service, healthy: Mapping[str, bool | None]) -> bool:
    """A service without a health check is always announced; with one, only once it has passed."""
    return service.health_check is None or healthy.get(service.name) is True


def plan(
    config: Config,
    healthy: Mapping[str, bool | None],
    drained: bool = False,
    members: Mapping[str, Collection[str]] | None = None,
) -> Plan:
    """For each peer of this node: prefix -> attributes. Several advertisements of one prefix to one peer merge
    (communities are joined, the highest local_pref wins). Drained: every route carries GRACEFUL_SHUTDOWN
    (RFC 8326) and, towards iBGP peers, local_pref 0. `members`: service name -> the nodes eligible to announce it;
    an advertisement with `max_announcers` k announces an address only from its top k of them (rendezvous hashing);
    where a service's members are not known, every eligible node announces."""
    node = config.node
    peers = peers_for_node(config)
    out: Plan = {name: {} for name in peers}
    owner: dict[ipaddress.IPv4Network | ipaddress.IPv6Network, str] = {}
    for pool in config.pools:
        for net in pool_networks(pool):
            owner[net] = pool.name
    rules: dict[str, list[_Rule]] = {}
    for adv in config.advertisements:
        if not selects(adv.node_selectors, node.labels):
            continue
        rule = _Rule(
            len4=adv.aggregation_length,
            len6=adv.aggregation_length_v6,
            communities=frozenset(community_value(config, c) for c in adv.communities),
            large=frozenset(parse_large_community(c) for c in adv.large_communities),
            local_pref=adv.local_pref,
            targets=tuple(p for p in advertised_peers(config, adv) if p.name in peers),
            top=adv.max_announcers,
        )
        for pool_name in advertised_pools(config, adv):
            rules.setdefault(pool_name, []).append(rule)
    merged: dict[tuple[str, str], _Merged] = {}
    for service in config.services:
        if not serves(config, service) or not announced(service, healthy):
            continue
        for address in service.address:
            ip = parse_address(address)
            owning = next((name for net, name in owner.items() if ip in net), None)
            for rule in rules.get(owning or "", ()):
                eligible = (members or {}).get(service.name)
                limited = rule.top is not None and eligible is not None
                if limited and node.name not in announcers(address, eligible or (), rule.top or 0):
                    continue
                prefix = aggregate(address, rule.len4, rule.len6)
                family = "ipv6" if ip.version == 6 else "ipv4"
                for peer in rule.targets:
                    if family not in peer_families(peer):
                        continue
                    entry = merged.setdefault((peer.name, prefix), _Merged())
                    entry.communities |= rule.communities
                    entry.large |= rule.large
                    if rule.local_pref is not None and peer.asn == node.asn:
                        entry.local_pref = max(rule.local_pref, entry.local_pref or 0)
    interned: dict[Route, Route] = {}
    asn_of = {p.name: p.asn for p in peers.values()}
    for (peer_name, prefix), entry in merged.items():
        communities, local_pref = entry.communities, entry.local_pref
        if drained:
            communities = communities | {COMMUNITY_GRACEFUL_SHUTDOWN}
            if asn_of[peer_name] == node.asn:
                local_pref = 0
        route = Route(local_pref=local_pref, communities=tuple(sorted(communities)),
                      large_communities=tuple(sorted(entry.large)))  # fmt: skip
        out[peer_name][prefix] = interned.setdefault(route, route)
    return out
