"""Rules across objects: references resolve, pools do not overlap, addresses sit inside pools, and so on."""

from __future__ import annotations

import ipaddress
from collections import Counter
from itertools import combinations

from bgplb.bgp.wire import parse_community
from bgplb.model.addresses import contains, pool_networks
from bgplb.model.objects import KIND_FIELDS, Advertisement, Config, Peer
from bgplb.model.selectors import selects


class ValidationError(ValueError):
    """One or more invalid objects; `errors` holds one message per problem, each naming object and field."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("; ".join(errors))


def advertised_pools(config: Config, adv: Advertisement) -> list[str]:
    """Pools an advertisement covers: named ones, those its selectors match, or all when it names none."""
    if not adv.pools and not adv.pool_selectors:
        return [p.name for p in config.pools]
    return [
        p.name
        for p in config.pools
        if p.name in adv.pools or (adv.pool_selectors and selects(adv.pool_selectors, p.labels))
    ]


def advertised_peers(config: Config, adv: Advertisement) -> list[Peer]:
    return [p for p in config.peers if not adv.peers or p.name in adv.peers]


def community_value(config: Config, text: str) -> int:
    """A community from its text or from the name of a community object."""
    alias = next((c.value for c in config.communities if c.name == text), None)
    return parse_community(alias if alias is not None else text)


def validate_config(config: Config) -> None:
    errors: list[str] = []
    for kind, attr in KIND_FIELDS.items():
        for name, count in Counter(o.name for o in getattr(config, attr)).items():
            if count > 1:
                errors.append(f"{kind} {name}: defined {count} times")
    node = config.node
    pools = {p.name: p for p in config.pools}
    peers = {p.name: p for p in config.peers}

    for peer in config.peers:
        v6_session = ":" in peer.address
        for family in peer.families:
            if family == "ipv6" and not v6_session and not node.ipv6_next_hop:
                errors.append(f"peer {peer.name}: families: ipv6 over an IPv4 session needs node.ipv6_next_hop")
            if family == "ipv4" and v6_session and not node.ipv4_next_hop:
                errors.append(f"peer {peer.name}: families: ipv4 over an IPv6 session needs node.ipv4_next_hop")

    for a, b in combinations(config.pools, 2):
        overlap = next((f"{x} and {y}" for x in pool_networks(a) for y in pool_networks(b)
                        if x.version == y.version and x.overlaps(y)), None)  # fmt: skip
        if overlap:
            errors.append(f"pool {b.name}: addresses overlap pool {a.name} ({overlap})")

    for c in config.communities:
        try:
            parse_community(c.value)
        except ValueError as err:
            errors.append(f"community {c.name}: value: {err}")

    for adv in config.advertisements:
        label = f"advertisement {adv.name}"
        errors += [f"{label}: pools[{i}]: no pool named {p}" for i, p in enumerate(adv.pools) if p not in pools]
        errors += [f"{label}: peers[{i}]: no peer named {p}" for i, p in enumerate(adv.peers) if p not in peers]
        for i, text in enumerate(adv.communities):
            try:
                community_value(config, text)
            except ValueError as err:
                errors.append(f"{label}: communities[{i}]: {err} (nor the name of a community object)")
        for pool_name in advertised_pools(config, adv):
            for net in pool_networks(pools[pool_name]):
                length = adv.aggregation_length if net.version == 4 else adv.aggregation_length_v6
                field = "aggregation_length" if net.version == 4 else "aggregation_length_v6"
                if length < net.prefixlen:
                    errors.append(f"{label}: {field}: {length} is shorter than /{net.prefixlen} of pool "
                                  f"{pool_name} ({net}): routers would get addresses outside the pool")  # fmt: skip
        if adv.local_pref is not None:
            for peer in advertised_peers(config, adv):
                if peer.asn != node.asn:
                    errors.append(f"{label}: local_pref: only for iBGP peers, peer {peer.name} is eBGP "
                                  f"(asn {peer.asn} != node asn {node.asn})")  # fmt: skip

    owners: dict[str, str] = {}
    for svc in config.services:
        label = f"service {svc.name}"
        if svc.pool is not None:
            pool = pools.get(svc.pool)
            if pool is None:
                errors.append(f"{label}: pool: no pool named {svc.pool}")
            elif not pool.auto_assign and not svc.address:
                errors.append(f"{label}: pool: pool {svc.pool} has auto_assign off; give an address")
        for i, address in enumerate(svc.address):
            inside = [p.name for p in config.pools if contains(p, address)]
            if not inside:
                errors.append(f"{label}: address[{i}]: {address} is outside every pool")
            elif svc.pool is not None and svc.pool in pools and svc.pool not in inside:
                errors.append(f"{label}: address[{i}]: {address} is not in pool {svc.pool}")
            key = str(ipaddress.ip_address(address))
            if key in owners:
                errors.append(f"{label}: address[{i}]: {address} is already used by service {owners[key]}")
            owners[key] = svc.name
    if errors:
        raise ValidationError(errors)


def peers_for_node(config: Config) -> dict[str, Peer]:
    """The peers this node opens sessions to (their node_selectors match the node's labels)."""
    return {p.name: p for p in config.peers if selects(p.node_selectors, config.node.labels)}
