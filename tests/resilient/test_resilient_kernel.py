"""bgplb_resilient against the real kernel, in a network namespace the test creates (root needed).

Router namespace: ``n0`` (veth) on 10.0.0.1/24 towards four "nodes" 10.0.0.2-5 (the routes only need valid
gateways), ``c0`` (veth) where client traffic comes in. ``ip route get ... iif c0 ipproto tcp sport X dport 80``
is the forwarding decision for one flow, with the L4 hash (``fib_multipath_hash_policy=1``).
"""

import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid

import bgplb_resilient
import pytest

AGENT = bgplb_resilient.__file__

pytestmark = pytest.mark.needs(root=True, tools=("ip",))

VIP = "198.51.100.10"
NODES = {"A": "10.0.0.2", "B": "10.0.0.3", "C": "10.0.0.4", "D": "10.0.0.5"}
BUCKETS = 128
FLOWS = 2000
AGENT_ARGS = ["--pool", "198.51.100.0/24", "--buckets", str(BUCKETS), "--idle-timer", "0", "--hold-time", "0"]


class Netns:
    def __init__(self):
        self.name = f"bgplbres-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        subprocess.run(["ip", "netns", "add", self.name], check=True)

    def run(self, *argv, check=True, **kw):
        return subprocess.run(
            ["ip", "netns", "exec", self.name, *argv], check=check, capture_output=True, text=True, **kw
        )

    def ip(self, *args):
        return self.run("ip", *args)

    def ipj(self, *args):
        out = self.run("ip", "-j", *args).stdout
        return json.loads(out) if out.strip() else []

    def agent(self, *extra, check=True):
        proc = self.run(sys.executable, AGENT, *AGENT_ARGS, *extra, check=False)
        sys.stderr.write(proc.stderr)
        if check:
            assert proc.returncode == 0, proc.stderr
        return proc

    def delete(self):
        subprocess.run(["ip", "netns", "del", self.name], check=False)


@pytest.fixture
def ns():
    n = Netns()
    try:
        n.ip("link", "set", "lo", "up")
        for dev in ("n0", "c0"):
            n.ip("link", "add", dev, "type", "veth", "peer", "name", f"{dev}p")
            n.ip("link", "set", dev, "up")
            n.ip("link", "set", f"{dev}p", "up")
        n.ip("addr", "add", "10.0.0.1/24", "dev", "n0")
        n.ip("addr", "add", "192.0.2.1/24", "dev", "c0")
        n.run(
            "sysctl",
            "-qw",
            "net.ipv4.ip_forward=1",
            "net.ipv4.conf.all.rp_filter=0",
            "net.ipv4.conf.c0.rp_filter=0",
            "net.ipv4.fib_multipath_hash_policy=1",
        )
        yield n
    finally:
        n.delete()


def set_main(ns, *names):
    hops = [w for name in names for w in ("nexthop", "via", NODES[name], "dev", "n0")]
    ns.ip("route", "replace", f"{VIP}/32", "proto", "bgp", *hops)


def flows():
    rnd = random.Random(4242)
    return [(f"203.0.113.{rnd.randrange(1, 255)}", rnd.randrange(1024, 65536)) for _ in range(FLOWS)]


def route_get(ns, flow_list):
    """Next hop (node name) and table of each flow, with one ``ip -batch``."""
    script = "".join(
        f"route get {VIP} from {src} iif c0 ipproto tcp sport {sport} dport 80\n" for src, sport in flow_list
    )
    out = ns.run("ip", "-j", "-batch", "-", input=script).stdout
    decoder, pos, results = json.JSONDecoder(), 0, []
    by_addr = {v: k for k, v in NODES.items()}
    while pos < len(out):
        if out[pos].isspace():
            pos += 1
            continue
        obj, pos = decoder.raw_decode(out, pos)
        results.append((by_addr[obj[0]["gateway"]], obj[0].get("table", "main")))
    assert len(results) == len(flow_list)
    return results


