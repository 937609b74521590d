"""Benchmark: 1 or 2 FRR routers and N real bgplb-speaker processes, each node in its own network namespace.

The routers run the frr.conf that the router role renders (its facts.yml and frr.conf.j2, through ansible-playbook,
for a generated inventory of N nodes); every node runs `python -m bgplb.daemon` announcing one service address. All
namespaces hang off one bridge (a switch namespace), so each node has one address that every router peers with,
as the role's inventory contract has it. Speakers start in waves of `--wave` processes (the next wave once the
previous one is Established at every router); measured from the first start: all sessions Established, and the full
ECMP route (N next hops) in every router's kernel. Then CPU and RSS of FRR and of the speakers, and at the largest N
one node leaving (SIGTERM, --on-sigterm withdraw) and joining again (a new process): time until every router's
kernel route has N-1 and N next hops. A log-log least-squares fit gives the growth. Prints one JSON document
(progress on stderr). Needs root (namespaces).

    python3 bench/scale.py [--nodes 16,64,128,256] [--routers 1,2] [--wave 32]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "speaker" / "tests"))
sys.path.insert(0, str(HERE))

from frrvty import Vty  # noqa: E402

from harness.frr import FRR  # noqa: E402
from harness.netns import PREFIX, Namespace, sweep  # noqa: E402
from harness.speaker import Speaker  # noqa: E402

ROUTER_ASN, NODE_ASN = 64500, 64512
SERVICE = "198.51.100.10"
POOL = "198.51.100.0/24"
TICK = os.sysconf("SC_CLK_TCK")


def log(msg: str) -> None:
    print(f"scale: {msg}", file=sys.stderr, flush=True)


def router_address(r: int) -> str:
    return f"100.70.0.{r + 1}"


def node_address(i: int) -> str:
    return f"100.70.{1 + i // 200}.{10 + i % 200}"


# --- the router role's frr.conf -------------------------------------------------------------------------------------
PLAYBOOK = """
- hosts: bgplb_routers
  gather_facts: false
  tasks:
    - ansible.builtin.include_role: {name: baremetal.bgplb.router, tasks_from: facts.yml, public: true}
    - ansible.builtin.template:
        src: "%(root)s/roles/router/templates/frr.conf.j2"
        dest: "%(out)s/{{ inventory_hostname }}.conf"
        mode: "0644"
      vars:
        ansible_facts: {hostname: "{{ inventory_hostname }}"}
