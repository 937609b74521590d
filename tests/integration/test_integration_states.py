"""Each resource-module state of the object modules for real (ansible-playbook -> module -> bgplbctl -> a temporary
config dir): merged, replaced, overridden (in test_integration_objects.py), deleted, gathered, rendered, parsed, and
`wait` against a running speaker."""

from __future__ import annotations

import subprocess
import time

import pytest
import yaml
from module_runner import BGPLBCTL, BIN

pytestmark = pytest.mark.needs(files=(BGPLBCTL,))

# the address is in speaker.yaml's inline pool mgmt
WEB = {"name": "web", "address": "192.0.2.10", "health_check": {"type": "tcp", "port": 80, "interval": 5}}
PUBLIC = {"name": "public", "addresses": ["198.51.100.0/24"], "labels": {"team": "a", "tier": "front"}}


def test_merged_keeps_what_is_left_out_and_merges_mappings_key_by_key(node):
    r, _ = node.run("pool", {**PUBLIC, "state": "merged"})
    assert r["changed"] and r["before"] is None and r["commands"], r
    r, _ = node.run("pool", {"name": "public", "state": "merged", "labels": {"tier": "back"}, "auto_assign": False},
                    "--diff")  # fmt: skip
    stored = node.read("pool", "public")
    assert r["changed"] and stored["addresses"] == PUBLIC["addresses"], stored  # left out: kept
    assert stored["labels"] == {"team": "a", "tier": "back"} and stored["auto_assign"] is False, stored
    node.run("service", {**WEB, "state": "merged"})
    r, _ = node.run("service", {"name": "web", "state": "merged", "health_check": {"port": 8080}})
    assert r["changed"], r
    check = node.read("service", "web")["health_check"]
    assert check["port"] == 8080 and check["interval"] == 5 and check["type"] == "tcp", check
    again, _ = node.run("pool", {"name": "public", "state": "merged", "labels": {"tier": "back"}})
    assert not again["changed"] and again["commands"] == [], again


def test_replaced_takes_the_defaults_for_what_is_left_out(node):
    node.run("pool", {**PUBLIC, "auto_assign": False, "state": "merged"})
    r, _ = node.run("pool", {"name": "public", "addresses": PUBLIC["addresses"], "state": "replaced"})
    stored = node.read("pool", "public")
    assert r["changed"] and not stored.get("labels") and stored.get("auto_assign", True) is True, stored
    assert r["before"]["labels"] == PUBLIC["labels"] and not r["after"]["labels"], r
    again, _ = node.run("pool", {"name": "public", "addresses": PUBLIC["addresses"], "state": "replaced"})
    assert not again["changed"], again


def test_deleted_by_name_and_deleted_without_names_keeps_the_read_only_objects(node):
    for name, cidr in (("a", "10.1.0.0/24"), ("b", "10.2.0.0/24")):
        node.run("pool", {"name": name, "addresses": [cidr], "state": "merged"})
    r, _ = node.run("pool", {"name": "a", "state": "deleted"})
    assert r["changed"] and not (node.dir / "objects/pool/a.yaml").exists()
    files = node.files()
    r, _ = node.run("pool", {"state": "deleted"}, "--check")
    assert r["changed"] and node.files() == files, "check mode wrote something"
    r, _ = node.run("pool", {"state": "deleted"})
    assert r["changed"] and r["read_only"] == ["mgmt"], r  # speaker.yaml's inline pool stays
    assert not (node.dir / "objects/pool/b.yaml").exists()
    assert not node.run("pool", {"state": "deleted"})[0]["changed"]


def test_gathered_gives_module_input_and_writes_nothing(node):
    node.run("service", {**WEB, "state": "merged"})
    files = node.files()
    r, _ = node.run("service", {"state": "gathered"})
    assert not r["changed"] and node.files() == files
    assert [o["name"] for o in r["gathered"]] == ["web"], r
    assert r["gathered"][0]["health_check"]["port"] == 80, r
    # what gathered returns is valid input: applying it back changes nothing
    again, _ = node.run("service", {"state": "overridden", "objects": r["gathered"]})
    assert not again["changed"], again
    r, _ = node.run("pool", {"name": "mgmt", "state": "gathered"})
    assert [o["name"] for o in r["gathered"]] == ["mgmt"], r


def test_rendered_is_an_apply_file_and_touches_nothing(node, tmp_path):
    files = node.files()
    r, _ = node.run("service", {"state": "rendered", "objects": [WEB]})
    assert not r["changed"] and node.files() == files
    docs = yaml.safe_load(r["rendered"])  # the module's normalised input: address as a list, seconds as floats
    assert docs == [{"kind": "service", "name": "web", "address": ["192.0.2.10"],
                     "health_check": {"type": "tcp", "port": 80, "interval": 5.0}}], docs  # fmt: skip
    path = tmp_path / "web.yaml"
    path.write_text(r["rendered"])
    out = subprocess.run([str(BGPLBCTL), "--config-dir", str(node.dir), "--json", "apply", "-f", str(path)],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert '"action": "created"' in out, out


def test_parsed_reads_an_object_file_or_speaker_yaml(node):
    node.run("service", {**WEB, "state": "merged"})
    text = (node.dir / "objects/service/web.yaml").read_text()
    r, _ = node.run("service", {"state": "parsed", "running_config": text})
    assert not r["changed"] and r["parsed"][0]["name"] == "web", r
    assert r["parsed"][0]["health_check"]["port"] == 80, r
    r, _ = node.run("pool", {"state": "parsed", "running_config": (node.dir / "speaker.yaml").read_text()})
    assert [o["name"] for o in r["parsed"]] == ["mgmt"], r
    r, _ = node.run("pool", {"state": "parsed", "running_config": "pools: [:"})
    assert r.get("failed") and "running_config" in r["msg"], r


def test_wait_returns_once_the_running_speaker_has_the_change(node):
    state = node.tmp / "state"
    proc = subprocess.Popen(
        [str(BIN / "bgplb-speaker"), "--config-dir", str(node.dir), "--state-dir", str(state),
         "--socket", str(node.socket), "--no-listen", "--watch-interval", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not node.socket.exists():
            assert proc.poll() is None and time.monotonic() < deadline, "the speaker did not start"
            time.sleep(0.1)
        r, _ = node.run("pool", {"name": "public", "addresses": ["198.51.100.0/24"], "state": "merged",
                                 "wait": True, "wait_timeout": 30})  # fmt: skip
        assert r["changed"] and r["reload"] == "applied" and r["wait"], r  # taken by the speaker, not the watcher
        r, _ = node.run("pool", {"name": "public", "state": "deleted", "wait": True, "wait_timeout": 30})
        assert r["changed"] and r["reload"] == "applied", r
    finally:
        proc.terminate()
        proc.wait(timeout=15)
