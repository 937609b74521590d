"""Benchmark: how fast the routers drop a dead node's next hop, with BFD (100/300 ms x 3) and without (hold time).

Two FRR routers (zebra, bgpd and bfdd with the frr.conf the router role renders for `bgplb_bfd`) and three
bgplb-speaker processes (the peer settings the speaker role renders: hold 9 s / keepalive 3 s as in the lab, graceful
restart on, GTSM, the BFD timers of the case), each in its own network namespace on one bridge. A trial cuts one node:
every packet in or out of its namespace is dropped (nftables; a dead node sends nothing, no FIN, no RST). Measured from
the cut until that node's next hop is gone from each router's kernel route of the service, by `ip route` polled every
`--poll` seconds (the resolution). Then the cut is lifted and the trial waits for all three next hops at both routers
(BFD Up again) before the next one; the victims go round n1, n2, n3. Prints one JSON document (progress on stderr);
needs root.

    python3 bench/failover.py [--trials 20] [--cases bfd-100x3,bfd-300x3,hold-9] [--soak 600]

`--soak S` adds a run of S seconds with BFD 100 ms x 3 and nothing cut: BFD state changes at both ends (any is a false
Down), and the CPU of a speaker with BFD to both routers against a fourth speaker without BFD in the same run (their
difference is what BFD costs). Run it while the machine is loaded (the test suite) to see timers hold under load.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from frrvty import Vty  # noqa: E402
from scale import (  # noqa: E402
    SERVICE,
    TICK,
    Fabric,
    Router,
    node_address,
    render_frr,
)
from scale import speaker_config as scale_speaker_config  # noqa: E402

from harness.speaker import Speaker  # noqa: E402

ROUTERS, NODES = 2, 3
HOLD, KEEPALIVE = 9, 3
CASES = {
    "bfd-100x3": {"receive_interval": 100, "transmit_interval": 100, "detect_multiplier": 3},
    "bfd-300x3": {"receive_interval": 300, "transmit_interval": 300, "detect_multiplier": 3},
    "hold-9": None,
}


def log(msg: str) -> None:
    print(f"failover: {msg}", file=sys.stderr, flush=True)


def speaker_config(i: int, bfd: dict[str, int] | None) -> dict[str, Any]:
    """The peer settings the speaker role renders for the lab (hold 9 s, graceful restart, GTSM) and the case's BFD."""
    return scale_speaker_config(i, ROUTERS, hold_time=HOLD, keepalive_time=KEEPALIVE, connect_time=1,
                                graceful_restart=True, bfd=bfd or False)  # fmt: skip


def router_vars(bfd: dict[str, int] | None) -> dict[str, Any]:
    out: dict[str, Any] = {"bgplb_hold_time": HOLD, "bgplb_keepalive_time": KEEPALIVE, "bgplb_bfd": bfd is not None,
                           "bgplb_router_resilient": False}  # fmt: skip
    if bfd:
        out |= {f"bgplb_bfd_{k}": v for k, v in bfd.items()}
    return out


def gateways(router: Router) -> set[str]:
    """Next hops of the service route in the router's kernel (a multipath route, or a nexthop group by id)."""
    where = ["ip", "-n", router.ns.name, "-j"]
    routes = json.loads(subprocess.run([*where, "route", "show", f"{SERVICE}/32"], capture_output=True, text=True,
                                       check=True).stdout or "[]")  # fmt: skip
    if not routes:
        return set()
    route = routes[0]
    hops = {h["gateway"] for h in route.get("nexthops", []) if "gateway" in h}
    if hops or "gateway" in route:
        return hops or {route["gateway"]}
    if "nhid" not in route:
        return set()
    table = {nh["id"]: nh for nh in json.loads(subprocess.run([*where, "nexthop", "show"], capture_output=True,
                                                               text=True, check=True).stdout)}  # fmt: skip
    members = [m["id"] for m in table[route["nhid"]].get("group", [])] or [route["nhid"]]
    return {table[m]["gateway"] for m in members if "gateway" in table.get(m, {})}


def bfd_status(vty: Vty, address: str) -> str | None:
    """bfdd's status of its session with `address` (up, down, init), None when it has none."""
    peers = json.loads(vty.run("show bfd peers json") or "[]")
    return next((p.get("status") for p in peers if p.get("peer") == address), None)


