# ruff: noqa: E501  (message tables read best one case per line)
"""The object model: parsing with field-level messages, round trips, cross-object validation, selectors, ranges."""

from __future__ import annotations

import pytest

from bgplb import model
from bgplb.model.addresses import aggregate, assign, contains, networks, pool_networks
from bgplb.model.objects import Expression, Selector
from bgplb.model.selectors import matches, selects

NODE = {"name": "n1", "router_id": "10.0.0.1", "asn": 64512, "labels": {"rack": "a"}}

GOOD = [
    ("peer", {"name": "r1", "address": "10.0.0.254", "asn": 65000}),
    (
        "peer",
        {
            "name": "r2",
            "address": "fd00::fe",
            "asn": 64512,
            "port": 1179,
            "source_address": "fd00::1",
            "hold_time": 9,
            "keepalive_time": 3,
            "connect_time": 2,
            "password": "s3cret",
            "ebgp_multihop": 4,
            "passive": True,
            "graceful_restart": False,
            "restart_time": 60,
            "families": ["ipv4", "ipv6"],
            "node_selectors": [
                {
                    "match_labels": {"rack": "a"},
                    "match_expressions": [
                        {"key": "zone", "operator": "In", "values": ["z1", "z2"]},
                        {"key": "drain", "operator": "DoesNotExist"},
                    ],
                }
            ],
            "bfd": True,
        },
    ),
    ("peer", {"name": "r3", "address": "10.0.0.253", "asn": 65001, "ebgp_multihop": True, "hold_time": 0}),
    ("pool", {"name": "public", "addresses": ["198.51.100.0/24"]}),
    (
        "pool",
        {
            "name": "mixed",
            "addresses": ["203.0.113.10-203.0.113.20", "2001:db8:1::/64", "2001:db8:2::1-2001:db8:2::ff"],
            "auto_assign": False,
            "avoid_buggy_ips": True,
            "labels": {"tier": "gold"},
        },
    ),
    ("community", {"name": "no-exp", "value": "no-export"}),
    ("community", {"name": "c1", "value": "65000:100"}),
    ("advertisement", {"name": "all"}),
    (
        "advertisement",
        {
            "name": "full",
            "pools": ["public"],
            "pool_selectors": [{"match_labels": {"tier": "gold"}}],
            "aggregation_length": 24,
            "aggregation_length_v6": 64,
            "local_pref": 200,
            "communities": ["65000:1", "no-exp"],
            "large_communities": ["64512:1:2"],
            "peers": ["r2"],
            "node_selectors": [{"match_expressions": [{"key": "rack", "operator": "Exists"}]}],
        },
    ),
    ("service", {"name": "web", "address": ["198.51.100.5"]}),
    (
        "service",
        {
            "name": "api",
            "address": ["198.51.100.6", "2001:db8:1::6"],
            "pool": "public",
            "health_check": {
                "type": "http",
                "port": 8080,
                "path": "/healthz",
                "expected_status": 204,
                "interval": 2,
                "timeout": 1.5,
                "rise": 1,
                "fall": 5,
            },
            "node_selectors": [{"match_labels": {"rack": "a"}}],
        },
    ),
    ("service", {"name": "job", "pool": "public", "health_check": {"type": "exec", "command": ["true"]}}),
]


@pytest.mark.parametrize(("kind", "data"), GOOD, ids=[f"{k}-{d['name']}" for k, d in GOOD])
def test_good_objects_round_trip(kind, data):
    obj = model.parse_object(kind, data)
    assert isinstance(obj, model.objects.KIND_CLASSES[kind])
    assert model.kind_of(obj) == kind
    out = model.to_dict(obj, redact=False)
    again = model.parse_object(kind, out)
    assert again == obj
    # every field given comes back, and the canonical form is a fixed point
    assert set(data) <= set(out)
    assert model.to_dict(again, redact=False) == out


