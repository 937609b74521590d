"""A router namespace with a bridge, N node namespaces on it, and a veth from the test's own (host) namespace to the
router, so that processes in the host namespace (a kube-apiserver) are reachable from the nodes.

    router: bridge 100.66.N.1/24 + fd00:66:N::1/64; nodes 100.66.N.11, .12, ...; host 100.67.N.1 <-> router .2
Everything is removed on exit (deleting the namespaces removes their links, the host's veth end included).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import tempfile

from harness.netns import PREFIX, Namespace, run, sweep

_counter = itertools.count(1)


class Lan:
    def __init__(self, nodes: int) -> None:
        n = next(_counter) % 250
        base = f"{PREFIX}{os.getpid()}-lan{n}"
        self.router = Namespace(f"{base}-r")
        self.nodes = [Namespace(f"{base}-n{i + 1}") for i in range(nodes)]
        self.router_v4, self.router_v6 = f"100.66.{n}.1", f"fd00:66:{n}::1"
        self.node_v4 = [f"100.66.{n}.{11 + i}" for i in range(nodes)]
        self.node_v6 = [f"fd00:66:{n}::{11 + i:x}" for i in range(nodes)]
        self.host_v4, self.host_peer_v4 = f"100.67.{n}.1", f"100.67.{n}.2"
        self.subnet = f"100.66.{n}.0/24"
        self.host_link = f"bgplbk{os.getpid() % 100000}{n}"[:15]

    def __enter__(self) -> Lan:
        sweep()
        try:
            self._build()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _build(self) -> None:
        r = self.router
        for ns in (r, *self.nodes):
            run(["ip", "netns", "add", ns.name])
            ns.exec("ip", "link", "set", "lo", "up")
        r.exec("ip", "link", "add", "br0", "type", "bridge")
        r.exec("ip", "addr", "add", f"{self.router_v4}/24", "dev", "br0")
        r.exec("ip", "addr", "add", f"{self.router_v6}/64", "dev", "br0", "nodad")
        r.exec("ip", "link", "set", "br0", "up")
        r.exec("sysctl", "-qw", "net.ipv4.ip_forward=1")
        for i, ns in enumerate(self.nodes):
            run(
                [
                    "ip",
                    "link",
                    "add",
                    f"p{i}",
                    "netns",
                    r.name,
                    "type",
                    "veth",
                    "peer",
                    "name",
                    "eth0",
                    "netns",
                    ns.name,
                ]
            )
            r.exec("ip", "link", "set", f"p{i}", "master", "br0", "up")
            ns.exec("ip", "addr", "add", f"{self.node_v4[i]}/24", "dev", "eth0")
            ns.exec("ip", "addr", "add", f"{self.node_v6[i]}/64", "dev", "eth0", "nodad")
            ns.exec("ip", "link", "set", "eth0", "up")
            ns.exec("ip", "route", "add", "default", "via", self.router_v4)
        run(["ip", "link", "add", self.host_link, "type", "veth", "peer", "name", "up0", "netns", r.name])
        run(["ip", "addr", "add", f"{self.host_v4}/30", "dev", self.host_link])
        run(["ip", "link", "set", self.host_link, "up"])
        run(["ip", "route", "replace", self.subnet, "via", self.host_peer_v4, "dev", self.host_link])
        r.exec("ip", "addr", "add", f"{self.host_peer_v4}/30", "dev", "up0")
        r.exec("ip", "link", "set", "up0", "up")

    def cut_host(self, cut: bool) -> None:
        """Drop (or let through again) everything between the nodes and the host namespace, silently."""
        if not cut:
            self.router.exec("nft", "delete table inet bgplbt-cut")
            return
        rules = (
            "table inet bgplbt-cut {\n chain cut {\n  type filter hook forward priority 0; policy accept;\n"
            '  iifname "up0" drop\n  oifname "up0" drop\n }\n}\n'
        )
        with tempfile.NamedTemporaryFile("w", suffix=".nft") as f:
            f.write(rules)
            f.flush()
            self.router.exec("nft", "-f", f.name)

    def __exit__(self, *exc: object) -> None:
        for ns in (self.router, *self.nodes):
            ns.kill_all()
            run(["ip", "netns", "del", ns.name], check=False)
        with contextlib.suppress(Exception):
            run(["ip", "link", "del", self.host_link], check=False)
