"""The object modules for real: ansible-playbook -> module -> bgplbctl -> temp config dir (speaker not running)."""

from __future__ import annotations

import pytest
from module_runner import BGPLBCTL, ROOT, playbook

pytestmark = pytest.mark.needs(files=(BGPLBCTL,))

POOL = {"name": "public", "addresses": ["198.51.100.0/24"]}
PASSWORD = "Md5-s3cret-Key"
PEER = {"name": "core1", "address": "10.0.0.254", "asn": 65000, "password": PASSWORD}


def changed_keys(result):
    before, after = result["diff"]["before"], result["diff"]["after"]
    return sorted(k for k in {*before, *after} if before.get(k) != after.get(k))


def test_pool_lifecycle(node):
    r, _ = node.run("pool", POOL)
    assert r["changed"] and r["before"] is None and r["reload"] == "deferred"
    assert r["after"] == {**POOL, "auto_assign": True, "avoid_buggy_ips": False, "labels": {}}
    assert node.read("pool", "public") == r["after"]

    r, _ = node.run("pool", POOL)
    assert not r["changed"] and r["before"] == r["after"] and r["reload"] is None

    files = node.files()
    r, out = node.run("pool", {**POOL, "auto_assign": False}, "--check", "--diff")
    assert r["changed"] and r["after"]["auto_assign"] is False and changed_keys(r) == ["auto_assign"]
    assert node.files() == files, "check mode wrote something"
    assert '-    "auto_assign": true,' in out and '+    "auto_assign": false,' in out

    r, _ = node.run("pool", {**POOL, "auto_assign": False}, "--diff")
    assert r["changed"] and changed_keys(r) == ["auto_assign"] and node.read("pool", "public")["auto_assign"] is False

    files = node.files()
    r, _ = node.run("pool", {"name": "public", "state": "absent"}, "--check")
    assert r["changed"] and node.files() == files
    r, _ = node.run("pool", {"name": "public", "state": "absent"})
    assert r["changed"] and r["after"] is None and r["before"]["name"] == "public"
    assert not (node.dir / "objects/pool/public.yaml").exists()
    r, _ = node.run("pool", {"name": "public", "state": "absent"})
    assert not r["changed"] and r["before"] is None


@pytest.mark.parametrize(
    ("module", "args", "message"),
    [
        ("pool", {**POOL, "addresses": ["198.51.100.0/33"]}, "addresses[0]: 198.51.100.0/33 is not a CIDR"),
        ("pool", {"name": "dup", "addresses": ["192.0.2.128/25"]}, "pool dup: addresses overlap pool mgmt"),
        ("pool", {"name": "nothing"}, "pool nothing: addresses: is required"),
        ("peer", {**PEER, "asn": 0}, "peer core1: asn: expected an integer from 1 to 4294967295, got 0"),
        ("service", {"name": "web", "address": "198.51.100.7", "health_check": {"type": "tcp"}},
         "service web: health_check.port: is required for a tcp check"),
        ("advertisement", {"name": "a", "pools": ["missing"]}, "advertisement a: pools[0]: no pool named missing"),
        ("community", {"name": "c", "value": "nonsense"}, "community c: value"),
        ("pool", {"name": "mgmt", "addresses": ["192.0.2.0/25"]}, "pool mgmt: defined in speaker.yaml"),
    ],
)  # fmt: skip
def test_invalid_input_fails_with_the_speakers_message_and_writes_nothing(node, module, args, message):
    files = node.files()
    r, _ = node.run(module, args)
    assert r["failed"] and message in r["msg"], r["msg"]
    assert node.files() == files


def test_inline_objects_cannot_be_deleted(node):
    r, _ = node.run("pool", {"name": "mgmt", "state": "absent"})
    assert r["failed"] and r["msg"] == "pool mgmt: defined in speaker.yaml; edit that file instead"


def test_peer_password_never_shown(node):
    r, out = node.run("peer", PEER, "-vvv", "--diff")
    assert r["changed"] and r["after"]["password"] == "********"
    assert node.read("peer", "core1")["password"] == PASSWORD
    r2, out2 = node.run("peer", PEER, "-vvv")
    assert not r2["changed"]
    r3, out3 = node.run("peer", {**PEER, "password": PASSWORD + "-rotated"}, "-vvv", "--diff")
    assert r3["changed"] and r3["changes"] == [{"kind": "peer", "name": "core1", "action": "updated"}]
    assert r3["diff"]["after_header"] == "peer/core1 (password changed)"
    assert r3["before"] == r3["after"]
    assert node.read("peer", "core1")["password"] == PASSWORD + "-rotated"
    r4, out4 = node.run("peer", {**PEER, "hold_time": 30}, "-vvv", "--check", "--diff")
    assert r4["changed"] and changed_keys(r4) == ["hold_time"]
    for text in (out, out2, out3, out4, repr([r, r2, r3, r4])):
        assert PASSWORD not in text
    assert "password changed" in out3