def test_parse_fills_defaults_and_canonicalises():
    peer = model.parse_object("peer", {"name": "r1", "address": "FD00:0::FE", "asn": 65000})
    assert (peer.address, peer.port, peer.hold_time, peer.graceful_restart, peer.passive) == (
        "fd00::fe",
        179,
        90,
        True,
        False,
    )
    pool = model.parse_object("pool", {"name": "p", "addresses": [" 198.51.100.10 - 198.51.100.20 ", "2001:DB8::/64"]})
    assert pool.addresses == ("198.51.100.10-198.51.100.20", "2001:db8::/64")
    svc = model.parse_object("service", {"name": "s", "address": "198.51.100.1"})  # a scalar is a one-item list
    assert svc.address == ("198.51.100.1",)
    pool = model.parse_object("pool", {"name": "p", "addresses": ["10.0.0.0/8"], "labels": {"b": 2, "a": "x"}})
    assert pool.labels == (("a", "x"), ("b", "2"))


def test_node_parses_and_round_trips():
    node = model.parse_node({**NODE, "ipv4_next_hop": "10.0.0.1", "ipv6_next_hop": "fd00::1"})
    assert node == model.Node("n1", "10.0.0.1", 64512, (("rack", "a"),), "10.0.0.1", "fd00::1")
    assert model.parse_node(model.to_dict(node)) == node


