"""Kubernetes LoadBalancer Services at scale: a real kube-apiserver + etcd (scripts/build-k8s.sh), one real speaker in
a network namespace peering with a real FRR.

Phase 1: N Services (default 1,000) created through the API as fast as it takes them (8 client threads). Measured:
the API server's own time to accept the creates (the peer this bench compares against), the time until every
Service has an address in its status and every /32 is in FRR's table, per-Service create -> address and
create -> route at FRR (p50/p99, from the moment the API server answered the create), and the API requests the
speaker made per Service. Phase 2: Services up to M (default 10,000), then the speaker's RSS with all of them
watched, allocated and announced, beside its RSS before the first Service.

    .venv/bin/python bench/kube_services.py [--services 1000] [--watched 10000]   # JSON on stdout and in results/
Needs root (namespaces). Targets (issue 13): create -> route p99 <= 1 s at 1,000; RSS <= 150 MiB at 10,000.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "speaker" / "tests"))
sys.path.insert(0, str(HERE))

from frrvty import Vty  # noqa: E402
from kubernetes import client  # noqa: E402
from kubernetes.watch.watch import iter_resp_lines  # noqa: E402

from harness import FrrRouter, Neighbor, Speaker, wait_for  # noqa: E402
from harness.kube import ControlPlane  # noqa: E402
from harness.lan import Lan  # noqa: E402

POOL = "198.18.0.0/17"  # RFC 2544's benchmarking range: 32,768 addresses
NODE_ASN, ROUTER_ASN = 64512, 64500


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 4)


def rss_kib(pid: int) -> dict[str, int]:
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {k: int(fields[k].split()[0]) for k in ("VmRSS", "VmHWM")}


class Watcher(threading.Thread):
    """The bench's own watch on Services: when each first showed an address (and which)."""

    def __init__(self, core: client.CoreV1Api) -> None:
        super().__init__(daemon=True)
        self.core = core
        self.first_ip: dict[str, tuple[float, str]] = {}

    def run(self) -> None:
        rv = json.loads(self.core.list_namespaced_service("default", _preload_content=False).data)["metadata"][
            "resourceVersion"
        ]
        while True:
            resp = self.core.list_namespaced_service(
                "default", watch=True, resource_version=rv, timeout_seconds=600, _preload_content=False
            )
            for line in iter_resp_lines(resp):
                ev = json.loads(line)
                obj = ev["object"]
                rv = obj["metadata"]["resourceVersion"]
                ingress = (obj.get("status", {}).get("loadBalancer") or {}).get("ingress") or []
                name = obj["metadata"]["name"]
                if ingress and name not in self.first_ip:
                    self.first_ip[name] = (time.perf_counter(), ingress[0]["ip"])


class RoutePoller(threading.Thread):
    """FRR's table over one persistent vty connection: when each prefix was first there."""

    def __init__(self, vty: Vty) -> None:
        super().__init__(daemon=True)
        self.vty = vty
        self.first_seen: dict[str, float] = {}
        self.polls = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            table = self.vty.json("show bgp ipv4 unicast json").get("routes", {})
            now = time.perf_counter()
            self.polls += 1
            for prefix in table:
                self.first_seen.setdefault(prefix, now)
            time.sleep(0.02)


def create_all(core: client.CoreV1Api, names: list[str], threads: int = 8) -> dict[str, tuple[float, float]]:
    times: dict[str, tuple[float, float]] = {}

    def one(name: str) -> None:
        body = {
            "metadata": {"name": name},
            "spec": {
                "type": "LoadBalancer",
                "selector": {"app": name},
                "ports": [{"port": 80, "protocol": "TCP"}],
                "allocateLoadBalancerNodePorts": False,
            },  # 10,000 Services need more than the NodePort range
        }
        t0 = time.perf_counter()
        core.create_namespaced_service("default", body, _preload_content=False)
        times[name] = (t0, time.perf_counter())

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, names))
    return times


