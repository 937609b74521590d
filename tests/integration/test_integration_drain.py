"""baremetal.bgplb.drain run for real: ansible-playbook against a running bgplb-speaker (--no-listen) in temp dirs,
and, hand-back aware, inside a network namespace with real connections on a service IP and bgplb-handback's
nftables set (root needed for that part)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml
from module_runner import BGPLBCTL, BIN, ROOT, env

pytestmark = pytest.mark.needs(files=(BGPLBCTL,))
VIP = "198.51.100.10"


@pytest.fixture
def speaker(node):
    state = node.tmp / "state"
    state.mkdir()
    proc = subprocess.Popen(
        [str(BIN / "bgplb-speaker"), "--config-dir", str(node.dir), "--state-dir", str(state),
         "--socket", str(node.socket), "--no-listen", "--watch-interval", "0.2"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while not node.socket.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"speaker did not start: {proc.communicate()[0]}")
        time.sleep(0.1)
    yield proc
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def drain_state(node) -> str:
    out = subprocess.run([str(BGPLBCTL), "--socket", str(node.socket), "--json", "status"], capture_output=True,
                         text=True, check=True).stdout  # fmt: skip
    drain = json.loads(out)["drain"]
    return drain["state"] if drain else "undrained"


def test_drain_and_undrain_check_mode_diff_idempotence(node, speaker):
    args = {"state": "drained", "gshut_wait": 1, "handback": "false"}
    r, _ = node.run("drain", args, "--check", "--diff")
    assert r["changed"] and r["before"] == "undrained" and r["after"] == "draining", r
    assert r["diff"] == {"before": {"drain": "undrained"}, "after": {"drain": "draining"}}
    assert drain_state(node) == "undrained", "check mode changes nothing"

    r, _ = node.run("drain", args)
    assert r["changed"] and r["after"] == "drained" and not r["timed_out"] and not r["handback"], r
    assert r["waited"] >= 0.9, "it waited for the graceful-shutdown time before the withdrawal"
    assert drain_state(node) == "drained"
    r, _ = node.run("drain", args)
    assert not r["changed"] and r["before"] == r["after"] == "drained"

    undrain = {"state": "undrained", "handback": "false"}
    r, _ = node.run("drain", undrain, "--check")
    assert r["changed"] and r["after"] == "undrained" and drain_state(node) == "drained"
    r, _ = node.run("drain", undrain)
    assert r["changed"] and r["before"] == "drained" and r["after"] == "undrained"
    assert drain_state(node) == "undrained"
    assert not node.run("drain", undrain)[0]["changed"]


def test_bad_input_is_named(node, speaker):
    r, _ = node.run("drain", {"wait_timeout": -1})
    assert r["failed"] and "wait_timeout must be 0 or more" in r["msg"]
    r, _ = node.run("drain", {"handback": "true", "handback_command": str(node.tmp / "missing")})
    assert r["failed"] and "handback=true but" in r["msg"] and drain_state(node) == "undrained"


def test_speaker_down_fails_with_bgplbctls_reason(node):
    r, _ = node.run("drain", {"handback": "false"})
    assert r["failed"] and r["code"] == "unreachable", r


class Namespace:
    def __init__(self) -> None:
        self.name = f"bgplbdrain-{uuid.uuid4().hex[:6]}"
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        self.procs: list[subprocess.Popen[str]] = []

    def run(self, *argv: str) -> str:
        return subprocess.run(["ip", "netns", "exec", self.name, *argv], check=True, capture_output=True,
                              text=True).stdout  # fmt: skip

    def close(self) -> None:
        for p in self.procs:
            p.kill()
            p.wait()
        subprocess.run(["ip", "netns", "del", self.name], check=False)


CHATTER = f"""
import socket, sys, threading, time
srv = socket.create_server(("{VIP}", 8080))
cli = socket.create_connection(("{VIP}", 8080))
conn, _ = srv.accept()
quiet = threading.Event()
def talk():  # a byte each way every 0.2 s, so both ends count as live, until told to stop
    while not quiet.is_set():
        cli.send(b"x"); conn.recv(1); conn.send(b"y"); cli.recv(1)
        time.sleep(0.2)
