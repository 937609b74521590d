"""The router role's BIRD flavour against real BIRD 2 daemons in network namespaces (root needed).

The router namespace runs BIRD with a bootstrap configuration; the role's facts.yml and bird_config.yml (connection
local, birdc on the test's control socket) render bird.conf.j2, have BIRD check it and load it. Three node namespaces
run BIRD too, each advertising service prefixes in and out of the pool:

    router 100.66.N.1 (br0) -- n1 .11, n2 .12, n3 .13
    every node: 198.51.100.10/32 (in the pool), 198.51.100.0/24 (in the pool but shorter than /32),
                203.0.113.7/32 (outside), 0.0.0.0/0; n3 also 198.51.100.20/32 with GRACEFUL_SHUTDOWN, n1 and n2 without

What the router accepts, merges (ECMP) and installs in the kernel is read with birdc and ip, and parsed with
plugins/module_utils/bird.py (router_info's BIRD parser).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "speaker" / "tests"))

from ansible_collections.baremetal.bgplb.plugins.module_utils import bird  # noqa: E402

from harness.lan import Lan  # noqa: E402
from harness.path import wait_for  # noqa: E402

pytestmark = [
    pytest.mark.needs(root=True, tools=("ip", "bird", "birdc")),
    pytest.mark.timeout(240),
]
PASSWORD = "bird-Md5!key"
ROUTER_ASN, NODE_ASN = 64500, 64512
PLAYBOOK = """
- hosts: routers
  gather_facts: false
  tasks:
    - ansible.builtin.include_role: {name: baremetal.bgplb.router, tasks_from: facts.yml, public: true}
    - ansible.builtin.include_role: {name: baremetal.bgplb.router, tasks_from: bird_config.yml}
"""


class BirdProc:
    """One BIRD daemon in a namespace, with its own control socket."""

    def __init__(self, ns, directory: Path, config: str) -> None:
        self.ns, self.dir = ns, directory
        self.conf = directory / "bird.conf"
        self.sock = directory / "bird.ctl"
        self.conf.write_text(config)
        ns.popen(["bird", "-f", "-c", str(self.conf), "-s", str(self.sock)],
                 stdout=subprocess.DEVNULL, stderr=open(directory / "bird.log", "wb"))  # noqa: SIM115  # fmt: skip
        wait_for(lambda: self.sock.exists() and self.birdc("show status", check=False), timeout=15, what="birdc")

    def birdc(self, command: str, check: bool = True) -> str:
        proc = subprocess.run(["birdc", "-s", str(self.sock), command], capture_output=True, text=True, timeout=30)
        if check and proc.returncode != 0:
            raise AssertionError(f"birdc {command}: {proc.stdout}{proc.stderr}")
        return proc.stdout if proc.returncode == 0 else ""


def node_config(lan: Lan, i: int) -> str:
    gshut = i == 2
    return f"""
