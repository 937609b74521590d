"""bgplb-handback (the speaker package's bgplb.handback, configured as the speaker role configures it) on the real
kernel, across L3 through the VXLAN tunnel, IPv4 and IPv6, in network namespaces the test creates (root needed).

    client C 10.97.1.2 fd97:1::2 -- R 10.97.1.1 | 10.97.2.1 fd97:2::1 -- node A 10.97.2.10 fd97:2::10
                                                | 10.97.3.1 fd97:3::1 -- node B 10.97.3.10 fd97:3::10

A and B are in different subnets: a packet B hands to A crosses R (which would hash it again if it were not
encapsulated; the tunnel's underlay is IPv4, it carries both families). Both hold the VIPs on lo and run an echo
server on VIP:8080 whose first line is their name. R's route for a VIP (standing in for the routers' ECMP choice)
decides which node a packet reaches first.
"""

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "roles" / "speaker" / "files" / "bgplb-handback.service"
VIP, VIP6 = "198.51.100.10", "2001:db8:100::10"
A, B = "10.97.2.10", "10.97.3.10"
A6, B6 = "fd97:2::10", "fd97:3::10"
IDLE = 2  # bgplb_speaker_handback_idle, short for the test

pytestmark = [
    pytest.mark.needs(root=True, tools=("ip", "nft")),
    pytest.mark.timeout(120),
]

ECHO = f"""
import asyncio, sys
NAME = sys.argv[1].encode() + b"\\n"
async def handle(r, w):
    w.write(NAME)
    while (data := await r.read(4096)) and data != b"bye\\n":
        w.write(data)
    w.close()
async def main():
    await (await asyncio.start_server(handle, ["{VIP}", "{VIP6}"], 8080)).serve_forever()
asyncio.run(main())
"""

# A client driven over stdin: "new" opens a connection and prints the node's name, "ping N" sends a line on it and
# prints "ok", "timeout" (no echo within 3 s, the connection is kept) or "reset"; "recv N" only waits for the echo;
# "new PORT" connects from that source port; "bye" asks the server to close first, then closes ("closed").
CLIENT = """
import socket, sys
VIP = sys.argv[1]
FAMILY = socket.AF_INET6 if ":" in VIP else socket.AF_INET
s, buf = None, b""
def line():
    global buf
    while b"\\n" not in buf:
        data = s.recv(4096)
        if not data:
            raise ConnectionResetError
        buf += data
    out, _, buf = buf.partition(b"\\n")
    return out.decode()
for cmd in sys.stdin:
    cmd = cmd.split()
    try:
        if cmd[0] == "new":
            s, buf = socket.socket(FAMILY), b""
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.settimeout(3)
            s.bind(("::" if FAMILY == socket.AF_INET6 else "0.0.0.0", int(cmd[1]) if len(cmd) > 1 else 0))
            s.connect((VIP, 8080))
            print(line(), flush=True)
        elif cmd[0] == "bye":
            s.sendall(b"bye\\n")
            while s.recv(4096):
                pass
            s.close()
            print("closed", flush=True)
        else:
            if cmd[0] == "ping":
                s.sendall(cmd[1].encode() + b"\\n")
            print("ok" if line() == cmd[1] else "garbled", flush=True)
    except TimeoutError:
        print("timeout", flush=True)
    except ConnectionResetError:
        print("reset", flush=True)
"""


def write_config(path: Path, **settings) -> Path:
    """A handback.yaml as the speaker role renders it: tunnel mode, both nodes, the test's pools."""
    config = {
        "tunnel": "vxlan",
        "idle": IDLE,
        "nodes": [A, B],
        "service_cidrs": ["198.51.100.0/24", "2001:db8:100::/64"],
    }
    path.write_text(yaml.safe_dump({**config, **settings}))
    return path


