"""Benchmark: connection continuity of BGP/ECMP load balancing when the node set changes, and a hand-back drain.

Prints one JSON document on stdout (progress on stderr). Needs root: it builds network namespaces and always deletes
them, also on failure (stale ones of a killed run are swept at the next start).

    python3 bench/continuity.py [--connections 2000] [--cases '5t-*'] [--victim 4]

The prototype of the mechanisms, with static routes standing in for BGP; bench/continuity_lab.py measures the same
through the lab's real stack. The client and the echo servers are bench/flows.py's.

Topology (all made here)::

    client (8 client IPs 10.98.0.10-17) --veth-- router --br0 (L2 fabric 10.99.0.0/24)-- n1..n5 (10.99.0.11-15)

Every node holds the service IP 198.51.100.10/32 on `lo` and runs a small asyncio TCP echo server on VIP:80 whose
first reply line is the node's name. The router routes the VIP over n1..n4 by ECMP, either a plain multipath route
(hash-threshold: the hash space is cut into N equal slices, so a change of N moves flows between *surviving* nodes
too) or a resilient next-hop group (`type resilient buckets 512 idle_timer 0 unbalanced_timer 0`: only the buckets
of the leaving node, or the buckets the joining node takes, change owner), with `fib_multipath_hash_policy` 0
(3-tuple: src IP, dst IP, proto) or 1 (5-tuple). The client keeps ~2000 long connections open (spread over the
client IPs, random source ports), each sending 8 bytes every 300 ms and expecting the echo, while new short
connections arrive at 20/s. Then ONE event:

- failure: the node's fabric port goes down (a dead node sends nothing, no FIN/RST), its next hop is removed (the
  BGP withdrawal after hold time / BFD, done at once here) and its server is killed;
- join: n5's next hop is added; join-idle (resilient only): the same with `idle_timer 60`, so only buckets idle for
  60 s move to n5: nothing breaks, but busy buckets (here: all) keep their owner, so n5 gets little or nothing
  until the buckets go idle or `unbalanced_timer` forces them;
- drain: the node's next hop is removed while its server keeps running (planned maintenance), plain or with hand-back.

A connection is broken if, within `--window` (5 s) after the event, it gets a RST/EOF or one of its messages stays
unanswered for more than `--stall` (2 s) (messages sent from one interval before the event on count; the client runs
`stall` seconds past the window to see them). `unavoidable` is the failed node's share of the connections alive at
the event (0 for join and drain); `expected_uniform` is what an ideal uniform hash would break (hash-threshold:
1 - sum of the slice overlaps, which depends on the node's position in the next-hop list: 1/2 for the first or last
of 4, 1/3 for a middle one). `baseline_broken` counts breaks in the same run before the event (should be 0).
With 3-tuple hashing and 8 client IPs there are only 8 hash keys, so the shares and the spread come in steps of 1/8.
`unknown_midstream_packets` counts, per node, the non-SYN packets of flows the node has no connection for (the
hand-back rule's counter): in a hand-back drain those on the non-drained nodes were forwarded to the drained node;
anywhere else they met no socket and were answered with RST.

Hand-back drain (Beamer, NSDI 2018, "daisy chaining"), prototype
------------------------------------------------------------------
When node D is drained, the router stops sending it anything (its next hop is withdrawn), so D's established
connections are rehashed to other nodes, which know nothing of them and answer with RST. With hand-back, every other
node X sends such packets on to D, which still has the sockets and answers the client directly (its replies go
to the router; the path is asymmetric, client -> router -> X -> D -> router -> client). On every node, from boot
(conntrack must have seen a connection's SYN to know it is local; a table installed at drain time would hand back
the node's own connections):

- nftables (`handback_rules.nft` in the JSON), prerouting at mangle priority, for TCP to VIP:80: a flow whose ct mark
  is 1 keeps meta mark 1; `ct state established,related` (a connection this node terminates) and pure SYNs (new
  connections stay here) are accepted; anything else (mid-stream packets of a flow this node never saw: with
  `nf_conntrack_tcp_loose=1` they create an entry in ct state new; FIN/RST without an entry are invalid) gets meta
  mark 1 and, when there is an entry, ct mark 1 so the rest of the flow follows;
- policy routing: `ip rule fwmark 0x1 lookup 100` at priority 10, before `lookup local`, which is moved from priority
  0 to 100 (the VIP is local on every node, so the local table would otherwise swallow the packet). Table 100 is
  empty in normal operation, so the lookup falls through to `local` and nothing changes;
- sysctls: ip_forward=1, rp_filter=0, send_redirects=0 (X forwards out of the interface the packet came in on), and
  `nf_conntrack_tcp_be_liberal=1` (X sees only one direction of a handed-back flow; window tracking must not turn
  its packets, or the node's own, into "invalid").

Draining D = `ip route replace default via <D> table 100` on every other node, then withdrawing D's next hop. SYNs
still go to the remaining nodes, so D's connection count only decreases.

Limits of the mechanism:
- X must reach D without the router hashing again: same L2 segment (as here), or a tunnel (GUE/IPIP/GRE to D with
  the VIP as inner destination) across L3.
- It fixes exactly the flows that moved *off D*. With hash-threshold ECMP, removing one next hop also moves flows
  between surviving nodes (X -> Y); Y hands them to D, which has no socket and resets them. Those would need the
  previous owner per hash bucket (what Beamer's data plane keeps); only a resilient next-hop group (consistent
  hashing) makes "the previous owner is D" true. Likewise a joining node cannot know where to hand flows back to.
- Per-node state: a conntrack entry per handed-back flow on X, and the table-100 route naming D (one draining node
  at a time in this prototype; several would need per-bucket knowledge or a chain of tries).
- D must keep running (and keep the VIP) until its connections end or a drain timeout; anything still open then is
  cut. The client sees no difference; X pays one forwarding hop per packet (client -> server direction only).
- A RST/FIN of a handed-back flow without a ct entry on X is handed back as well (ct state invalid); a handed-back
  packet that D does not know is answered with RST by D (the same outcome as without hand-back).

Results of one run are in the JSON `table`: broken vs unavoidable per case; `spread` gives max/mean connections per
node at the event for each hash policy (before the event, 4 nodes).
"""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import flows

