"""plan(), debounce() and the parsers of bgplb_resilient, without a kernel.

A small fake kernel interprets the planned ``ip`` commands, so sequences (4 -> 3 -> 4 next hops, restart, flush)
are checked for what matters: group ids kept, nothing left behind, a second plan is empty.
"""

import ipaddress

import bgplb_resilient as br
import pytest

POOL = ipaddress.ip_network("198.51.100.0/24")
POOL6 = ipaddress.ip_network("2001:db8:100::/64")
CFG = br.Config(pools=(POOL, POOL6), buckets=128, hold_time=30, settle=10)
BASE = br.DEFAULT_ID_BASE
A, B, C, D = (br.Gateway(f"10.0.0.{i}", "eth1") for i in (2, 3, 4, 5))
P = "198.51.100.10/32"


def paths(*gws, weight=1):
    return {gw: weight for gw in gws}


class FakeKernel:
    """Applies planned actions to a KernelState the way the kernel would (only what plan emits)."""

    def __init__(self, state=None):
        self.state = state or br.KernelState()

    def apply(self, actions):
        k = self.state
        for a in actions:
            argv = list(a.argv)
            if a.op == "nexthop-add":
                nh_id = int(argv[3])
                assert nh_id not in k.nexthops and nh_id not in k.groups
                via = argv[argv.index("via") + 1] if "via" in argv else None
                dev = argv[argv.index("dev") + 1] if "dev" in argv else None
                k.nexthops[nh_id] = br.Nexthop(nh_id, br.Gateway(via, dev, "onlink" in argv), int(argv[-1]))
            elif a.op in ("group-add", "group-replace"):
                gid = int(argv[3])
                assert (gid in k.groups) == (a.op == "group-replace")
                members = []
                for m in argv[argv.index("group") + 1].split("/"):
                    i, _, w = m.partition(",")
                    assert int(i) in k.nexthops, "group refers to a missing nexthop"
                    members.append((int(i), int(w or 1)))
                old = k.groups.get(gid)
                buckets = int(argv[argv.index("buckets") + 1])
                assert old is None or old.buckets == buckets, "the kernel refuses to change the bucket count"
                k.groups[gid] = br.Group(
                    gid,
                    tuple(sorted(members)),
                    True,
                    buckets,
                    int(argv[argv.index("idle_timer") + 1]),
                    int(argv[argv.index("unbalanced_timer") + 1]),
                    int(argv[-1]),
                )
            elif a.op == "route-replace":
                nhid = int(argv[argv.index("nhid") + 1])
                assert nhid in k.groups, "route points to a missing group"
                k.routes[argv[2]] = nhid
            elif a.op == "route-del":
                del k.routes[argv[2]]
            elif a.op in ("group-del", "nexthop-del"):
                obj_id = int(argv[3])
                assert obj_id not in k.routes.values(), "deleting a group a route still uses"
                assert all(obj_id not in dict(g.members) for g in k.groups.values()), "nexthop still in a group"
                k.groups.pop(obj_id, None) if a.op == "group-del" else k.nexthops.pop(obj_id)
            elif a.op == "rule-add":
                k.rules.add(br.Rule(argv[3], int(argv[5]), int(argv[7])))
            elif a.op == "rule-del":
                k.rules.remove(br.Rule(argv[3], int(argv[5]), int(argv[7])))
            else:
                raise AssertionError(a.op)

    def converge(self, bgp, cfg=CFG):
        actions = br.plan(bgp, self.state, cfg)
        self.apply(actions)
        assert br.plan(bgp, self.state, cfg) == [], "plan is not idempotent"
        return actions

    def group_of(self, prefix):
        return self.state.groups[self.state.routes[prefix]]

    def gateways(self, prefix):
        return {self.state.nexthops[i].gateway for i, _ in self.group_of(prefix).members}


def ops(actions):
    return [a.op for a in actions]