class Host:
    def __init__(self, tag: str) -> None:
        self.name = f"bgplbhb-{os.getpid()}-{uuid.uuid4().hex[:4]}-{tag}"
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        self.procs: list[subprocess.Popen[str]] = []
        self.run("ip", "link", "set", "lo", "up")

    def run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        p = subprocess.run(["ip", "netns", "exec", self.name, *argv], capture_output=True, text=True, timeout=30)
        assert not check or p.returncode == 0, f"{self.name}: {' '.join(argv)}: {p.stderr.strip()}"
        return p

    def popen(self, *argv: str) -> subprocess.Popen[str]:
        p = subprocess.Popen(["ip", "netns", "exec", self.name, *argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)  # fmt: skip
        self.procs.append(p)
        return p

    def close(self) -> None:
        for p in self.procs:
            p.kill()
            p.wait(timeout=10)
        subprocess.run(["ip", "netns", "del", self.name], check=False)


def link(a: Host, a_addr: str, b: Host, b_addr: str) -> None:
    ea, eb = f"v{uuid.uuid4().hex[:6]}", f"v{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "link", "add", ea, "netns", a.name, "type", "veth", "peer", "name", eb, "netns", b.name],
                   check=True)  # fmt: skip
    for h, dev, addr in ((a, ea, a_addr), (b, eb, b_addr)):
        h.run("ip", "addr", "add", addr, "dev", dev)
        h.run("ip", "-6", "addr", "add", v6(addr), "dev", dev, "nodad")
        h.run("ip", "link", "set", dev, "up")


def v6(addr: str) -> str:
    """The test's IPv6 address for an IPv4 one: 10.97.N.H/24 -> fd97:N::H/64."""
    host, plen = addr.split("/")
    _, _, net, last = host.split(".")
    return f"fd97:{net}::{last}/{int(plen) + 40}"


@pytest.fixture
def lab(tmp_path):
    hosts = {t: Host(t) for t in ("c", "r", "a", "b")}
    try:
        c, r, a, b = hosts.values()
        link(c, "10.97.1.2/24", r, "10.97.1.1/24")
        link(r, "10.97.2.1/24", a, f"{A}/24")
        link(r, "10.97.3.1/24", b, f"{B}/24")
        r.run("sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1")
        c.run("ip", "route", "add", "default", "via", "10.97.1.1")
        c.run("ip", "-6", "route", "add", "default", "via", "fd97:1::1")
        config = write_config(tmp_path / "handback.yaml")
        for h, gw, name in ((a, "10.97.2.1", "A"), (b, "10.97.3.1", "B")):
            h.run("ip", "route", "add", "default", "via", gw)
            h.run("ip", "-6", "route", "add", "default", "via", v6(gw + "/24").split("/")[0])
            h.run("ip", "addr", "add", f"{VIP}/32", "dev", "lo")
            h.run("ip", "-6", "addr", "add", f"{VIP6}/128", "dev", "lo", "nodad")
            handback(h, config, "start")
            h.popen(sys.executable, "-c", ECHO, name)
        r.run("ip", "route", "replace", f"{VIP}/32", "via", A)
        r.run("ip", "-6", "route", "replace", f"{VIP6}/128", "via", A6)
        deadline = time.monotonic() + 10
        while "8080" not in a.run("ss", "-Hltn").stdout + b.run("ss", "-Hltn").stdout:
            assert time.monotonic() < deadline, "echo servers did not start"
            time.sleep(0.1)
        yield hosts, config
    finally:
        for h in hosts.values():
            h.close()


def ask(client: subprocess.Popen[str], cmd: str) -> str:
    assert client.stdin is not None and client.stdout is not None
    client.stdin.write(cmd + "\n")
    client.stdin.flush()
    return client.stdout.readline().strip()


def handback(host: Host, config: Path, *args: str, check: bool = True) -> str:
    return host.run(sys.executable, "-m", "bgplb.handback", "--config", str(config), *args, check=check).stdout.strip()