"""


def render_frr(nodes: int, routers: int, out: Path, extra_vars: dict[str, Any] | None = None) -> list[str]:
    """frr.conf of each router, rendered by the router role for an inventory of `nodes` nodes (and `extra_vars`)."""
    inventory = {
        "all": {
            "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                     "bgplb_pools": [{"name": "bench", "addresses": [POOL]}],
                     "bgplb_router_maximum_paths": max(64, nodes), "bgplb_router_log": "stdout informational",
                     "bgplb_router_resilient": nodes <= 122,  # the agent is not run here; over 122 it is refused
                     **(extra_vars or {})},
            "children": {
                "bgplb_routers": {"hosts": {f"r{r + 1}": {"bgplb_bgp_address": router_address(r)}
                                            for r in range(routers)}},
                "bgplb_nodes": {"hosts": {f"n{i + 1}": {"bgplb_bgp_address": node_address(i)} for i in range(nodes)}},
            },
        }
    }  # fmt: skip
    (out / "inventory.yml").write_text(yaml.safe_dump(inventory))
    (out / "play.yml").write_text(PLAYBOOK % {"root": ROOT, "out": out})
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_LOCALHOST_WARNING": "0"}
    playbook = Path(sys.executable).parent / "ansible-playbook"
    proc = subprocess.run([str(playbook), "-i", str(out / "inventory.yml"), str(out / "play.yml")],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"rendering frr.conf failed:\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}")
    return [(out / f"r{r + 1}.conf").read_text() for r in range(routers)]


# --- topology ---------------------------------------------------------------------------------------------------------
class Fabric:
    """A switch namespace with a bridge; routers and nodes each a namespace with one veth to it."""

    def __init__(self, nodes: int, routers: int) -> None:
        base = f"{PREFIX}{os.getpid()}-sc"
        self.switch = Namespace(f"{base}-sw")
        self.routers = [Namespace(f"{base}-r{r + 1}") for r in range(routers)]
        self.nodes = [Namespace(f"{base}-n{i + 1}") for i in range(nodes)]

    def __enter__(self) -> Fabric:
        sweep()
        try:
            self._build()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _build(self) -> None:
        sw = self.switch.name
        hosts = [(ns, router_address(r)) for r, ns in enumerate(self.routers)]
        hosts += [(ns, node_address(i)) for i, ns in enumerate(self.nodes)]
        ip_batch([f"netns add {ns.name}" for ns in self.all()])
        ip_batch([f"link add p{k} netns {sw} type veth peer name eth0 netns {ns.name}" for k, (ns, _) in
                  enumerate(hosts)])  # fmt: skip
        ip_batch(["link add br0 type bridge", "link set br0 up", "link set lo up",
                  *(f"link set p{k} master br0 up" for k in range(len(hosts)))], ns=sw)  # fmt: skip
        for ns, addr in hosts:
            ip_batch(["link set lo up", f"addr add {addr}/16 dev eth0", "link set eth0 up"], ns=ns.name)

    def all(self) -> list[Namespace]:
        return [self.switch, *self.routers, *self.nodes]

    def __exit__(self, *exc: object) -> None:
        for ns in self.all():
            ns.kill_all()
        ip_batch([f"netns del {ns.name}" for ns in self.all()], check=False)


def ip_batch(lines: list[str], check: bool = True, ns: str | None = None) -> None:
    """Many `ip` commands in one process (in namespace `ns`)."""
    where = ["-n", ns] if ns else []
    proc = subprocess.run(["ip", *where, "-force", "-batch", "-"], input="\n".join(lines) + "\n", text=True,
                          capture_output=True, timeout=600)  # fmt: skip
    if check and proc.returncode != 0:
        raise RuntimeError(f"ip -batch: {proc.stderr.strip()[:500]}")


class Router:
    """zebra + bgpd with the role's frr.conf in a router namespace; bfdd too when the config has a `bfd` block."""

    def __init__(self, ns: Namespace, conf: str) -> None:
        self.ns, self.dir = ns, Path(tempfile.mkdtemp(prefix="bgplbt-frr-"))
        bfd = bfd_block(conf)  # bfdd's part: bgpd would read its `exit` as the end of the configuration
        (self.dir / "frr.conf").write_text(conf.replace(bfd, "") if bfd else conf)
        (self.dir / "zebra.conf").write_text("")
        files = [self.dir, self.dir / "frr.conf", self.dir / "zebra.conf"]
        self.daemons = ["zebra", "bgpd"]
        if bfd:
            (self.dir / "bfdd.conf").write_text(bfd)
            files.append(self.dir / "bfdd.conf")
            self.daemons.append("bfdd")
        for p in files:
            os.chown(p, *frr_ids())
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self) -> Router:
        for daemon in self.daemons:
            conf = self.dir / ("frr.conf" if daemon == "bgpd" else f"{daemon}.conf")
            extra = ["--bfdctl", str(self.dir / "bfdd.sock")] if daemon == "bfdd" else []
            args = [f"{FRR}/{daemon}", "-N", self.ns.name, "--vty_socket", str(self.dir), "-z", str(self.dir / "zs"),
                    "-i", str(self.dir / f"{daemon}.pid"), "-f", str(conf), "-A", "127.0.0.1",
                    "--log", f"file:{self.dir}/{daemon}.log", *extra]  # fmt: skip
            self.procs[daemon] = self.ns.popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 20
            while not (self.dir / f"{daemon}.vty").exists():
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{daemon} did not start: {self.log()[-2000:]}")
                time.sleep(0.05)
        time.sleep(0.2)
        self.vty = Vty(self.dir / "bgpd.vty")
        return self

    def log(self) -> str:
        return "".join(p.read_text(errors="replace") for p in sorted(self.dir.glob("*.log")))

    def established(self) -> int:
        peers = self.vty.json("show bgp ipv4 unicast summary json").get("peers", {})
        return sum(1 for p in peers.values() if p.get("state") == "Established")

    def kernel_next_hops(self) -> int:
        """Next hops of the service's route in this router's kernel (a nexthop group or a multipath route)."""
        routes = json.loads(self.ns.exec("ip", "-j", "route", "show", f"{SERVICE}/32").stdout or "[]")
        if not routes:
            return 0
        route = routes[0]
        if "nhid" in route:
            group = json.loads(self.ns.exec("ip", "-j", "nexthop", "show", "id", str(route["nhid"])).stdout)
            return len(group[0].get("group", [])) or 1
        return len(route.get("nexthops", [])) or 1

    def route_state(self) -> dict[str, Any]:
        """Why the kernel route is short: next hops there, and zebra's own view of the route."""
        rib = self.vty_zebra(f"show ip route {SERVICE}/32 json").get(f"{SERVICE}/32", [{}])[0]
        return {
            "kernel_next_hops": self.kernel_next_hops(),
            "zebra_nexthops": len(rib.get("nexthops", [])),
            "zebra_installed": bool(rib.get("installed")),
            "zebra_nexthop_group": rib.get("nexthopGroupId"),
        }

    def vty_zebra(self, command: str) -> Any:
        with Vty(self.dir / "zebra.vty") as vty:
            return vty.json(command)

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.vty.close()
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()


