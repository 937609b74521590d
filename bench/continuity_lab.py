"""Benchmark: connection continuity in the lab, through the real stack (FRR, bgplb-resilient, bgplb-speaker,
the hand-back drain playbook), when one node fails, drains or joins.

Prints one JSON document on stdout (progress on stderr). Needs root and the lab's podman set-up
(`bash scripts/setup-deps.sh`); it brings the lab up itself and removes it at the end (`--keep` leaves it).

    .venv/bin/python bench/continuity_lab.py [--cases '5t-*'] [--connections 2000] [--keep] [--no-setup]
        [--bfd [--bfd-interval 300 --bfd-multiplier 3]]

The lab (`lab/inventory.yml` + `bench/lab/inventory.yml`): FRR routers r1, r2, nodes n1..n5 (n5 rolled out by
`site.yml` like the others, then drained: it is the node that joins), the client. The client keeps
`--connections` TCP connections to the service IP's echo port (lab/prepare.yml's lab-echo on every node, port 8080)
from 8 source addresses through r1, each sending a line every 300 ms and expecting its echo, living 10-40 s and then
replaced (steady churn), while new short connections arrive at 20/s (bench/flows.py). r1 spreads them over n1..n4.

Case groups, each applied with the router role itself (bench/lab/routers.yml): hash policy l4 (5-tuple) or l3
(3-tuple) x `bgplb_router_resilient` true (bgplb-resilient: kernel resilient groups) or false (FRR's own
hash-threshold multipath); and 5t-resilient-vxlan, the hand-back cases again with the speaker role's VXLAN
transport (`bgplb_speaker_handback_tunnel=vxlan`, bench/lab/nodes.yml), which crosses L3 (here the nodes share a
segment, so it measures the tunnel's own cost). Events, one per case (node n4 fails or drains, n5 joins):

- failure: n4 dies: nftables drops everything in and out of it (no FIN, no RST, no keepalive reaches anyone),
  then its speaker and servers are SIGKILLed. The routers notice at hold-time expiry (lab: 9 s) and remove its
  path; with `--bfd` (every playbook run with `bgplb_bfd: true` and the interval/multiplier given: bfdd on the
  routers, BFD in every speaker) when BFD declares the session Down, after about multiplier x interval;
- join: plain: `bgplbctl undrain` on n5 alone: its route is announced and its path joins multipath (for the routers
  the same as a new node's first announcement);
- join-handback: `ansible-playbook playbooks/undrain.yml -e node=n5` (the collection's undrain: the nodes chain
  hand-back while n5 returns, then stop);
- drain: plain: `bgplbctl drain --wait 10` on n4 alone: GRACEFUL_SHUTDOWN takes its path out of multipath at once,
  no node hands packets back;
- drain-handback: `ansible-playbook playbooks/drain.yml -e node=n4` (the collection's drain: hand-back on the
  other nodes, graceful shutdown, wait until n4's connections end, withdraw, stop handing back).

The window in which breaks count starts when the event is issued and ends 5 s (`--settle`) after r1's kernel next
hops for the service IP show the change (for drain-handback: after the playbook returns). Broken, unavoidable,
expected_uniform and spread are as in bench/continuity.py (flows.summarise): broken = share of the connections
alive at the event that got a RST/EOF or a message unanswered for 2 s in the window; unavoidable = the failed
node's share; expected_uniform = what an ideal hash over the actual next-hop order must move (minus the drained
node's share with hand-back). `reaction_s` is event -> r1's kernel changed; for resilient groups `buckets_moved`
is the share of r1's 128 buckets that changed owner (read from the kernel).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import flows

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
INVENTORY = ["-i", str(ROOT / "lab/inventory.yml"), "-i", str(HERE / "lab/inventory.yml")]
VIP = "198.51.100.10"
PORT = 8080  # lab-echo (lab/prepare.yml)
R1 = "lab-r1"
CLIENT = "lab-client"
SOURCES = [f"10.89.20.{101 + k}" for k in range(8)]
NODES = {f"n{i}": f"10.89.10.{20 + i}" for i in range(1, 6)}
IN_SERVICE = ["n1", "n2", "n3", "n4"]
VICTIM, JOINER = "n4", "n5"
RESILIENT_TABLE = 200  # bgplb_router_resilient_table's default
DEAD_NFT = """table inet bgplb_bench_dead {
    chain in { type filter hook prerouting priority -400; policy drop; iif lo accept; }
    chain out { type filter hook output priority -400; policy drop; oif lo accept; }
}
"""
EVENTS = ("failure", "join", "join-handback", "drain", "drain-handback")
# case prefix: (bgplb_router_hash_policy, bgplb_router_resilient, bgplb_speaker_handback_tunnel), events
CONFIGS = {
    "5t-resilient": (("l4", True, "none"), EVENTS),
    "5t-resilient-vxlan": (("l4", True, "vxlan"), ("join-handback", "drain-handback")),
    "5t-hash-threshold": (("l4", False, "none"), EVENTS),
    "3t-hash-threshold": (("l3", False, "none"), EVENTS),
    "3t-resilient": (("l3", True, "none"), EVENTS),
}
DEFAULTS = CONFIGS["5t-resilient"][0]  # the collection's defaults


def log(msg: str) -> None:
    print(f"[continuity-lab {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def sh(container: str, script: str, *, check: bool = True, timeout: float = 60) -> str:
    p = subprocess.run(["podman", "exec", container, "sh", "-c", script], capture_output=True, text=True,
                       timeout=timeout)  # fmt: skip
    if check and p.returncode:
        raise RuntimeError(f"{container}: {script!r} exited {p.returncode}: {p.stderr.strip() or p.stdout.strip()}")
    return p.stdout


class Lab:
    def __init__(self, args: argparse.Namespace, logdir: Path) -> None:
        self.args = args
        self.logdir = logdir
        self.env = {**os.environ, "PATH": f"{ROOT / '.venv/bin'}:{os.environ['PATH']}", "ANSIBLE_FORCE_COLOR": "0"}
        self.extra_vars = bfd_vars(args)
        self.resilient = True
        self.tunnel = "none"
        self.runs = 0

    def playbook(self, *args: str, timeout: float = 1200) -> float:
        """Runs ansible-playbook on the bench's inventory; the output goes to a log file named in any failure."""
        self.runs += 1
        out = self.logdir / f"{self.runs:02d}-{Path(args[0]).stem}.log"
        t = time.monotonic()
        with out.open("w") as f:
            p = subprocess.run(["ansible-playbook", *INVENTORY, "-e", json.dumps(self.extra_vars), *args], cwd=ROOT,
                               env=self.env, stdout=f, stderr=subprocess.STDOUT, timeout=timeout)  # fmt: skip
        if p.returncode:
            tail = "".join(out.read_text().splitlines(keepends=True)[-30:])
            raise RuntimeError(f"ansible-playbook {' '.join(args)} failed (log {out}):\n{tail}")
        return time.monotonic() - t

    # ---- state of r1

    def next_hops(self) -> tuple[list[str], list[int]]:
        """r1's kernel next hops for the VIP in the table that forwards it (node names, kernel order), and for a
        resilient group the owner (nexthop id) of each bucket."""
        table = ["table", str(RESILIENT_TABLE)] if self.resilient else []
        routes = json.loads(sh(R1, f"ip -j route show {' '.join(table)} {VIP}/32") or "[]")
        if not routes:
            return [], []
        by_addr = {a: n for n, a in NODES.items()}
        hops = routes[0].get("nexthops") or [{"gateway": routes[0].get("gateway")}]
        names = [by_addr.get(h.get("gateway"), str(h.get("gateway"))) for h in hops]
        buckets: list[int] = []
        if self.resilient and "nhid" in routes[0]:
            rows = json.loads(sh(R1, f"ip -j nexthop bucket show id {routes[0]['nhid']}") or "[]")
            buckets = [r["bucket"]["nhid"] for r in sorted(rows, key=lambda r: r["bucket"]["index"])]
        return names, buckets

    def wait_hops(self, want: set[str], timeout: float = 120) -> float:
        t = time.monotonic()
        while True:
            names, _ = self.next_hops()
            if set(names) == want and len(names) == len(want):
                return time.monotonic() - t
            if time.monotonic() - t > timeout:
                raise RuntimeError(f"r1's next hops for {VIP} are {names}, not {sorted(want)} after {timeout:.0f}s")
            time.sleep(0.1)

    def handed_back(self) -> dict[str, int]:
        """Per node, packets the hand-back rule marked (mid-stream packets of connections the node does not have)."""
        out = {}
        for n in NODES:
            text = sh(f"lab-{n}", "nft list chain ip bgplb_handback service", check=False)
            out[n] = next((int(line.split("counter packets")[1].split()[0]) for line in text.splitlines()
                           if "counter packets" in line and "hand back" in line), 0)  # fmt: skip
        return out

    # ---- set-up

    def setup(self) -> None:
        if not self.args.no_setup:
            log("lab: up, prepare, site.yml with 5 nodes (a few minutes)")
            self.playbook(str(ROOT / "lab/up.yml"), str(ROOT / "lab/prepare.yml"), str(ROOT / "playbooks/site.yml"))
        dev = json.loads(sh(CLIENT, "ip -j route get 10.89.20.11"))[0]["dev"]
        sh(CLIENT, " ; ".join(f"ip addr replace {a}/24 dev {dev}" for a in SOURCES))
        sh(CLIENT, "sysctl -qw net.ipv4.ip_local_port_range='10000 60999'")
        subprocess.run(["podman", "cp", str(HERE / "flows.py"), f"{CLIENT}:/tmp/flows.py"], check=True)

    def configure(self, hash_policy: str, resilient: bool, tunnel: str) -> None:
        log(f"routers: bgplb_router_hash_policy={hash_policy} bgplb_router_resilient={resilient}")
        self.playbook(str(HERE / "lab/routers.yml"), "-e", f"bgplb_router_hash_policy={hash_policy}",
                      "-e", f"bgplb_router_resilient={str(resilient).lower()}")  # fmt: skip
        self.resilient = resilient
        if tunnel != self.tunnel:
            log(f"nodes: bgplb_speaker_handback_tunnel={tunnel}")
            self.playbook(str(HERE / "lab/nodes.yml"), "-e", f"bgplb_speaker_handback_tunnel={tunnel}")
            self.tunnel = tunnel
        want = "1" if hash_policy == "l4" else "0"
        got = sh(R1, "sysctl -n net.ipv4.fib_multipath_hash_policy").strip()
        if got != want:
            raise RuntimeError(f"r1: fib_multipath_hash_policy is {got} after the router role, not {want}")

    def reset(self) -> None:
        """n1..n4 in service, undrained, servers up; n5 drained; nobody hands back; no connection left over (an
        echo server restart drops the half-open connections of the last case's broken flows)."""
        sh(f"lab-{VICTIM}", "nft delete table inet bgplb_bench_dead 2>/dev/null; "
                            "systemctl start lab-web bgplb-speaker")  # fmt: skip
        for n in NODES:
            sh(f"lab-{n}", "systemctl restart lab-echo")
        for n in IN_SERVICE:
            if json.loads(sh(f"lab-{n}", "bgplbctl --json status"))["drain"] is not None:
                sh(f"lab-{n}", "bgplbctl --json undrain")
        sh(f"lab-{JOINER}", "systemctl start bgplb-speaker")
        if json.loads(sh(f"lab-{JOINER}", "bgplbctl --json status"))["drain"] is None:
            sh(f"lab-{JOINER}", "bgplbctl --json drain --wait 0")
        for n in NODES:
            sh(f"lab-{n}", "/usr/local/sbin/bgplb-handback clear")
        self.wait_hops(set(IN_SERVICE))

    # ---- one case

    def event(self, event: str, before: list[str]) -> dict[str, Any]:
        """Issues the event; returns when r1 shows its effect (or the drain playbook ended)."""
        t = time.monotonic()
        info: dict[str, Any] = {}
        if event == "failure":
            sh(f"lab-{VICTIM}", f"nft -f - <<'EOF'\n{DEAD_NFT}EOF\n"
                                "systemctl kill --signal=KILL bgplb-speaker lab-echo lab-web; "
                                "systemctl stop bgplb-speaker lab-echo lab-web")  # fmt: skip
            want = set(before) - {VICTIM}
        elif event == "join":
            sh(f"lab-{JOINER}", "bgplbctl --json undrain")
            want = {*before, JOINER}
        elif event == "drain":
            sh(f"lab-{VICTIM}", "bgplbctl --json drain --wait 10")
            want = set(before) - {VICTIM}
        else:
            # the playbooks wait until the node's connections end: the longest lifetime, plus handed-back flows' idle
            timeout = int((self.args.lifetime or (0, 0))[1]) + 60
            joining = event.startswith("join")
            book, node = ("undrain", JOINER) if joining else ("drain", VICTIM)
            info["playbook_s"] = round(self.playbook(str(ROOT / f"playbooks/{book}.yml"), "-e", f"node={node}",
                                                     "-e", f"bgplb_{book}_timeout={timeout}"), 1)  # fmt: skip
            want = {*before, JOINER} if joining else set(before) - {VICTIM}
        info["issued_s"] = round(time.monotonic() - t, 2)
        info["reaction_s"] = round(info["issued_s"] + self.wait_hops(want, timeout=90), 2)
        return info

    def case(self, name: str, cfg: str, event: str) -> dict[str, Any]:
        a = self.args
        self.reset()
        cmd = ["podman", "exec", "-i", CLIENT, "python3", "/tmp/flows.py",
               *flows.client_command(a, SOURCES, VIP, PORT)]  # fmt: skip
        client = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True)
        assert client.stdin is not None and client.stdout is not None
        try:
            if not select.select([client.stdout], [], [], 180)[0]:
                raise RuntimeError("the client did not get its connections open in 180 s")
            ready = json.loads(client.stdout.readline())
            log(f"  {ready['ready']} connections open (median connect {ready['open_p50_s']} s)")
            time.sleep(a.baseline)
            before, buckets_before = self.next_hops()
            marked = self.handed_back()
            client.stdin.write(b"event\n")
            client.stdin.flush()
            info = self.event(event, before)
            time.sleep(a.settle)
            client.stdin.write(b"end\n")
            client.stdin.flush()
            # read at the window's end: the client resets all its connections once it has reported
            now = self.handed_back()
            after, buckets_after = self.next_hops()
            if not select.select([client.stdout], [], [], a.stall + 120)[0]:
                raise RuntimeError("the client did not report")
            res = json.loads(client.stdout.readline())
            client.wait(timeout=60)
        finally:
            if client.poll() is None:
                os.killpg(client.pid, signal.SIGKILL)
                client.wait(timeout=10)
        hash_policy, resilient, tunnel = CONFIGS[cfg][0]
        case = {"name": name, "hash_policy": int(hash_policy == "l4"), "handback": event.endswith("-handback"),
                "ecmp": "resilient" if resilient else "hash-threshold", "event": event.removesuffix("-handback"),
                "node": JOINER if event.startswith("join") else VICTIM}  # fmt: skip
        row = flows.summarise(case, ready, res, before, after)
        row.update(info)
        row["handback_tunnel"] = tunnel
        row["next_hops_before"], row["next_hops_after"] = before, after
        if buckets_before and buckets_after:
            row["buckets_moved"] = round(sum(x != y for x, y in zip(buckets_before, buckets_after, strict=True))
                                         / len(buckets_before), 4)  # fmt: skip
        row["unknown_midstream_packets"] = {n: now[n] - marked[n] for n in NODES}
        return row