LONG = "x" * 81
BAD_OBJECTS = [
    # (kind, data, exact message)
    ("pool", {"name": "public", "addresses": ["198.51.100.0/24", "198.51.100.300"]},
     "pool public: addresses[1]: 198.51.100.300 is not an IP"),
    ("pool", {"name": "public", "addresses": ["198.51.100.300/24"]}, "pool public: addresses[0]: 198.51.100.300 is not an IP"),
    ("pool", {"name": "p", "addresses": []}, "pool p: addresses: needs at least one CIDR or range"),
    ("pool", {"name": "p"}, "pool p: addresses: is required"),
    ("pool", {"name": "p", "addresses": "10.0.0.0/8"}, "pool p: addresses: expected a list, got str"),
    ("pool", {"name": "p", "addresses": ["10.0.0.20-10.0.0.10"]},
     "pool p: addresses[0]: 10.0.0.20-10.0.0.10 is not a range of one family from low to high"),
    ("pool", {"name": "p", "addresses": ["10.0.0.1-2001:db8::1"]},
     "pool p: addresses[0]: 10.0.0.1-2001:db8::1 is not a range of one family from low to high"),
    ("pool", {"name": "p", "addresses": ["10.0.0.1-10.0.0.x"]}, "pool p: addresses[0]: 10.0.0.1-10.0.0.x: ..."),
    ("pool", {"name": "p", "addresses": ["198.51.100.1/24"]}, "pool p: addresses[0]: 198.51.100.1/24 is not a CIDR (..."),
    ("pool", {"name": "p", "addresses": ["10.0.0.0/8"], "auto_assign": "yes"},
     "pool p: auto_assign: expected true or false, got 'yes'"),
    ("pool", {"name": "p", "addresses": ["10.0.0.0/8"], "labels": ["a"]},
     "pool p: labels: expected a mapping of label names to values, got list"),
    ("pool", {"name": "p", "adresses": ["10.0.0.0/8"]}, "pool p: adresses: unknown field"),
    ("pool", "public", "pool: expected a mapping, got str"),
    ("pool", {"addresses": ["10.0.0.0/8"]}, "pool: name: is required"),
    ("pool", {"name": "bad name!", "addresses": ["10.0.0.0/8"]},
     "pool bad name!: name: 'bad name!' is not a valid name (letters, digits, '-', '_', '.', at most 63)"),
    ("pool", {"name": "a" * 64, "addresses": ["10.0.0.0/8"]}, f"pool {'a' * 64}: name: '{'a' * 64}' is not a valid name ..."),
    ("peer", {"name": "r1", "address": "10.0.0.1", "asn": 65000, "colour": "red"}, "peer r1: colour: unknown field"),
    ("peer", {"name": "r1", "asn": 65000}, "peer r1: address: is required"),
    ("peer", {"name": "r1", "address": "10.0.0.999", "asn": 65000}, "peer r1: address: 10.0.0.999 is not an IP address"),
    ("peer", {"name": "r1", "address": "10.0.0.1", "asn": 0},
     "peer r1: asn: expected an integer from 1 to 4294967295, got 0"),
    ("peer", {"name": "r1", "address": "10.0.0.1", "asn": 4294967296}, "peer r1: asn: expected an integer from 1 to 4294967295, got 4294967296"),
    ("peer", {"name": "r1", "address": "10.0.0.1", "asn": True}, "peer r1: asn: expected an integer from 1 to 4294967295, got True"),
    ("peer", {"name": "r1", "address": "10.0.0.1", "asn": "65000"}, "peer r1: asn: expected an integer from 1 to 4294967295, got '65000'"),
    ("peer", {"name": "r1", "address": "10.0.0.1", "asn": 65000, "port": 0},
     "peer r1: port: expected an integer from 1 to 65535, got 0"),
    ("peer", {"name": "r1", "address": "10.0.0.1", "asn": 65000, "hold_time": 2},
     "peer r1: hold_time: must be 0 or at least 3 seconds (RFC 4271)"),
    ("peer", {"name": "r1", "address": "10.0.0.1", "asn": 65000, "keepalive_time": 31},
     "peer r1: keepalive_time: must be at most a third of hold_time (90)"),
    ("peer", {"name": "r1", "address": "10.0.0.1", "asn": 65000, "password": LONG},
     "peer r1: password: TCP MD5 keys are at most 80 bytes"),
    ("peer", {"name": "r1", "address": "10.0.0.1", "asn": 65000, "password": ""},
     "peer r1: password: expected a non-empty string, got str"),
    ("peer", {"name": "r1", "address": "10.0.0.1", "asn": 65000, "source_address": "fd00::1"},
     "peer r1: source_address: must be of the same family as address"),
    ("peer", {"name": "r1", "address": "10.0.0.1", "asn": 65000, "families": ["ipv5"]},
     "peer r1: families[0]: 'ipv5' is not one of ipv4, ipv6"),
    ("peer", {"name": "r1", "address": "10.0.0.1", "asn": 65000, "ebgp_multihop": 1},
     "peer r1: ebgp_multihop: expected an integer from 2 to 255, got 1"),
    ("peer", {"name": "r1", "address": "10.0.0.1", "asn": 65000, "node_selectors": [{"matchLabels": {}}]},
     "peer r1: node_selectors[0].matchLabels: unknown field"),
    ("peer", {"name": "r1", "address": "10.0.0.1", "asn": 65000,
              "node_selectors": [{"match_expressions": [{"key": "k", "operator": "In"}]}]},
     "peer r1: node_selectors[0].match_expressions[0].values: operator In needs at least one value"),
    ("peer", {"name": "r1", "address": "10.0.0.1", "asn": 65000,
              "node_selectors": [{"match_expressions": [{"key": "k", "operator": "Equals"}]}]},
     "peer r1: node_selectors[0].match_expressions[0].operator: 'Equals' is not one of In, NotIn, Exists, DoesNotExist"),
    ("peer", {"name": "r1", "address": "10.0.0.1", "asn": 65000,
              "node_selectors": [{"match_expressions": [{"operator": "Exists"}]}]},
     "peer r1: node_selectors[0].match_expressions[0].key: is required"),
    ("community", {"name": "c"}, "community c: value: is required"),
    ("advertisement", {"name": "a", "aggregation_length": 33},
     "advertisement a: aggregation_length: expected an integer from 8 to 32, got 33"),
    ("advertisement", {"name": "a", "aggregation_length_v6": 129},
     "advertisement a: aggregation_length_v6: expected an integer from 32 to 128, got 129"),
    ("advertisement", {"name": "a", "local_pref": -1}, "advertisement a: local_pref: expected an integer from 0 to 4294967295, got -1"),
    ("advertisement", {"name": "a", "large_communities": ["64512:1:2", "1:2"]},
     "advertisement a: large_communities[1]: '1:2' is not a large community (GLOBAL:LOCAL1:LOCAL2, each 0-4294967295)"),
    ("advertisement", {"name": "a", "large_communities": ["1:2:4294967296"]}, "advertisement a: large_communities[0]: '1:2:4294967296' is not a large community ..."),
    ("advertisement", {"name": "a", "pools": ["bad pool"]}, "advertisement a: pools[0]: 'bad pool' is not a valid name ..."),
    ("service", {"name": "s"}, "service s: address: give an address, or a pool to assign one from"),
    ("service", {"name": "s", "address": ["198.51.100.1", "198.51.100.2"]},
     "service s: address: at most one IPv4 and one IPv6 address"),
    ("service", {"name": "s", "address": ["2001:db8::1", "2001:db8::2"]},
     "service s: address: at most one IPv4 and one IPv6 address"),
    ("service", {"name": "s", "address": ["198.51.100.1", "2001:db8::1", "198.51.100.2"]},
     "service s: address: at most one IPv4 and one IPv6 address"),
    ("service", {"name": "s", "address": "198.51.100.256"}, "service s: address[0]: 198.51.100.256 is not an IP address"),
    ("service", {"name": "s", "pool": "p", "health_check": {"type": "tcp"}},
     "service s: health_check.port: is required for a tcp check"),
    ("service", {"name": "s", "pool": "p", "health_check": {"type": "http"}},
     "service s: health_check.port: is required for a http check"),
    ("service", {"name": "s", "pool": "p", "health_check": {"type": "exec"}},
     "service s: health_check.command: is required for an exec check"),
    ("service", {"name": "s", "pool": "p", "health_check": {"type": "tcp", "port": 80, "interval": 1, "timeout": 2}},
     "service s: health_check.timeout: must not exceed interval"),
    ("service", {"name": "s", "pool": "p", "health_check": {"type": "icmp"}},
     "service s: health_check.type: 'icmp' is not one of tcp, http, exec"),
    ("service", {"name": "s", "pool": "p", "health_check": {"type": "tcp", "port": 80, "retries": 3}},
     "service s: health_check.retries: unknown field"),
    ("service", {"name": "s", "pool": "p", "health_check": {"type": "tcp", "port": 80, "interval": 0.01}},
     "service s: health_check.interval: expected a number of seconds from 0.1 to 3600, got 0.01"),
    ("router", {"name": "x"}, "unknown kind 'router' (known: peer, pool, community, advertisement, service)"),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "data", "message"), BAD_OBJECTS, ids=[m[:50] for _, _, m in BAD_OBJECTS])