def test_objects_reference_each_other(node):
    assert node.run("community", {"name": "no-transit", "value": "65000:666"})[0]["changed"]
    assert node.run("pool", POOL)[0]["changed"]
    r, _ = node.run("advertisement", {"name": "public", "pools": ["public"], "communities": ["no-transit"]})
    assert r["changed"] and r["after"]["aggregation_length"] == 32
    r, _ = node.run("service", {"name": "web", "pool": "public"})
    address = r["after"]["address"]
    assert r["changed"] and address[0].startswith("198.51.100.")
    r, _ = node.run("service", {"name": "web", "pool": "public"})
    assert not r["changed"] and r["after"]["address"] == address  # the assigned address is kept
    files = node.files()
    r, _ = node.run("community", {"name": "no-transit", "state": "absent"})
    assert r["failed"] and "no-transit" in r["msg"] and node.files() == files
    r, _ = node.run("advertisement", {"name": "public", "pools": ["public"], "aggregation_length": 24}, "--diff")
    assert changed_keys(r) == ["aggregation_length", "communities"]  # left-out options take the defaults
    assert node.run("community", {"name": "no-transit", "state": "absent"})[0]["changed"]


def test_overridden_is_authoritative_and_keeps_inline_objects(node):
    for name, net in (("a", "10.1.0.0/24"), ("b", "10.2.0.0/24")):
        assert node.run("pool", {"name": name, "addresses": [net]})[0]["changed"]
    wanted = [{"name": "a", "addresses": ["10.1.0.0/24"], "avoid_buggy_ips": True},
              {"name": "c", "addresses": ["10.3.0.0/24"]}]  # fmt: skip
    files = node.files()
    r, _ = node.run("pool", {"state": "overridden", "objects": wanted}, "--check")
    assert r["changed"] and [p["name"] for p in r["after"]] == ["a", "c", "mgmt"] and node.files() == files
    r, _ = node.run("pool", {"state": "overridden", "objects": wanted}, "--diff")
    assert r["changed"] and r["read_only"] == ["mgmt"]
    assert [p["name"] for p in r["before"]] == ["a", "b", "mgmt"]
    assert [p["name"] for p in r["after"]] == ["a", "c", "mgmt"]
    assert sorted((c["name"], c["action"]) for c in r["changes"]) == [("a", "updated"), ("b", "deleted"),
                                                                       ("c", "created")]  # fmt: skip
    assert sorted(p.name for p in (node.dir / "objects/pool").iterdir()) == ["a.yaml", "c.yaml"]
    r, _ = node.run("pool", {"state": "overridden", "objects": wanted})
    assert not r["changed"] and r["reload"] is None

    # a pool still in use is not deleted, and nothing else is written either
    assert node.run("service", {"name": "web", "pool": "c"})[0]["changed"]
    files = node.files()
    r, _ = node.run("pool", {"state": "overridden", "objects": [{"name": "d", "addresses": ["10.4.0.0/24"]}]})
    assert r["failed"] and "pool" in r["msg"] and node.files() == files

    assert node.run("service", {"name": "web", "state": "absent"})[0]["changed"]
    r, _ = node.run("pool", {"state": "overridden", "objects": []})
    assert r["changed"] and [p["name"] for p in r["after"]] == ["mgmt"] and r["read_only"] == ["mgmt"]


def test_bgplbctl_missing(node):
    r, _ = node.run("pool", {**POOL, "bgplbctl": str(node.tmp / "nope/bgplbctl")})
    assert r["failed"] and r["msg"] == (
        f"bgplbctl not found at {node.tmp}/nope/bgplbctl: install the speaker with the baremetal.bgplb.speaker role"
    )
    assert "Traceback" not in str(r)


def test_site_style_playbook_is_idempotent(node):
    """The playbook shipped as an example: pools from a list variable, authoritative, then again with changed=0."""
    args = ["-e", f"bgplb_test_bgplbctl={BGPLBCTL}", "-e", f"bgplb_test_config_dir={node.dir}",
            "-e", f"bgplb_test_socket={node.socket}"]  # fmt: skip
    path = ROOT / "tests/integration/playbooks/objects.yml"
    first = playbook(path, *args)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "changed=0" not in first.stdout
    second = playbook(path, *args)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "changed=0" in second.stdout and "failed=0" in second.stdout