def test_handback_across_l3_through_vxlan(lab):
    hosts, config = lab
    c, r, a, b = hosts["c"], hosts["r"], hosts["a"], hosts["b"]
    mac = handback(a, config, "endpoint")
    assert len(mac.split(":")) == 6, f"endpoint of A in tunnel mode: {mac!r}"

    client = c.popen(sys.executable, "-c", CLIENT, VIP)
    assert ask(client, "new") == "A"
    assert ask(client, "ping 1") == "ok"

    # A drains: R now sends everything to B; B hands A's connection back to A, through the tunnel, across R
    assert handback(b, config, "to", A, mac) == "changed"
    assert handback(b, config, "to", A, mac) == "", "a second `to` with the same target changes nothing"
    r.run("ip", "route", "replace", f"{VIP}/32", "via", B)
    for i in range(2, 6):
        assert ask(client, f"ping {i}") == "ok", "A's connection must survive, handed back by B"
    tx = json.loads(b.run("ip", "-j", "-s", "link", "show", "bgplb-hb").stdout)[0]["stats64"]["tx"]["packets"]
    assert tx >= 4, f"B's packets for A went through the VXLAN device ({tx} sent)"
    assert int(handback(b, config, "flows")) == 1, "B counts the one flow it hands on"
    newcomer = c.popen(sys.executable, "-c", CLIENT, VIP)
    assert ask(newcomer, "new") == "B", "new connections stay on the node the router picked"
    assert ask(newcomer, "ping 1") == "ok"

    # the end of an undrain chain: a flow B does not have is dropped without a reset, and resumes when handed on
    assert handback(b, config, "drop") == "changed"
    assert ask(client, "ping 6") == "timeout"
    assert ask(newcomer, "ping 2") == "ok", "B's own connections are not touched"
    handback(b, config, "to", A, mac)
    assert ask(client, "recv 6") == "ok", "the retransmitted line reaches A once B hands on again"
    assert ask(client, "ping 7") == "ok"

    # without hand-back, B answers A's connection with a reset: what the mechanism prevents
    assert handback(b, config, "clear") == "changed"
    assert ask(client, "ping 8") == "reset"


def test_vxlan_only_from_the_nodes(lab):
    hosts, _config = lab
    c, a = hosts["c"], hosts["a"]

    def strangers() -> int:
        chain = a.run("nft", "list", "chain", "ip", "bgplb_handback", "input").stdout
        line = next(x for x in chain.splitlines() if "stranger" in x)
        return int(line.split("counter packets")[1].split()[0])

    before = strangers()
    c.run(sys.executable, "-c", f"import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x' * 60, "
                                f"('{A}', 4789))")  # fmt: skip
    time.sleep(0.2)
    assert strangers() == before + 1, "a VXLAN packet from an address that is not a node is dropped"


def test_stop_removes_everything(lab):
    hosts, config = lab
    a = hosts["a"]
    handback(a, config, "stop")
    assert a.run("ip", "link", "show", "bgplb-hb", check=False).returncode != 0
    assert "bgplb_handback" not in a.run("nft", "list", "tables").stdout
    for family in ("-4", "-6"):
        rules = a.run("ip", family, "rule", "show").stdout
        assert "0:\tfrom all lookup local" in rules and "fwmark" not in rules, rules
    assert handback(a, config, "stop") == "", "a second stop has nothing left to remove"


def test_idle_connections_and_flows_stop_counting(lab):
    hosts, config = lab
    c, r, a, b = hosts["c"], hosts["r"], hosts["a"], hosts["b"]
    client = c.popen(sys.executable, "-c", CLIENT, VIP)
    assert ask(client, "new") == "A"
    assert handback(a, config, "conns") == "1", "A's live connection counts (what drain.yml waits for)"
    handback(b, config, "to", A, handback(a, config, "endpoint"))
    r.run("ip", "route", "replace", f"{VIP}/32", "via", B)
    assert ask(client, "ping 1") == "ok"
    assert handback(b, config, "flows") == "1", "B hands the flow on (what undrain.yml waits for)"
    time.sleep(IDLE + 1.5)
    assert handback(a, config, "conns") == "0", "a connection silent for longer than the idle time no longer counts"
    assert handback(b, config, "flows") == "0", "neither does a flow handed on that went silent"
    assert ask(client, "ping 2") == "ok", "the connection itself is untouched"
    assert handback(a, config, "conns") == "1"


