"""FRR (zebra + bgpd, Debian's 8.4) in a namespace, with its own config and vty sockets in a temp dir."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any

from harness.netns import Namespace
from harness.path import Path, wait_for

FRR = "/usr/lib/frr"


@dataclass(frozen=True)
class Neighbor:
    address: str
    asn: int
    password: str | None = None
    passive: bool = False
    ebgp_multihop: int | None = None
    ttl_security: int | None = None  # GTSM: `ttl-security hops N`
    families: tuple[str, ...] = ("ipv4", "ipv6")


@dataclass(frozen=True)
class BfdPeer:
    """A bfdd single hop `peer` (intervals in ms)."""

    address: str
    local_address: str
    receive_interval: int = 300
    transmit_interval: int = 300
    detect_multiplier: int = 3
    passive: bool = False

    def config(self) -> list[str]:
        lines = [f" peer {self.address} local-address {self.local_address}",
                 f"  receive-interval {self.receive_interval}", f"  transmit-interval {self.transmit_interval}",
                 f"  detect-multiplier {self.detect_multiplier}"]  # fmt: skip
        if self.passive:
            lines.append("  passive-mode")
        return [*lines, "  no shutdown", " exit"]


class FrrRouter:
    """`with FrrRouter(ns, asn=..., router_id=..., neighbors=[...]) as frr:` starts it; exit stops it."""

    def __init__(
        self,
        ns: Namespace,
        *,
        asn: int,
        router_id: str,
        neighbors: list[Neighbor],
        graceful_restart: bool = True,
        extra: str = "",
        bfd_peers: list[BfdPeer] | None = None,
    ) -> None:
        self.ns = ns
        self.asn = asn
        self.router_id = router_id
        self.neighbors = neighbors
        self.graceful_restart = graceful_restart
        self.extra = extra
        self.bfd_peers = bfd_peers  # not None: bfdd runs too, with these peers
        self.dir = FsPath(tempfile.mkdtemp(prefix="bgplbt-frr-"))
        shutil.chown(self.dir, "frr", "frr")
        self.procs: list[subprocess.Popen[bytes]] = []

    def config(self) -> str:
        lines = ["frr defaults datacenter", "hostname bgplbt", "log stdout informational", "!",
                 f"router bgp {self.asn}", f" bgp router-id {self.router_id}", " no bgp ebgp-requires-policy",
                 " no bgp default ipv4-unicast", " bgp bestpath as-path multipath-relax"]  # fmt: skip
        if self.graceful_restart:
            lines.append(" bgp graceful-restart")
        for n in self.neighbors:
            lines += [f" neighbor {n.address} remote-as {n.asn}", f" neighbor {n.address} timers connect 1"]
            if n.password:
                lines.append(f" neighbor {n.address} password {n.password}")
            if n.passive:
                lines.append(f" neighbor {n.address} passive")
            if n.ebgp_multihop:
                lines.append(f" neighbor {n.address} ebgp-multihop {n.ebgp_multihop}")
            if n.ttl_security:
                lines.append(f" neighbor {n.address} ttl-security hops {n.ttl_security}")
        for family in ("ipv4", "ipv6"):
            lines += [f" address-family {family} unicast", "  maximum-paths 64", "  maximum-paths ibgp 64"]
            lines += [f"  neighbor {n.address} activate" for n in self.neighbors if family in n.families]
            lines.append(" exit-address-family")
        return "\n".join([*lines, self.extra, "!", ""])

    def bfdd_config(self) -> str:
        # state changes logged with ms timestamps: tests read when bfdd declared a peer down
        lines = ["hostname bgplbt", "log stdout informational", "log timestamp precision 3",
                 f"log file {self.dir}/bfdd-ms.log debugging", "debug bfd peer", "bfd"]  # fmt: skip
        for p in self.bfd_peers or []:
            lines += p.config()
        return "\n".join([*lines, "exit", ""])

    def _args(self, daemon: str) -> list[str]:
        conf = self.dir / ("frr.conf" if daemon == "bgpd" else f"{daemon}.conf")
        extra = ["--bfdctl", str(self.dir / "bfdd.sock")] if daemon == "bfdd" else []
        return [f"{FRR}/{daemon}", "-N", self.ns.name, "--vty_socket", str(self.dir), "-z", str(self.dir / "zserv.api"),
                "-i", str(self.dir / f"{daemon}.pid"), "-f", str(conf), "-A", "127.0.0.1",
                "--log", f"file:{self.dir}/{daemon}.log", *extra]  # fmt: skip

    def start(self) -> FrrRouter:
        conf = self.dir / "frr.conf"
        conf.write_text(self.config())
        (self.dir / "zebra.conf").write_text("hostname bgplbt\n")
        files, daemons = ["frr.conf", "zebra.conf"], ["zebra", "bgpd"]
        if self.bfd_peers is not None:
            (self.dir / "bfdd.conf").write_text(self.bfdd_config())
            files.append("bfdd.conf")
            daemons.append("bfdd")
        for f in files:
            shutil.chown(self.dir / f, "frr", "frr")
        for daemon in daemons:
            self.procs.append(self.ns.popen(self._args(daemon), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            wait_for(lambda d=daemon: (self.dir / f"{d}.vty").exists(), timeout=15, what=f"FRR {daemon} to start")
        wait_for(lambda: self.vtysh("show bgp summary json", check=False) is not None, timeout=15, what="vtysh")
        return self

    def __enter__(self) -> FrrRouter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
        self.procs.clear()

    def log(self) -> str:
        return "".join(p.read_text(errors="replace") for p in sorted(self.dir.glob("*.log")))

    # --- reading state ---------------------------------------------------------------------------------------------
    def vtysh(self, *commands: str, check: bool = True) -> str | None:
        args = ["vtysh", "--vty_socket", str(self.dir)]
        for c in commands:
            args += ["-c", c]
        result = subprocess.run(args, capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            if check:
                raise RuntimeError(f"vtysh {commands}: {result.stderr or result.stdout}")
            return None
        return result.stdout

    def json(self, command: str) -> Any:
        return json.loads(self.vtysh(command) or "{}")

    def neighbor(self, address: str) -> dict[str, Any]:
        """FRR's view of one neighbor: state (`bgpState`), uptime (`bgpTimerUpMsec`), prefix counts."""
        return self.json(f"show bgp neighbors {address} json").get(address, {})

    def bfd_peer(self, address: str) -> dict[str, Any]:
        """bfdd's view of one peer: `status` (up/down/init), `diagnostic`, negotiated and remote intervals (ms)."""
        peers = self.json("show bfd peers json")
        return next((p for p in peers if p.get("peer") == address), {}) if isinstance(peers, list) else {}

    def established(self, address: str) -> bool:
        return self.neighbor(address).get("bgpState") == "Established"

    def uptime_ms(self, address: str) -> int:
        return int(self.neighbor(address).get("bgpTimerUpMsec", 0))

    def prefix_count(self, address: str, afi: str = "ipv4") -> int:
        """Prefixes accepted from a neighbor (cheap even with a million routes)."""
        peers = self.json(f"show bgp {afi} unicast summary json").get("peers", {})
        return int(peers.get(address, {}).get("pfxRcd", 0))

    def routes(self, afi: str = "ipv4") -> dict[str, list[Path]]:
        """Every path FRR holds, with attributes (reads per-prefix detail: for small tables)."""
        table = self.json(f"show bgp {afi} unicast json").get("routes", {})
        return {prefix: self.paths(prefix, afi) for prefix in table}

    def paths(self, prefix: str, afi: str = "ipv4") -> list[Path]:
        detail = self.json(f"show bgp {afi} unicast {prefix} json")
        out = []
        for p in detail.get("paths", []):
            hops = p.get("nexthops", [])
            as_path = p.get("aspath", {}).get("string", "")
            out.append(
                Path(
                    next_hop=hops[0]["ip"] if hops else "",
                    as_path=tuple(int(a) for a in as_path.split() if a.isdigit()),
                    origin=p.get("origin", "").upper(),
                    med=p.get("metric"),
                    local_pref=p.get("locPrf", p.get("localpref")),
                    communities=tuple(p.get("community", {}).get("string", "").split()),
                    large_communities=tuple(p.get("largeCommunity", {}).get("string", "").split()),
                    stale=bool(p.get("stale")),
                    best=bool(p.get("bestpath", {}).get("overall")),
                    multipath=bool(p.get("multipath")),
                    peer=p.get("peer", {}).get("peerId", ""),
                )
            )
        return out
