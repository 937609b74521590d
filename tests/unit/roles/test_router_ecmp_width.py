"""The router role refuses an inventory whose service routes one ECMP route cannot hold, instead of truncating.

Limits measured by bench/ecmp_limits.py: FRR's maximum-paths goes to 256 (MULTIPATH_NUM of Debian's 8.4), a resilient
group made by bgplb-resilient (iproute2 6.1) holds 122 members, and the kernel takes groups with fewer buckets than
members (some nodes would get no traffic). One ansible-playbook run of the role's facts.yml, one router per case.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
PLAYBOOK = """
- hosts: routers
  gather_facts: false
  tasks:
    - ansible.builtin.include_role: {name: baremetal.bgplb.router, tasks_from: facts.yml, public: true}
    - ansible.builtin.debug: {var: bgplb_router__ecmp_width}
"""
POOLS = [{"name": "public", "addresses": ["198.51.100.0/24"]}]
FEW = {f"f{i}": {"bgplb_bgp_address": f"10.0.0.{10 + i}"} for i in range(3)}
MANY = {f"m{i}": {"bgplb_bgp_address": f"10.1.{i // 200}.{10 + i % 200}"} for i in range(123)}
TOP2 = [{"name": "a", "max_announcers": 2}, {"name": "b", "max_announcers": 1}]
ROUTERS = {
    "ok_three": {},
    "paths_over_multipath_num": {"bgplb_router_maximum_paths": 257},
    "paths_below_nodes": {"bgplb_router_maximum_paths": 2},
    "paths_below_nodes_top2": {"bgplb_router_maximum_paths": 2, "bgplb_advertisements": TOP2},
    "one_advertisement_unbounded": {"bgplb_router_maximum_paths": 2, "bgplb_advertisements": [*TOP2, {"name": "c"}]},
    "buckets_below_nodes": {"bgplb_router_resilient_buckets": 2},
    "buckets_below_nodes_no_resilient": {"bgplb_router_resilient_buckets": 2, "bgplb_router_resilient": False},
    "many_resilient": {"bgplb_router_nodes_group": "many", "bgplb_router_maximum_paths": 200},
    "many_no_resilient": {
        "bgplb_router_nodes_group": "many",
        "bgplb_router_maximum_paths": 200,
        "bgplb_router_resilient": False,
    },
    "many_top64_resilient": {
        "bgplb_router_nodes_group": "many",
        "bgplb_advertisements": [{"name": "a", "max_announcers": 64}],
    },
}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ecmp")
    inventory = {
        "all": {
            "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable, "bgplb_pools": POOLS},
            "children": {
                "bgplb_nodes": {"hosts": FEW},
                "many": {"hosts": MANY},
                "routers": {"hosts": {h: {"bgplb_bgp_address": "10.0.0.1", **v} for h, v in ROUTERS.items()}},
            },
        }
    }
    (tmp / "inventory.yml").write_text(yaml.safe_dump(inventory))
    (tmp / "play.yml").write_text(PLAYBOOK)
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json",
        "ANSIBLE_LOCALHOST_WARNING": "0",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
    }
    proc = subprocess.run(
        [str(ROOT / ".venv/bin/ansible-playbook"), "-i", str(tmp / "inventory.yml"), str(tmp / "play.yml")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )
    out: dict[str, dict[str, object]] = {h: {} for h in ROUTERS}
    for play in json.loads(proc.stdout)["plays"]:
        for task in play["tasks"]:
            for host, r in task["hosts"].items():
                if r.get("failed"):
                    out[host]["failed"] = r.get("msg", "")
                if "bgplb_router__ecmp_width" in r:
                    out[host]["width"] = int(r["bgplb_router__ecmp_width"])
    return out


@pytest.mark.parametrize(
    ("host", "width"),
    [
        ("ok_three", 3),
        ("paths_below_nodes_top2", 2),
        ("buckets_below_nodes_no_resilient", 3),
        ("many_no_resilient", 123),
        ("many_top64_resilient", 64),
    ],
)
def test_what_fits_passes_with_its_width(results, host, width):
    assert "failed" not in results[host], results[host]
    assert results[host]["width"] == width


@pytest.mark.parametrize(
    ("host", "words"),
    [
        ("paths_over_multipath_num", ["bgplb_router_maximum_paths (257) must be 1 to 256"]),
        ("paths_below_nodes", ["cannot hold 3 paths per service", "(3 nodes in bgplb_nodes"]),
        ("one_advertisement_unbounded", ["cannot hold 3 paths per service"]),
        ("buckets_below_nodes", ["bgplb_router_resilient_buckets (2) must be at least"]),
        ("many_resilient", ["cannot hold 123 paths", "hold at most 122 members"]),
    ],
)
def test_what_does_not_fit_is_refused_by_name(results, host, words):
    message = str(results[host].get("failed", ""))
    assert message, f"{host} was not refused"
    for w in words:
        assert w in " ".join(message.split()), message