def test_bad_objects_name_kind_object_and_field(kind, data, message):
    with pytest.raises(model.ObjectError) as err:
        model.parse_object(kind, data)
    text = str(err.value)
    if message.endswith("..."):
        assert text.startswith(message[:-3])
    else:
        assert text == message


def test_parse_error_never_echoes_the_password():
    with pytest.raises(model.ObjectError) as err:
        model.parse_object("peer", {"name": "r1", "address": "10.0.0.1", "asn": 65000, "password": "p" * 81})
    assert "ppp" not in str(err.value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "n1", "router_id": "fd00::1", "asn": 1}, "node: router_id: fd00::1 is not an IPv4 address"),
        ({"name": "n1", "asn": 1}, "node: router_id: is required"),
        ({"name": "n1", "router_id": "10.0.0.1", "asn": 1, "as": 2}, "node: as: unknown field"),
        ({"name": "n1", "router_id": "10.0.0.1", "asn": 1, "ipv4_next_hop": "::1"},
         "node: ipv4_next_hop: ::1 is not an IPv4 address"),
    ],
)  # fmt: skip
def test_bad_node(data, message):
    with pytest.raises(model.ObjectError, match="^" + message.replace("(", r"\(").replace(".", r"\.") + "$"):
        model.parse_node(data)