def bfd_block(conf: str) -> str:
    """The `bfd` ... `exit` block of an integrated frr.conf (what bfdd reads), or "" when there is none."""
    lines = conf.splitlines()
    if "bfd" not in lines:
        return ""
    start = lines.index("bfd")
    end = next(i for i in range(start + 1, len(lines)) if lines[i] in ("exit", "!"))
    return "\n".join(lines[start : end + 1]) + "\n"


def frr_ids() -> tuple[int, int]:
    import pwd

    entry = pwd.getpwnam("frr")
    return entry.pw_uid, entry.pw_gid


# --- process accounting -----------------------------------------------------------------------------------------------
def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def pss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine since boot."""
    parts = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = parts[3] + parts[4]
    return sum(parts) - idle, sum(parts)


def summary(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 2), "max": round(max(values), 2),
            "min": round(min(values), 2)}  # fmt: skip


# --- one run ----------------------------------------------------------------------------------------------------------
def speaker_config(i: int, routers: int, **peer: Any) -> dict[str, Any]:
    """Node i's speaker.yaml: one peer per router (settings in `peer` override the bench's), one service."""
    base = {"asn": ROUTER_ASN, "hold_time": 30, "keepalive_time": 10, "connect_time": 2, "ttl_security": True}
    peers = [{"name": f"r{r + 1}", "address": router_address(r), **base, **peer} for r in range(routers)]
    return {
        "node": {"name": f"n{i + 1}", "router_id": node_address(i), "asn": NODE_ASN},
        "peers": peers,
        "pools": [{"name": "bench", "addresses": [POOL]}],
        "advertisements": [{"name": "default"}],
        "services": [{"name": "web", "address": SERVICE}],
    }


def wait(predicate: Any, timeout: float, what: str, speakers: list[Speaker], interval: float = 0.1) -> float:
    """Poll until `predicate()`; a speaker that exited fails the run at once, with its log."""
    deadline = time.monotonic() + timeout
    while not predicate():
        dead = [sp for sp in speakers if sp.proc is not None and sp.proc.poll() is not None]
        if dead:
            raise RuntimeError(f"a speaker exited while waiting for {what}: {dead[0].log()[-1500:]}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} after {timeout}s")
        time.sleep(interval)
    return time.perf_counter()


def one_run(nodes: int, routers: int, wave: int, churn: bool, timeout: float, route_timeout: float) -> dict[str, Any]:
    load_before = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="bgplb-bench-scale-"))
    confs = render_frr(nodes, routers, tmp)
    with contextlib.ExitStack() as stack:
        t_net = time.perf_counter()
        fabric = stack.enter_context(Fabric(nodes, routers))
        net_s = time.perf_counter() - t_net
        frrs = []
        for ns, conf in zip(fabric.routers, confs, strict=True):
            frr = Router(ns, conf).start()
            stack.callback(frr.stop)
            frrs.append(frr)
        speakers = []
        for i, ns in enumerate(fabric.nodes):
            sp = Speaker(ns, speaker_config(i, routers), "--watch-interval", "5", "--on-sigterm", "withdraw")
            stack.callback(sp.__exit__)
            speakers.append(sp)
        frr_cpu0 = {f"r{k + 1}": {d: cpu_s(p.pid) for d, p in f.procs.items()} for k, f in enumerate(frrs)}
        busy0 = machine_busy()
        log(f"N={nodes} routers={routers}: namespaces in {net_s:.1f}s; starting speakers in waves of {wave}")
        t0 = time.perf_counter()
        waves = []
        for start in range(0, nodes, wave):
            batch = speakers[start : start + wave]
            for sp in batch:
                sp.start()
            want = start + len(batch)
            t = wait(
                lambda w=want: all(f.established() >= w for f in frrs), timeout, f"{want} sessions Established", batch
            )
            waves.append(round(t - t0, 2))
        t_sessions = time.perf_counter()
        route_s, stalled = None, None
        try:
            t_route = wait(lambda: all(f.kernel_next_hops() >= nodes for f in frrs), route_timeout, "full ECMP route",
                           speakers, 0.2)  # fmt: skip
            route_s = round(t_route - t0, 2)
        except TimeoutError:
            stalled = {f"r{k + 1}": f.route_state() for k, f in enumerate(frrs)}
            log(f"N={nodes}: no full ECMP route in every kernel {route_timeout}s after the sessions: {stalled}")
        busy1 = machine_busy()
        settle_end = time.time() + 3  # steady state: a few keepalive-free seconds before reading RSS
        while time.time() < settle_end:
            time.sleep(0.5)
        sp_rss = [rss_mib(sp.proc.pid) for sp in speakers if sp.proc]
        sp_pss = [pss_mib(sp.proc.pid) for sp in speakers if sp.proc]
        sp_cpu = [cpu_s(sp.proc.pid) for sp in speakers if sp.proc]
        frr_stats = {}
        for k, f in enumerate(frrs):
            name = f"r{k + 1}"
            frr_stats[name] = {d: {"rss_mib": round(rss_mib(p.pid), 1),
                                   "cpu_s_during_bring_up": round(cpu_s(p.pid) - frr_cpu0[name][d], 2)}
                               for d, p in f.procs.items()}  # fmt: skip
        out: dict[str, Any] = {
            "nodes": nodes,
            "routers": routers,
            "sessions": nodes * routers,
            "wave": wave,
            "namespaces_setup_s": round(net_s, 2),
            "all_established_s": round(t_sessions - t0, 2),
            "full_ecmp_route_in_every_kernel_s": route_s,
            "route_not_in_kernel": stalled,
            "wave_established_at_s": waves,
            "speaker_rss_mib": summary(sp_rss),
            "speaker_pss_mib": summary(sp_pss),
            "speaker_cpu_s_total": round(sum(sp_cpu), 2),
            "speaker_cpu_s_each": summary(sp_cpu),
            "frr": frr_stats,
            "machine_cpu_busy_during_bring_up": round((busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1]), 3),
            "loadavg_before": [round(x, 2) for x in load_before],
        }
        if churn and route_s is not None:
            out["churn"] = leave_join(frrs, speakers, nodes, timeout)
        out["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
        log("run " + json.dumps(out))
    subprocess.run(["rm", "-rf", str(tmp)], check=False)
    return out


def leave_join(frrs: list[Router], speakers: list[Speaker], nodes: int, timeout: float) -> dict[str, Any]:
    """One node leaves (withdraw on SIGTERM) and joins again; seconds until every kernel route follows."""
    sp = speakers[nodes // 2]
    results = []
    for _ in range(3):
        t0 = time.perf_counter()
        sp.stop()
        t1 = wait(lambda: all(f.kernel_next_hops() == nodes - 1 for f in frrs), timeout, "leave", [], 0.02)
        t2 = time.perf_counter()
        sp.start()
        t3 = wait(lambda: all(f.kernel_next_hops() == nodes for f in frrs), timeout, "join", [sp], 0.02)
        results.append({"leave_s": round(t1 - t0, 3), "join_s": round(t3 - t2, 3)})
    return {
        "runs": results,
        "leave_s_median": round(statistics.median(r["leave_s"] for r in results), 3),
        "join_s_median": round(statistics.median(r["join_s"] for r in results), 3),
        "note": "leave: SIGTERM (--on-sigterm withdraw) until N-1 next hops in every router's kernel; join: a new "
        "speaker process (interpreter start, config load, OPEN) until N next hops again",
    }


def fit(points: list[tuple[int, float]]) -> dict[str, float] | None:
    """Least squares on log-log: y = a * N^b."""
    pts = [(math.log(n), math.log(y)) for n, y in points if y > 0]
    if len(pts) < 2:
        return None
    mx, my = statistics.fmean(p[0] for p in pts), statistics.fmean(p[1] for p in pts)
    b = sum((x - mx) * (y - my) for x, y in pts) / sum((x - mx) ** 2 for x, _ in pts)
    a = math.exp(my - b * mx)
    return {"a": round(a, 5), "exponent": round(b, 3), "predict_1000": round(a * 1000**b, 1)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nodes", default="16,64,128,256")
    p.add_argument("--routers", default="1,2")
    p.add_argument("--wave", type=int, default=32, help="speakers started together")
    p.add_argument("--timeout", type=float, default=300, help="seconds for each wave to be Established")
    p.add_argument("--route-timeout", type=float, default=60, help="seconds after the sessions for the kernel route")
    args = p.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up namespaces and processes on kill
    sizes = [int(x) for x in args.nodes.split(",")]
    router_counts = [int(x) for x in args.routers.split(",")]
    runs: list[dict[str, Any]] = []
    for routers in router_counts:
        for n in sizes:
            runs.append(one_run(n, routers, args.wave, n == max(sizes), args.timeout, args.route_timeout))
    growth = {}
    for routers in router_counts:
        rs = [r for r in runs if r["routers"] == routers]
        growth[f"routers_{routers}"] = {
            key: fit([(r["nodes"], r[key]) for r in rs if r[key] is not None])
            for key in ("all_established_s", "full_ecmp_route_in_every_kernel_s", "speaker_cpu_s_total")
        }
        growth[f"routers_{routers}"]["bgpd_rss_mib"] = fit([(r["nodes"], r["frr"]["r1"]["bgpd"]["rss_mib"])
                                                            for r in rs])  # fmt: skip
    doc = {
        "benchmark": "scale",
        "setup": "FRR 8.4 (zebra+bgpd) with the router role's rendered frr.conf; one bgplb-speaker process per node "
        "namespace, all on one bridge; eBGP, GTSM, one /32 service announced by every node",
        "machine": {"cpus": os.cpu_count(), "note": "shared machine: loadavg per run"},
        "runs": runs,
        "growth_fit_y_eq_a_N_pow_b": growth,
    }
    print(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
