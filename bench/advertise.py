"""Benchmark: announce N /32s to an FRR receiver in a namespace, with bgplb, gobgpd and ExaBGP in the same run.

For each sender and size: seconds from the session reaching Established (as FRR sees it) to FRR holding all N,
seconds to withdraw all N, the sender's peak RSS and CPU seconds. Plus the receiver-independent cost of our core:
encoding the full table, and encoding plus sending it over a loopback TCP connection to a discarding reader.
Prints one JSON document; ratios compare bgplb with each peer measured in this run. Needs root (namespaces).

    python3 bench/advertise.py --sizes 10000,100000 [--repeat 3] [--exabgp-max 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "speaker" / "tests"))
sys.path.insert(0, str(HERE))

from harness import FrrRouter, GoBgp, Neighbor, NetnsPair, wait_until  # noqa: E402

FIRST = (100 << 24) | (80 << 16)  # 100.80.0.0
TICK = os.sysconf("SC_CLK_TCK")
POLL = 0.005  # seconds between checks of FRR
FEEDER = "192.0.2.254"  # gobgpd's feeder, on lo in the sender namespace


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


def summary(frr: FrrRouter, peer: str) -> tuple[str, int]:
    p = frr.json("show bgp ipv4 unicast summary json").get("peers", {}).get(peer, {})
    return p.get("state", ""), int(p.get("pfxRcd", 0))


class Sender:
    pid: int
    children = False

    def withdraw(self) -> None: ...
    def close(self) -> None: ...


class Bgplb(Sender):
    def __init__(self, net: NetnsPair, n: int, tmp: Path) -> None:
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


class Gobgpd(Sender):
    """gobgpd, loaded before its session to FRR exists. `gobgp mrt inject` silently loads nothing into gobgpd
    3.10's global RIB (seen here), and one `gobgp global rib add` per prefix takes minutes, so gobgpd learns the table
    from a bgplb feeder on a local address in its namespace; FRR is added as a neighbor only once gobgpd holds all N.
    Its RSS therefore includes the feeder's adj-RIB-in (a cost it would not have with routes added through its API)."""

    def __init__(self, net: NetnsPair, n: int, tmp: Path) -> None:
        net.left.exec("ip", "addr", "add", f"{FEEDER}/32", "dev", "lo")
        self.g = GoBgp(net.left, asn=64512, router_id=net.left_v4,
                       neighbors=[Neighbor(FEEDER, asn=64513, passive=True, families=("ipv4",))]).start()  # fmt: skip
        self.feeder = net.left.popen([sys.executable, str(HERE / "bgplb_sender.py"), "--peer", net.left_v4,
                                      "--source", FEEDER,
                                      "--router-id", "192.0.2.254", "--asn", "64513", "--peer-asn", "64512",
                                      "--count", str(n)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        wait_until(lambda: self._rib_size() >= n, 600, POLL, f"gobgpd: loading {n} prefixes from the feeder")
        self.g.cli("neighbor", "add", net.right_v4, "as", "64500")
        assert self.g.proc is not None
        self.pid = self.g.proc.pid

    def _rib_size(self) -> int:
        out = self.g.cli("global", "rib", "summary", "-a", "ipv4", check=False) or ""
        for word in out.replace(",", " ").split():
            if word.isdigit():
                return int(word)
        return 0

    def withdraw(self) -> None:
        os.kill(self.feeder.pid, signal.SIGUSR1)

    def close(self) -> None:
        self.feeder.terminate()
        self.feeder.wait(timeout=30)
        self.g.__exit__()


class ExaBgp(Sender):
    children = True

    def __init__(self, net: NetnsPair, n: int, tmp: Path) -> None:
        self.trigger = tmp / "withdraw"
        conf = tmp / "exabgp.conf"
        conf.write_text(f"""process feeder {{
    run {sys.executable} {HERE / "exabgp_feeder.py"} {n} {FIRST} {self.trigger};
    encoder text;
}}
neighbor {net.right_v4} {{
    router-id {net.left_v4};
    local-address {net.left_v4};
    local-as 64512;
    peer-as 64500;
    family {{ ipv4 unicast; }}
    api {{ processes [ feeder ]; }}
}}
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


SENDERS: dict[str, type[Sender]] = {"bgplb": Bgplb, "gobgpd": Gobgpd, "exabgp": ExaBgp}


def run_case(name: str, n: int, timeout: float) -> dict[str, object]:
    with (
        NetnsPair() as net,
        FrrRouter(
            net.right,
            asn=64500,
            router_id="10.255.0.1",
            neighbors=[Neighbor(net.left_v4, asn=64512, families=("ipv4",))],
        ) as frr,
        tempfile.TemporaryDirectory(prefix="bgplb-bench-") as tmp,
    ):
        sender = SENDERS[name](net, n, Path(tmp))
        try:
            t0 = wait_until(lambda: summary(frr, net.left_v4)[0] == "Established", 60, POLL, f"{name}: session")
            t1 = wait_until(lambda: summary(frr, net.left_v4)[1] >= n, timeout, POLL, f"{name}: {n} prefixes at FRR")
            stats = proc_stats(sender.pid, sender.children)
            w0 = time.perf_counter()
            sender.withdraw()
            w1 = wait_until(lambda: summary(frr, net.left_v4)[1] == 0, timeout, POLL, f"{name}: withdrawal")
            after = proc_stats(sender.pid, sender.children)
        finally:
            sender.close()
    return {"sender": name, "prefixes": n, "advertise_seconds": round(t1 - t0, 3),
            "withdraw_seconds": round(w1 - w0, 3), "peak_rss_mib": after["peak_rss_mib"],
            "cpu_seconds": after["cpu_seconds"], "cpu_seconds_at_full_table": stats["cpu_seconds"]}  # fmt: skip


def encode_cost(n: int) -> dict[str, float]:
    """Our core without a receiver: build the outbound table and encode it; then also push it through TCP."""
    from bgplb_sender import prefixes

    from bgplb.bgp import wire
    from bgplb.bgp.ribout import AdjRibOut, AttributeEncoder

    table = prefixes(n)
    start = time.perf_counter()
    rib = AdjRibOut()
    rib.set_desired({wire.IPV4_UNICAST: table})
    enc = AttributeEncoder(local_asn=64512, ebgp=True, next_hop_v4="192.0.2.1", next_hops_v6=())
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


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="10000,100000")
    p.add_argument("--senders", default="bgplb,gobgpd,exabgp")
    p.add_argument("--repeat", type=int, default=1, help="runs per case; the median is reported")
    p.add_argument("--exabgp-max", type=int, default=100_000, help="skip ExaBGP above this size (it takes minutes)")
    p.add_argument("--timeout", type=float, default=600)
    args = p.parse_args()
    results: list[dict[str, object]] = []
    skipped = []
    for n in (int(s) for s in args.sizes.split(",")):
        for name in args.senders.split(","):
            if name == "exabgp" and n > args.exabgp_max:
                skipped.append({"sender": name, "prefixes": n, "reason": f"above --exabgp-max {args.exabgp_max}"})
                continue
            runs = []
            for i in range(args.repeat):
                print(f"bench: {name} n={n} run {i + 1}/{args.repeat}", file=sys.stderr, flush=True)
                runs.append(run_case(name, n, args.timeout))
            row = {k: statistics.median(r[k] for r in runs) if isinstance(runs[0][k], float | int) and k != "prefixes"
                   else runs[0][k] for k in runs[0]}  # fmt: skip
            row["runs"] = len(runs)
            results.append(row)
    ratios = []
    for row in results:
        if row["sender"] == "bgplb":
            continue
        ours = next((r for r in results if r["sender"] == "bgplb" and r["prefixes"] == row["prefixes"]), None)
        if ours:
            ratios.append({"vs": row["sender"], "prefixes": row["prefixes"], **{
                f"{k}_ratio": round(ours[k] / row[k], 3) if row[k] else None  # type: ignore[operator]
                for k in ("advertise_seconds", "withdraw_seconds", "peak_rss_mib", "cpu_seconds")}})  # fmt: skip
    sizes = [int(s) for s in args.sizes.split(",")]
    doc = {"benchmark": "advertise", "receiver": "FRR 8.4 bgpd in a network namespace", "results": results,
           "ratios_bgplb_over_peer": ratios, "skipped": skipped,
           "bgplb_core_without_receiver": {n: encode_cost(n) for n in sizes}}  # fmt: skip
    print(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