threading.Thread(target=talk, daemon=True).start()
print("up", flush=True)
sys.stdin.readline()
quiet.set()
print("quiet", flush=True)
sys.stdin.readline()
"""


@pytest.mark.needs(root=True, tools=("ip", "nft", "ss"))
def test_handback_aware_waits_report_what_is_left(node, speaker):
    ns = Namespace()
    try:
        ns.run("ip", "link", "set", "lo", "up")
        ns.run("ip", "addr", "add", f"{VIP}/32", "dev", "lo")
        config = node.tmp / "handback.yaml"
        config.write_text(yaml.safe_dump({"service_cidrs": ["198.51.100.0/24"], "idle": 2}))
        command = node.tmp / "bgplb-handback"
        command.write_text(f'#!/bin/sh\nexec {sys.executable} -m bgplb.handback "$@"\n')
        command.chmod(0o755)
        ns.run(str(command), "--config", str(config), "start")
        chatter = subprocess.Popen(["ip", "netns", "exec", ns.name, sys.executable, "-c", CHATTER],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
        ns.procs.append(chatter)
        assert chatter.stdout.readline().strip() == "up"

        hb = {"handback": "true", "handback_command": str(command), "handback_config": str(config), "wait_sleep": 1}
        r = run_in(ns, node, {"state": "drained", "gshut_wait": 0, "wait_timeout": 1, **hb})
        assert r["changed"] and r["handback"] and r["timed_out"], r
        assert r["connections_left"] == 2, "both ends of the live connection are on the service IP"
        assert r["after"] == "drained", "the routes are withdrawn also when connections are left"
        assert any("wait_timeout (1 s) ran out with 2 live connection(s)" in w for w in r["warnings"])
        # silent for longer than `idle`: the connection no longer holds the drain
        chatter.stdin.write("quiet\n")
        chatter.stdin.flush()
        assert chatter.stdout.readline().strip() == "quiet"
        r = run_in(ns, node, {"state": "drained", "gshut_wait": 0, "wait_timeout": 20, **hb})
        assert not r["changed"] and not r["timed_out"] and r["connections_left"] == 0, r

        # a flow handed on, as the set holds it: the undrain waits until it has been silent for its timeout
        ns.run("nft", "add", "element", "ip", "bgplb_handback", "handed_back",
               f"{{ 192.0.2.1 . 40000 . {VIP} . 8080 timeout 4s }}")  # fmt: skip
        r = run_in(ns, node, {"state": "undrained", "settle": 0, "wait_timeout": 1, **hb})
        assert r["changed"] and r["timed_out"] and r["flows_left"] == 1, r
        assert drain_state(node) == "undrained"
        r = run_in(ns, node, {"state": "drained", "gshut_wait": 0, **hb})
        r = run_in(ns, node, {"state": "undrained", "settle": 0, "wait_timeout": 20, **hb})
        assert r["changed"] and not r["timed_out"] and r["flows_left"] == 0, r
    finally:
        ns.close()


def run_in(ns: Namespace, node, args: dict) -> dict:
    """One drain task through ansible-playbook inside the namespace (where the connections and nftables are)."""
    node.steps += 1
    out = node.tmp / f"result{node.steps}.json"
    play = [{"name": "Drain", "hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "Step", "baremetal.bgplb.drain": {**node.defaults, **args}, "register": "result"},
        {"name": "Save", "ansible.builtin.copy": {"content": "{{ result | to_json }}", "dest": str(out)}},
    ]}]  # fmt: skip
    path = node.tmp / f"play{node.steps}.yml"
    path.write_text(yaml.safe_dump(play, sort_keys=False))
    cmd = ["ip", "netns", "exec", ns.name, str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local",
           "-e", f"ansible_python_interpreter={BIN / 'python'}", str(path)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env(), timeout=240, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(Path(out).read_text())
