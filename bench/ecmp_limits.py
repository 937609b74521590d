"""Experiment: how wide an ECMP route can be here, at each layer (FRR's CLI, the kernel's next-hop groups).

- FRR: the largest `maximum-paths` that `vtysh --dryrun` accepts (the CLI range is 1-MULTIPATH_NUM of the build).
- Kernel: in a fresh namespace, N single next hops (iproute2), then groups of N members sent over rtnetlink
  directly (iproute2's own request buffer stops near 120 members, which is a tool limit, not the kernel's): plain
  (hash-threshold) groups and resilient groups with B buckets, and a route using each group.
- Resilient buckets: the bucket counts the kernel accepts (NHA_RES_GROUP_BUCKETS is 16 bits) and whether it accepts
  fewer buckets than members.
Prints one JSON document. Needs root.

    python3 bench/ecmp_limits.py
"""

from __future__ import annotations

import json
import os
import platform
import socket
import struct
import subprocess
import sys
import tempfile

NS = f"bgplbt-{os.getpid()}-ecmp"
RTM_NEWNEXTHOP, RTM_NEWROUTE, NLMSG_ERROR = 104, 24, 2
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 1, 4, 0x200, 0x400
NHA_ID, NHA_GROUP, NHA_GROUP_TYPE, NHA_RES_GROUP, NHA_RES_GROUP_BUCKETS = 1, 2, 3, 12, 1
RTA_DST, RTA_NH_ID = 1, 30
NLA_F_NESTED = 0x8000


def attr(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * ((4 - length % 4) % 4)


class Netlink:
    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)  # NETLINK_ROUTE
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 22)
        self.sock.bind((0, 0))
        self.seq = 0

    def request(self, kind: int, body: bytes) -> int:
        """Send one create request; 0 or the kernel's -errno."""
        self.seq += 1
        flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_EXCL | NLM_F_CREATE
        self.sock.send(struct.pack("=IHHII", 16 + len(body), kind, flags, self.seq, 0) + body)
        data = self.sock.recv(1 << 16)
        _, mtype, _, _, _ = struct.unpack("=IHHII", data[:16])
        assert mtype == NLMSG_ERROR, mtype
        return struct.unpack("=i", data[16:20])[0]

    def group(self, nh_id: int, members: range, buckets: int | None = None) -> int:
        body = struct.pack("=BBBBI", socket.AF_UNSPEC, 0, 0, 0, 0) + attr(NHA_ID, struct.pack("=I", nh_id))
        body += attr(NHA_GROUP, b"".join(struct.pack("=IBBH", m, 1, 0, 0) for m in members))
        if buckets is not None:
            body += attr(NHA_GROUP_TYPE, struct.pack("=H", 1))  # NEXTHOP_GRP_TYPE_RES
            body += attr(NHA_RES_GROUP | NLA_F_NESTED, attr(NHA_RES_GROUP_BUCKETS, struct.pack("=H", buckets)))
        return self.request(RTM_NEWNEXTHOP, body)

    def route(self, dst: str, nh_id: int) -> int:
        # rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type; flags
        body = struct.pack("=BBBBBBBBI", socket.AF_INET, 32, 0, 0, 254, 3, 0, 1, 0)
        body += attr(RTA_DST, socket.inet_aton(dst)) + attr(RTA_NH_ID, struct.pack("=I", nh_id))
        return self.request(RTM_NEWROUTE, body)


def verdict(err: int) -> str:
    return "ok" if err == 0 else os.strerror(-err)


def kernel(max_members: int) -> dict[str, object]:
    """Runs inside the namespace."""
    subprocess.run(["ip", "link", "add", "e0", "type", "veth", "peer", "name", "e1"], check=True)
    subprocess.run(["ip", "link", "set", "e0", "up"], check=True)
    subprocess.run(["ip", "link", "set", "e1", "up"], check=True)
    subprocess.run(["ip", "addr", "add", "100.71.0.1/16", "dev", "e0"], check=True)
    lines = [f"nexthop add id {i} via 100.71.{1 + i // 250}.{1 + i % 250} dev e0" for i in range(1, max_members + 1)]
    subprocess.run(["ip", "-batch", "-"], input="\n".join(lines) + "\n", text=True, check=True)
    nl = Netlink()
    out: dict[str, object] = {}
    plain, resilient = {}, {}
    for n, size in enumerate((64, 128, 256, 257, 512, 1024, 4096, max_members)):
        if size > max_members:
            continue
        plain[size] = verdict(nl.group(100_000 + n, range(1, size + 1)))
        if plain[size] == "ok":
            plain[f"{size}_route"] = verdict(nl.route(f"198.18.0.{n + 1}", 100_000 + n))
        buckets = min(65535, max(128, 2 * size))
        resilient[f"{size}_members_{buckets}_buckets"] = verdict(nl.group(200_000 + n, range(1, size + 1), buckets))
    out["plain_group_members"] = plain
    out["resilient_group"] = resilient
    buckets = {}
    for n, b in enumerate((8, 128, 4096, 32768, 65535)):
        buckets[str(b)] = verdict(nl.group(300_000 + n, range(1, 17), b))
    out["resilient_buckets_16_members"] = buckets
    out["resilient_fewer_buckets_than_members"] = verdict(nl.group(400_000, range(1, 65), 32))
    out["iproute2_group_of_128_members"] = subprocess.run(
        ["ip", "nexthop", "add", "id", "500000", "group", "/".join(str(i) for i in range(1, 129))],
        capture_output=True, text=True,
    ).stderr.strip().splitlines()[:1] or "ok"  # fmt: skip
    return out


def frr_maximum_paths() -> dict[str, object]:
    accepted = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in (64, 128, 256, 257, 512, 1024):
            conf = f"{tmp}/frr.conf"
            with open(conf, "w") as f:
                f.write(f"router bgp 64500\n address-family ipv4 unicast\n  maximum-paths {n}\n exit-address-family\n")
            r = subprocess.run(["vtysh", "--dryrun", "--inputfile", conf], capture_output=True, text=True)
            accepted[str(n)] = r.returncode == 0
    version = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "frr"], capture_output=True, text=True).stdout
    return {"debian_frr_version": version, "maximum_paths_accepted": accepted,
            "multipath_num": max(int(n) for n, ok in accepted.items() if ok)}  # fmt: skip


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--in-namespace":
        print(json.dumps(kernel(int(sys.argv[2]))))
        return 0
    subprocess.run(["ip", "netns", "add", NS], check=True)
    try:
        inner = subprocess.run(["ip", "netns", "exec", NS, sys.executable, __file__, "--in-namespace", "8191"],
                               capture_output=True, text=True, check=True, timeout=300)  # fmt: skip
    finally:
        subprocess.run(["ip", "netns", "del", NS], check=False)
    doc = {"benchmark": "ecmp_limits", "kernel": platform.release(), "frr": frr_maximum_paths(),
           "kernel_nexthop_groups": json.loads(inner.stdout)}  # fmt: skip
    print(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