def test_a_reused_client_port_starts_a_new_connection_where_it_lands(lab):
    """The server closes first, so the client can reuse its port at once, while the node that handed the old flow
    on still holds its conntrack entry (ct mark included) in a FIN state, where conntrack ignores a SYN."""
    hosts, config = lab
    c, r, a, b = hosts["c"], hosts["r"], hosts["a"], hosts["b"]
    client = c.popen(sys.executable, "-c", CLIENT, VIP)
    assert ask(client, "new 40000") == "A"
    handback(b, config, "to", A, handback(a, config, "endpoint"))
    r.run("ip", "route", "replace", f"{VIP}/32", "via", B)
    assert ask(client, "ping 1") == "ok", "handed back by B"
    assert ask(client, "bye") == "closed"
    assert ask(client, "new 40000") == "B", "the new connection must stay on B, not follow the old flow to A"
    assert ask(client, "ping 2") == "ok"


def test_ipv6_handback_through_vxlan(lab):
    """The IPv6 VIP: its own nftables table and rules, table 98's IPv6 route through the (IPv4 underlay) tunnel."""
    hosts, config = lab
    c, r, a, b = hosts["c"], hosts["r"], hosts["a"], hosts["b"]
    client = c.popen(sys.executable, "-c", CLIENT, VIP6)
    assert ask(client, "new") == "A"
    assert ask(client, "ping 1") == "ok"
    assert handback(a, config, "conns") == "1", "A counts its IPv6 connection"
    assert handback(b, config, "to", A, handback(a, config, "endpoint")) == "changed"
    assert "via fe80::98:1 dev bgplb-hb" in handback(b, config, "show")
    r.run("ip", "-6", "route", "replace", f"{VIP6}/128", "via", B6)
    for i in range(2, 5):
        assert ask(client, f"ping {i}") == "ok", "A's IPv6 connection survives, handed back by B"
    assert handback(b, config, "flows") == "1"
    newcomer = c.popen(sys.executable, "-c", CLIENT, VIP6)
    assert ask(newcomer, "new") == "B", "new IPv6 connections stay where the router sends them"
    assert handback(b, config, "clear") == "changed"
    assert ask(client, "ping 5") == "reset", "without hand-back B resets A's IPv6 connection"


def unit_command(key: str) -> list[str]:
    """The argv of a line (ExecStart, ExecReload, ExecStop) of the role's unit."""
    line = next(x for x in UNIT.read_text().splitlines() if x.startswith(f"{key}="))
    return line.split("=", 1)[1].split()


def test_reapplying_the_role_during_a_drain_keeps_the_handback_route(lab):
    """What the speaker role runs on a node when its hand-back config changed (the unit's ExecReload, with the
    `reloaded` state): the tables follow the new config, the drain's route stays and flows keep being handed back."""
    hosts, config = lab
    c, r, a, b = hosts["c"], hosts["r"], hosts["a"], hosts["b"]
    client = c.popen(sys.executable, "-c", CLIENT, VIP)
    assert ask(client, "new") == "A"
    handback(b, config, "to", A, handback(a, config, "endpoint"))
    r.run("ip", "route", "replace", f"{VIP}/32", "via", B)
    assert ask(client, "ping 1") == "ok"
    # a new pool in the inventory: the role renders a new config and reloads the unit
    write_config(config, service_cidrs=["198.51.100.0/24", "203.0.113.0/24", "2001:db8:100::/64"])
    reload = unit_command("ExecReload")
    assert reload[0] == "/usr/local/sbin/bgplb-handback"
    assert handback(b, config, *reload[1:]) == "changed"
    assert "203.0.113.0/24" in b.run("nft", "list", "set", "ip", "bgplb_handback", "service_ips").stdout
    assert handback(b, config, "show").startswith("default via 169.254.98.1"), "table 98 keeps the drain's route"
    for i in range(2, 4):
        assert ask(client, f"ping {i}") == "ok", "A's connection is still handed back after the re-apply"
    assert handback(b, config, *reload[1:]) == "", "reloading an unchanged config changes nothing"
    assert unit_command("ExecStop")[1:] == ["stop"] and unit_command("ExecStart")[1:] == ["start"]
