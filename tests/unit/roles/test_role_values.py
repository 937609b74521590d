"""The roles refuse inventory values that would reach their templates as text (issue 10 #17), and what the router
role renders is what FRR accepts: GTSM on eBGP (issue 10 #16), default routes denied first (#8).

One ansible-playbook run on localhost (connection local) with one inventory host per case: a router case runs the
router role's facts.yml (its inventory checks) and renders frr.conf.j2, which FRR's own parser (vtysh --dryrun)
then reads; a node case runs the speaker role's validate.yml.
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
    - ansible.builtin.template:
        src: "%(root)s/roles/router/templates/frr.conf.j2"
        dest: "%(out)s/{{ inventory_hostname }}.conf"
        mode: "0600"
      vars:
        ansible_facts: {hostname: "{{ inventory_hostname }}"}
- hosts: speakers
  gather_facts: false
  tasks:
    - ansible.builtin.include_role: {name: baremetal.bgplb.speaker, tasks_from: validate.yml}
"""
NODES = {"n1": {"bgplb_bgp_address": "10.0.0.21"}, "n2": {"bgplb_bgp_address": "10.0.0.22"}}
POOLS = [{"name": "public", "addresses": ["198.51.100.0/24", "2001:db8:100::/64"]}]

ROUTERS = {
    "r_ok": {"bgplb_password": "s3cret-Key!"},
    "r_ibgp": {"bgplb_asn": 64512},
    "r_no_gtsm": {"bgplb_ttl_security": False},
    "r_pw_newline": {"bgplb_password": "x\n neighbor 192.0.2.66 remote-as 666"},
    "r_pw_space": {"bgplb_password": "two words"},
    "r_pw_long": {"bgplb_password": "k" * 81},
    "r_log_newline": {"bgplb_router_log": "syslog\nline vty"},
    "r_extra_newline": {
        "bgplb_router_extra_config": ["bgp bestpath med missing-as-worst\nneighbor 192.0.2.9 remote-as 1"]
    },
    "r_dir_space": {"bgplb_router_resilient_dir": "/usr/local/lib exec"},
    "r_table_main": {"bgplb_router_resilient_table": 254},
    "r_bfd": {
        "bgplb_bfd": True,
        "bgplb_bfd_receive_interval": 100,
        "bgplb_bfd_transmit_interval": 150,
        "bgplb_bfd_detect_multiplier": 4,
    },
    "r_bfd_default": {"bgplb_bfd": True},
    "r_bfd_rx_low": {"bgplb_bfd": True, "bgplb_bfd_receive_interval": 5},
    "r_bfd_mult": {"bgplb_bfd": True, "bgplb_bfd_detect_multiplier": 1},
}
SPEAKERS = {
    "s_ok": {"bgplb_password": "s3cret-Key!", "bgplb_speaker_handback_address": "10.0.1.21"},
    "s_pw_newline": {"bgplb_password": "a\nb"},
    "s_handback_brace": {"bgplb_speaker_handback_address": "10.0.0.1 } chain evil {"},
    "s_handback_v6": {"bgplb_speaker_handback_address": "2001:db8::1"},
    "s_listen_bad": {"bgplb_speaker_listen": ["0.0.0.0", "::; rm -rf /"]},
    "s_metrics_bad": {"bgplb_speaker_metrics": "127.0.0.1:9473 --evil"},
    "s_venv_bad": {"bgplb_speaker_venv": "/opt/bgplb/venv\nExecStartPre=/bin/true"},
    "s_vxlan_id": {"bgplb_speaker_handback_vxlan_id": 16777216},
    "s_bfd_tx_high": {"bgplb_bfd": True, "bgplb_bfd_transmit_interval": 60001},
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("roles")
    out = tmp / "out"
    out.mkdir()
    inventory = {
        "all": {
            "vars": {
                "ansible_connection": "local",
                "ansible_python_interpreter": sys.executable,
                "bgplb_pools": POOLS,
            },
            "children": {
                "bgplb_nodes": {"hosts": NODES},
                "routers": {"hosts": {h: {"bgplb_bgp_address": "10.0.0.11", **v} for h, v in ROUTERS.items()}},
                "speakers": {"hosts": {h: {"bgplb_bgp_address": "10.0.0.31", **v} for h, v in SPEAKERS.items()}},
            },
        }
    }
    (tmp / "inventory.yml").write_text(yaml.safe_dump(inventory))
    (tmp / "play.yml").write_text(PLAYBOOK % {"root": ROOT, "out": out})
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json",
           "ANSIBLE_LOCALHOST_WARNING": "0", "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0"}  # fmt: skip
    proc = subprocess.run(
        [str(ROOT / ".venv/bin/ansible-playbook"), "-i", str(tmp / "inventory.yml"), str(tmp / "play.yml")],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=300,
    )  # fmt: skip
    result = json.loads(proc.stdout)
    failures = {}
    for play in result["plays"]:
        for task in play["tasks"]:
            for host, r in task["hosts"].items():
                if r.get("failed"):
                    failures[host] = r.get("msg", "")
    return failures, out