def test_first_pass_creates_nexthops_group_route_and_rules():
    k = FakeKernel()
    actions = k.converge({P: paths(A, B, C, D)})
    assert ops(actions) == ["nexthop-add"] * 4 + ["group-add", "route-replace", "rule-add", "rule-add"]
    group = actions[4]
    assert group.argv[:4] == ("nexthop", "add", "id", str(BASE + 4))
    assert "type resilient buckets 128 idle_timer 0 unbalanced_timer 0 proto 250" in str(group)
    assert str(actions[5]) == f"ip route replace {P} nhid {BASE + 4} table 200 proto 250"
    assert str(actions[6]) == "ip -4 rule add to 198.51.100.0/24 lookup 200 priority 90 protocol 250"
    assert str(actions[7]) == "ip -6 rule add to 2001:db8:100::/64 lookup 200 priority 90 protocol 250"
    assert k.gateways(P) == {A, B, C, D}


def test_member_leaves_and_joins_replace_the_same_group():
    k = FakeKernel()
    k.converge({P: paths(A, B, C, D)})
    gid = k.state.routes[P]
    d_id = next(i for i, nh in k.state.nexthops.items() if nh.gateway == D)
    actions = k.converge({P: paths(A, B, C)})
    assert ops(actions) == ["group-replace", "nexthop-del"]
    assert actions[1].target == str(d_id)
    assert k.state.routes[P] == gid and k.gateways(P) == {A, B, C}
    actions = k.converge({P: paths(A, B, C, D)})
    assert ops(actions) == ["nexthop-add", "group-replace"]
    assert k.state.routes[P] == gid and k.gateways(P) == {A, B, C, D}


def test_single_path_gets_a_group_of_one_that_grows_in_place():
    k = FakeKernel()
    k.converge({P: paths(A)})
    gid = k.state.routes[P]
    assert len(k.group_of(P).members) == 1
    k.converge({P: paths(A, B)})
    assert k.state.routes[P] == gid and k.gateways(P) == {A, B}


def test_one_group_per_prefix_nexthops_shared():
    k = FakeKernel()
    q = "198.51.100.11/32"
    k.converge({P: paths(A, B), q: paths(A, B)})
    assert k.state.routes[P] != k.state.routes[q]
    assert len(k.state.nexthops) == 2
    # Only q loses B: P's group is untouched.
    actions = k.converge({P: paths(A, B), q: paths(A)})
    assert ops(actions) == ["group-replace"] and actions[0].target.endswith(f"({q})")


def test_prefixes_outside_the_pools_are_ignored():
    k = FakeKernel()
    k.converge({"192.0.2.1/32": paths(A), "198.51.101.1/32": paths(A), P: paths(A)})
    assert set(k.state.routes) == {P}


def test_route_gone_removes_route_group_and_unused_nexthops_in_order():
    k = FakeKernel()
    k.converge({P: paths(A, B), "198.51.100.11/32": paths(B)})
    actions = k.converge({"198.51.100.11/32": paths(B)})
    assert ops(actions) == ["route-del", "group-del", "nexthop-del"]
    assert {nh.gateway for nh in k.state.nexthops.values()} == {B}


def test_weights_are_kept():
    k = FakeKernel()
    actions = k.converge({P: {A: 1, B: 3}})
    assert f"group {BASE}/{BASE + 1},3 " in str(actions[2])


def test_bucket_count_change_is_make_before_break():
    k = FakeKernel()
    k.converge({P: paths(A, B)})
    old = k.state.routes[P]
    actions = k.converge({P: paths(A, B)}, br.Config(pools=(POOL,), buckets=64))
    assert ops(actions) == ["group-add", "route-replace", "rule-del", "group-del"]
    assert k.state.routes[P] != old and k.group_of(P).buckets == 64


def test_timer_change_replaces_in_place():
    k = FakeKernel()
    k.converge({P: paths(A, B)})
    gid = k.state.routes[P]
    actions = k.converge({P: paths(A, B)}, br.Config(pools=(POOL, POOL6), idle_timer=30, unbalanced_timer=300))
    assert ops(actions) == ["group-replace"] and k.state.routes[P] == gid


def test_restart_reconciles_without_churn():
    """A new agent process plans against what the previous one left: nothing to do."""
    k = FakeKernel()
    k.converge({P: paths(A, B, C, D)})
    assert br.plan({P: paths(A, B, C, D)}, k.state, CFG) == []