def table_group(ns):
    routes = ns.ipj("route", "show", "table", "200")
    assert [r["dst"] for r in routes] == [VIP]
    gid = routes[0]["nhid"]
    nexthops = {nh["id"]: nh for nh in ns.ipj("nexthop", "show")}
    group = nexthops[gid]
    assert group["type"] == "resilient" and group["resilient_args"]["buckets"] == BUCKETS
    by_addr = {v: k for k, v in NODES.items()}
    members = {by_addr[nexthops[m["id"]]["gateway"]] for m in group["group"]}
    return gid, members


def buckets(ns, gid):
    """bucket index -> node name."""
    by_addr = {v: k for k, v in NODES.items()}
    gw = {nh["id"]: by_addr[nh["gateway"]] for nh in ns.ipj("nexthop", "show") if "gateway" in nh}
    return {b["bucket"]["index"]: gw[b["bucket"]["nhid"]] for b in ns.ipj("nexthop", "bucket", "show", "id", str(gid))}


def share(before, after):
    moved = sum(1 for x, y in zip(before, after, strict=True) if x[0] != y[0])
    return moved / len(before)


def test_failure_and_join_move_only_the_unavoidable_share(ns):
    fl = flows()

    # Hash-threshold (what zebra installs): main table only, no agent, no rule.
    set_main(ns, "A", "B", "C", "D")
    ht4 = route_get(ns, fl)
    assert {t for _, t in ht4} == {"main"}
    set_main(ns, "A", "B", "C")
    ht3 = route_get(ns, fl)
    set_main(ns, "A", "B", "C", "D")
    ht4b = route_get(ns, fl)
    ht_fail, ht_join = share(ht4, ht3), share(ht3, ht4b)
    d_share_ht = sum(1 for n, _ in ht4 if n == "D") / FLOWS

    # Resilient: the agent mirrors the route into table 200 (group of 4).
    ns.agent("--once")
    gid, members = table_group(ns)
    assert members == {"A", "B", "C", "D"}
    rules = ns.ipj("rule", "show")
    assert any(r.get("dst") == "198.51.100.0" and r.get("table") == "200" and r["priority"] == 90 for r in rules)
    b4 = buckets(ns, gid)
    assert len(b4) == BUCKETS and set(b4.values()) == {"A", "B", "C", "D"}
    rs4 = route_get(ns, fl)
    assert {t for _, t in rs4} == {"200"}

    # Node D fails: the main route loses D, the agent replaces the group in place.
    set_main(ns, "A", "B", "C")
    ns.agent("--once")
    gid2, members = table_group(ns)
    assert gid2 == gid and members == {"A", "B", "C"}
    b3 = buckets(ns, gid)
    kept = [i for i, n in b4.items() if n != "D"]
    assert all(b3[i] == b4[i] for i in kept), "a bucket of A/B/C changed next hop"
    moved_buckets = sum(1 for i in b4 if b3[i] != b4[i])
    assert moved_buckets == sum(1 for n in b4.values() if n == "D")
    rs3 = route_get(ns, fl)
    rs_fail = share(rs4, rs3)
    d_share = sum(1 for n, _ in rs4 if n == "D") / FLOWS
    assert all(x[0] == "D" for x, y in zip(rs4, rs3, strict=True) if x[0] != y[0]), "a flow not on D moved"
    assert rs_fail <= d_share + 0.02

    # Node D comes back: only the buckets D takes move.
    set_main(ns, "A", "B", "C", "D")
    ns.agent("--once")
    gid3, members = table_group(ns)
    assert gid3 == gid and members == {"A", "B", "C", "D"}
    b4b = buckets(ns, gid)
    assert all(b4b[i] == b3[i] for i in b3 if b4b[i] != "D"), "a bucket moved between A/B/C"
    assert sum(1 for n in b4b.values() if n == "D") == BUCKETS // 4
    rs4b = route_get(ns, fl)
    rs_join = share(rs3, rs4b)
    d_share_join = sum(1 for n, _ in rs4b if n == "D") / FLOWS
    assert all(y[0] == "D" for x, y in zip(rs3, rs4b, strict=True) if x[0] != y[0]), "a flow moved elsewhere than D"
    assert rs_join <= d_share_join + 0.02

    print(
        f"\n{FLOWS} flows, 4 nodes, {BUCKETS} buckets: "
        f"failure (D leaves): hash-threshold moved {ht_fail:.1%} (D had {d_share_ht:.1%}), "
        f"resilient moved {rs_fail:.1%} (D had {d_share:.1%}); "
        f"join (D back): hash-threshold moved {ht_join:.1%}, resilient moved {rs_join:.1%} "
        f"(D takes {d_share_join:.1%})"
    )
    assert ht_fail > 0.35 and ht_join > 0.35, "hash-threshold should move about half of the flows"


