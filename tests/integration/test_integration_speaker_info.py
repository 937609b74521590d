"""speaker_info, and object writes reloading a running speaker: a real bgplb-speaker (--no-listen) in temp dirs."""

from __future__ import annotations

import socket
import subprocess
import time

import pytest
from module_runner import BGPLBCTL, BIN

pytestmark = pytest.mark.needs(files=(BGPLBCTL,))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nobody listens there: the session stays down, which is all we need


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


def test_speaker_info_and_reload(node, speaker):
    port = free_port()
    r, _ = node.run("peer", {"name": "r1", "address": "127.0.0.1", "asn": 65000, "port": port, "connect_time": 60})
    assert r["changed"] and r["reload"] == "applied" and r["speaker"] == "speaker reloaded"
    assert node.run("advertisement", {"name": "all"})[0]["reload"] == "applied"
    r, _ = node.run("service", {"name": "web", "pool": "mgmt"})
    assert r["reload"] == "applied"
    address = r["after"]["address"][0]

    info, _ = node.run("speaker_info", {})
    assert info["running"] and not info["changed"] and info["node"] == "n1"
    assert info["drain"] is None and info["draining"] is False and info["config_errors"] == []
    (session,) = info["sessions"]
    assert session["name"] == "r1" and session["address"] == "127.0.0.1" and session["asn"] == 65000
    assert session["state"] != "Established" and not session["established"] and session["uptime"] is None
    assert session["prefixes_sent"] == 0
    assert [route["prefix"] for route in info["routes"]["r1"]] == [f"{address}/32"]
    assert session["pending"] == [f"{address}/32"] and session["advertised"] == []

    # a hand-edited broken object file: the running speaker skips it and says so
    (node.dir / "objects/pool").mkdir(exist_ok=True)
    (node.dir / "objects/pool/broken.yaml").write_text("name: broken\naddresses: [10.9.9.0/33]\n")
    deadline = time.monotonic() + 10
    time.sleep(1)
    while True:
        info, _ = node.run("speaker_info", {}, "--check")
        if info["config_errors"] or time.monotonic() > deadline:
            break
    assert any("broken" in e and "addresses[0]" in e for e in info["config_errors"]), info["config_errors"]