router id {lan.node_v4[i]};
protocol device {{}}
protocol static s4 {{
  ipv4;
  route 198.51.100.10/32 blackhole;
  route 198.51.100.0/24 blackhole;
  route 203.0.113.7/32 blackhole;
  route 0.0.0.0/0 blackhole;
  route 198.51.100.20/32 blackhole;
  route 198.51.100.3{i}/32 blackhole;
}}
protocol static s6 {{
  ipv6;
  route 2001:db8:100::10/128 blackhole;
  route 2001:db8:999::10/128 blackhole;
}}
protocol bgp uplink {{
  local as {NODE_ASN};
  neighbor {lan.router_v4} as {ROUTER_ASN};
  password "{PASSWORD}";
  ttl security on;
  connect retry time 1;
  ipv4 {{ import none; export filter {{ if {str(gshut).lower()} && net = 198.51.100.20/32 then
    bgp_community.add((65535, 0)); accept; }}; }};
  ipv6 {{ import none; export all; next hop address {lan.node_v6[i]}; }};
}}
"""


def run_role(tmp: Path, lan: Lan, router: BirdProc, nodes: list[str] | None = None, **extra) -> dict:
    """Run facts.yml + bird_config.yml for the router; returns {'failed': bool, 'changed': bool, 'msg': str}."""
    nodes = nodes or lan.node_v4
    inventory = {
        "all": {
            "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
            "children": {
                "bgplb_nodes": {"hosts": {f"n{i + 1}": {"bgplb_bgp_address": a} for i, a in enumerate(nodes)}},
                "routers": {
                    "hosts": {
                        "r1": {
                            "bgplb_router_flavour": "bird",
                            "bgplb_bgp_address": lan.router_v4,
                            "bgplb_password": PASSWORD,
                            "bgplb_hold_time": 9,
                            "bgplb_keepalive_time": 3,
                            "bgplb_pools": [{"name": "public", "addresses": ["198.51.100.0/24", "2001:db8:100::/64"]}],
                            "bgplb_router_bird_socket": str(router.sock),
                            "bgplb_router_bird_config_file": str(router.conf),
                            "bgplb_router_bird_candidate_file": str(router.conf) + ".bgplb-candidate",
                            "bgplb_router_bird_user": "root",
                            **extra,
                        }
                    }
                },
            },
        }
    }
    (tmp / "inventory.yml").write_text(yaml.safe_dump(inventory))
    (tmp / "play.yml").write_text(PLAYBOOK)
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json",
           "ANSIBLE_LOCALHOST_WARNING": "0", "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0"}  # fmt: skip
    argv = [str(ROOT / ".venv/bin/ansible-playbook"), "-i", str(tmp / "inventory.yml"), str(tmp / "play.yml")]
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, env=env, timeout=180)
    result = json.loads(proc.stdout)
    stats = result["stats"]["r1"]
    msgs = [
        r.get("msg", "") for p in result["plays"] for t in p["tasks"] for h, r in t["hosts"].items() if r.get("failed")
    ]
    return {"failed": stats["failures"] > 0, "changed": stats["changed"] > 0, "msg": " ".join(map(str, msgs))}


@pytest.fixture(scope="module")
def lab():
    with Lan(3) as lan, tempfile.TemporaryDirectory(prefix="bgplbt-birdr-") as tmp:
        tmp = Path(tmp)
        (tmp / "r").mkdir()
        router = BirdProc(lan.router, tmp / "r", f"router id {lan.router_v4};\nprotocol device {{}}\n")
        for i, ns in enumerate(lan.nodes):
            (tmp / f"n{i}").mkdir()
            BirdProc(ns, tmp / f"n{i}", node_config(lan, i))
        first = run_role(tmp, lan, router)
        yield lan, router, tmp, first


def neighbors(router: BirdProc) -> list[dict]:
    return bird.neighbor_facts(router.birdc("show protocols all"), router.birdc("show status"))


def established(router: BirdProc) -> list[dict]:
    up = [n for n in neighbors(router) if n["state"] == "Established"]
    return up if len(up) == 3 else []


def kernel_gateways(lan: Lan, prefix: str) -> list[str]:
    fam = "-6" if ":" in prefix else "-4"
    data = json.loads(lan.router.exec("ip", "-j", fam, "route", "show", prefix).stdout or "[]")
    hops = [h["gateway"] for r in data for h in r.get("nexthops", [])] or [r["gateway"] for r in data if "gateway" in r]
    return sorted(hops)


def test_role_loads_the_config_then_changes_nothing(lab):
    lan, router, tmp, first = lab
    assert not first["failed"], first["msg"]
    assert first["changed"]
    assert "bgplb_nodes" in router.conf.read_text()
    again = run_role(tmp, lan, router)
    assert not again["failed"] and not again["changed"], again


def test_sessions_with_md5_and_gtsm_come_up(lab):
    lan, router, _, _ = lab
    ups = wait_for(lambda: established(router), timeout=60, what="3 Established sessions")
    assert sorted(n["address"] for n in ups) == sorted(lan.node_v4)
    assert {n["description"] for n in ups} == {"n1", "n2", "n3"}
    assert all(n["remote_as"] == NODE_ASN and n["local_as"] == ROUTER_ASN for n in ups)


def test_ecmp_over_the_three_nodes_in_the_kernel(lab):
    lan, router, _, _ = lab
    wait_for(lambda: established(router), timeout=60, what="sessions")
    hops = wait_for(lambda: len(kernel_gateways(lan, "198.51.100.10")) == 3 and kernel_gateways(lan, "198.51.100.10"),
                    timeout=30, what="3 kernel next hops")  # fmt: skip
    assert hops == sorted(lan.node_v4)
    routes = json.loads(lan.router.exec("ip", "-N", "-j", "-4", "route", "show", "198.51.100.10").stdout)
    assert routes[0]["protocol"] == "12"  # RTPROT_BIRD, what bgplb-resilient --source-proto 12 mirrors
    text = router.birdc("show route 198.51.100.10/32 all")
    merged = router.birdc("show route 198.51.100.10/32 export bgplb_kernel4")
    paths = bird.route_facts(text, merged)["198.51.100.10/32"]
    assert sorted(p["next_hop"] for p in paths) == sorted(lan.node_v4)
    assert all(p["multipath"] for p in paths) and sum(p["bestpath"] for p in paths) == 1


def test_only_pool_prefixes_are_accepted(lab):
    lan, router, _, _ = lab
    wait_for(lambda: kernel_gateways(lan, "198.51.100.10"), timeout=60, what="the service route")
    table = bird.route_facts(router.birdc("show route all"))
    assert "198.51.100.0/24" not in table  # in the pool, but shorter than the /32 the advertisements allow
    assert "203.0.113.7/32" not in table  # outside the pool
    assert "0.0.0.0/0" not in table
    # The IPv6 sessions come up on their own schedule: wait for every node's path before reading the table.
    wait_for(lambda: kernel_gateways(lan, "2001:db8:100::10") == sorted(lan.node_v6), timeout=60,
             what="the IPv6 service route over every node")  # fmt: skip
    six = bird.route_facts(router.birdc("show route all table master6"))
    assert sorted(p["next_hop"] for p in six["2001:db8:100::10/128"]) == sorted(lan.node_v6)
    assert "2001:db8:999::10/128" not in six
    assert kernel_gateways(lan, "2001:db8:100::10") == sorted(lan.node_v6)


def test_graceful_shutdown_takes_the_path_out_of_ecmp(lab):
    lan, router, _, _ = lab
    hops = wait_for(lambda: len(kernel_gateways(lan, "198.51.100.20")) == 2 and kernel_gateways(lan, "198.51.100.20"),
                    timeout=60, what="2 next hops for the drained prefix")  # fmt: skip
    assert hops == sorted(lan.node_v4[:2])
    paths = bird.route_facts(router.birdc("show route 198.51.100.20/32 all"))["198.51.100.20/32"]
    drained = [p for p in paths if p["next_hop"] == lan.node_v4[2]]
    assert drained[0]["local_pref"] == 0 and "65535:0" in drained[0]["communities"]


def test_a_config_bird_refuses_fails_naming_the_error_and_changes_nothing(lab):
    lan, router, tmp, _ = lab
    wait_for(lambda: established(router), timeout=60, what="sessions")
    before_conf = router.conf.read_text()
    before = {n["address"]: n["since"] for n in neighbors(router)}
    bad = run_role(tmp, lan, router, bgplb_router_extra_config=["protocol bogus_proto nothing {"])
    assert bad["failed"]
    assert "BIRD refused" in bad["msg"] and "syntax error" in bad["msg"], bad["msg"]
    assert PASSWORD not in bad["msg"]
    assert router.conf.read_text() == before_conf
    assert {n["address"]: n["since"] for n in established(router)} == before  # the same sessions, never reset


def test_a_node_added_keeps_the_other_sessions(lab):
    """A 4th node in the inventory (no BIRD behind its address) is loaded in place: the 3 sessions stay the same."""
    lan, router, tmp, _ = lab
    wait_for(lambda: established(router), timeout=60, what="sessions")
    before = {n["address"]: n["since"] for n in neighbors(router)}
    time.sleep(1.1)  # a reset session would show a later 'since' (ISO times, millisecond resolution)
    fourth = lan.node_v4[-1].rsplit(".", 1)[0] + ".99"
    added = run_role(tmp, lan, router, nodes=[*lan.node_v4, fourth])
    assert not added["failed"] and added["changed"], added
    now = {n["address"]: n for n in neighbors(router)}
    assert fourth in now and now[fourth]["state"] != "Established"
    assert {a: n["since"] for a, n in now.items() if n["state"] == "Established"} == before


def test_import_limit_disables_a_node_over_it(lab):
    """Last: it takes n1 down. Each node sends 3 accepted IPv4 prefixes; a limit of 2 disables all three sessions
    (action disable, like FRR's maximum-prefix)."""
    lan, router, tmp, _ = lab
    result = run_role(tmp, lan, router, bgplb_router_max_prefixes=2)  # back to 3 nodes, with the limit
    assert not result["failed"], result["msg"]
    down = wait_for(lambda: [n for n in neighbors(router) if n["state"] != "Established"] or None, timeout=30,
                    what="a session disabled by the import limit")  # fmt: skip
    assert any("limit" in (n["last_reset"] or "").lower() for n in down), down
