"""ObjectResource against a fake bgplbctl that behaves like the real one's JSON (checked for real in integration)."""

from __future__ import annotations

import pytest
from ansible_collections.baremetal.bgplb.plugins.module_utils.bgplbctl import BgplbctlError
from ansible_collections.baremetal.bgplb.plugins.module_utils.resource import ObjectResource

DEFAULTS = {"auto_assign": True, "avoid_buggy_ips": False, "labels": {}}
INLINE = "pool mgmt: defined in speaker.yaml; edit that file instead"
NOTE = "speaker not running: written, it takes effect when the speaker starts"


class FakeCtl:
    """Pools in memory; `inline` ones are refused like bgplbctl refuses them; `used` ones cannot be deleted."""

    def __init__(self, pools, inline=(), used=()):
        self.pools = {p["name"]: {**p, **DEFAULTS} for p in pools}
        self.inline, self.used = set(inline), set(used)
        self.writes = []

    def get(self, kind):
        return list(self.pools.values())

    def apply(self, kind, objects, dry_run=False):
        changes = []
        for obj in objects:
            new, old = {**obj, **DEFAULTS}, self.pools.get(obj["name"])
            action = "created" if old is None else ("unchanged" if old == new else "updated")
            changes.append({"kind": kind, "name": obj["name"], "action": action, "before": old, "after": new})
            if action != "unchanged" and not dry_run:
                self.pools[obj["name"]] = new
                self.writes.append(("apply", obj["name"]))
        changed = any(c["action"] != "unchanged" for c in changes)
        return {
            "ok": True,
            "changed": changed,
            "changes": changes,
            "reload": "deferred" if changed and not dry_run else None,
            "speaker": NOTE if changed and not dry_run else None,
        }

    def delete(self, kind, name, dry_run=False):
        if name in self.inline:
            raise BgplbctlError([f"pool {name}: defined in speaker.yaml; edit that file instead"], 2, "read_only")
        if name in self.used:
            raise BgplbctlError([f"service web: pool: no pool named {name}"], 2, "in_use")
        old = self.pools.get(name)
        if old is not None and not dry_run:
            del self.pools[name]
            self.writes.append(("delete", name))
        action = "unchanged" if old is None else "deleted"
        change = {"kind": kind, "name": name, "action": action, "before": old, "after": None}
        written = old is not None and not dry_run
        return {"ok": True, "changes": [change], "reload": "deferred" if written else None,
                "speaker": NOTE if written else None}  # fmt: skip


class Module:
    def __init__(self, check_mode=False, **params):
        base = {"name": None, "addresses": None, "auto_assign": None, "avoid_buggy_ips": None, "labels": None,
                "state": "present", "objects": None, "running_config": None, "wait": False,
                "wait_timeout": 120}  # fmt: skip
        self.params = {**base, **params}
        self.check_mode = check_mode
        self.warnings = []

    def warn(self, text):
        self.warnings.append(text)


def run(ctl, check_mode=False, **params):
    return ObjectResource(Module(check_mode, **params), "pool", ctl).execute()


def test_present_creates_then_is_unchanged():
    ctl = FakeCtl([])
    result = run(ctl, name="p", addresses=["10.0.0.0/24"])
    assert (result["changed"], result["before"], result["reload"], result["speaker"]) == (True, None, "deferred", NOTE)
    assert result["after"] == {"name": "p", "addresses": ["10.0.0.0/24"], **DEFAULTS}
    again = run(ctl, name="p", addresses=["10.0.0.0/24"])
    assert (again["changed"], again["reload"], again["before"]) == (False, None, again["after"])


def test_check_mode_predicts_and_writes_nothing():
    ctl = FakeCtl([{"name": "p", "addresses": ["10.0.0.0/24"]}])
    result = run(ctl, check_mode=True, name="p", addresses=["10.0.1.0/24"])
    assert result["changed"] and result["after"]["addresses"] == ["10.0.1.0/24"] and result["reload"] is None
    assert result["diff"]["before"]["addresses"] == ["10.0.0.0/24"]
    assert ctl.writes == []


def test_absent_and_absent_again():
    ctl = FakeCtl([{"name": "p", "addresses": ["10.0.0.0/24"]}])
    result = run(ctl, name="p", state="absent")
    assert (result["changed"], result["after"], result["before"]["name"]) == (True, None, "p")
    assert run(ctl, name="p", state="absent")["changed"] is False


