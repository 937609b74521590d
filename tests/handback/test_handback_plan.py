"""bgplb.handback's plan on kernel state recorded from real namespaces (fixtures/, by record_fixtures.py): what
each command changes, and that a second run changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bgplb.handback import nft
from bgplb.handback.config import ConfigError, parse
from bgplb.handback.plan import (
    FamilyState,
    PlanError,
    State,
    Target,
    live_connections,
    plan_route,
    plan_start,
    plan_stop,
    routes,
    target,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures"
DUAL = {"service_cidrs": ["198.51.100.0/24", "2001:db8:100::/64"]}


def recorded(name: str) -> tuple[dict, State]:
    doc = json.loads((FIXTURES / f"{name}.json").read_text())
    raw = doc["state"]
    families = {int(v): FamilyState(**f) for v, f in raw["families"].items()}
    return doc["config"], State(families=families, link=raw["link"], fdb=raw["fdb"], proc=raw["proc"])


def ops(actions) -> list[str]:
    return [str(a) for a in actions]


def test_start_on_a_fresh_node_installs_both_families():
    config, state = recorded("fresh")
    actions = plan_start(parse(config), state)
    text = ops(actions)
    assert [a.op for a in actions if a.op == "nft-load"] == ["nft-load", "nft-load"]
    assert "table ip bgplb_handback {" in actions[0].stdin and "198.51.100.0/24" in actions[0].stdin
    assert "ip6 daddr @service_ips" in next(a.stdin for a in actions[1:] if a.op == "nft-load")
    for v in ("-4", "-6"):
        add_mark = text.index(f"ip {v} rule add priority 10 fwmark 0x62 ipproto tcp lookup 98")
        add_local = text.index(f"ip {v} rule add priority 100 lookup local")
        del_local = text.index(f"ip {v} rule del priority 0 lookup local")
        assert add_mark < add_local < del_local, "local moves after the fwmark rule, and is never missing"
    assert "echo 1 > /proc/sys/net/ipv6/conf/all/forwarding" in text
    assert not any(a.op.startswith("route") for a in actions), "start never touches the hand-back route"


@pytest.mark.parametrize("name", ["started", "handing_back", "tunnel"])
def test_start_again_changes_nothing(name):
    config, state = recorded(name)
    assert plan_start(parse(config), state) == []


def test_start_keeps_the_route_of_a_drain_when_the_config_changes():
    """The speaker role re-run during a drain (a new pool): the v4 table is rebuilt, the routes stay."""
    _, state = recorded("handing_back")
    changed = parse({"service_cidrs": ["198.51.100.0/24", "203.0.113.0/24", "2001:db8:100::/64"]})
    actions = plan_start(changed, state)
    assert [a.op for a in actions] == ["nft-load"]
    assert "203.0.113.0/24" in actions[0].stdin and actions[0].stdin.startswith("table ip bgplb_handback\n")


def test_without_ipv6_pools_the_ipv6_side_goes():
    _, state = recorded("started")
    text = ops(plan_start(parse({"service_cidrs": ["198.51.100.0/24"]}), state))
    assert text == [
        "nft -f -",
        "ip -6 rule del priority 10 fwmark 0x62 ipproto tcp lookup 98",
        "ip -6 rule add priority 0 lookup local",
        "ip -6 rule del priority 100 lookup local",
    ]


def test_to_sets_each_family_once():
    config, state = recorded("started")
    cfg = parse(config)
    to = target(cfg, ["10.0.0.5", "2001:db8:1::5"], None)
    assert ops(plan_route(cfg, state, to)) == [
        "ip -4 route replace default via 10.0.0.5 table 98",
        "ip -6 route replace default via 2001:db8:1::5 table 98",
    ]
    _, handing = recorded("handing_back")
    assert plan_route(cfg, handing, to) == [], "the same target again: no change"
    other = target(cfg, ["10.0.0.6", "2001:db8:1::5"], None)
    assert ops(plan_route(cfg, handing, other)) == ["ip -4 route replace default via 10.0.0.6 table 98"]
    shown = {"ipv4": ["default via 10.0.0.5 dev d0"], "ipv6": ["default via 2001:db8:1::5 dev d0"]}
    assert routes(cfg, handing) == shown


def test_drop_and_clear():
    config, state = recorded("handing_back")
    cfg = parse(config)
    assert ops(plan_route(cfg, state, Target(blackhole=True))) == [
        "ip -4 route replace blackhole default table 98",
        "ip -6 route replace blackhole default table 98",
    ]
    assert ops(plan_route(cfg, state, Target())) == ["ip -4 route flush table 98", "ip -6 route flush table 98"]
    _, started = recorded("started")
    assert plan_route(cfg, started, Target()) == [], "clear on a node that hands nothing back: no change"


def test_tunnel_to_the_same_node_changes_nothing_and_to_another_replaces_its_entries():
    config, state = recorded("tunnel")
    cfg = parse(config)
    assert plan_route(cfg, state, target(cfg, ["10.0.0.5"], "02:00:00:00:00:05")) == []
    assert ops(plan_route(cfg, state, target(cfg, ["10.0.0.7"], "02:00:00:00:00:07"))) == [
        "bridge fdb replace 02:00:00:00:00:07 dev bgplb-hb dst 10.0.0.7 self permanent",
        "ip -4 neigh replace 169.254.98.1 lladdr 02:00:00:00:00:07 dev bgplb-hb nud permanent",
    ], "the route through the tunnel's gateway stays; only who answers for that gateway changes"


def test_tunnel_settings_change_recreates_the_device():
    config, state = recorded("tunnel")
    actions = plan_start(parse({**config, "vxlan_port": 4790}), state)
    assert [a.op for a in actions][:4] == ["link-del", "link-add", "link-mtu", "link-up"]
    assert "udp dport 4790" in next(a.stdin for a in actions if a.op == "nft-load")
    assert not any(a.op == "link-del" for a in plan_start(parse(DUAL), State())), "direct mode: no device to remove"


def test_stop_removes_everything():
    config, state = recorded("handing_back")
    assert ops(plan_stop(parse(config), state)) == [
        "nft -f -",
        "ip -4 rule del priority 10 fwmark 0x62 ipproto tcp lookup 98",
        "ip -4 rule add priority 0 lookup local",
        "ip -4 rule del priority 100 lookup local",
        "ip -4 route flush table 98",
        "nft -f -",
        "ip -6 rule del priority 10 fwmark 0x62 ipproto tcp lookup 98",
        "ip -6 rule add priority 0 lookup local",
        "ip -6 rule del priority 100 lookup local",
        "ip -6 route flush table 98",
    ]
    _, fresh = recorded("fresh")
    assert plan_stop(parse(config), fresh) == []


@pytest.mark.parametrize(
    ("config", "addresses", "mac", "error"),
    [
        (DUAL, ["10.0.0.5"], None, "no IPv6 address of the node to hand packets for 2001:db8:100::/64"),
        (DUAL, ["10.0.0.5", "10.0.0.6"], None, "two IPv4 addresses"),
        (DUAL, ["10.0.0.x"], None, "'10.0.0.x' is not an IP address"),
        (DUAL, ["10.0.0.5", "2001:db8::5"], "02:00:00:00:00:05", "--mac is for tunnel mode"),
        ({"tunnel": "vxlan"}, ["10.0.0.5"], None, "tunnel mode needs --mac"),
        ({"tunnel": "vxlan"}, ["2001:db8::5"], "02:00:00:00:00:05", "needs the node's IPv4 underlay address"),
    ],
)
def test_bad_targets_are_refused_with_the_reason(config, addresses, mac, error):
    with pytest.raises(PlanError, match=error.replace("(", r"\(").replace(")", r"\)")):
        target(parse(config), addresses, mac)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ([], "must be a mapping"),
        ({"marks": 1}, "unknown setting"),
        ({"mark": 0}, "mark must be an integer from 1"),
        ({"mark": True}, "mark must be an integer"),
        ({"table": 254}, "table 254 is a kernel table"),
        ({"rule_priority": 200}, "rule_priority \\(200\\) must be below local_priority \\(100\\)"),
        ({"tunnel": "gre"}, "tunnel must be one of none, vxlan"),
        ({"service_cidrs": ["10.0.0.0/33"]}, "service_cidrs\\[0\\]"),
        ({"service_cidrs": "10.0.0.0/8"}, "service_cidrs must be a list"),
        ({"nodes": ["2001:db8::1"]}, "IPv4 underlay"),
        ({"device": "a name with spaces"}, "device must be an interface name"),
    ],
)
def test_bad_config_names_the_setting(data, error):
    with pytest.raises(ConfigError, match=error):
        parse(data, "handback.yaml")


def test_live_connections_by_family_and_idle_time():
    text = (FIXTURES / "ss-established.txt").read_text()
    dual = parse(DUAL).service_cidrs
    assert live_connections(text, dual, 1000) == 4, "both ends of the v4 and v6 pairs; not the ssh connection"
    assert live_connections(text, dual, 400) == 2, "the v4 pair is silent for 508 ms, the v6 pair heard 208 ms ago"
    assert live_connections(text, parse({"service_cidrs": ["198.51.100.0/24"]}).service_cidrs, 1000) == 2
    assert live_connections(text, (), 1000) == 0


def test_nft_json_readers():
    config, state = recorded("handing_back")
    cfg = parse(config)
    assert nft.installed_fingerprint(state.family(4).table) == nft.fingerprint(cfg, 4)
    assert nft.installed_fingerprint(state.family(6).table) == nft.fingerprint(cfg, 6)
    assert nft.installed_fingerprint(None) is None
    assert nft.handed_back_packets(state.family(4).table) == 0
    doc = {"nftables": [{"set": {"name": "handed_back", "elem": [{"elem": {"val": {"concat": ["1.2.3.4", 5]}}}] * 3}}]}
    assert nft.set_size(doc) == 3 and nft.set_size({"nftables": [{"set": {"name": "handed_back"}}]}) == 0