def cut(ns_name: str, on: bool) -> None:
    """Drop every packet in and out of a node's namespace (on), or stop dropping (off)."""
    nft = ["ip", "netns", "exec", ns_name, "nft"]
    if on:
        rules = ("add table inet bgplbcut\n"
                 "add chain inet bgplbcut in { type filter hook input priority -300 ; policy drop ; }\n"
                 "add chain inet bgplbcut out { type filter hook output priority -300 ; policy drop ; }\n")  # fmt: skip
        subprocess.run([*nft, "-f", "-"], input=rules, text=True, check=True)
    else:
        subprocess.run([*nft, "delete", "table", "inet", "bgplbcut"], check=True)


def wait(predicate: Any, timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} after {timeout}s")
        time.sleep(interval)


def bfd_up(sp: Speaker) -> bool:
    return all((p.get("bfd") or {}).get("state") == "Up" for p in sp.status()["peers"])


def quantile(values: list[float], q: float) -> float:
    """The q-quantile by linear interpolation between the closest ranks (numpy's default)."""
    xs = sorted(values)
    pos = q * (len(xs) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def stats(values: list[float]) -> dict[str, float]:
    return {"p50": round(quantile(values, 0.5), 3), "p99": round(quantile(values, 0.99), 3),
            "max": round(max(values), 3), "min": round(min(values), 3), "n": len(values)}  # fmt: skip


class Lab:
    """The fabric, both routers and the speakers of one case."""

    def __init__(self, bfd: dict[str, int] | None, nodes: int, control: bool = False) -> None:
        self.bfd, self.nodes, self.control = bfd, nodes, control
        self.stack = contextlib.ExitStack()

    def __enter__(self) -> Lab:
        tmp = Path(tempfile.mkdtemp(prefix="bgplb-bench-failover-"))
        self.stack.callback(subprocess.run, ["rm", "-rf", str(tmp)], check=False)
        confs = render_frr(self.nodes, ROUTERS, tmp, router_vars(self.bfd))
        self.fabric = self.stack.enter_context(Fabric(self.nodes, ROUTERS))
        self.routers = []
        for ns, conf in zip(self.fabric.routers, confs, strict=True):
            r = Router(ns, conf).start()
            self.stack.callback(r.stop)
            self.routers.append(r)
        self.speakers = []
        for i, ns in enumerate(self.fabric.nodes):
            bfd = None if self.control and i == self.nodes - 1 else self.bfd
            sp = Speaker(ns, speaker_config(i, bfd))
            self.stack.callback(sp.__exit__)
            self.speakers.append(sp.start())
        everyone = {node_address(i) for i in range(self.nodes)}
        wait(lambda: all(gateways(r) == everyone for r in self.routers), 120, "every next hop at both routers")
        return self

    def __exit__(self, *exc: object) -> None:
        self.stack.close()


def trials(name: str, bfd: dict[str, int] | None, count: int, poll: float) -> dict[str, Any]:
    per_router: dict[str, list[float]] = {f"r{r + 1}": [] for r in range(ROUTERS)}
    stages: dict[str, list[float]] = {"bfd_down": [], "bgp_down": [], "kernel_after_bgp": []}
    worst, runs = [], []
    with contextlib.ExitStack() as stack, Lab(bfd, NODES) as lab:
        everyone = {node_address(i) for i in range(NODES)}
        bfdds = [stack.enter_context(Vty(r.dir / "bfdd.vty")) for r in lab.routers] if bfd else []
        for vty in bfdds:
            vty.run("enable")  # bfdd's show commands are not in the view node
        for t in range(count):
            victim = t % NODES
            address = node_address(victim)
            if bfd:
                wait(lambda: all(bfd_up(sp) for sp in lab.speakers), 60, "BFD Up at every speaker")
            gone: dict[str, float] = {}
            seen: dict[tuple[str, int], float] = {}  # (stage, router index) -> seconds after the cut
            t0 = time.perf_counter()
            cut(lab.fabric.nodes[victim].name, True)
            deadline = t0 + HOLD * 3
            while len(gone) < ROUTERS:
                now = time.perf_counter()
                if now > deadline:
                    left = sorted(set(per_router) - set(gone))
                    raise TimeoutError(f"{name} trial {t}: n{victim + 1}'s next hop still at {left}")
                for k, r in enumerate(lab.routers):
                    if bfd and ("bfd_down", k) not in seen and bfd_status(bfdds[k], address) != "up":
                        seen["bfd_down", k] = time.perf_counter() - t0
                    if ("bgp_down", k) not in seen and r.vty.neighbor(address).get("bgpState") != "Established":
                        seen["bgp_down", k] = time.perf_counter() - t0
                    if f"r{k + 1}" not in gone and address not in gateways(r):
                        gone[f"r{k + 1}"] = time.perf_counter() - t0
                time.sleep(poll)
            cut(lab.fabric.nodes[victim].name, False)
            for k, s in gone.items():
                per_router[k].append(s)
            for (stage, k), at in seen.items():
                stages[stage].append(at)
                if stage == "bgp_down":
                    stages["kernel_after_bgp"].append(gone[f"r{k + 1}"] - at)
            worst.append(max(gone.values()))
            runs.append({"victim": f"n{victim + 1}", **{k: round(v, 3) for k, v in sorted(gone.items())}})
            log(f"{name} trial {t + 1}/{count}: n{victim + 1} gone after " +
                ", ".join(f"{k} {v:.3f}s" for k, v in sorted(gone.items())))  # fmt: skip
            wait(lambda: all(gateways(r) == everyone for r in lab.routers), 60, "the node back at both routers")
        restarts = [sum(p["established_count"] for p in sp.status()["peers"]) for sp in lab.speakers]
    return {
        "bfd": bfd,
        "hold_time_s": HOLD,
        "detection_time_ms": bfd["receive_interval"] * bfd["detect_multiplier"] if bfd else None,
        "worst_router_s": stats(worst),
        "per_router_s": {k: stats(v) for k, v in per_router.items()},
        "stages_s": {
            "note": "per router and trial, from the cut: bfdd shows the peer down; bgpd's session leaves Established; "
            "then until the kernel route lost the next hop (bgpd -> zebra -> kernel). Each read is one vty or ip "
            "command in turn, so a stage is seen up to one polling round late",
            **{k: stats(v) for k, v in stages.items() if v},
        },
        "sessions_established_per_speaker": restarts,
        "trials": runs,
    }


def cpu_split(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / TICK, int(fields[12]) / TICK


def frr_bfd_counters(router: Router) -> dict[str, dict[str, int]]:
    """bfdd's `session-up` / `session-down` counts per peer."""
    with Vty(router.dir / "bfdd.vty") as vty:
        vty.run("enable")  # bfdd's show commands are not in the view node
        peers = json.loads(vty.run("show bfd peers counters json") or "[]")
    return {p["peer"]: {"up": p["session-up"], "down": p["session-down"]} for p in peers}


FLOOR = """
import asyncio, resource, socket, sys, time
async def main(rate, seconds):
    loop = asyncio.get_running_loop()
    tx, rx = (socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2))
    for sock in (tx, rx):
        sock.bind(("127.0.0.1", 0))
        sock.setblocking(False)
    loop.add_reader(rx.fileno(), lambda: rx.recvfrom(512))
    def tick():
        tx.sendto(bytes(24), rx.getsockname())
        loop.call_later(1 / rate, tick)
    tick()
    r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
    await asyncio.sleep(seconds)
    r1, elapsed = resource.getrusage(resource.RUSAGE_SELF), time.monotonic() - t0
    print((r1.ru_utime - r0.ru_utime) / elapsed, (r1.ru_stime - r0.ru_stime) / elapsed)
asyncio.run(main(float(sys.argv[1]), float(sys.argv[2])))
"""


def soak(seconds: float) -> dict[str, Any]:
    """Nothing cut, BFD 100 ms x 3 on n1..n3, none on n4: state changes at both ends and CPU per speaker."""
    bfd = CASES["bfd-100x3"]
    with Lab(bfd, NODES + 1, control=True) as lab:
        wait(lambda: all(bfd_up(sp) for sp in lab.speakers[:NODES]), 60, "BFD Up")
        time.sleep(2)
        # the floor: a bare asyncio loop woken as often (one timer and one datagram per packet BFD sends to the two
        # routers at ~1/87.5 ms each: RFC 5880 jitter 75-100 %), run beside the speakers for the same time
        rate = 2 / (0.875 * bfd["transmit_interval"] / 1000)
        floor = subprocess.Popen([sys.executable, "-c", FLOOR, str(rate), str(seconds)], stdout=subprocess.PIPE,
                                 text=True)  # fmt: skip
        before = [cpu_split(sp.proc.pid) for sp in lab.speakers if sp.proc]
        frr_before = [frr_bfd_counters(r) for r in lab.routers]
        ups = [[(p["bfd"] or {}).get("up_count", 0) for p in sp.status()["peers"]] for sp in lab.speakers[:NODES]]
        frr0 = [r.procs["bfdd"].pid for r in lab.routers]
        load = []
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            time.sleep(min(10.0, seconds))
            load.append(os.getloadavg()[0])
        elapsed = time.perf_counter() - t0
        after = [cpu_split(sp.proc.pid) for sp in lab.speakers if sp.proc]
        ups_after = [[(p["bfd"] or {}).get("up_count", 0) for p in sp.status()["peers"]]
                     for sp in lab.speakers[:NODES]]  # fmt: skip
        states = [[(p["bfd"] or {}).get("state") for p in sp.status()["peers"]] for sp in lab.speakers[:NODES]]
        frr_after = [frr_bfd_counters(r) for r in lab.routers]
        floor_user, floor_system = (float(x) for x in floor.communicate(timeout=60)[0].split())
        if [r.procs["bfdd"].pid for r in lab.routers] != frr0 or any(r.procs["bfdd"].poll() is not None
                                                                      for r in lab.routers):  # fmt: skip
            raise RuntimeError("a bfdd exited during the soak: its counters would start again from 0")
    frr_downs = {f"r{k + 1}": {peer: after_[peer]["down"] - before_.get(peer, {"down": 0})["down"]
                               for peer in sorted(after_)}
                 for k, (before_, after_) in enumerate(zip(frr_before, frr_after, strict=True))}  # fmt: skip
    user = [(a[0] - b[0]) / elapsed for a, b in zip(after, before, strict=True)]
    system = [(a[1] - b[1]) / elapsed for a, b in zip(after, before, strict=True)]
    cpu = [u + k for u, k in zip(user, system, strict=True)]
    bfd_cpu = statistics.median(cpu[:NODES])
    return {
        "seconds": round(elapsed, 1),
        "bfd": bfd,
        "speaker_bfd_up_transitions": [
            [a - b for a, b in zip(x, y, strict=True)] for x, y in zip(ups_after, ups, strict=True)
        ],
        "speaker_bfd_state_at_end": states,
        "frr_bfd_session_down_count": frr_downs,
        "speaker_cpu_share_of_a_core": {
            "with_bfd_2_peers": [round(c, 5) for c in cpu[:NODES]],
            "without_bfd_control": round(cpu[NODES], 5),
            "bfd_cost_median": round(bfd_cpu - cpu[NODES], 5),
            "user_with_bfd_median": round(statistics.median(user[:NODES]), 5),
            "user_without_bfd": round(user[NODES], 5),
            "bfd_user_cost_median": round(statistics.median(user[:NODES]) - user[NODES], 5),
            "floor_bare_asyncio_loop_same_wakeups": {
                "user": round(floor_user, 5),
                "system": round(floor_system, 5),
                "rate_per_s": round(rate, 1),
            },
            "note": "system time includes the kernel's delivery of each sent datagram through veth, bridge and the "
            "router's namespace (softirq work run in the sender's context here, on a NIC elsewhere)",
        },
        "loadavg_1m": {"median": round(statistics.median(load), 2), "max": round(max(load), 2)},
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--cases", default=",".join(CASES))
    p.add_argument("--poll", type=float, default=0.01, help="seconds between two reads of the routers' kernel")
    p.add_argument("--soak", type=float, default=0, help="seconds of a BFD run with nothing cut (0: none)")
    args = p.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up namespaces and processes on kill
    results = {}
    for name in [c for c in args.cases.split(",") if c]:
        if name not in CASES:
            p.error(f"unknown case {name!r} (known: {', '.join(CASES)})")
        results[name] = trials(name, CASES[name], args.trials, args.poll)
    doc: dict[str, Any] = {
        "benchmark": "failover",
        "setup": f"{ROUTERS} FRR 8.4 routers (zebra, bgpd, bfdd; the router role's frr.conf) and {NODES} bgplb-speaker "
        "processes in network namespaces on one bridge; a node is cut by dropping all its packets (nftables); time "
        "until its next hop is gone from each router's kernel route",
        "poll_s": args.poll,
        "machine": {"cpus": os.cpu_count(), "loadavg_at_end": [round(x, 2) for x in os.getloadavg()]},
        "cases": results,
    }
    if args.soak:
        doc["soak"] = soak(args.soak)
    print(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
