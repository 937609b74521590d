"""The speaker role's hand-back (bgplb-handback script + nftables table, rendered from the role's templates) on the
real kernel, across L3 through the VXLAN tunnel, in network namespaces the test creates (root needed).

    client C 10.97.1.2 -- R 10.97.1.1 | 10.97.2.1 -- node A 10.97.2.10
                                      | 10.97.3.1 -- node B 10.97.3.10

A and B are in different subnets: a packet B hands to A crosses R (which would hash it again if it were not
encapsulated). Both hold the VIP on lo and run an echo server on VIP:8080 whose first line is their name. R's
route for the VIP (standing in for the routers' ECMP choice) decides which node a packet reaches first.
"""

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import jinja2
import pytest
import yaml
from ansible.plugins.filter.core import FilterModule as CoreFilters

ROLE = Path(__file__).resolve().parents[2] / "roles" / "speaker"
VIP = "198.51.100.10"
A, B = "10.97.2.10", "10.97.3.10"
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
    await (await asyncio.start_server(handle, "{VIP}", 8080)).serve_forever()
asyncio.run(main())
"""

# A client driven over stdin: "new" opens a connection and prints the node's name, "ping N" sends a line on it and
# prints "ok", "timeout" (no echo within 3 s, the connection is kept) or "reset"; "recv N" only waits for the echo;
# "new PORT" connects from that source port; "bye" asks the server to close first, then closes ("closed").
CLIENT = f"""
import socket, sys
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
            s, buf = socket.socket(), b""
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.settimeout(3)
            s.bind(("0.0.0.0", int(cmd[1]) if len(cmd) > 1 else 0))
            s.connect(("{VIP}", 8080))
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


def render(tmp: Path) -> tuple[Path, Path]:
    """The role's script and nftables file, rendered with its defaults, tunnel mode, both nodes' addresses."""
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    nft = tmp / "handback.nft"
    facts = {k: v for k, v in defaults.items() if k.startswith("bgplb_speaker_handback")}
    facts |= {
        "bgplb_speaker_handback_tunnel": "vxlan",
        "bgplb_speaker_handback_idle": IDLE,
        "ansible_managed": "rendered by tests/handback",
        "bgplb_speaker__handback_nft": str(nft),
        "bgplb_speaker__handback_cidrs": ["198.51.100.0/24"],
        "bgplb_speaker__handback_nodes": [A, B],
    }
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters.update(CoreFilters().filters())  # the templates use Ansible's filters (regex_replace)
    script = tmp / "bgplb-handback"
    for name, out in (("bgplb-handback.j2", script), ("bgplb-handback.nft.j2", nft)):
        out.write_text(env.from_string((ROLE / "templates" / name).read_text()).render(facts))
    return script, nft


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
        h.run("ip", "link", "set", dev, "up")


@pytest.fixture
def lab(tmp_path):
    hosts = {t: Host(t) for t in ("c", "r", "a", "b")}
    try:
        c, r, a, b = hosts.values()
        link(c, "10.97.1.2/24", r, "10.97.1.1/24")
        link(r, "10.97.2.1/24", a, f"{A}/24")
        link(r, "10.97.3.1/24", b, f"{B}/24")
        r.run("sysctl", "-qw", "net.ipv4.ip_forward=1")
        c.run("ip", "route", "add", "default", "via", "10.97.1.1")
        script, _nft = render(tmp_path)
        for h, gw, name in ((a, "10.97.2.1", "A"), (b, "10.97.3.1", "B")):
            h.run("ip", "route", "add", "default", "via", gw)
            h.run("ip", "addr", "add", f"{VIP}/32", "dev", "lo")
            h.run("sh", str(script), "start")
            h.popen(sys.executable, "-c", ECHO, name)
        r.run("ip", "route", "replace", f"{VIP}/32", "via", A)
        deadline = time.monotonic() + 10
        while "8080" not in a.run("ss", "-Hltn").stdout + b.run("ss", "-Hltn").stdout:
            assert time.monotonic() < deadline, "echo servers did not start"
            time.sleep(0.1)
        yield hosts, script
    finally:
        for h in hosts.values():
            h.close()


def ask(client: subprocess.Popen[str], cmd: str) -> str:
    assert client.stdin is not None and client.stdout is not None
    client.stdin.write(cmd + "\n")
    client.stdin.flush()
    return client.stdout.readline().strip()


def handback(host: Host, script: Path, *args: str) -> str:
    return host.run("sh", str(script), *args).stdout.strip()