@pytest.mark.parametrize("host", ["r_ok", "r_ibgp", "r_no_gtsm", "r_bfd", "r_bfd_default", "s_ok"])
def test_good_values_pass(run, host):
    failures, _ = run
    assert host not in failures, failures.get(host)


@pytest.mark.parametrize(
    ("host", "names"),
    [
        ("r_pw_newline", "bgplb_password"),
        ("r_pw_space", "bgplb_password"),
        ("r_pw_long", "bgplb_password"),
        ("r_log_newline", "bgplb_router_log"),
        ("r_extra_newline", "bgplb_router_extra_config"),
        ("r_dir_space", "bgplb_router_resilient_dir"),
        ("r_table_main", "resilient table"),
        ("s_pw_newline", "bgplb_password"),
        ("s_handback_brace", "bgplb_speaker_handback_address"),
        ("s_handback_v6", "bgplb_speaker_handback_address"),
        ("s_listen_bad", "bgplb_speaker_listen"),
        ("s_metrics_bad", "bgplb_speaker_metrics"),
        ("s_venv_bad", "bgplb_speaker_venv"),
        ("s_vxlan_id", "VXLAN id"),
        ("r_bfd_rx_low", "bgplb_bfd_receive_interval"),
        ("r_bfd_mult", "bgplb_bfd_detect_multiplier"),
        ("s_bfd_tx_high", "bgplb_bfd_transmit_interval"),
    ],
)
def test_bad_values_are_refused_before_any_template(run, host, names):
    failures, out = run
    assert host in failures, f"{host} was not refused"
    assert names in failures[host]
    assert not (out / f"{host}.conf").exists()


def test_frr_accepts_what_the_router_role_renders(run):
    _, out = run
    for host in ("r_ok", "r_ibgp", "r_no_gtsm", "r_bfd", "r_bfd_default"):
        proc = subprocess.run(["vtysh", "--dryrun", "--inputfile", str(out / f"{host}.conf")],
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        assert proc.returncode == 0, f"{host}: {proc.stdout}{proc.stderr}"


def test_gtsm_on_ebgp_only_and_default_routes_denied_first(run):
    _, out = run
    conf = (out / "r_ok.conf").read_text()
    assert " neighbor BGPLB_NODES ttl-security hops 1\n" in conf
    assert "ttl-security" not in (out / "r_ibgp.conf").read_text()  # iBGP: no GTSM
    assert "ttl-security" not in (out / "r_no_gtsm.conf").read_text()
    v4 = [line for line in conf.splitlines() if line.startswith("ip prefix-list BGPLB_POOLS_V4")]
    v6 = [line for line in conf.splitlines() if line.startswith("ipv6 prefix-list BGPLB_POOLS_V6")]
    assert v4[0] == "ip prefix-list BGPLB_POOLS_V4 seq 1 deny 0.0.0.0/0"
    assert v6[0] == "ipv6 prefix-list BGPLB_POOLS_V6 seq 1 deny ::/0"
    assert v4[1].startswith("ip prefix-list BGPLB_POOLS_V4 seq 5 permit 198.51.100.0/24")


def test_bfd_profile_and_both_peer_group_lines(run):
    """bfdd's profile `bgplb` with the inventory's timers; values equal to bfdd's defaults left out (show
    running-config leaves them out, so rendering them would be a difference on every run); both neighbor lines, as
    FRR shows them (a missing `neighbor BGPLB_NODES bfd` would be deleted by frr-reload.py: BFD, and BGP, down)."""
    _, out = run
    conf = (out / "r_bfd.conf").read_text()
    timers = "  detect-multiplier 4\n  receive-interval 100\n  transmit-interval 150\n"
    assert f"bfd\n profile bgplb\n{timers} exit\n" in conf
    assert " neighbor BGPLB_NODES bfd\n neighbor BGPLB_NODES bfd profile bgplb\n" in conf
    default = (out / "r_bfd_default.conf").read_text()
    assert "bfd\n profile bgplb\n exit\n" in default and " neighbor BGPLB_NODES bfd profile bgplb\n" in default
    off = (out / "r_ok.conf").read_text()
    assert "bfd" not in off