def speaker_requests(sp: Speaker) -> dict[str, int]:
    return json.loads(sp.ctl("--json", "status").stdout)["kubernetes"]["requests"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--services", type=int, default=1000)
    p.add_argument("--watched", type=int, default=10000)
    p.add_argument("--out", default=str(HERE / "results" / "kube-services.json"))
    args = p.parse_args()
    result: dict[str, Any] = {
        "bench": "kube_services",
        "services": args.services,
        "watched": args.watched,
        "machine": {"cpus": os.cpu_count(), "load_at_start": os.getloadavg()[0]},
    }
    with Lan(1) as lan:
        cp = ControlPlane(host=lan.host_v4)
        try:
            cp.start()
            core = client.CoreV1Api(cp.client())
            core.create_namespace({"metadata": {"name": "bgplb-system"}})
            core.create_node({"metadata": {"name": "n1"}})  # Ready, as a kubelet would report it
            core.patch_node_status("n1", {"status": {"conditions": [{"type": "Ready", "status": "True"}]}})
            config = {
                "node": {"name": "n1", "router_id": lan.node_v4[0], "asn": NODE_ASN},
                "peers": [{"name": "r1", "address": lan.router_v4, "asn": ROUTER_ASN, "hold_time": 30}],
                "pools": [{"name": "bench", "addresses": [POOL]}],
                "advertisements": [{"name": "all"}],
                "kubernetes": {"kubeconfig": str(cp.kubeconfig("admin")), "retry_period": 1},
            }
            with (
                FrrRouter(
                    lan.router, asn=ROUTER_ASN, router_id="10.255.0.1", neighbors=[Neighbor(lan.node_v4[0], NODE_ASN)]
                ) as frr,
                Speaker(lan.nodes[0], config) as sp,
            ):
                wait_for(lambda: frr.established(lan.node_v4[0]), timeout=30, what="the BGP session")
                wait_for(
                    lambda: json.loads(sp.ctl("--json", "status").stdout)["kubernetes"]["allocator"]["leading"],
                    timeout=30,
                    what="the speaker elected allocator",
                )
                time.sleep(1)
                pid = sp.proc.pid
                result["speaker_rss_kib_idle"] = rss_kib(pid)
                before = speaker_requests(sp)
                watcher = Watcher(core)
                watcher.start()
                poller = RoutePoller(Vty(frr.dir / "bgpd.vty"))
                poller.start()
                time.sleep(0.5)

                names = [f"svc-{i:05d}" for i in range(args.services)]
                log(f"phase 1: creating {len(names)} services")
                t_start = time.perf_counter()
                created = create_all(core, names)
                t_created = time.perf_counter()
                wait_for(lambda: len(watcher.first_ip) >= len(names), timeout=600, interval=0.1, what="every address")
                want = {f"{watcher.first_ip[n][1]}/32" for n in names}
                wait_for(lambda: want <= poller.first_seen.keys(), timeout=600, interval=0.1, what="every route")
                t_routes = max(poller.first_seen[p] for p in want)
                t_ips = max(watcher.first_ip[n][0] for n in names)
                after = speaker_requests(sp)
                to_ip = [watcher.first_ip[n][0] - created[n][1] for n in names]
                to_route = [poller.first_seen[f"{watcher.first_ip[n][1]}/32"] - created[n][1] for n in names]
                api_s = t_created - t_start
                result["phase1"] = {
                    "api_accept_all_s": round(api_s, 3),
                    "all_addresses_s": round(t_ips - t_start, 3),
                    "all_routes_at_frr_s": round(t_routes - t_start, 3),
                    "ratio_all_routes_to_api_accept": round((t_routes - t_start) / api_s, 3),
                    "create_to_address_s": {
                        "p50": pct(to_ip, 0.5),
                        "p99": pct(to_ip, 0.99),
                        "max": round(max(to_ip), 4),
                    },
                    "create_to_route_s": {
                        "p50": pct(to_route, 0.5),
                        "p99": pct(to_route, 0.99),
                        "max": round(max(to_route), 4),
                    },
                    "speaker_requests_per_service": {k: round((after[k] - before[k]) / len(names), 3) for k in after},
                    "frr_polls": poller.polls,
                    "create_latency_s": {
                        "p50": pct([b - a for a, b in created.values()], 0.5),
                        "p99": pct([b - a for a, b in created.values()], 0.99),
                    },
                }
                log(f"phase 1: {json.dumps(result['phase1'])}")

                more = [f"svc-{i:05d}" for i in range(args.services, args.watched)]
                if more:
                    log(f"phase 2: creating {len(more)} more services")
                    t2 = time.perf_counter()
                    create_all(core, more)
                    api2 = time.perf_counter() - t2
                    wait_for(
                        lambda: len(watcher.first_ip) >= args.watched,
                        timeout=1800,
                        interval=0.5,
                        what="every address of phase 2",
                    )
                    wait_for(
                        lambda: frr.prefix_count(lan.node_v4[0]) >= args.watched,
                        timeout=600,
                        interval=0.5,
                        what="every route of phase 2 at FRR",
                    )
                    done2 = time.perf_counter() - t2
                    time.sleep(2)
                    result["phase2"] = {
                        "api_accept_s": round(api2, 3),
                        "all_routes_at_frr_s": round(done2, 3),
                        "ratio_to_api_accept": round(done2 / api2, 3),
                        "speaker_rss_kib": rss_kib(pid),
                        "speaker_rss_mib": round(rss_kib(pid)["VmRSS"] / 1024, 1),
                        "routes_at_frr": frr.prefix_count(lan.node_v4[0]),
                    }
                    log(f"phase 2: {json.dumps(result['phase2'])}")
                poller.stop.set()
                result["speaker_log_errors"] = [x for x in sp.log().splitlines() if x.startswith("ERROR")][:10]
        finally:
            cp.close()
    result["median_note"] = "one run; per-service figures are medians/p99 over the services of the run"
    text = json.dumps(result, indent=2)
    print(text)
    Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