def bfd_vars(args: argparse.Namespace) -> dict[str, Any]:
    """The inventory variables of --bfd (both roles read them), or BFD off as in the lab's inventory."""
    if not args.bfd:
        return {"bgplb_bfd": False}
    return {
        "bgplb_bfd": True,
        "bgplb_bfd_receive_interval": args.bfd_interval,
        "bgplb_bfd_transmit_interval": args.bfd_interval,
        "bgplb_bfd_detect_multiplier": args.bfd_multiplier,
    }


def all_cases() -> list[tuple[str, str, str]]:
    """(name, config prefix, event), grouped by configuration."""
    return [(f"{cfg}-{ev}", cfg, ev) for cfg, (_, events) in CONFIGS.items() for ev in events]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default="*", help="comma-separated names or globs, e.g. '5t-*,3t-resilient-join'")
    ap.add_argument("--baseline", type=float, default=3.0, help="seconds of steady state before the event")
    ap.add_argument("--settle", type=float, default=5.0, help="seconds the window runs on after r1 changed")
    ap.add_argument("--no-setup", action="store_true", help="the lab is up with bench/lab/inventory.yml already")
    ap.add_argument("--keep", action="store_true", help="leave the lab running at the end")
    ap.add_argument("--logdir", help="keep the ansible-playbook logs here (default: a temporary directory)")
    ap.add_argument("--bfd", action="store_true", help="BFD on routers and speakers (bgplb_bfd: true)")
    ap.add_argument("--bfd-interval", type=int, default=300, help="BFD receive and transmit interval, ms (300)")
    ap.add_argument("--bfd-multiplier", type=int, default=3, help="BFD detection multiplier (3)")
    flows.add_client_options(ap, lifetime_default="10:40")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("continuity_lab.py needs root (podman lab)")
    cases = flows.select_cases(args.cases, all_cases())
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    start = time.monotonic()
    results = []
    frr = error = None
    with tempfile.TemporaryDirectory(prefix="bgplb-continuity-lab-") as tmp:
        logdir = Path(args.logdir) if args.logdir else Path(tmp)
        logdir.mkdir(parents=True, exist_ok=True)
        lab = Lab(args, logdir)
        try:
            lab.setup()
            frr = sh(R1, "vtysh -c 'show version' | head -1").strip()
            current = None
            for name, cfg, event in cases:
                if CONFIGS[cfg][0] != current:
                    current = CONFIGS[cfg][0]
                    lab.configure(*current)
                log(f"case {name}")
                r = lab.case(name, cfg, event)
                log(
                    f"  broken {r['broken']} (unavoidable {r['unavoidable']}, uniform {r['expected_uniform']}), "
                    f"per node {r['per_node']}, reaction {r['reaction_s']} s, baseline {r['baseline_broken']}"
                )
                results.append(r)
            if current != DEFAULTS:
                lab.configure(*DEFAULTS)
        except Exception as e:  # the cases measured so far are still reported
            error = f"{type(e).__name__}: {e}"
            log(f"stopped: {error}")
        finally:
            if not args.keep:
                with contextlib.suppress(Exception):
                    lab.playbook(str(ROOT / "lab/down.yml"))
    doc = {
        "bench": "continuity-lab",
        "kernel": os.uname().release,
        "frr": frr,
        "parameters": {
            "connections": args.connections,
            "client_sources": len(SOURCES),
            "nodes": IN_SERVICE,
            "node_event": f"{VICTIM} (failure/drain), {JOINER} (join)",
            "interval_s": args.interval,
            "stall_s": args.stall,
            "lifetime_s": args.lifetime,
            "new_conn_rate_per_s": args.rate,
            "baseline_s": args.baseline,
            "settle_s": args.settle,
            "bfd": bfd_vars(args),
        },
        "error": error,
        "table": [{k: r[k] for k in (*flows.TABLE_KEYS, "handback_tunnel", "reaction_s")} for r in results],
        "spread": flows.spread_summary(results),
        "cases": results,
        "runtime_s": round(time.monotonic() - start, 1),
    }
    print(json.dumps(doc, indent=1))
    if error:
        sys.exit(1)


if __name__ == "__main__":
    main()