# --- validation across objects -------------------------------------------------------------------------------------


def config(node=None, **kinds):
    """A Config from plain dicts, e.g. config(pools=[{...}], services=[{...}])."""
    node = model.parse_node(node or NODE)
    singular = {v: k for k, v in model.KIND_FIELDS.items()}
    parsed = {attr: tuple(model.parse_object(singular[attr], d) for d in items) for attr, items in kinds.items()}
    return model.Config(node, **parsed)


POOL_A = {"name": "a", "addresses": ["198.51.100.0/24"]}
POOL_B = {"name": "b", "addresses": ["203.0.113.0/24"]}
POOL_V6 = {"name": "v6", "addresses": ["2001:db8::/64"]}
EBGP = {"name": "ext", "address": "10.0.0.254", "asn": 65000}
IBGP = {"name": "int", "address": "10.0.0.253", "asn": 64512}


def test_a_consistent_config_validates():
    cfg = config(
        peers=[EBGP, IBGP, {"name": "v6peer", "address": "fd00::fe", "asn": 65000}],
        pools=[POOL_A, POOL_B, POOL_V6],
        communities=[{"name": "mine", "value": "65000:7"}],
        advertisements=[
            {"name": "ext", "peers": ["ext", "v6peer"], "communities": ["mine", "no-export", "1:2"]},
            {"name": "int", "peers": ["int"], "local_pref": 300, "pools": ["a"], "aggregation_length": 24},
            {"name": "agg6", "pools": ["v6"], "aggregation_length_v6": 64},
        ],
        services=[
            {"name": "s1", "address": "198.51.100.5"},
            {"name": "s2", "address": ["203.0.113.5", "2001:db8::5"]},
            {"name": "s3", "address": "2001:db8::6", "pool": "v6"},
        ],
    )
    model.validate_config(cfg)  # does not raise


