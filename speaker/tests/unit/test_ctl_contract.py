"""bgplbctl's typed --json contract (speaker/docs/bgplbctl.md): failures carry `code`, writes carry `reload`.

The collection's modules read only these fields (issue 12 #3); every value of both enumerations is produced here,
against a temporary config dir and, for the reload outcomes, a fake speaker on a unix socket.
"""

from __future__ import annotations

import functools
import io
import json
import socket
import sys
import threading

import pytest
import yaml

from bgplb import ctl
from bgplb.ctl import client

NODE = {"name": "n1", "router_id": "10.0.0.1", "asn": 64512}
POOL = {"kind": "pool", "name": "public", "addresses": ["198.51.100.0/24"]}
SERVICE = {"kind": "service", "name": "web", "pool": "public"}


class FakeSpeaker:
    """Answers every request with `reply` (a dict), or never answers when `reply` is None."""

    def __init__(self, path, reply):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(8)
        self.reply = reply
        self.held = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.recv(1 << 16)
            if self.reply is None:
                self.held.append(conn)  # busy: accepted, never answered
                continue
            conn.sendall(json.dumps(self.reply).encode() + b"\n")
            conn.close()

    def close(self):
        self.sock.close()
        for c in self.held:
            c.close()


@pytest.fixture
def env(tmp_path, capsys, monkeypatch):
    root = tmp_path / "etc"
    root.mkdir()
    inline = {"name": "mgmt", "addresses": ["10.99.0.0/24"]}
    (root / "speaker.yaml").write_text(yaml.safe_dump({"node": NODE, "pools": [inline]}))
    sock = tmp_path / "api.sock"
    monkeypatch.setattr(ctl, "RELOAD_TIMEOUT", 0.5)
    monkeypatch.setattr(ctl, "call", functools.partial(client.call, timeout=0.5))
    speakers = []

    class Env:
        @staticmethod
        def speaker(reply):
            speakers.append(FakeSpeaker(sock, reply))

        @staticmethod
        def run(*args, stdin=None):
            if stdin is not None:
                monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(stdin)))
            capsys.readouterr()
            code = ctl.main(["--config-dir", str(root), "--socket", str(sock), "--json", *args])
            return code, json.loads(capsys.readouterr().out)

    yield Env
    for s in speakers:
        s.close()


def test_enumerations_are_the_documented_ones():
    assert ctl.RELOAD_STATES == ("applied", "deferred", "refused")
    assert ctl.ERROR_CODES == ("invalid", "read_only", "in_use", "unreachable", "busy", "not_found", "failed")


@pytest.mark.parametrize(
    ("reply", "reload"),
    [
        ({"ok": True, "result": {"applied": True}}, "applied"),
        ({"ok": True, "result": {"applied": False, "errors": ["pool x: overlaps"]}}, "refused"),
        (None, "deferred"),  # busy: the reload is not confirmed, the file is written
    ],
)
def test_apply_and_delete_report_the_reload(env, reply, reload):
    env.speaker(reply)
    code, out = env.run("apply", "-f", "-", stdin=[POOL])
    assert (code, out["ok"], out["changed"], out["reload"]) == (0, True, True, reload)
    code, out = env.run("delete", "pool", "public")
    assert (code, out["changed"], out["reload"]) == (0, True, reload)


def test_reload_is_deferred_without_a_speaker_and_null_without_a_write(env):
    code, out = env.run("apply", "-f", "-", stdin=[POOL])
    assert (code, out["reload"]) == (0, "deferred")
    assert env.run("apply", "-f", "-", stdin=[POOL])[1]["reload"] is None  # unchanged
    assert env.run("apply", "--dry-run", "-f", "-", stdin=[{**POOL, "auto_assign": False}])[1]["reload"] is None
    assert env.run("delete", "pool", "nothing")[1]["reload"] is None


@pytest.mark.parametrize(
    ("args", "stdin", "exit_code", "code"),
    [
        (("apply", "-f", "-"), [{"kind": "pool", "name": "p"}], 2, "invalid"),
        (("apply", "-f", "-"), [{"kind": "pool", "name": "mgmt", "addresses": ["10.98.0.0/24"]}], 2, "read_only"),
        (("delete", "pool", "mgmt"), None, 2, "read_only"),
        (("get", "pool", "nope"), None, 1, "not_found"),
        (("status",), None, 3, "unreachable"),
    ],
)
def test_failures_carry_a_code(env, args, stdin, exit_code, code):
    got, out = env.run(*args, stdin=stdin)
    assert (got, out["ok"], out["code"]) == (exit_code, False, code)
    assert out["errors"]


def test_a_referenced_object_is_in_use(env):
    assert env.run("apply", "-f", "-", stdin=[POOL, SERVICE])[0] == 0
    code, out = env.run("delete", "pool", "public")
    assert (code, out["code"]) == (2, "in_use")


def test_a_speaker_that_does_not_answer_is_busy(env):
    env.speaker(None)
    code, out = env.run("status")
    assert (code, out["code"]) == (1, "busy")
