"""The planner: which peer gets which prefix with which attributes, from objects, health and drain state."""

from __future__ import annotations

import pytest

from bgplb import model, planner
from bgplb.bgp.route import Route
from bgplb.bgp.wire import COMMUNITY_GRACEFUL_SHUTDOWN

GSHUT = COMMUNITY_GRACEFUL_SHUTDOWN
assert GSHUT == 65535 << 16  # 65535:0
NO_EXPORT = 0xFFFFFF01

NODE = {"name": "n1", "router_id": "10.0.0.1", "asn": 64512, "labels": {"rack": "a"}, "ipv6_next_hop": "fd00::1"}
EXT = {"name": "ext", "address": "10.0.0.254", "asn": 65000}
INT = {"name": "int", "address": "10.0.0.253", "asn": 64512}
V6 = {"name": "v6", "address": "fd00::fe", "asn": 65000}
POOL_A = {"name": "a", "addresses": ["198.51.100.0/24"], "labels": {"tier": "gold"}}
POOL_B = {"name": "b", "addresses": ["203.0.113.0/24"]}
POOL_6 = {"name": "six", "addresses": ["2001:db8::/64"]}
WEB = {"name": "web", "address": "198.51.100.5"}
API = {"name": "api", "address": "198.51.100.6"}
OTHER = {"name": "other", "address": "203.0.113.9"}
DUAL = {"name": "dual", "address": ["198.51.100.7", "2001:db8::7"]}
CHECKED = {"name": "chk", "address": "198.51.100.8", "health_check": {"type": "tcp", "port": 80}}


def config(node=NODE, **kinds):
    singular = {v: k for k, v in model.KIND_FIELDS.items()}
    parsed = {attr: tuple(model.parse_object(singular[attr], d) for d in items) for attr, items in kinds.items()}
    return model.Config(model.parse_node(node), **parsed)


def R(local_pref=None, communities=(), large=()):
    return Route(local_pref=local_pref, communities=tuple(sorted(communities)), large_communities=tuple(sorted(large)))


BASE = {"peers": [EXT, INT], "pools": [POOL_A, POOL_B]}