def test_zebra_style_route_restart_withdraw_and_fallthrough(ns):
    """Main route through a (hash-threshold) nexthop object like zebra's; agent restart; withdraw; flush."""
    for i, name in enumerate("ABC", start=1):
        ns.ip("nexthop", "add", "id", str(i), "via", NODES[name], "dev", "n0", "proto", "zebra")
    ns.ip("nexthop", "add", "id", "10", "group", "1/2/3", "proto", "zebra")
    ns.ip("route", "add", f"{VIP}/32", "nhid", "10", "proto", "bgp")
    ns.ip("route", "add", "198.51.100.11/32", "via", NODES["A"], "dev", "n0", "proto", "bgp")
    ns.ip("route", "add", "192.0.2.99/32", "via", NODES["A"], "dev", "n0", "proto", "bgp")  # outside the pool
    ns.agent("--once")
    assert table_group_of(ns, VIP)[1] == {"A", "B", "C"}
    assert table_group_of(ns, "198.51.100.11")[1] == {"A"}  # a group of one
    assert "192.0.2.99" not in {r["dst"] for r in ns.ipj("route", "show", "table", "200")}
    # A restarted agent finds everything in place: nothing to do.
    assert ns.agent("--dry-run").stdout == ""
    # The route is withdrawn from main (hold time 0 here): removed from table 200, lookups fall through to main.
    ns.ip("route", "del", "198.51.100.11/32", "proto", "bgp")
    ns.agent("--once")
    assert {r["dst"] for r in ns.ipj("route", "show", "table", "200")} == {VIP}
    ns.ip("route", "add", "198.51.100.11/32", "via", NODES["B"], "dev", "n0", "proto", "bgp")
    got = ns.ipj("route", "get", "198.51.100.11", "from", "203.0.113.1", "iif", "c0")
    assert got[0]["gateway"] == NODES["B"] and got[0].get("table", "main") == "main"
    # Flush removes all of ours and nothing else.
    proc = ns.run(sys.executable, AGENT, "--flush")
    assert proc.returncode == 0, proc.stderr
    assert ns.ipj("route", "show", "table", "200") == []
    assert sorted(nh["id"] for nh in ns.ipj("nexthop", "show")) == [1, 2, 3, 10]
    assert not [r for r in ns.ipj("rule", "show") if r.get("table") == "200"]


def table_group_of(ns, dst):
    route = next(r for r in ns.ipj("route", "show", "table", "200") if r["dst"] == dst)
    nexthops = {nh["id"]: nh for nh in ns.ipj("nexthop", "show")}
    group = nexthops[route["nhid"]]
    assert group["type"] == "resilient"
    by_addr = {v: k for k, v in NODES.items()}
    return route["nhid"], {by_addr[nexthops[m["id"]]["gateway"]] for m in group["group"]}


def test_daemon_follows_changes_and_keeps_state_when_stopped(ns):
    """The loop: ip monitor wakes it up; SIGTERM leaves table 200 as it is (no blackhole)."""
    set_main(ns, "A", "B", "C", "D")
    proc = subprocess.Popen(
        ["ip", "netns", "exec", ns.name, sys.executable, AGENT, *AGENT_ARGS, "--interval", "0.1", "--resync", "30"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: members_or_none(ns) == {"A", "B", "C", "D"})
        set_main(ns, "A", "B", "C")
        wait_for(lambda: members_or_none(ns) == {"A", "B", "C"})  # well before the 30 s resync: monitor
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
        sys.stderr.write(err)
    assert proc.returncode == 0
    assert "group-replace" in err
    set_main(ns, "A", "B")  # the agent is down: table 200 keeps the last state
    time.sleep(0.2)
    assert members_or_none(ns) == {"A", "B", "C"}


def members_or_none(ns):
    try:
        return table_group(ns)[1]
    except (AssertionError, KeyError, subprocess.CalledProcessError):
        return None


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")