HERE = Path(__file__).resolve().parent
FLOWS = HERE / "flows.py"
VIP = "198.51.100.10"
PORT = 80
PREFIX = "bgplbc-"
ROUTER_CLIENT = "10.98.0.1"
CLIENT_MAIN = "10.98.0.2"
FABRIC_ROUTER = "10.99.0.1"
MARK = 0x1
TABLE = 100
GROUP = 100
BUCKETS = 512
IDLE_TIMER = 60
RESILIENT = ["type", "resilient", "buckets", str(BUCKETS), "idle_timer", "0", "unbalanced_timer", "0"]


def node_addr(i: int) -> str:
    return f"10.99.0.{10 + i}"


def client_ip(k: int) -> str:
    return f"10.98.0.{10 + k}"


def log(msg: str) -> None:
    print(f"[continuity {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------------------------------
# orchestration (root namespace)


NFT_RULES = f"""table ip bgplb_handback {{
    chain prerouting {{
        type filter hook prerouting priority mangle; policy accept;
        ip daddr {VIP} tcp dport {PORT} jump vip
    }}
    chain vip {{
        ct mark {MARK:#x} meta mark set ct mark accept comment "a flow already handed back"
        ct state established,related accept comment "a connection this node terminates"
        tcp flags & (syn | ack) == syn accept comment "new connections stay here"
        counter ct mark set {MARK:#x} meta mark set {MARK:#x} comment "mid-stream, unknown here: hand back"
    }}
}}
"""
IP_RULES = [
    f"ip rule add pref 10 fwmark {MARK:#x} lookup {TABLE}",
    "ip rule add pref 100 lookup local",
    "ip rule del pref 0 lookup local",
]
NODE_SYSCTLS = [
    "net.ipv4.ip_forward=1",
    "net.ipv4.conf.all.rp_filter=0",
    "net.ipv4.conf.default.rp_filter=0",
    "net.ipv4.conf.eth0.rp_filter=0",
    "net.ipv4.conf.all.send_redirects=0",
    "net.ipv4.conf.eth0.send_redirects=0",
    "net.netfilter.nf_conntrack_tcp_be_liberal=1",
    "net.netfilter.nf_conntrack_tcp_loose=1",
]
ACTIVATE = f"ip route replace default via <drained node> dev eth0 table {TABLE}"


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        from harness.netns import Namespace, run  # the harness imports nothing the roles need

        self.run = run
        self.args = args
        base = f"{PREFIX}{os.getpid()}"
        self.client = Namespace(f"{base}-c")
        self.router = Namespace(f"{base}-r")
        self.nodes = [Namespace(f"{base}-n{i}") for i in range(1, 6)]
        self.servers: dict[int, subprocess.Popen[bytes]] = {}
        self.created: list[Any] = []

    # ---- build / teardown

    def sweep(self) -> None:
        for line in self.run(["ip", "netns", "list"]).stdout.splitlines():
            name = line.split()[0]
            owner = name[len(PREFIX) :].split("-")[0]
            if name.startswith(PREFIX) and owner.isdigit() and not Path(f"/proc/{owner}").exists():
                self.run(["ip", "netns", "del", name], check=False)

    def ip(self, ns: Any, *args: str, check: bool = True) -> None:
        self.run(["ip", "-n", ns.name, *args], check=check)

    def sysctl(self, ns: Any, *kv: str) -> None:
        ns.exec("sysctl", "-qw", *kv)

    def build(self) -> None:
        self.sweep()
        for ns in [self.client, self.router, *self.nodes]:
            self.run(["ip", "netns", "add", ns.name])
            self.created.append(ns)
            self.ip(ns, "link", "set", "lo", "up")
        c, r = self.client, self.router
        self.run(["ip", "link", "add", "eth0", "netns", c.name, "type", "veth", "peer", "name", "eth0",
                  "netns", r.name])  # fmt: skip
        self.ip(c, "addr", "add", f"{CLIENT_MAIN}/24", "dev", "eth0")
        for k in range(self.args.client_ips):
            self.ip(c, "addr", "add", f"{client_ip(k)}/24", "dev", "eth0")
        self.ip(c, "link", "set", "eth0", "up")
        self.ip(c, "route", "add", "default", "via", ROUTER_CLIENT)
        self.sysctl(c, "net.ipv4.ip_local_port_range=10000 60999")
        self.ip(r, "addr", "add", f"{ROUTER_CLIENT}/24", "dev", "eth0")
        self.ip(r, "link", "set", "eth0", "up")
        self.ip(r, "link", "add", "br0", "type", "bridge")
        self.ip(r, "addr", "add", f"{FABRIC_ROUTER}/24", "dev", "br0")
        self.ip(r, "link", "set", "br0", "up")
        self.sysctl(r, "net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0")
        for i, n in enumerate(self.nodes, 1):
            self.run(["ip", "link", "add", "eth0", "netns", n.name, "type", "veth", "peer", "name", f"n{i}",
                      "netns", r.name])  # fmt: skip
            self.ip(r, "link", "set", f"n{i}", "master", "br0", "up")
            self.ip(n, "addr", "add", f"{node_addr(i)}/24", "dev", "eth0")
            self.ip(n, "link", "set", "eth0", "up")
            self.ip(n, "addr", "add", f"{VIP}/32", "dev", "lo")
            self.ip(n, "route", "add", "default", "via", FABRIC_ROUTER)
            self.nft(n, NFT_RULES)
            for rule in IP_RULES:
                self.ip(n, *rule.split()[1:])
            self.sysctl(n, *NODE_SYSCTLS)
            self.ip(r, "nexthop", "add", "id", str(i), "via", node_addr(i), "dev", "br0")
        # resolve neighbours once so the first packets of a case are not delayed
        for i, n in enumerate(self.nodes, 1):
            r.exec("ping", "-c1", "-W1", node_addr(i), check=False)
            n.exec("ping", "-c1", "-W1", FABRIC_ROUTER, check=False)
            for j in range(1, 6):
                if j != i:
                    n.exec("ping", "-c1", "-W1", node_addr(j), check=False)
        c.exec("ping", "-c1", "-W1", ROUTER_CLIENT, check=False)

    def nft(self, ns: Any, text: str) -> None:
        subprocess.run(["ip", "netns", "exec", ns.name, "nft", "-f", "-"], input=text, text=True, check=True,
                       capture_output=True)  # fmt: skip

    def close(self) -> None:
        self.stop_servers()
        for ns in reversed(self.created):
            ns.kill_all()
            self.run(["ip", "netns", "del", ns.name], check=False)
        self.created.clear()

    # ---- per case

    def start_servers(self) -> None:
        for i, n in enumerate(self.nodes, 1):
            self.servers[i] = n.popen([sys.executable, str(FLOWS), "--role", "server", "--name", f"n{i}",
                                       "--vip", VIP, "--port", str(PORT)], stdout=subprocess.PIPE)  # fmt: skip
        for i, p in self.servers.items():
            assert p.stdout is not None
            if not select.select([p.stdout], [], [], 20)[0] or p.stdout.readline().strip() != b"ready":
                raise RuntimeError(f"server n{i} did not start")

    def handed_back(self, ns: Any) -> int:
        """Packets the hand-back rule marked on this node (steered to the drained node only while table 100 has a
        route; otherwise delivered locally, where they meet no socket)."""
        out = ns.exec("nft", "list", "chain", "ip", "bgplb_handback", "vip", check=False).stdout
        for line in out.splitlines():
            if "counter packets" in line and "hand back" in line:
                return int(line.split("counter packets")[1].split()[0])
        return 0

    def kill_server(self, i: int) -> None:
        p = self.servers.pop(i, None)
        if p and p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=10)

    def stop_servers(self) -> None:
        for i in list(self.servers):
            self.kill_server(i)

    def set_members(self, ecmp: str, members: list[int], first: bool = False, idle: int = 0) -> None:
        r = self.router
        res = [*RESILIENT[:5], str(idle), *RESILIENT[6:]]
        if ecmp == "hash-threshold":
            hops = [w for i in members for w in ("nexthop", "via", node_addr(i), "dev", "br0")]
            self.ip(r, "route", "replace", f"{VIP}/32", *hops)
        elif first:
            self.ip(r, "nexthop", "add", "id", str(GROUP), "group", "/".join(map(str, members)), *res)
            self.ip(r, "route", "replace", f"{VIP}/32", "nhid", str(GROUP))
        else:
            self.ip(r, "nexthop", "replace", "id", str(GROUP), "group", "/".join(map(str, members)), *res)

    def reset(self, ecmp: str, hash_policy: int) -> None:
        r = self.router
        self.stop_servers()
        self.ip(r, "route", "del", f"{VIP}/32", check=False)
        self.ip(r, "nexthop", "del", "id", str(GROUP), check=False)
        for i, n in enumerate(self.nodes, 1):
            self.ip(r, "link", "set", f"n{i}", "up")
            self.ip(n, "route", "flush", "table", str(TABLE), check=False)
            n.exec("conntrack", "-F", check=False)
        self.sysctl(r, f"net.ipv4.fib_multipath_hash_policy={hash_policy}")
        self.set_members(ecmp, [1, 2, 3, 4], first=True)
        self.start_servers()

    def case(self, name: str, hash_policy: int, ecmp: str, event: str, handback: bool) -> dict[str, Any]:
        a = self.args
        v = a.victim
        t = time.monotonic()
        self.reset(ecmp, hash_policy)
        sources = [client_ip(k) for k in range(a.client_ips)]
        cmd = [sys.executable, str(FLOWS), *flows.client_command(a, sources, VIP, PORT)]
        client = self.client.popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert client.stdin is not None and client.stdout is not None
        try:
            if not select.select([client.stdout], [], [], 120)[0]:
                raise RuntimeError("client did not get ready")
            ready = json.loads(client.stdout.readline())
            marked_before = {i: self.handed_back(n) for i, n in enumerate(self.nodes, 1)}
            log(f"  {ready['ready']} connections open after {time.monotonic() - t:.1f}s (median connect "
                f"{ready['open_p50_s']} s)")  # fmt: skip
            time.sleep(a.baseline)
            if handback:
                for i, n in enumerate(self.nodes, 1):
                    if i != v:
                        self.ip(n, "route", "replace", "default", "via", node_addr(v), "dev", "eth0",
                                "table", str(TABLE))  # fmt: skip
            client.stdin.write(b"event\n")  # the client stamps the event when it reads this: first
            client.stdin.flush()
            t0 = time.monotonic()
            if event == "failure":
                self.ip(self.router, "link", "set", f"n{v}", "down")
                self.set_members(ecmp, [i for i in (1, 2, 3, 4) if i != v])
                self.kill_server(v)
            elif event == "join":
                self.set_members(ecmp, [1, 2, 3, 4, 5])
            elif event == "join-idle":
                self.set_members(ecmp, [1, 2, 3, 4, 5], idle=IDLE_TIMER)
            else:
                self.set_members(ecmp, [i for i in (1, 2, 3, 4) if i != v])
            applied = time.monotonic() - t0
            time.sleep(max(0.0, t0 + a.window - time.monotonic()))
            client.stdin.write(b"end\n")
            client.stdin.flush()
            # read at the window's end: the client resets all its connections once it has reported
            marked = {f"n{i}": self.handed_back(n) - marked_before[i] for i, n in enumerate(self.nodes, 1)}
            if not select.select([client.stdout], [], [], a.stall + 60)[0]:
                raise RuntimeError("client did not report")
            res = json.loads(client.stdout.readline())
            res["handed_back_packets"] = marked
            client.wait(timeout=30)
        finally:
            if client.poll() is None:
                os.killpg(client.pid, signal.SIGKILL)
                client.wait(timeout=10)
        members = [f"n{i}" for i in (1, 2, 3, 4)]
        after = [*members, "n5"] if event.startswith("join") else [m for m in members if m != f"n{v}"]
        case = {"name": name, "hash_policy": hash_policy, "ecmp": ecmp, "event": event, "handback": handback,
                "node": "n5" if event.startswith("join") else f"n{v}"}  # fmt: skip
        row = flows.summarise(case, ready, res, members, after)
        row["unknown_midstream_packets"] = res["handed_back_packets"]
        row["event_apply_ms"] = round(applied * 1000, 1)
        return row


