from __future__ import annotations

from ansible_collections.baremetal.bgplb.plugins.module_utils.diff import REDACTED, drop_unset, object_diff, redact

PEER = {"name": "r1", "address": "10.0.0.254", "asn": 65000, "password": REDACTED}


def test_redact_hides_passwords_at_any_depth():
    data = {"password": "s3cret", "nested": [{"password": "x", "ok": 1}], "other": None, "password2": "kept"}
    assert redact(data) == {"password": REDACTED, "nested": [{"password": REDACTED, "ok": 1}], "other": None,
                            "password2": "kept"}  # fmt: skip
    assert redact({"password": None}) == {"password": None}
    assert redact(None) is None


def test_drop_unset_sends_only_what_the_user_set():
    params = {"name": "p", "addresses": ["10.0.0.0/24"], "auto_assign": None, "avoid_buggy_ips": False, "x": 1}
    assert drop_unset(params, ["name", "addresses", "auto_assign", "avoid_buggy_ips"]) == {
        "name": "p", "addresses": ["10.0.0.0/24"], "avoid_buggy_ips": False}  # fmt: skip


def test_diff_of_created_updated_deleted():
    created = object_diff({"kind": "pool", "name": "p", "action": "created", "before": None, "after": {"name": "p"}})
    assert created == {"before": {}, "after": {"name": "p"}, "before_header": "(absent)", "after_header": "pool/p"}
    updated = object_diff({"kind": "pool", "name": "p", "action": "updated", "before": {"name": "p", "a": 1},
                           "after": {"name": "p", "a": 2}})  # fmt: skip
    assert (updated["before"]["a"], updated["after"]["a"], updated["after_header"]) == (1, 2, "pool/p")
    deleted = object_diff({"kind": "pool", "name": "p", "action": "deleted", "before": {"name": "p"}, "after": None})
    assert (deleted["after"], deleted["after_header"]) == ({}, "(absent)")


def test_password_only_change_is_named_but_never_shown():
    change = {"kind": "peer", "name": "r1", "action": "updated", "before": {**PEER, "password": "old"},
              "after": {**PEER, "password": "new"}}  # fmt: skip
    diff = object_diff(change)
    assert diff["before"] == diff["after"] == PEER
    assert diff["after_header"] == "peer/r1 (password changed)"
    assert "old" not in repr(diff) and "new" not in repr(diff)