def test_overridden_applies_deletes_the_rest_and_keeps_inline_ones():
    ctl = FakeCtl([{"name": "old", "addresses": ["10.9.0.0/24"]}, {"name": "mgmt", "addresses": ["10.8.0.0/24"]},
                   {"name": "keep", "addresses": ["10.7.0.0/24"]}], inline={"mgmt"})  # fmt: skip
    objects = [{"name": "keep", "addresses": ["10.7.0.0/24"], "auto_assign": None, "avoid_buggy_ips": None,
                "labels": None}, {"name": "new", "addresses": ["10.6.0.0/24"]}]  # fmt: skip
    result = run(ctl, state="overridden", objects=objects)
    assert result["changed"] and result["read_only"] == ["mgmt"]
    assert [p["name"] for p in result["before"]] == ["keep", "mgmt", "old"]
    assert [p["name"] for p in result["after"]] == ["keep", "mgmt", "new"]
    assert {(c["name"], c["action"]) for c in result["changes"]} == {("keep", "unchanged"), ("new", "created"),
                                                                       ("old", "deleted")}  # fmt: skip
    assert [d["after_header"] for d in result["diff"]] == ["pool/new", "(absent)"]
    assert run(ctl, state="overridden", objects=objects)["changed"] is False


def test_overridden_with_a_refused_deletion_writes_nothing():
    ctl = FakeCtl([{"name": "used", "addresses": ["10.9.0.0/24"]}], used={"used"})
    with pytest.raises(BgplbctlError, match="no pool named used"):
        run(ctl, state="overridden", objects=[{"name": "new", "addresses": ["10.6.0.0/24"]}])
    assert ctl.writes == []


def test_overridden_check_mode_computes_after_without_writing():
    ctl = FakeCtl([{"name": "old", "addresses": ["10.9.0.0/24"]}])
    result = run(ctl, check_mode=True, state="overridden", objects=[{"name": "new", "addresses": ["10.6.0.0/24"]}])
    assert [p["name"] for p in result["after"]] == ["new"] and result["changed"]
    assert ctl.writes == [] and list(ctl.pools) == ["old"]


def test_listed_present_returns_lists():
    ctl = FakeCtl([])
    result = run(
        ctl, objects=[{"name": "a", "addresses": ["10.1.0.0/24"]}, {"name": "b", "addresses": ["10.2.0.0/24"]}]
    )
    assert [p["name"] for p in result["after"]] == ["a", "b"] and result["before"] == []
    assert len(result["diff"]) == 2


def test_passwords_are_redacted_even_if_bgplbctl_did_not():
    class LeakyCtl(FakeCtl):
        def apply(self, kind, objects, dry_run=False):
            change = {"kind": "peer", "name": "r1", "action": "updated", "before": {"name": "r1", "password": "a"},
                      "after": {"name": "r1", "password": "b"}}  # fmt: skip
            return {"ok": True, "changed": True, "changes": [change], "speaker": None}

    result = ObjectResource(Module(name="r1"), "peer", LeakyCtl([])).execute()
    assert result["changed"] and "'a'" not in repr(result) and "'b'" not in repr(result)
    assert result["diff"]["after_header"] == "peer/r1 (password changed)"


def test_refused_reload_warns():
    class Refusing(FakeCtl):
        def apply(self, kind, objects, dry_run=False):
            return {**super().apply(kind, objects, dry_run), "reload": "refused",
                    "speaker": "speaker refused the reload: boom"}  # fmt: skip

    module = Module(name="p", addresses=["10.0.0.0/24"])
    result = ObjectResource(module, "pool", Refusing([])).execute()
    assert result["reload"] == "refused" and module.warnings == ["speaker refused the reload: boom"]


def test_only_the_typed_fields_count_not_the_messages():
    """Issue 12 #3: a read-only refusal is known by bgplbctl's `code`, a reload by its `reload` field; messages that
    merely read like them change nothing."""

    class Typed(FakeCtl):
        def apply(self, kind, objects, dry_run=False):
            return {**super().apply(kind, objects, dry_run), "reload": "applied", "speaker": "speaker refused: no"}

        def delete(self, kind, name, dry_run=False):
            if name == "mgmt":  # says "edit that file instead" but is typed invalid: a real failure
                raise BgplbctlError([f"pool {name}: defined in speaker.yaml; edit that file instead"], 2, "invalid")
            return super().delete(kind, name, dry_run)

    module = Module(name="p", addresses=["10.0.0.0/24"])
    result = ObjectResource(module, "pool", Typed([])).execute()
    assert result["reload"] == "applied" and module.warnings == []
    with pytest.raises(BgplbctlError) as err:
        ObjectResource(Module(state="overridden", objects=[]), "pool", Typed([{"name": "mgmt"}])).execute()
    assert err.value.kind == "invalid"