def test_handback_across_l3_through_vxlan(lab):
    hosts, script = lab
    c, r, a, b = hosts["c"], hosts["r"], hosts["a"], hosts["b"]
    mac = handback(a, script, "endpoint")
    assert len(mac.split(":")) == 6, f"endpoint of A in tunnel mode: {mac!r}"

    client = c.popen(sys.executable, "-c", CLIENT)
    assert ask(client, "new") == "A"
    assert ask(client, "ping 1") == "ok"

    # A drains: R now sends everything to B; B hands A's connection back to A, through the tunnel, across R
    assert handback(b, script, "to", A, mac) == "changed"
    assert handback(b, script, "to", A, mac) == "", "a second `to` with the same target changes nothing"
    r.run("ip", "route", "replace", f"{VIP}/32", "via", B)
    for i in range(2, 6):
        assert ask(client, f"ping {i}") == "ok", "A's connection must survive, handed back by B"
    tx = json.loads(b.run("ip", "-j", "-s", "link", "show", "bgplb-hb").stdout)[0]["stats64"]["tx"]["packets"]
    assert tx >= 4, f"B's packets for A went through the VXLAN device ({tx} sent)"
    assert int(handback(b, script, "flows")) == 1, "B counts the one flow it hands on"
    newcomer = c.popen(sys.executable, "-c", CLIENT)
    assert ask(newcomer, "new") == "B", "new connections stay on the node the router picked"
    assert ask(newcomer, "ping 1") == "ok"

    # the end of an undrain chain: a flow B does not have is dropped without a reset, and resumes when handed on
    assert handback(b, script, "drop") == "changed"
    assert ask(client, "ping 6") == "timeout"
    assert ask(newcomer, "ping 2") == "ok", "B's own connections are not touched"
    handback(b, script, "to", A, mac)
    assert ask(client, "recv 6") == "ok", "the retransmitted line reaches A once B hands on again"
    assert ask(client, "ping 7") == "ok"

    # without hand-back, B answers A's connection with a reset: what the mechanism prevents
    assert handback(b, script, "clear") == "changed"
    assert ask(client, "ping 8") == "reset"


def test_vxlan_only_from_the_nodes(lab):
    hosts, _script = lab
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
    hosts, script = lab
    a = hosts["a"]
    handback(a, script, "stop")
    assert a.run("ip", "link", "show", "bgplb-hb", check=False).returncode != 0
    assert "bgplb_handback" not in a.run("nft", "list", "tables").stdout
    rules = a.run("ip", "-4", "rule", "show").stdout
    assert "0:\tfrom all lookup local" in rules and "fwmark" not in rules


def test_idle_connections_and_flows_stop_counting(lab):
    hosts, script = lab
    c, r, a, b = hosts["c"], hosts["r"], hosts["a"], hosts["b"]
    client = c.popen(sys.executable, "-c", CLIENT)
    assert ask(client, "new") == "A"
    assert handback(a, script, "conns") == "1", "A's live connection counts (what drain.yml waits for)"
    handback(b, script, "to", A, handback(a, script, "endpoint"))
    r.run("ip", "route", "replace", f"{VIP}/32", "via", B)
    assert ask(client, "ping 1") == "ok"
    assert handback(b, script, "flows") == "1", "B hands the flow on (what undrain.yml waits for)"
    time.sleep(IDLE + 1.5)
    assert handback(a, script, "conns") == "0", "a connection silent for longer than the idle time no longer counts"
    assert handback(b, script, "flows") == "0", "neither does a flow handed on that went silent"
    assert ask(client, "ping 2") == "ok", "the connection itself is untouched"
    assert handback(a, script, "conns") == "1"


def test_a_reused_client_port_starts_a_new_connection_where_it_lands(lab):
    """The server closes first, so the client can reuse its port at once, while the node that handed the old flow
    on still holds its conntrack entry (ct mark included) in a FIN state, where conntrack ignores a SYN."""
    hosts, script = lab
    c, r, a, b = hosts["c"], hosts["r"], hosts["a"], hosts["b"]
    client = c.popen(sys.executable, "-c", CLIENT)
    assert ask(client, "new 40000") == "A"
    handback(b, script, "to", A, handback(a, script, "endpoint"))
    r.run("ip", "route", "replace", f"{VIP}/32", "via", B)
    assert ask(client, "ping 1") == "ok", "handed back by B"
    assert ask(client, "bye") == "closed"
    assert ask(client, "new 40000") == "B", "the new connection must stay on B, not follow the old flow to A"
    assert ask(client, "ping 2") == "ok"
