"""GoBGP (Debian's gobgpd) in a namespace: TOML config, the `gobgp` CLI with JSON output to read its state."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path as FsPath
from typing import Any

from harness.frr import Neighbor
from harness.netns import Namespace
from harness.path import Path, wait_for

API = "127.0.0.1:50051"
_ORIGINS = {0: "IGP", 1: "EGP", 2: "INCOMPLETE"}


class GoBgp:
    def __init__(self, ns: Namespace, *, asn: int, router_id: str, neighbors: list[Neighbor]) -> None:
        self.ns = ns
        self.asn = asn
        self.router_id = router_id
        self.neighbors = neighbors
        self.dir = FsPath(tempfile.mkdtemp(prefix="bgplbt-gobgp-"))
        self.proc: subprocess.Popen[bytes] | None = None

    def config(self) -> str:
        lines = ["[global.config]", f"  as = {self.asn}", f'  router-id = "{self.router_id}"', ""]
        for n in self.neighbors:
            lines += ["[[neighbors]]", "  [neighbors.config]", f'    neighbor-address = "{n.address}"',
                      f"    peer-as = {n.asn}"]  # fmt: skip
            if n.password:
                lines.append(f'    auth-password = "{n.password}"')
            lines += ["  [neighbors.timers.config]", "    connect-retry = 1"]
            lines += ["  [neighbors.transport.config]", f"    passive-mode = {str(n.passive).lower()}"]
            if n.ebgp_multihop:
                lines += [
                    "  [neighbors.ebgp-multihop.config]",
                    "    enabled = true",
                    f"    multihop-ttl = {n.ebgp_multihop}",
                ]
            lines += ["  [neighbors.graceful-restart.config]", "    enabled = true"]
            for family in n.families:
                lines += ["  [[neighbors.afi-safis]]", "    [neighbors.afi-safis.config]",
                          f'      afi-safi-name = "{family}-unicast"',
                          "    [neighbors.afi-safis.mp-graceful-restart.config]", "      enabled = true"]  # fmt: skip
            lines.append("")
        return "\n".join(lines)

    def start(self) -> GoBgp:
        conf = self.dir / "gobgpd.toml"
        conf.write_text(self.config())
        self.log_file = open(self.dir / "gobgpd.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = self.ns.popen(
            ["gobgpd", "-f", str(conf), "--api-hosts", API, "--pprof-disable", "-p", "-l", "info"],
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
        )
        wait_for(lambda: self.cli("global", check=False) is not None, timeout=15, what="gobgpd API")
        return self

    def __enter__(self) -> GoBgp:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        if self.proc:
            self.log_file.close()
        self.proc = None

    def log(self) -> str:
        return (self.dir / "gobgpd.log").read_text(errors="replace")

    def cli(self, *args: str, check: bool = True) -> str | None:
        result = self.ns.exec("gobgp", "-u", "127.0.0.1", "-p", "50051", *args, check=False, timeout=120)
        if result.returncode != 0:
            if check:
                raise RuntimeError(f"gobgp {' '.join(args)}: {result.stderr or result.stdout}")
            return None
        return result.stdout

    def neighbor(self, address: str) -> dict[str, Any]:
        return json.loads(self.cli("neighbor", address, "-j") or "{}")

    def established(self, address: str) -> bool:
        return self.neighbor(address).get("state", {}).get("session_state") == 6

    def routes(self, address: str, afi: str = "ipv4") -> dict[str, list[Path]]:
        """The adj-RIB-in from one neighbor, with attributes."""
        table = json.loads(self.cli("neighbor", address, "adj-in", "-a", afi, "-j") or "{}")
        return {prefix: [_path(p) for p in paths] for prefix, paths in table.items()}


def _path(p: dict[str, Any]) -> Path:
    fields: dict[str, Any] = {"next_hop": "", "peer": p.get("neighbor-ip", ""), "stale": bool(p.get("stale"))}
    for attr in p.get("attrs", []):
        kind = attr.get("type")
        if kind == 1:
            fields["origin"] = _ORIGINS[attr["value"]]
        elif kind == 2:
            fields["as_path"] = tuple(a for seg in attr.get("as_paths", []) for a in seg.get("asns", []))
        elif kind == 3:
            fields["next_hop"] = attr["nexthop"]
        elif kind == 4:
            fields["med"] = attr["metric"]
        elif kind == 5:
            fields["local_pref"] = attr["value"]
        elif kind == 8:
            fields["communities"] = tuple(_community(c) for c in attr["communities"])
        elif kind == 14:
            fields["next_hop"] = attr["nexthop"]
        elif kind == 32:
            fields["large_communities"] = tuple(
                f"{c['ASN']}:{c['LocalData1']}:{c['LocalData2']}" for c in attr["value"]
            )
    return Path(**fields)


def _community(value: int) -> str:
    return f"{value >> 16}:{value & 0xFFFF}"