def test_ids_of_others_are_skipped_and_never_touched():
    state = br.KernelState()
    state.nexthops[BASE] = br.Nexthop(BASE, A, proto=11)  # zebra's, inside our range: not ours
    state.nexthops[5] = br.Nexthop(5, B, proto=11)
    state.groups[BASE + 1] = br.Group(BASE + 1, ((BASE, 1),), proto=11)
    state.other_ids.add(BASE + 2)
    k = FakeKernel(state)
    actions = k.converge({P: paths(A)})
    assert ops(actions)[:2] == ["nexthop-add", "group-add"]
    assert actions[0].target == str(BASE + 3)
    k.converge({})
    assert set(k.state.nexthops) == {BASE, 5} and set(k.state.groups) == {BASE + 1}


def test_group_shared_by_two_routes_is_split():
    k = FakeKernel()
    k.converge({P: paths(A, B)})
    q = "198.51.100.11/32"
    k.state.routes[q] = k.state.routes[P]
    k.state.routes = dict(sorted(k.state.routes.items()))
    k.converge({P: paths(A, B), q: paths(A, B)})
    assert k.state.routes[P] != k.state.routes[q]


def test_route_pointing_to_a_hash_threshold_group_gets_a_resilient_one():
    k = FakeKernel()
    k.converge({P: paths(A, B)})
    gid = k.state.routes[P]
    g = k.state.groups[gid]
    k.state.groups[gid] = br.Group(gid, g.members, resilient=False, proto=g.proto)
    actions = k.converge({P: paths(A, B)})
    assert ops(actions) == ["group-add", "route-replace", "group-del"]


def test_flush_removes_everything_ours():
    k = FakeKernel()
    k.converge({P: paths(A, B), "2001:db8:100::1/128": paths(br.Gateway("fe80::1", "eth1"))})
    k.converge({}, br.Config(pools=()))
    assert k.state == br.KernelState()


def test_exhausted_id_range_is_an_error():
    with pytest.raises(RuntimeError, match="no free nexthop id"):
        br.plan({P: paths(A, B)}, br.KernelState(), br.Config(pools=(POOL,), id_count=2))


# ---------------------------------------------------------------------------------------------------- debounce


def test_debounce_passes_main_through_and_removes_a_member_at_once():
    eff, timers, deadline = br.debounce({P: paths(A, B, C)}, {P: paths(A, B, C, D)}, br.Timers(), 100.0, CFG)
    assert eff == {P: paths(A, B, C)} and deadline is None and timers == br.Timers()


def test_debounce_holds_a_vanished_route_then_drops_it():
    installed = {P: paths(A, B, C, D)}
    eff, timers, deadline = br.debounce({}, installed, br.Timers(), 100.0, CFG)
    assert eff == installed and deadline == 130.0
    eff, timers, _ = br.debounce({}, installed, timers, 129.0, CFG)
    assert eff == installed
    eff, timers, deadline = br.debounce({}, installed, timers, 130.0, CFG)
    assert eff == {} and deadline is None


def test_debounce_frr_restart_grows_only_while_settling():
    """zebra re-adds the route with one path, then more: no member is removed until settled."""
    installed = {P: paths(A, B, C, D)}
    _, timers, _ = br.debounce({}, installed, br.Timers(), 100.0, CFG)  # FRR down
    eff, timers, deadline = br.debounce({P: paths(B)}, installed, timers, 105.0, CFG)  # back, one session up
    assert eff == installed and deadline == 115.0
    eff, timers, _ = br.debounce({P: paths(A, B, C)}, installed, timers, 110.0, CFG)
    assert eff == installed
    # Settled: D did not come back (it failed meanwhile): now it goes.
    eff, timers, deadline = br.debounce({P: paths(A, B, C)}, installed, timers, 115.0, CFG)
    assert eff == {P: paths(A, B, C)} and deadline is None and timers == br.Timers()


def test_debounce_hold_zero_is_immediate():
    cfg = br.Config(pools=(POOL,), hold_time=0, settle=0)
    eff, _, deadline = br.debounce({}, {P: paths(A)}, br.Timers(), 1.0, cfg)
    assert eff == {} and deadline is None


# ---------------------------------------------------------------------------------------------------- parsing