BAD_CONFIGS = [
    # (config kwargs, exact message expected among the errors)
    ({"pools": [POOL_A, {"name": "b", "addresses": ["198.51.100.128/25"]}]},
     "pool b: addresses overlap pool a (198.51.100.0/24 and 198.51.100.128/25)"),
    ({"pools": [POOL_A, {"name": "b", "addresses": ["10.0.0.0/8", "198.51.100.250-198.51.101.5"]}]},
     "pool b: addresses overlap pool a (198.51.100.0/24 and 198.51.100.250/31)"),
    ({"pools": [POOL_V6, {"name": "w", "addresses": ["2001:db8::ff-2001:db8::1:0"]}]},
     "pool w: addresses overlap pool v6 (2001:db8::/64 and 2001:db8::ff/128)"),
    ({"pools": [POOL_A, POOL_A]}, "pool a: defined 2 times"),
    ({"peers": [EBGP, EBGP, EBGP]}, "peer ext: defined 3 times"),
    ({"communities": [{"name": "c", "value": "65536:1"}]},
     "community c: value: '65536:1' is not a community (ASN:VALUE, each 0-65535, or a well-known name): each part "
     "must be at most 65535"),
    ({"pools": [POOL_A], "advertisements": [{"name": "adv", "pools": ["a", "nope"]}]},
     "advertisement adv: pools[1]: no pool named nope"),
    ({"peers": [EBGP], "advertisements": [{"name": "adv", "peers": ["nope"]}]},
     "advertisement adv: peers[0]: no peer named nope"),
    ({"advertisements": [{"name": "adv", "communities": ["unknown-name"]}]},
     "advertisement adv: communities[0]: 'unknown-name' is not a community (ASN:VALUE, each 0-65535, or a "
     "well-known name) (nor the name of a community object)"),
    ({"pools": [POOL_A], "advertisements": [{"name": "adv", "aggregation_length": 16}]},
     "advertisement adv: aggregation_length: 16 is shorter than /24 of pool a (198.51.100.0/24): routers would get "
     "addresses outside the pool"),
    ({"pools": [{"name": "r", "addresses": ["198.51.100.0-198.51.100.127"]}],
      "advertisements": [{"name": "adv", "aggregation_length": 24}]},
     "advertisement adv: aggregation_length: 24 is shorter than /25 of pool r (198.51.100.0/25): routers would get "
     "addresses outside the pool"),
    ({"pools": [POOL_V6], "advertisements": [{"name": "adv", "aggregation_length_v6": 48}]},
     "advertisement adv: aggregation_length_v6: 48 is shorter than /64 of pool v6 (2001:db8::/64): routers would "
     "get addresses outside the pool"),
    ({"peers": [EBGP, IBGP], "advertisements": [{"name": "adv", "local_pref": 100}]},
     "advertisement adv: local_pref: only for iBGP peers, peer ext is eBGP (asn 65000 != node asn 64512)"),
    ({"peers": [EBGP], "services": [{"name": "s", "pool": "nope"}]}, "service s: pool: no pool named nope"),
    ({"pools": [POOL_A], "services": [{"name": "s", "address": "203.0.113.5"}]},
     "service s: address[0]: 203.0.113.5 is outside every pool"),
    ({"pools": [POOL_A, POOL_B], "services": [{"name": "s", "address": "203.0.113.5", "pool": "a"}]},
     "service s: address[0]: 203.0.113.5 is not in pool a"),
    ({"pools": [POOL_A], "services": [{"name": "s", "address": "198.51.100.5"}, {"name": "t", "address": "198.51.100.5"}]},
     "service t: address[0]: 198.51.100.5 is already used by service s"),
    ({"pools": [POOL_V6], "services": [{"name": "s", "address": "2001:db8::5"},
                                       {"name": "t", "address": "2001:DB8:0::5"}]},
     "service t: address[0]: 2001:db8::5 is already used by service s"),
    ({"pools": [{**POOL_A, "auto_assign": False}], "services": [{"name": "s", "pool": "a"}]},
     "service s: pool: pool a has auto_assign off; give an address"),
    ({"peers": [{**EBGP, "families": ["ipv4", "ipv6"]}]},
     "peer ext: families: ipv6 over an IPv4 session needs node.ipv6_next_hop"),
    ({"peers": [{"name": "v6", "address": "fd00::fe", "asn": 65000, "families": ["ipv4"]}]},
     "peer v6: families: ipv4 over an IPv6 session needs node.ipv4_next_hop"),
]  # fmt: skip


@pytest.mark.parametrize(("kinds", "message"), BAD_CONFIGS, ids=[m[:50] for _, m in BAD_CONFIGS])
def test_bad_configs_are_refused_with_the_field(kinds, message):
    with pytest.raises(model.ValidationError) as err:
        model.validate_config(config(**kinds))
    assert message in err.value.errors
    assert message in str(err.value)


def test_local_pref_is_fine_when_the_advertisement_only_targets_ibgp_peers():
    model.validate_config(
        config(peers=[EBGP, IBGP], advertisements=[{"name": "a", "local_pref": 50, "peers": ["int"]}])
    )


def test_next_hop_of_the_other_family_makes_multiprotocol_sessions_valid():
    node = {**NODE, "ipv6_next_hop": "fd00::1"}
    model.validate_config(config(node, peers=[{**EBGP, "families": ["ipv4", "ipv6"]}]))


def test_every_problem_is_reported_at_once():
    with pytest.raises(model.ValidationError) as err:
        model.validate_config(
            config(
                peers=[EBGP],
                pools=[POOL_A, {"name": "b", "addresses": ["198.51.100.0/25"]}],
                advertisements=[{"name": "adv", "pools": ["x"], "local_pref": 1}],
                services=[{"name": "s", "address": "192.0.2.1"}],
            )
        )
    assert len(err.value.errors) == 4
    assert [e.split(":")[0] for e in err.value.errors] == [
        "pool b",
        "advertisement adv",
        "advertisement adv",
        "service s",
    ]


