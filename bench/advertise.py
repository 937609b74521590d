"""Benchmark: announce N /32s to an FRR receiver in a namespace, then withdraw them, with bgplb, gobgpd and ExaBGP
in the same run.

Senders (each labelled in the output with what it is and how its routes get in):
  bgplb-daemon   the real `bgplb-speaker` daemon: N services (and their pool and advertisement) are objects in its
                 config before it starts; once it runs, the FRR peer is added with `bgplbctl apply` (a reload at
                 that size); withdraw = `drain` with wait 0 on its API socket
  bgplb-core     bench/bgplb_sender.py, a harness on the code below the planner (Speaker, AdjRibOut, codec): the
                 table is handed to it in memory; withdraw = an empty table (SIGUSR1)
  gobgpd         gobgpd 3.10; N paths loaded into its global RIB through its API (`gobgp mrt inject global`) before
                 FRR is a neighbor, then `gobgp neighbor add`; withdraw = `gobgp global rib del all` (its API)
  exabgp-static  ExaBGP 5.0 with the N routes in its static config (parsed before the session); withdraw = its API
                 process writing `withdraw` text
  exabgp-api     ExaBGP 5.0 with the N routes written as API text by its process (parsed inside the window)

For each sender and size: seconds from the session reaching Established (as FRR sees it) to FRR holding all N;
seconds from the withdraw command to FRR holding none (only gobgpd/bgplb/ExaBGP -> FRR: nothing else sends
anything in that window); peak RSS; CPU seconds from adding the peer to the full table at FRR, and for the withdraw.
A run counts only if FRR saw the session stay Established from the first route to the last withdrawal (no drop,
no re-establishment). FRR is polled over a persistent vty socket (bench/frrvty.py, the poller of apply_latency.py),
the same for every sender. Repeats are interleaved round-robin (run 1 of every sender, then run 2, ...), each run
starting at a different sender. Prints one JSON document (progress on stderr). Needs root (namespaces).

    python3 bench/advertise.py --sizes 10000,100000 [--repeat 3] [--senders bgplb-daemon,gobgpd,...]
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "speaker" / "tests"))
sys.path.insert(0, str(HERE))

from frrvty import Vty  # noqa: E402

from bgplb.ctl.client import SpeakerUnreachable, call  # noqa: E402
from harness import FrrRouter, GoBgp, Neighbor, NetnsPair, Speaker, wait_for, wait_until  # noqa: E402

FIRST = (100 << 24) | (80 << 16)  # 100.80.0.0
TICK = os.sysconf("SC_CLK_TCK")
POLL = 0.005  # seconds between polls of FRR
SENDER_ASN, FRR_ASN = 64512, 64500


def log(msg: str) -> None:
    print(f"advertise: {msg}", file=sys.stderr, flush=True)


def proc_stats(pid: int, with_children: bool = False) -> dict[str, float]:
    """Peak RSS (MiB) and CPU seconds of a process (and its children, for ExaBGP's API process)."""
    pids = [pid]
    if with_children:
        pids += [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    rss = cpu = 0.0
    for p in pids:
        status = Path(f"/proc/{p}/status").read_text()
        rss += int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM"))) / 1024
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        cpu += (int(fields[11]) + int(fields[12])) / TICK
    return {"peak_rss_mib": round(rss, 1), "cpu_seconds": round(cpu, 2)}


def address(i: int) -> str:
    return str(ipaddress.IPv4Address(FIRST + i))


class Sender:
    """Set up in __init__ (routes loaded); `add_peer` adds FRR as its peer without waiting for the session and
    records `cpu_at_peer_add`, the CPU used before that (0 for a sender whose process start is the peer add)."""

    label = ""
    pid: int
    children = False
    cpu_at_peer_add = 0.0

    def add_peer(self) -> None: ...
    def check(self) -> None:
        """Raise if the peer add failed (called once the table is at FRR)."""

    def withdraw(self) -> None: ...
    def close(self) -> None: ...


class BgplbCore(Sender):
    label = "bgplb core below the planner (bench/bgplb_sender.py): table in memory, withdraw = empty table"

    def __init__(self, net: NetnsPair, n: int, tmp: Path) -> None:
        self.net, self.n, self.tmp = net, n, tmp

    def add_peer(self) -> None:
        net, n, tmp = self.net, self.n, self.tmp
        self.log = (tmp / "bgplb.log").open("wb")
        self.proc = net.left.popen([sys.executable, str(HERE / "bgplb_sender.py"), "--peer", net.right_v4,
                                    "--router-id", net.left_v4, "--count", str(n)],
                                   stdout=subprocess.DEVNULL, stderr=self.log)  # fmt: skip
        self.pid = self.proc.pid

    def withdraw(self) -> None:
        os.kill(self.pid, signal.SIGUSR1)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.log.close()


class BgplbDaemon(Sender):
    label = ("bgplb-speaker daemon: N service objects in its config, then the peer added with `bgplbctl apply`; "
             "withdraw = API `drain` with wait 0")  # fmt: skip

    def __init__(self, net: NetnsPair, n: int, tmp: Path) -> None:
        config = {
            "node": {"name": "bench", "router_id": net.left_v4, "asn": SENDER_ASN},
            "pools": [{"name": "bench", "addresses": [f"{address(0)}/12"]}],
            "advertisements": [{"name": "all", "pools": ["bench"]}],
            "services": [{"name": f"s{i}", "address": address(i)} for i in range(n)],
        }
        self.sp = Speaker(net.left, config, "--watch-interval", "1").start()
        assert self.sp.proc is not None
        self.pid = self.sp.proc.pid
        wait_until(self._loaded, 600, 0.1, "bgplb-speaker: config with the services loaded")
        peer = tmp / "peer.yaml"
        peer.write_text(yaml.safe_dump({"kind": "peer", "name": "frr", "address": net.right_v4, "asn": FRR_ASN,
                                        "connect_time": 1}))  # fmt: skip
        self.ctl = [sys.executable, "-m", "bgplb.ctl", "--config-dir", str(self.sp.config_dir), "--socket",
                    str(self.sp.socket), "apply", "-f", str(peer)]  # fmt: skip

    def add_peer(self) -> None:
        self.cpu_at_peer_add = proc_stats(self.pid)["cpu_seconds"]
        self.apply = subprocess.Popen(self.ctl, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def check(self) -> None:
        out, _ = self.apply.communicate(timeout=600)
        if self.apply.returncode != 0:
            raise RuntimeError(f"bgplbctl apply (peer) exited {self.apply.returncode}: {out}")

    def _loaded(self) -> bool:
        try:
            call(str(self.sp.socket), "status", timeout=60)
        except (OSError, RuntimeError, SpeakerUnreachable):
            if self.sp.proc is not None and self.sp.proc.poll() is not None:
                raise RuntimeError(f"bgplb-speaker exited: {self.sp.log()[-2000:]}") from None
            return False
        return True

    def withdraw(self) -> None:
        call(str(self.sp.socket), "drain", timeout=60, wait=0)

    def close(self) -> None:
        self.sp.__exit__()


def write_mrt(path: Path, n: int, copies: int = 2) -> None:
    """A TABLE_DUMP_V2 file (RFC 6396) of N /32s from one peer, origin IGP, empty AS_PATH, next hop 0.0.0.0.
    The table is written `copies` times: `gobgp mrt inject` (3.10) drops the last few hundred to thousand entries of
    a file (its stream closes before its queue is sent; seen here), so the second copy is what gets cut."""

    def record(subtype: int, body: bytes) -> bytes:
        return struct.pack("!IHHI", 0, 13, subtype, len(body)) + body

    peer_id = socket.inet_aton("192.0.2.1")
    peers = struct.pack("!4sHH", peer_id, 0, 1) + struct.pack("!B4s4sI", 2, peer_id, peer_id, SENDER_ASN)
    attrs = bytes([0x40, 1, 1, 0, 0x40, 2, 0, 0x40, 3, 4, 0, 0, 0, 0])
    entry = struct.pack("!HIH", 0, 0, len(attrs)) + attrs  # peer index 0, originated at 0
    with path.open("wb") as f:
        f.write(record(1, peers))
        seq = 0
        for _ in range(copies):
            for i in range(n):
                f.write(record(2, struct.pack("!IB", seq, 32) + (FIRST + i).to_bytes(4, "big") + b"\x00\x01" + entry))
                seq += 1


class Gobgpd(Sender):
    label = ("gobgpd 3.10: N paths in its global RIB through its API (`gobgp mrt inject global`) before FRR is "
             "added with `gobgp neighbor add`; withdraw = `gobgp global rib del all`")  # fmt: skip

    def __init__(self, net: NetnsPair, n: int, tmp: Path) -> None:
        self.g = GoBgp(net.left, asn=SENDER_ASN, router_id=net.left_v4, neighbors=[]).start()
        assert self.g.proc is not None
        self.pid = self.g.proc.pid
        mrt = tmp / "table.mrt"
        write_mrt(mrt, n)
        inject = ["gobgp", "-u", "127.0.0.1", "-p", "50051", "mrt", "inject", "global", str(mrt)]
        r = net.left.exec(*inject, check=False, timeout=1800)  # minutes at 1M (the harness' cli allows 2)
        if r.returncode != 0:
            raise RuntimeError(f"gobgp mrt inject: {r.stderr or r.stdout}")
        wait_until(lambda: self._rib_size() >= n, 600, 0.2, f"gobgpd: {n} paths in its global RIB")
        if (size := self._rib_size()) != n:
            raise RuntimeError(f"gobgpd holds {size} paths, wanted {n}")
        self.frr = net.right_v4

    def add_peer(self) -> None:
        self.cpu_at_peer_add = proc_stats(self.pid)["cpu_seconds"]
        self.g.cli("neighbor", "add", self.frr, "as", str(FRR_ASN))

    def _rib_size(self) -> int:
        out = self.g.cli("global", "rib", "summary", "-a", "ipv4", check=False) or ""
        for word in out.replace(",", " ").split():
            if word.isdigit():
                return int(word)
        return 0

    def withdraw(self) -> None:
        self.g.cli("global", "rib", "-a", "ipv4", "del", "all")

    def close(self) -> None:
        self.g.__exit__()


class ExaBgp(Sender):
    children = True
    static = False
    label = "ExaBGP 5.0.15: routes written as API text by its process (parsed inside the window)"

    def __init__(self, net: NetnsPair, n: int, tmp: Path) -> None:
        self.net, self.n, self.tmp = net, n, tmp

    def add_peer(self) -> None:
        net, n, tmp = self.net, self.n, self.tmp
        self.trigger = tmp / "withdraw"
        routes = ""
        if self.static:
            routes = "    static {\n" + "".join(f"        route {address(i)}/32 next-hop self;\n"
                                                for i in range(n)) + "    }\n"  # fmt: skip
        conf = tmp / "exabgp.conf"
        conf.write_text(f"""process feeder {{
    run {sys.executable} {HERE / "exabgp_feeder.py"} {n} {FIRST} {self.trigger}{" --withdraw-only" * self.static};
    encoder text;
}}
neighbor {net.right_v4} {{
    router-id {net.left_v4};
    local-address {net.left_v4};
    local-as {SENDER_ASN};
    peer-as {FRR_ASN};
    family {{ ipv4 unicast; }}
    api {{ processes [ feeder ]; }}
{routes}}}
""")
        env = {**os.environ, "exabgp.api.ack": "false", "exabgp.api.cli": "false", "exabgp.daemon.user": "root",
               "exabgp.daemon.drop": "false", "exabgp.log.level": "ERROR", "exabgp.tcp.bind": ""}  # fmt: skip
        exabgp = str(Path(sys.executable).with_name("exabgp"))
        self.log = (tmp / "exabgp.log").open("wb")
        self.proc = net.left.popen([exabgp, "server", str(conf)], env=env, stdout=self.log,
                                   stderr=subprocess.STDOUT)  # fmt: skip
        self.pid = self.proc.pid

    def withdraw(self) -> None:
        self.trigger.touch()

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


class ExaBgpStatic(ExaBgp):
    static = True
    label = ("ExaBGP 5.0.15: routes in its static config (parsed before the session); withdraw = API text from "
             "its process")  # fmt: skip


SENDERS: dict[str, type[Sender]] = {"bgplb-daemon": BgplbDaemon, "bgplb-core": BgplbCore, "gobgpd": Gobgpd,
                                    "exabgp-static": ExaBgpStatic, "exabgp-api": ExaBgp}  # fmt: skip


def established(vty: Vty, peer: str) -> tuple[float, int] | None:
    """(now, FRR's uptime of the session in ms) once FRR has it Established."""
    row = vty.peer(peer)
    now = time.perf_counter()
    return (now, int(row.get("peerUptimeMsec", 0))) if row.get("state") == "Established" else None


def run_case(name: str, n: int, timeout: float) -> dict[str, Any]:
    with (
        NetnsPair() as net,
        FrrRouter(net.right, asn=FRR_ASN, router_id="10.255.0.1",
                  neighbors=[Neighbor(net.left_v4, asn=SENDER_ASN, families=("ipv4",))]) as frr,
        tempfile.TemporaryDirectory(prefix="bgplb-bench-") as tmp,
        Vty(frr.dir / "bgpd.vty") as vty,
    ):  # fmt: skip
        peer = net.left_v4
        sender = SENDERS[name](net, n, Path(tmp))
        try:
            sender.add_peer()
            # polled from the peer add on, so Established is seen within a poll of it (FRR's own uptime counts
            # whole seconds: kept only to show that no run saw the session late)
            t0, uptime_ms = wait_for(lambda: established(vty, peer), 600, POLL, f"{name}: session")
            cpu_est = proc_stats(sender.pid, sender.children)["cpu_seconds"]
            t1 = wait_until(lambda: int(vty.peer(peer).get("pfxRcd", 0)) >= n, timeout, POLL, f"{name}: {n} at FRR")
            full = proc_stats(sender.pid, sender.children)
            sender.check()
            before = vty.neighbor(peer)
            w0 = time.perf_counter()
            sender.withdraw()
            left_established = False
            while True:
                row = vty.peer(peer)
                if row.get("state") != "Established":
                    left_established = True
                if int(row.get("pfxRcd", 0)) == 0:
                    break
                if time.perf_counter() - w0 > timeout:
                    raise TimeoutError(f"{name}: withdrawal of {n} at FRR")
                time.sleep(POLL)
            w1 = time.perf_counter()
            after = proc_stats(sender.pid, sender.children)
            end = vty.neighbor(peer)
        finally:
            sender.close()
    drops = int(end.get("connectionsDropped", 0)) - int(before.get("connectionsDropped", 0))
    ups = int(end.get("connectionsEstablished", 0)) - int(before.get("connectionsEstablished", 0))
    stayed = not left_established and drops == 0 and ups == 0 and end.get("bgpState") == "Established"
    return {
        "sender": name,
        "prefixes": n,
        "advertise_seconds": round(t1 - t0, 3),
        "withdraw_seconds": round(w1 - w0, 3),
        "withdraw_counted": stayed,
        "frr_uptime_ms_when_established_seen": uptime_ms,
        "session_drops_during_withdraw": drops,
        "peak_rss_mib": after["peak_rss_mib"],
        "cpu_seconds_peer_add_to_full_table": round(full["cpu_seconds"] - sender.cpu_at_peer_add, 2),
        "cpu_seconds_established_to_full_table": round(full["cpu_seconds"] - cpu_est, 2),
        "cpu_seconds_withdraw": round(after["cpu_seconds"] - full["cpu_seconds"], 2),
        "cpu_seconds_before_peer_add": round(sender.cpu_at_peer_add, 2),
    }


MEDIANS = ("advertise_seconds", "withdraw_seconds", "peak_rss_mib", "cpu_seconds_peer_add_to_full_table",
           "cpu_seconds_established_to_full_table", "cpu_seconds_withdraw", "cpu_seconds_before_peer_add")  # fmt: skip


def summarise(name: str, n: int, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the runs; the withdraw median only over runs whose session stayed Established."""
    counted = [r for r in runs if r["withdraw_counted"]]
    row: dict[str, Any] = {"sender": name, "label": SENDERS[name].label, "prefixes": n, "runs": len(runs),
                           "withdraw_runs_counted": len(counted)}  # fmt: skip
    for k in MEDIANS:
        pool = counted if k in ("withdraw_seconds", "cpu_seconds_withdraw") else runs
        row[k] = round(statistics.median(r[k] for r in pool), 3) if pool else None
    row["each_run"] = runs
    return row


def encode_cost(n: int) -> dict[str, float]:
    """Our core without a receiver: build the outbound table and encode it; then also push it through TCP."""
    from bgplb_sender import prefixes

    from bgplb.bgp import wire
    from bgplb.bgp.ribout import AdjRibOut, AttributeEncoder

    table = prefixes(n)
    start = time.perf_counter()
    rib = AdjRibOut()
    rib.set_desired({wire.IPV4_UNICAST: table})
    enc = AttributeEncoder(local_asn=SENDER_ASN, ebgp=True, next_hop_v4="192.0.2.1", next_hops_v6=())
    messages = rib.flush(enc, (wire.IPV4_UNICAST,), wire.MAX_MESSAGE_LEN)
    encoded = time.perf_counter()
    server = socket.create_server(("127.0.0.1", 0))
    received = [0]

    def drain() -> None:
        conn, _ = server.accept()
        while chunk := conn.recv(1 << 20):
            received[0] += len(chunk)
        conn.close()

    reader = threading.Thread(target=drain)
    reader.start()
    client = socket.create_connection(server.getsockname())
    sent_start = time.perf_counter()
    client.sendall(b"".join(messages))
    client.close()
    reader.join()
    server.close()
    done = time.perf_counter()
    return {"encode_seconds": round(encoded - start, 4),
            "encode_and_send_seconds": round(encoded - start + done - sent_start, 4),
            "bytes": received[0], "messages": len(messages)}  # fmt: skip


def ratios(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for ours_name in ("bgplb-daemon", "bgplb-core"):
        for row in results:
            if row["sender"].startswith("bgplb"):
                continue
            ours = next((r for r in results if r["sender"] == ours_name and r["prefixes"] == row["prefixes"]), None)
            if not ours:
                continue
            out.append({"ours": ours_name, "vs": row["sender"], "prefixes": row["prefixes"], **{
                f"{k}_ratio": round(ours[k] / row[k], 3) if ours[k] is not None and row[k] else None
                for k in ("advertise_seconds", "withdraw_seconds", "peak_rss_mib",
                          "cpu_seconds_peer_add_to_full_table", "cpu_seconds_withdraw")}})  # fmt: skip
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="10000,100000")
    p.add_argument("--senders", default=",".join(SENDERS))
    p.add_argument("--repeat", type=int, default=3, help="runs per case, interleaved; the median is reported")
    p.add_argument("--exabgp-max", type=int, default=100_000, help="leave ExaBGP out above this size")
    p.add_argument("--timeout", type=float, default=600)
    args = p.parse_args()
    senders = args.senders.split(",")
    unknown = set(senders) - set(SENDERS)
    if unknown:
        p.error(f"unknown senders {sorted(unknown)}; known: {list(SENDERS)}")
    sizes = [int(s) for s in args.sizes.split(",")]
    results: list[dict[str, Any]] = []
    left_out = []
    started = time.time()
    load_before = os.getloadavg()
    for n in sizes:
        here = [s for s in senders if not (s.startswith("exabgp") and n > args.exabgp_max)]
        left_out += [{"sender": s, "prefixes": n, "reason": f"above --exabgp-max {args.exabgp_max}"}
                     for s in senders if s not in here]  # fmt: skip
        runs: dict[str, list[dict[str, Any]]] = {s: [] for s in here}
        for i in range(args.repeat):
            order = here[i % len(here) :] + here[: i % len(here)]
            for name in order:
                log(f"{name} n={n} run {i + 1}/{args.repeat} (load {os.getloadavg()[0]:.1f})")
                r = run_case(name, n, args.timeout)
                log(f"  advertise {r['advertise_seconds']}s withdraw {r['withdraw_seconds']}s"
                    f" counted={r['withdraw_counted']} rss {r['peak_rss_mib']} MiB")  # fmt: skip
                r["run"] = i + 1
                r["load_1min"] = round(os.getloadavg()[0], 2)
                runs[name].append(r)
        results += [summarise(name, n, runs[name]) for name in here]
    doc = {
        "benchmark": "advertise",
        "receiver": "FRR 8.4 bgpd in a network namespace, polled over a persistent vty socket every "
        f"{POLL * 1000:g} ms",
        "repeats": args.repeat,
        "order": "interleaved round-robin: run i of every sender before run i+1, each run starting one sender later",
        "machine": {
            "cpus": os.cpu_count(),
            "load_1_5_15_at_start": [round(x, 2) for x in load_before],
            "load_1_5_15_at_end": [round(x, 2) for x in os.getloadavg()],
            "wall_seconds": round(time.time() - started),
        },
        "results": results,
        "ratios_bgplb_over_peer": ratios(results),
        "left_out": left_out,
        "bgplb_core_without_receiver": {n: encode_cost(n) for n in sizes},
    }
    print(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