def test_parse_main_routes_multipath_single_v6_via_and_metric():
    data = [
        {"dst": "198.51.100.10", "protocol": "186", "nexthops": [
            {"gateway": "10.0.0.2", "dev": "eth1", "weight": 1, "flags": []},
            {"gateway": "10.0.0.3", "dev": "eth1", "weight": 2, "flags": ["onlink"]}]},
        {"dst": "198.51.100.11", "protocol": "186", "gateway": "10.0.0.2", "dev": "eth1", "metric": 20},
        {"dst": "198.51.100.11", "protocol": "186", "gateway": "10.0.0.9", "dev": "eth1", "metric": 50},
        {"dst": "198.51.100.12", "via": {"family": "inet6", "host": "fe80::1"}, "dev": "eth1", "flags": []},
        {"dst": "default", "protocol": "186", "gateway": "10.0.0.1", "dev": "eth1"},
        {"dst": "198.51.100.13", "protocol": "186", "type": "blackhole"},
        {"dst": "198.51.100.14", "protocol": "2", "gateway": "10.0.0.2", "dev": "eth1"},
    ]  # fmt: skip
    got = br.parse_bgp_routes(data)
    assert got == {
        "198.51.100.10/32": {A: 1, br.Gateway("10.0.0.3", "eth1", True): 2},
        "198.51.100.11/32": {A: 1},
        "198.51.100.12/32": {br.Gateway("fe80::1", "eth1"): 1},
    }


def test_parse_nhid_only_route_resolves_through_nexthops():
    """net.ipv4.nexthop_compat_mode=0: zebra's route only carries its nexthop id."""
    k = br.KernelState()
    br.parse_nexthops(
        [
            {"id": 11, "gateway": "10.0.0.2", "dev": "eth1", "protocol": "11", "flags": []},
            {"id": 12, "gateway": "10.0.0.3", "dev": "eth1", "protocol": "11", "flags": []},
            {"id": 20, "group": [{"id": 11}, {"id": 12, "weight": 2}], "protocol": "11", "flags": []},
            {"id": 21, "blackhole": True, "protocol": "11", "flags": []},
        ],
        k,
    )
    assert k.groups[20].members == ((11, 1), (12, 2)) and not k.groups[20].resilient
    assert k.other_ids == {21}
    got = br.parse_bgp_routes([{"dst": "198.51.100.10", "nhid": 20, "protocol": "186", "flags": []}], k)
    assert got == {"198.51.100.10/32": {A: 1, B: 2}}


def test_parse_our_table_groups_and_rules():
    k = br.KernelState()
    br.parse_nexthops(
        [
            {"id": BASE + 4, "group": [{"id": BASE}], "type": "resilient", "protocol": "250", "flags": [],
             "resilient_args": {"buckets": 128, "idle_timer": 0, "unbalanced_timer": 0, "unbalanced_time": 0}},
        ],
        k,
    )  # fmt: skip
    assert k.groups[BASE + 4] == br.Group(BASE + 4, ((BASE, 1),), True, 128, 0, 0, 250)
    routes = br.parse_table_routes(
        [
            {"dst": "198.51.100.10", "nhid": BASE + 4, "protocol": "250", "flags": []},
            {"dst": "198.51.100.99", "gateway": "10.0.0.2", "dev": "eth1", "protocol": "4", "flags": []},
        ],
        CFG,
    )
    assert routes == {P: BASE + 4}
    rules = br.parse_rules(
        [
            {"priority": 0, "src": "all", "table": "255"},
            {"priority": 90, "src": "all", "dst": "198.51.100.0", "dstlen": 24, "table": "200", "protocol": "250"},
            {"priority": 91, "src": "all", "dst": "198.51.101.0", "dstlen": 24, "table": "200", "protocol": "4"},
        ],
        CFG,
    )
    assert rules == {br.Rule("198.51.100.0/24", 200, 90)}


def test_args():
    args = br.parse_args(["--pool", "198.51.100.0/24", "--pool", "2001:db8:100::/64", "--buckets", "256"])
    assert args.pools == (POOL, POOL6) and args.buckets == 256 and args.table == 200 and args.rule_priority == 90
    with pytest.raises(SystemExit):
        br.parse_args(["--pool", "not-a-cidr"])