def test_aggregation_only_checked_against_the_pools_it_covers():
    # /16 aggregation on pool b only; pool a is /24 but not covered
    model.validate_config(
        config(pools=[POOL_A, {"name": "b", "addresses": ["10.1.0.0/16"]}],
               advertisements=[{"name": "adv", "pools": ["b"], "aggregation_length": 16}])
    )  # fmt: skip


def test_peers_for_node_follows_node_selectors():
    cfg = config(
        peers=[
            EBGP,
            {**IBGP, "node_selectors": [{"match_labels": {"rack": "b"}}]},
            {"name": "r3", "address": "10.0.0.3", "asn": 65000, "node_selectors": [{"match_labels": {"rack": "a"}}]},
        ]
    )
    assert sorted(model.peers_for_node(cfg)) == ["ext", "r3"]


# --- selectors ------------------------------------------------------------------------------------------------------


def sel(labels=(), *exprs):
    return Selector(tuple(labels), tuple(Expression(k, op, tuple(v)) for k, op, v in exprs))


LABELS = (("rack", "a"), ("zone", "z1"))


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        (sel(), True),
        (sel([("rack", "a")]), True),
        (sel([("rack", "b")]), False),
        (sel([("rack", "a"), ("zone", "z2")]), False),
        (sel([("missing", "")]), False),
        (sel((), ("zone", "In", ["z1", "z2"])), True),
        (sel((), ("zone", "In", ["z2"])), False),
        (sel((), ("missing", "In", ["x"])), False),
        (sel((), ("zone", "NotIn", ["z2"])), True),
        (sel((), ("zone", "NotIn", ["z1"])), False),
        (sel((), ("missing", "NotIn", ["x"])), True),
        (sel((), ("rack", "Exists", [])), True),
        (sel((), ("missing", "Exists", [])), False),
        (sel((), ("missing", "DoesNotExist", [])), True),
        (sel((), ("rack", "DoesNotExist", [])), False),
        (sel([("rack", "a")], ("zone", "In", ["z9"])), False),
        (sel([("rack", "a")], ("zone", "Exists", []), ("x", "DoesNotExist", [])), True),
    ],
)
def test_selector_matching(selector, expected):
    assert matches(selector, LABELS) is expected


def test_selector_lists_are_ored_and_empty_selects_everything():
    yes, no = sel([("rack", "a")]), sel([("rack", "b")])
    assert selects((), LABELS)
    assert selects((), ())
    assert selects((no, yes), LABELS)
    assert not selects((no,), LABELS)
    assert not selects((yes,), ())


def test_parsed_selector_matches_like_the_model():
    peer = model.parse_object(
        "peer",
        {"name": "r", "address": "10.0.0.1", "asn": 1,
         "node_selectors": [{"match_labels": {"rack": "a"}, "match_expressions": [{"key": "zone", "operator": "NotIn",
                                                                                   "values": ["z1"]}]}]},
    )  # fmt: skip
    assert not selects(peer.node_selectors, LABELS)
    assert selects(peer.node_selectors, (("rack", "a"), ("zone", "z3")))


# --- address ranges ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("198.51.100.0/24", ["198.51.100.0/24"]),
        ("198.51.100.10-198.51.100.10", ["198.51.100.10/32"]),
        ("198.51.100.0-198.51.100.255", ["198.51.100.0/24"]),
        ("198.51.100.10-198.51.100.20", ["198.51.100.10/31", "198.51.100.12/30", "198.51.100.16/30",
                                         "198.51.100.20/32"]),
        ("2001:db8::-2001:db8::ff", ["2001:db8::/120"]),
        ("2001:db8::1-2001:db8::3", ["2001:db8::1/128", "2001:db8::2/127"]),
    ],
)  # fmt: skip
def test_ranges_become_exact_networks(entry, expected):
    assert [str(n) for n in networks(entry)] == expected


