"""BIRD 2 in a namespace, one `protocol bgp` per neighbor, read back with `birdc show route all`."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path as FsPath

from harness.frr import Neighbor
from harness.netns import Namespace
from harness.path import Path, wait_for


class Bird:
    def __init__(self, ns: Namespace, *, asn: int, router_id: str, neighbors: list[Neighbor]) -> None:
        self.ns = ns
        self.asn = asn
        self.router_id = router_id
        self.neighbors = neighbors
        self.dir = FsPath(tempfile.mkdtemp(prefix="bgplbt-bird-"))
        self.sock = self.dir / "bird.ctl"
        self.proc: subprocess.Popen[bytes] | None = None

    def config(self) -> str:
        lines = [f"router id {self.router_id};", "protocol device {}", ""]
        for i, n in enumerate(self.neighbors):
            lines += [f"protocol bgp peer{i} {{", f"  local as {self.asn};", f"  neighbor {n.address} as {n.asn};",
                      "  graceful restart on;", "  connect retry time 1;"]  # fmt: skip
            if n.password:
                lines.append(f'  password "{n.password}";')
            if n.passive:
                lines.append("  passive on;")
            if n.ebgp_multihop:
                lines.append(f"  multihop {n.ebgp_multihop};")
            for family in n.families:
                lines.append(f"  {family} {{ import all; export none; }};")
            lines.append("}")
        return "\n".join(lines) + "\n"

    def start(self) -> Bird:
        conf = self.dir / "bird.conf"
        conf.write_text(self.config())
        self.proc = self.ns.popen(
            ["bird", "-f", "-c", str(conf), "-s", str(self.sock), "-P", str(self.dir / "bird.pid")],
            stdout=subprocess.DEVNULL,
            stderr=open(self.dir / "bird.log", "wb"),  # noqa: SIM115 - the child keeps it
        )
        wait_for(lambda: self.birdc("show status", check=False), timeout=15, what="bird control socket")
        return self

    def __enter__(self) -> Bird:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)

    def birdc(self, command: str, check: bool = True) -> str | None:
        result = subprocess.run(["birdc", "-s", str(self.sock), command], capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            if check:
                raise RuntimeError(f"birdc {command}: {result.stderr or result.stdout}")
            return None
        return result.stdout

    def established(self, index: int = 0) -> bool:
        return "Established" in (self.birdc(f"show protocols peer{index}") or "")

    def routes(self, afi: str = "ipv4") -> dict[str, list[Path]]:
        text = self.birdc(f"show route all table master{afi[-1]}") or ""
        return parse_routes(text)


_ROUTE = re.compile(r"^(\S+/\d+)\s+unicast\s+\[(\S+)")


def parse_routes(text: str) -> dict[str, list[Path]]:
    """Parse `show route all` of BIRD 2.0 into paths."""
    routes: dict[str, list[Path]] = {}
    prefix = None
    fields: dict[str, object] | None = None

    def flush() -> None:
        if prefix and fields is not None:
            routes.setdefault(prefix, []).append(Path(**fields))  # type: ignore[arg-type]

    for line in text.splitlines():
        m = _ROUTE.match(line)
        if m or (line.startswith(" ") and "unicast [" in line):
            flush()
            if m:
                prefix = m.group(1)
            fields = {"next_hop": "", "best": "*" in line.split("]")[1][:4], "stale": "stale" in line.lower()}
            continue
        if fields is None:
            continue
        key, _, value = line.strip().partition(": ")
        if key == "BGP.origin":
            fields["origin"] = value.upper()
        elif key == "BGP.as_path":
            fields["as_path"] = tuple(int(a) for a in value.split() if a.isdigit())
        elif key == "BGP.next_hop":
            fields["next_hop"] = value.split()[0]
        elif key == "BGP.med":
            fields["med"] = int(value)
        elif key == "BGP.local_pref":
            fields["local_pref"] = int(value)
        elif key == "BGP.community":
            fields["communities"] = tuple(c.replace(",", ":") for c in re.findall(r"\((\d+,\d+)\)", value))
        elif key == "BGP.large_community":
            fields["large_communities"] = tuple(c.replace(", ", ":") for c in re.findall(r"\((\d+, \d+, \d+)\)", value))
    flush()
    return routes