def all_cases() -> list[tuple[str, int, str, str, bool]]:
    """In priority order: 5-tuple failure/join, 5-tuple drains with and without hand-back, then 3-tuple."""
    out = []
    for ecmp in ("hash-threshold", "resilient"):
        for event in ("failure", "join"):
            out.append((f"5t-{ecmp}-{event}", 1, ecmp, event, False))
    out.append(("5t-resilient-join-idle", 1, "resilient", "join-idle", False))
    for ecmp in ("hash-threshold", "resilient"):
        out.append((f"5t-{ecmp}-drain", 1, ecmp, "drain", False))
        out.append((f"5t-{ecmp}-drain-handback", 1, ecmp, "drain", True))
    for ecmp in ("hash-threshold", "resilient"):
        for event in ("failure", "join", "drain"):
            out.append((f"3t-{ecmp}-{event}", 0, ecmp, event, False))
    return out


def main_bench(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(HERE.parent / "speaker" / "tests"))
    if os.geteuid() != 0:
        sys.exit("continuity.py needs root (network namespaces)")
    cases = flows.select_cases(args.cases, all_cases())
    flows.raise_nofile()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    start = time.monotonic()
    bench = Bench(args)
    results = []
    handback_nft = ""
    try:
        log("building namespaces")
        bench.build()
        handback_nft = bench.nodes[0].exec("nft", "list", "table", "ip", "bgplb_handback").stdout
        for name, hp, ecmp, event, hb in cases:
            log(f"case {name}")
            r = bench.case(name, hp, ecmp, event, hb)
            log(f"  broken {r['broken']} (unavoidable {r['unavoidable']}, uniform hash {r['expected_uniform']}), "
                f"per node {r['per_node']}, baseline {r['baseline_broken']}")  # fmt: skip
            results.append(r)
    finally:
        bench.close()
    doc = {
        "bench": "continuity",
        "kernel": os.uname().release,
        "parameters": {
            "connections": args.connections,
            "client_ips": args.client_ips,
            "nodes": 4,
            "node_event": f"n{args.victim} (failure/drain), n5 (join)",
            "next_hop_order": "n1 n2 n3 n4 [n5]",
            "interval_s": args.interval,
            "stall_s": args.stall,
            "window_s": args.window,
            "new_conn_rate_per_s": args.rate,
            "lifetime_s": args.lifetime,
            "resilient": " ".join(RESILIENT),
        },
        "table": [{k: r[k] for k in flows.TABLE_KEYS} for r in results],
        "spread": flows.spread_summary(results),
        "cases": results,
        "handback_rules": {
            "nft": handback_nft or NFT_RULES,
            "ip_rules_at_boot": IP_RULES,
            "on_drain_on_other_nodes": ACTIVATE,
            "sysctls": NODE_SYSCTLS,
        },
        "runtime_s": round(time.monotonic() - start, 1),
    }
    print(json.dumps(doc, indent=1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--client-ips", type=int, default=8, help="client source addresses (default 8)")
    ap.add_argument("--cases", default="*", help="comma-separated names or globs, e.g. '5t-*,3t-resilient-*'")
    ap.add_argument("--victim", type=int, default=4, choices=(1, 2, 3, 4), help="node that fails or drains (4)")
    ap.add_argument("--window", type=float, default=5.0, help="seconds after the event in which breaks count")
    ap.add_argument("--baseline", type=float, default=2.0, help="seconds of steady state before the event")
    flows.add_client_options(ap)
    main_bench(ap.parse_args())


if __name__ == "__main__":
    main()