@pytest.mark.parametrize(
    ("address", "inside"),
    [
        ("198.51.100.9", False),
        ("198.51.100.10", True),
        ("198.51.100.20", True),
        ("198.51.100.21", False),
        ("2001:db8::1", True),
        ("2001:db8:0:0:ffff:ffff:ffff:ffff", True),
        ("2001:db8:0:1::", False),
    ],
)
def test_contains(address, inside):
    pool = model.parse_object("pool", {"name": "p", "addresses": ["198.51.100.10-198.51.100.20", "2001:db8::/64"]})
    assert contains(pool, address) is inside
    assert len(pool_networks(pool)) == 5


@pytest.mark.parametrize(
    ("address", "v4", "v6", "prefix"),
    [
        ("198.51.100.77", 32, 128, "198.51.100.77/32"),
        ("198.51.100.77", 24, 128, "198.51.100.0/24"),
        ("198.51.100.77", 0, 128, "0.0.0.0/0"),
        ("2001:db8::77", 24, 128, "2001:db8::77/128"),
        ("2001:db8::77", 32, 64, "2001:db8::/64"),
    ],
)
def test_aggregate(address, v4, v6, prefix):
    assert aggregate(address, v4, v6) == prefix


def test_avoid_buggy_ips_skips_dot_zero_and_dot_255():
    data = {"name": "p", "addresses": ["198.51.100.254-198.51.101.1"]}
    buggy = model.parse_object("pool", {**data, "avoid_buggy_ips": True})
    plain = model.parse_object("pool", data)
    every = {"198.51.100.254", "198.51.100.255", "198.51.101.0", "198.51.101.1"}
    got_buggy, got_plain = set(), set()
    for name in (f"s{i}" for i in range(4)):
        got_buggy.add(assign(buggy, name, got_buggy) or "full")
        got_plain.add(assign(plain, name, got_plain) or "full")
    assert got_plain == every
    assert got_buggy == {"198.51.100.254", "198.51.101.1", "full"}


def test_avoid_buggy_ips_does_not_apply_to_ipv6():
    pool = model.parse_object("pool", {"name": "p", "addresses": ["2001:db8::ff/128"], "avoid_buggy_ips": True})
    assert assign(pool, "s", set()) == "2001:db8::ff"


def test_ipv6_pool_services_validate_and_reject_outsiders():
    model.validate_config(config(pools=[POOL_V6], services=[{"name": "s", "address": "2001:db8::abcd", "pool": "v6"}]))
    with pytest.raises(model.ValidationError, match=r"service s: address\[0\]: 2001:db8:1::1 is outside every pool"):
        model.validate_config(config(pools=[POOL_V6], services=[{"name": "s", "address": "2001:db8:1::1"}]))


# --- serialisation ----------------------------------------------------------------------------------------------------


def test_to_dict_redacts_the_password_unless_asked():
    peer = model.parse_object("peer", {"name": "r1", "address": "10.0.0.1", "asn": 65000, "password": "s3cret"})
    assert model.to_dict(peer)["password"] == model.REDACTED == "********"
    assert model.to_dict(peer, redact=False)["password"] == "s3cret"
    assert "s3cret" not in repr(peer)
    no_password = model.parse_object("peer", {"name": "r1", "address": "10.0.0.1", "asn": 65000})
    assert "password" not in model.to_dict(no_password)


def test_to_dict_writes_selectors_and_labels_as_mappings():
    adv = model.parse_object(
        "advertisement",
        {"name": "a", "node_selectors": [{"match_labels": {"k": "v"},
                                          "match_expressions": [{"key": "x", "operator": "Exists"}]}]},
    )  # fmt: skip
    assert model.to_dict(adv)["node_selectors"] == [
        {"match_labels": {"k": "v"}, "match_expressions": [{"key": "x", "operator": "Exists"}]}
    ]
    pool = model.parse_object("pool", {"name": "p", "addresses": ["10.0.0.0/8"], "labels": {"t": "g"}})
    assert model.to_dict(pool) == {"name": "p", "addresses": ["10.0.0.0/8"], "auto_assign": True,
                                   "avoid_buggy_ips": False, "labels": {"t": "g"}}  # fmt: skip