CASES = [
    # (id, config kwargs on top of BASE, healthy, drained, expected plan)
    ("no advertisement, nothing announced", {"services": [WEB]}, {}, False, {"ext": {}, "int": {}}),
    ("plain /32 to every peer", {"advertisements": [{"name": "all"}], "services": [WEB, OTHER]}, {}, False,
     {"ext": {"198.51.100.5/32": R(), "203.0.113.9/32": R()},
      "int": {"198.51.100.5/32": R(), "203.0.113.9/32": R()}}),
    ("communities: literal, well-known and named", {
        "communities": [{"name": "mine", "value": "65000:200"}],
        "advertisements": [{"name": "x", "communities": ["65000:100", "no-export", "mine"],
                            "large_communities": ["64512:1:2", "64512:0:9"]}],
        "services": [WEB]}, {}, False,
     {"ext": {"198.51.100.5/32": R(None, [65000 << 16 | 100, 65000 << 16 | 200, NO_EXPORT],
                                   [(64512, 0, 9), (64512, 1, 2)])},
      "int": {"198.51.100.5/32": R(None, [65000 << 16 | 100, 65000 << 16 | 200, NO_EXPORT],
                                   [(64512, 0, 9), (64512, 1, 2)])}}),
    ("local_pref goes to iBGP peers only", {
        "advertisements": [{"name": "x", "local_pref": 300}], "services": [WEB]}, {}, False,
     {"ext": {"198.51.100.5/32": R()}, "int": {"198.51.100.5/32": R(300)}}),
    ("aggregation_length gives one aggregate for several services", {
        "advertisements": [{"name": "agg", "aggregation_length": 24}], "services": [WEB, API, OTHER]}, {}, False,
     {"ext": {"198.51.100.0/24": R(), "203.0.113.0/24": R()},
      "int": {"198.51.100.0/24": R(), "203.0.113.0/24": R()}}),
    ("aggregate and host route side by side, to different peers", {
        "advertisements": [{"name": "agg", "aggregation_length": 24, "peers": ["ext"]},
                           {"name": "host", "peers": ["int"], "communities": ["no-export"]}],
        "services": [WEB]}, {}, False,
     {"ext": {"198.51.100.0/24": R()}, "int": {"198.51.100.5/32": R(None, [NO_EXPORT])}}),
    ("advertisement limited to a peer", {
        "advertisements": [{"name": "x", "peers": ["int"]}], "services": [WEB]}, {}, False,
     {"ext": {}, "int": {"198.51.100.5/32": R()}}),
    ("advertisement limited to a pool by name", {
        "advertisements": [{"name": "x", "pools": ["b"]}], "services": [WEB, OTHER]}, {}, False,
     {"ext": {"203.0.113.9/32": R()}, "int": {"203.0.113.9/32": R()}}),
    ("advertisement limited to pools by selector", {
        "advertisements": [{"name": "x", "pool_selectors": [{"match_labels": {"tier": "gold"}}]}],
        "services": [WEB, OTHER]}, {}, False,
     {"ext": {"198.51.100.5/32": R()}, "int": {"198.51.100.5/32": R()}}),
    ("advertisement for other nodes", {
        "advertisements": [{"name": "x", "node_selectors": [{"match_labels": {"rack": "b"}}]}],
        "services": [WEB]}, {}, False, {"ext": {}, "int": {}}),
    ("advertisement for this node", {
        "advertisements": [{"name": "x", "node_selectors": [{"match_expressions": [
            {"key": "rack", "operator": "In", "values": ["a", "b"]}]}]}],
        "services": [WEB]}, {}, False, {"ext": {"198.51.100.5/32": R()}, "int": {"198.51.100.5/32": R()}}),
    ("service served by other nodes", {
        "advertisements": [{"name": "x"}],
        "services": [{**WEB, "node_selectors": [{"match_labels": {"rack": "z"}}]}, API]}, {}, False,
     {"ext": {"198.51.100.6/32": R()}, "int": {"198.51.100.6/32": R()}}),
    ("merge: communities joined, highest local_pref wins", {
        "advertisements": [{"name": "x", "communities": ["1:1"], "local_pref": 100},
                           {"name": "y", "communities": ["2:2"], "local_pref": 250, "peers": ["int"]},
                           {"name": "z", "local_pref": 50, "peers": ["int"]}],
        "services": [WEB]}, {}, False,
     {"ext": {"198.51.100.5/32": R(None, [1 << 16 | 1])},
      "int": {"198.51.100.5/32": R(250, [1 << 16 | 1, 2 << 16 | 2])}}),
    ("unhealthy or unknown health: not announced; no check: announced", {
        "advertisements": [{"name": "x", "peers": ["ext"]}],
        "services": [CHECKED, {**CHECKED, "name": "chk2", "address": "198.51.100.9"},
                     {**CHECKED, "name": "chk3", "address": "198.51.100.10"}, WEB]},
     {"chk": False, "chk2": None, "web": False}, False,
     {"ext": {"198.51.100.5/32": R()}, "int": {}}),
    ("healthy service announced", {
        "advertisements": [{"name": "x", "peers": ["ext"]}], "services": [CHECKED]}, {"chk": True}, False,
     {"ext": {"198.51.100.8/32": R()}, "int": {}}),
    ("drained: graceful-shutdown everywhere, iBGP local_pref 0", {
        "advertisements": [{"name": "x", "communities": ["no-export"]},
                           {"name": "y", "local_pref": 300, "peers": ["int"]}],
        "services": [WEB]}, {}, True,
     {"ext": {"198.51.100.5/32": R(None, [NO_EXPORT, GSHUT])},
      "int": {"198.51.100.5/32": R(0, [NO_EXPORT, GSHUT])}}),
    ("drained: iBGP without local_pref gets 0 too", {
        "advertisements": [{"name": "x"}], "services": [WEB]}, {}, True,
     {"ext": {"198.51.100.5/32": R(None, [GSHUT])}, "int": {"198.51.100.5/32": R(0, [GSHUT])}}),
    ("drained: unhealthy still not announced", {
        "advertisements": [{"name": "x"}], "services": [CHECKED]}, {"chk": False}, True,
     {"ext": {}, "int": {}}),
    ("address in no pool is not announced", {
        "advertisements": [{"name": "x"}], "services": [{"name": "stray", "address": "192.0.2.1"}]}, {}, False,
     {"ext": {}, "int": {}}),
]  # fmt: skip


