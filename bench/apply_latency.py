"""Benchmark: how long from `bgplbctl apply -f FILE` to the route at a real FRR, for one service and for a bulk file.

The real daemon (`python -m bgplb.daemon`) runs in one network namespace, FRR 8.4 bgpd in the other. For each of
`--changes` single-service applies: the seconds until the `bgplbctl` process exits (it writes the object, then asks
the speaker to reload and waits for its answer) and the seconds from there until FRR holds the prefix. Then one file
of `--bulk` services: bgplbctl's own time, the speaker's full reload at that size (an API `reload` timed from here)
and the time until FRR holds all of them. FRR is read over its vty socket directly (the protocol vtysh speaks), so
the poll is much cheaper than running vtysh; the poll cost is reported. Baselines measured in the same run give the
numbers a scale on a noisy machine: bare interpreter start, importing the CLI, `bgplbctl status`, `vtysh -c 'show
version'`. Prints one JSON document (progress on stderr). Needs root (namespaces).

    python3 bench/apply_latency.py [--changes 200] [--bulk 10000] [--profile-bulk]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "speaker" / "tests"))
sys.path.insert(0, str(HERE))

from frrvty import Vty  # noqa: E402

from bgplb.ctl.client import call  # noqa: E402
from harness import FrrRouter, Neighbor, NetnsPair, Speaker, wait_until  # noqa: E402

NODE_ASN, FRR_ASN = 64512, 64500
POOL_CIDR = "198.18.0.0/15"  # RFC 2544 benchmarking range, 131,072 addresses
POLL_INTERVAL = 0.005
METRICS = "127.0.0.1:9473"  # inside the speaker's namespace


def log(msg: str) -> None:
    print(f"apply_latency: {msg}", file=sys.stderr, flush=True)


def address(i: int) -> str:
    base = (198 << 24) | (18 << 16)
    n = base + 1 + i
    return ".".join(str((n >> s) & 0xFF) for s in (24, 16, 8, 0))


def stats(values: list[float]) -> dict[str, float | int]:
    """Milliseconds: median, p90, p99 (nearest rank), max, min."""
    ms = sorted(v * 1000 for v in values)
    n = len(ms)

    def rank(q: float) -> float:
        return ms[min(n - 1, max(0, round(q * n + 0.5) - 1))]

    return {"n": n, "median_ms": round(statistics.median(ms), 2), "p90_ms": round(rank(0.90), 2),
            "p99_ms": round(rank(0.99), 2), "max_ms": round(ms[-1], 2), "min_ms": round(ms[0], 2)}  # fmt: skip


def timed(cmd: list[str], **kw: object) -> tuple[float, subprocess.CompletedProcess[str]]:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)  # type: ignore[call-overload]
    return time.perf_counter() - t0, r


def timed_reload(sock_path: Path) -> float:
    """Seconds for one `reload` on the speaker's API socket (bgplbctl's client, without the process start-up)."""
    t0 = time.perf_counter()
    call(str(sock_path), "reload", timeout=600)
    return time.perf_counter() - t0


def baselines(frr: FrrRouter, vty: Vty, sp: Speaker, repeat: int) -> dict[str, object]:
    py = sys.executable
    out: dict[str, object] = {}
    out["python_c_pass"] = stats([timed([py, "-c", "pass"])[0] for _ in range(repeat)])
    out["python_import_bgplb_ctl"] = stats([timed([py, "-c", "import bgplb.ctl"])[0] for _ in range(repeat)])
    ctl = [py, "-m", "bgplb.ctl", "--config-dir", str(sp.config_dir), "--socket", str(sp.socket)]
    out["bgplbctl_status"] = stats([timed([*ctl, "status"])[0] for _ in range(repeat)])
    vtysh = ["vtysh", "--vty_socket", str(frr.dir), "-c", "show version"]
    out["vtysh_show_version"] = stats([timed(vtysh)[0] for _ in range(repeat)])
    summary = ["vtysh", "--vty_socket", str(frr.dir), "-c", "show bgp ipv4 unicast summary json"]
    out["vtysh_summary_json"] = stats([timed(summary)[0] for _ in range(repeat)])
    polls = []
    for _ in range(max(repeat, 50)):
        t0 = time.perf_counter()
        vty.json("show bgp ipv4 unicast summary json")
        polls.append(time.perf_counter() - t0)
    out["vty_socket_summary_json_poll"] = stats(polls)
    return out


def pfx_rcd(vty: Vty, peer: str) -> int:
    return int(vty.json("show bgp ipv4 unicast summary json").get("peers", {}).get(peer, {}).get("pfxRcd", 0))


def frr_dropped(frr: FrrRouter, peer: str) -> int:
    return int(frr.neighbor(peer).get("connectionsDropped", 0))


def reload_counts(net: NetnsPair, address: str) -> dict[str, float]:
    """bgplb_reloads_total by result, scraped from the speaker's --metrics inside its namespace."""
    text = net.left.exec("curl", "-s", f"http://{address}/metrics", check=False).stdout
    out = {}
    for line in text.splitlines():
        if line.startswith("bgplb_reloads_total{"):
            out[line.split('result="')[1].split('"')[0]] = float(line.split()[-1])
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--changes", type=int, default=200, help="single-service applies to time")
    p.add_argument("--bulk", type=int, default=10_000, help="services in the one-file bulk apply (0: skip)")
    p.add_argument("--baseline-repeat", type=int, default=20)
    p.add_argument("--watch-interval", type=float, default=1.0, help="the daemon's --watch-interval (its default)")
    p.add_argument("--profile-bulk", metavar="DIR", help="cProfile bgplbctl's bulk apply into DIR/ctl.prof")
    p.add_argument("--timeout", type=float, default=600)
    args = p.parse_args()

    node = {"name": "bench", "router_id": "", "asn": NODE_ASN}
    with contextlib.ExitStack() as stack:
        net = stack.enter_context(NetnsPair())
        node["router_id"] = net.left_v4
        neighbors = [Neighbor(net.left_v4, NODE_ASN, families=("ipv4",))]
        frr = stack.enter_context(FrrRouter(net.right, asn=FRR_ASN, router_id="10.255.0.1", neighbors=neighbors))
        config = {
            "node": node,
            "peers": [{"name": "frr", "address": net.right_v4, "asn": FRR_ASN, "connect_time": 1}],
            "pools": [{"name": "bench", "addresses": [POOL_CIDR]}],
            "advertisements": [{"name": "all", "pools": ["bench"]}],
        }
        sp = stack.enter_context(
            Speaker(net.left, config, "--watch-interval", str(args.watch_interval), "--metrics", METRICS)
        )
        vty = Vty(frr.dir / "bgpd.vty")
        stack.callback(vty.close)
        wait_until(lambda: vty.json("show bgp ipv4 unicast summary json").get("peers", {}).get(net.left_v4, {})
             .get("state") == "Established", 60, POLL_INTERVAL, "session Established")  # fmt: skip
        log("session up; baselines")
        base = baselines(frr, vty, sp, args.baseline_repeat)

        ctl = [sys.executable, "-m", "bgplb.ctl", "--config-dir", str(sp.config_dir), "--socket", str(sp.socket)]
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bgplb-bench-apply-")))
        cli, rest, total, polls_per_change = [], [], [], []
        for i in range(args.changes):
            if i % 50 == 0:
                log(f"single applies {i}/{args.changes}")
            prefix = f"{address(i)}/32"
            f = tmp / "one.yaml"
            f.write_text(yaml.safe_dump({"kind": "service", "name": f"svc-{i}", "address": address(i)}))
            t0 = time.perf_counter()
            r = subprocess.run([*ctl, "apply", "-f", str(f)], capture_output=True, text=True)
            t1 = time.perf_counter()
            if r.returncode != 0 or "speaker reloaded" not in r.stdout:
                raise RuntimeError(f"bgplbctl apply exited {r.returncode}: {r.stdout}{r.stderr}")
            n = 0
            while True:
                n += 1
                if vty.json(f"show bgp ipv4 unicast {prefix} json").get("paths"):
                    break
                if time.perf_counter() - t0 > args.timeout:
                    raise TimeoutError(prefix)
                time.sleep(POLL_INTERVAL)
            t2 = time.perf_counter()
            cli.append(t1 - t0)
            rest.append(t2 - t1)
            total.append(t2 - t0)
            polls_per_change.append(n)
        single = {
            "changes": args.changes,
            "apply_to_route_at_frr": stats(total),
            "bgplbctl_process": stats(cli),
            "after_bgplbctl_exit_to_route_at_frr": stats(rest),
            "route_already_at_frr_on_first_poll": sum(1 for n in polls_per_change if n == 1),
            "services_in_config_at_end": args.changes,
        }
        reload_small = stats([timed_reload(sp.socket) for _ in range(args.baseline_repeat)])

        bulk: dict[str, object] = {"services": args.bulk}
        if args.bulk:
            log(f"bulk: writing one file of {args.bulk} services")
            first = args.changes
            docs = [{"kind": "service", "name": f"bulk-{i}", "address": address(first + i)} for i in range(args.bulk)]
            f = tmp / "bulk.yaml"
            f.write_text(yaml.safe_dump(docs))
            have = pfx_rcd(vty, net.left_v4)
            dropped0 = frr_dropped(frr, net.left_v4)
            reloads0 = reload_counts(net, METRICS)
            cmd = [*ctl, "apply", "-f", str(f)]
            if args.profile_bulk:
                Path(args.profile_bulk).mkdir(parents=True, exist_ok=True)
                cmd = [sys.executable, "-m", "cProfile", "-o", str(Path(args.profile_bulk) / "ctl.prof"),
                       "-m", "bgplb.ctl", *ctl[3:], "apply", "-f", str(f)]  # fmt: skip
            last_file = sp.config_dir / "objects" / "service" / f"bulk-{args.bulk - 1}.yaml"
            log("bulk: bgplbctl apply")
            with (tmp / "bulk.out").open("w+") as out_f:
                t0 = time.perf_counter()
                proc = subprocess.Popen(cmd, stdout=out_f, stderr=subprocess.STDOUT, text=True)
                first_route = written = None
                while proc.poll() is None:
                    now = time.perf_counter()
                    if first_route is None and pfx_rcd(vty, net.left_v4) > have:
                        first_route = now
                    if written is None and last_file.exists():
                        written = now
                    time.sleep(0.05)
                t1 = time.perf_counter()
                out_f.seek(0)
                out = out_f.read()
            log(f"bulk: bgplbctl exited {proc.returncode} after {t1 - t0:.1f}s: {out.strip()[-200:]}")
            t2 = wait_until(
                lambda: pfx_rcd(vty, net.left_v4) >= have + args.bulk, args.timeout, POLL_INTERVAL, "bulk routes at FRR"
            )
            first_route = first_route or t2
            written = written or t1
            reloads1 = reload_counts(net, METRICS)
            dropped1 = frr_dropped(frr, net.left_v4)
            log("bulk: timing the speaker's reload at this size")
            reloads = [timed_reload(sp.socket)]  # one: ~30 s each at 10k here
            ctl_status = timed([*ctl, "status"])[0]
            speaker_log = sp.log()
            bulk.update({
                "bgplbctl_exit_code": proc.returncode,
                "bgplbctl_message": out.strip().splitlines()[-1] if out.strip() else "",
                "bgplbctl_process_s": round(t1 - t0, 3),
                "bgplbctl_until_last_file_written_s": round(written - t0, 3),
                "bgplbctl_after_last_file_written_s": round(t1 - written, 3),
                "apply_to_first_bulk_route_at_frr_s": round(first_route - t0, 3),
                "apply_to_all_routes_at_frr_s": round(t2 - t0, 3),
                "after_bgplbctl_exit_to_all_at_frr_s": round(t2 - t1, 3),
                "speaker_reload_s_at_this_size": {"runs": len(reloads), "median": round(statistics.median(reloads), 3),
                                                  "max": round(max(reloads), 3)},
                "speaker_reloads_during_bulk_apply": {k: reloads1.get(k, 0) - reloads0.get(k, 0) for k in reloads1},
                "frr_session_drops_during_bulk_apply": dropped1 - dropped0,
                "speaker_log_warnings": [ln for ln in speaker_log.splitlines()
                                         if ln.startswith(("WARNING", "ERROR"))][:5],
                "bgplbctl_status_s_at_this_size": round(ctl_status, 3),
                "services_in_config": args.changes + args.bulk,
                "note": "the speaker's log carries no timings; its reload time is an API `reload` timed from here "
                        "(synchronous on its event loop: re-reads every object file, validates, replans)",
            })  # fmt: skip
        doc = {
            "benchmark": "apply_latency",
            "receiver": "FRR 8.4 bgpd in a network namespace; the real bgplb-speaker daemon in the other",
            "polling": {
                "method": "bgpd vty unix socket, persistent connection (vtysh protocol)",
                "interval_ms": POLL_INTERVAL * 1000,
                "single": "show bgp ipv4 unicast <prefix> json",
                "bulk": "summary json pfxRcd, every 50 ms while bgplbctl runs, then every 5 ms",
                "granularity_ms": round(
                    POLL_INTERVAL * 1000 + base["vty_socket_summary_json_poll"]["median_ms"],  # type: ignore[index]
                    2,
                ),
            },
            "daemon_watch_interval_s": args.watch_interval,
            "baselines": base,
            "single_service_apply": single,
            "speaker_reload_api_at_changes_services": reload_small,
            "bulk_apply": bulk,
        }
    print(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
