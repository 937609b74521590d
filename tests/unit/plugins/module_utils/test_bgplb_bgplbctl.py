from __future__ import annotations

import json

import pytest
from ansible_collections.baremetal.bgplb.plugins.module_utils.bgplbctl import (
    Bgplbctl,
    BgplbctlError,
    find_bgplbctl,
)

REQUIRED = "pool p: addresses: is required"
TRACEBACK = "Traceback (most recent call last):\n boom"


class FakeModule:
    def __init__(self, replies=(), bin_path=None):
        self.params = {"bgplbctl": "/bin/sh", "config_dir": "/etc/bgplb", "socket": "/run/bgplb/api.sock"}
        self.replies = list(replies)
        self.calls = []
        self.bin_path = bin_path
        self.check_mode = False

    def get_bin_path(self, name):
        return self.bin_path

    def run_command(self, cmd, data=None, check_rc=False):
        self.calls.append((cmd, data))
        return self.replies.pop(0)


def test_not_found_names_the_path_and_the_role(tmp_path):
    with pytest.raises(BgplbctlError) as err:
        find_bgplbctl(FakeModule(), str(tmp_path / "bgplbctl"))
    assert err.value.errors == [
        f"bgplbctl not found at {tmp_path}/bgplbctl: install the speaker with the baremetal.bgplb.speaker role"
    ]
    with pytest.raises(BgplbctlError, match=r"^bgplbctl not found at bgplbctl \(searched PATH\): install"):
        find_bgplbctl(FakeModule(bin_path=None), "bgplbctl")
    assert find_bgplbctl(FakeModule(bin_path="/usr/local/bin/bgplbctl"), "bgplbctl") == "/usr/local/bin/bgplbctl"


def test_apply_sends_json_on_stdin_with_the_module_options():
    reply = {"ok": True, "changed": False, "changes": [], "speaker": None}
    module = FakeModule([(0, json.dumps(reply), "")])
    assert Bgplbctl(module).apply("pool", [{"name": "p"}], dry_run=True) == reply
    ((cmd, data),) = module.calls
    assert cmd == ["/bin/sh", "--config-dir", "/etc/bgplb", "--socket", "/run/bgplb/api.sock", "--json", "apply",
                   "-f", "-", "--dry-run"]  # fmt: skip
    assert json.loads(data) == [{"kind": "pool", "name": "p"}]


@pytest.mark.parametrize(
    ("rc", "out", "err", "errors"),
    [
        (2, json.dumps({"ok": False, "code": "invalid", "errors": [REQUIRED]}), "", [REQUIRED]),
        (3, json.dumps({"ok": False, "code": "unreachable", "errors": ["cannot reach the speaker"]}), "",
         ["cannot reach the speaker"]),
        (1, "", "Traceback (most recent call last):\n boom", [f"bgplbctl get failed (exit 1): {TRACEBACK}"]),
        (0, "not json", "", ["bgplbctl get failed (exit 0): not json"]),
    ],
)  # fmt: skip
def test_failures_carry_bgplbctls_messages_and_code(rc, out, err, errors):
    with pytest.raises(BgplbctlError) as caught:
        Bgplbctl(FakeModule([(rc, out, err)])).get("pool")
    assert caught.value.errors == errors
    assert caught.value.code == (rc or 1)
    assert caught.value.invalid == (rc == 2) and caught.value.unreachable == (rc == 3)


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        ({"code": "read_only", "errors": ["pool m: defined in speaker.yaml; edit that file instead"]}, "read_only"),
        ({"code": "in_use", "errors": ["service web: pool: no pool named p"]}, "in_use"),
        ({"code": "busy", "errors": ["the speaker did not answer"]}, "busy"),
        ({"errors": ["pool m: defined in speaker.yaml; edit that file instead"]}, "failed"),  # untyped: not parsed
        ({"code": "something-new", "errors": ["?"]}, "failed"),
    ],
)
def test_the_error_kind_is_bgplbctls_code(reply, kind):
    with pytest.raises(BgplbctlError) as caught:
        Bgplbctl(FakeModule([(2, json.dumps({"ok": False, **reply}), "")])).delete("pool", "m")
    assert caught.value.kind == kind
    assert caught.value.read_only == (kind == "read_only")