@pytest.mark.parametrize(("kinds", "healthy", "drained", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_plan(kinds, healthy, drained, expected):
    assert planner.plan(config(**{**BASE, **kinds}), healthy, drained) == expected


FAMILY_CASES = [
    ("v4 session gets v4 only", [EXT], {"ext": {"198.51.100.7/32": R()}}),
    ("v6 session gets v6 only", [V6], {"v6": {"2001:db8::7/128": R()}}),
    ("multiprotocol v4 session gets both", [{**EXT, "families": ["ipv4", "ipv6"]}],
     {"ext": {"198.51.100.7/32": R(), "2001:db8::7/128": R()}}),
    ("v4 session carrying only v6", [{**EXT, "families": ["ipv6"]}], {"ext": {"2001:db8::7/128": R()}}),
]  # fmt: skip


@pytest.mark.parametrize(("peers", "expected"), [c[1:] for c in FAMILY_CASES], ids=[c[0] for c in FAMILY_CASES])
def test_families(peers, expected):
    cfg = config(peers=peers, pools=[POOL_A, POOL_6], advertisements=[{"name": "x"}], services=[DUAL])
    assert planner.plan(cfg, {}) == expected


def test_ipv6_aggregation():
    cfg = config(
        peers=[V6],
        pools=[POOL_6],
        advertisements=[{"name": "x", "aggregation_length_v6": 64}],
        services=[{"name": "s1", "address": "2001:db8::1"}, {"name": "s2", "address": "2001:db8::abcd"}],
    )
    assert planner.plan(cfg, {}) == {"v6": {"2001:db8::/64": R()}}


def test_only_this_nodes_peers_are_planned():
    cfg = config(
        peers=[EXT, {**INT, "node_selectors": [{"match_labels": {"rack": "b"}}]}],
        pools=[POOL_A],
        advertisements=[{"name": "x"}],
        services=[WEB],
    )
    assert planner.plan(cfg, {}) == {"ext": {"198.51.100.5/32": R()}}


def test_an_unvalidated_ebgp_local_pref_never_reaches_the_wire():
    cfg = config(peers=[EXT], pools=[POOL_A], advertisements=[{"name": "x", "local_pref": 500}], services=[WEB])
    assert planner.plan(cfg, {})["ext"]["198.51.100.5/32"].local_pref is None


def test_identical_attribute_sets_share_one_route_object():
    cfg = config(**BASE, advertisements=[{"name": "x", "communities": ["1:1"]}], services=[WEB, API, OTHER])
    routes = [r for prefixes in planner.plan(cfg, {}).values() for r in prefixes.values()]
    assert len(routes) == 6
    assert all(r is routes[0] for r in routes)


def test_plan_is_pure_and_repeatable():
    cfg = config(**BASE, advertisements=[{"name": "x", "local_pref": 7, "peers": ["int"]}], services=[WEB, CHECKED])
    healthy = {"chk": True}
    first = planner.plan(cfg, healthy, drained=True)
    assert planner.plan(cfg, healthy, drained=True) == first
    assert healthy == {"chk": True}
    assert planner.plan(cfg, healthy) != first
