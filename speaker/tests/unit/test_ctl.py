"""bgplbctl's offline commands against a temporary config dir; the speaker socket does not exist."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import bgplb
from bgplb import ctl

NODE = {"name": "n1", "router_id": "10.0.0.1", "asn": 64512}
POOL = {"kind": "pool", "name": "public", "addresses": ["198.51.100.0/24"]}
PASSWORD = "md5-Sup3r-s3cret"
PEER = {"kind": "peer", "name": "r1", "address": "10.0.0.254", "asn": 65000, "password": PASSWORD}
NOT_RUNNING = "speaker not running: written, it takes effect when the speaker starts"


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def env(tmp_path, capsys, monkeypatch):
    """Runs bgplbctl; returns (exit code, stdout, stderr)."""
    root = tmp_path / "etc"
    root.mkdir()
    (root / "speaker.yaml").write_text(yaml.safe_dump({"node": NODE}))
    sock = tmp_path / "no-such.sock"

    class Env:
        dir = root

        @staticmethod
        def write(name: str, data, fmt: str = "yaml") -> str:
            path = tmp_path / name
            path.write_text(json.dumps(data) if fmt == "json" else yaml.safe_dump(data))
            return str(path)

        @staticmethod
        def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
            if stdin is not None:
                monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
            capsys.readouterr()
            code = ctl.main(["--config-dir", str(root), "--socket", str(sock), *args])
            out, err = capsys.readouterr()
            return code, out, err

    return Env


def test_apply_yaml_file(env):
    code, out, err = env.run("apply", "-f", env.write("pool.yaml", POOL))
    assert (code, err) == (0, "")
    assert out.splitlines() == ["pool/public created", NOT_RUNNING]
    assert yaml.safe_load((env.dir / "objects/pool/public.yaml").read_text())["addresses"] == ["198.51.100.0/24"]
    code, out, _ = env.run("apply", "-f", env.write("pool.yaml", POOL))
    assert (code, out) == (0, "pool/public unchanged\n")  # nothing changed: no reload attempted


def test_apply_json_list(env):
    svc = {"kind": "service", "name": "web", "pool": "public"}
    code, out, _ = env.run("apply", "-f", env.write("objs.json", [POOL, svc], fmt="json"))
    assert code == 0
    assert out.splitlines()[:2] == ["pool/public created", "service/web created"]
    assert (env.dir / "objects/service/web.yaml").exists()


def test_apply_multi_document_yaml_from_stdin(env):
    text = yaml.safe_dump_all([POOL, {"kind": "community", "name": "c", "value": "65000:1"}])
    code, out, _ = env.run("apply", "-f", "-", stdin=text)
    assert code == 0
    assert out.splitlines()[:2] == ["pool/public created", "community/c created"]
    assert sorted(p.name for p in (env.dir / "objects").iterdir()) == ["community", "pool"]


def test_dry_run_changes_nothing_and_prints_the_diff(env):
    before = snapshot(env.dir)
    code, out, _ = env.run("apply", "--dry-run", "-f", env.write("pool.yaml", POOL))
    assert code == 0
    assert snapshot(env.dir) == before
    assert out.startswith("pool/public created (dry run)\n")
    assert "--- a/pool/public\n+++ b/pool/public\n" in out
    assert "+- 198.51.100.0/24\n" in out and "+name: public\n" in out
    assert NOT_RUNNING not in out


def test_diff_of_an_update(env):
    env.run("apply", "-f", env.write("pool.yaml", POOL))
    code, out, _ = env.run("apply", "--diff", "-f", env.write("pool.yaml", {**POOL, "avoid_buggy_ips": True}))
    assert code == 0
    assert out.splitlines()[0] == "pool/public updated"
    assert "-avoid_buggy_ips: false\n+avoid_buggy_ips: true\n" in out
    assert yaml.safe_load((env.dir / "objects/pool/public.yaml").read_text())["avoid_buggy_ips"] is True


def test_dry_run_json(env):
    before = snapshot(env.dir)
    code, out, _ = env.run("--json", "apply", "--dry-run", "-f", env.write("pool.yaml", POOL))
    assert code == 0 and snapshot(env.dir) == before
    result = json.loads(out)
    assert (result["ok"], result["changed"], result["dry_run"], result["speaker"]) == (True, True, True, None)
    (change,) = result["changes"]
    assert (change["kind"], change["name"], change["action"], change["before"]) == ("pool", "public", "created", None)
    assert change["after"]["addresses"] == ["198.51.100.0/24"]
    assert "+name: public" in change["diff"]


def test_apply_json_reports_the_speaker_note(env):
    code, out, _ = env.run("--json", "apply", "-f", env.write("pool.yaml", POOL))
    result = json.loads(out)
    assert code == 0 and result["changed"] is True and result["speaker"] == NOT_RUNNING


INVALID = [
    ({**POOL, "addresses": ["198.51.100.0/24", "198.51.100.300"]},
     "pool public: addresses[1]: 198.51.100.300 is not an IP"),
    ({**POOL, "colour": "red"}, "pool public: colour: unknown field"),
    ({"kind": "router", "name": "x"}, "unknown kind 'router' (known: peer, pool, community, advertisement, service)"),
    ({"name": "x"}, "document 0: expected a mapping with a `kind` field"),
    ({"kind": "service", "name": "s", "address": "192.0.2.1"},
     "service s: address[0]: 192.0.2.1 is outside every pool"),
]  # fmt: skip


@pytest.mark.parametrize(("doc", "message"), INVALID, ids=[m[:40] for _, m in INVALID])
def test_invalid_input_exits_2_naming_the_field(env, doc, message):
    path = env.write("bad.yaml", doc)
    before = snapshot(env.dir)
    code, out, err = env.run("apply", "-f", path)
    assert (code, out) == (2, "")
    assert message in err and err.startswith("bgplbctl: ")
    code, out, err = env.run("--json", "apply", "-f", path)
    assert (code, err) == (2, "")
    result = json.loads(out)
    assert result["ok"] is False and any(message in e for e in result["errors"])
    code, _, err = env.run("validate", "-f", path)
    assert code == 2 and message in err
    assert snapshot(env.dir) == before


def test_bad_yaml_exits_2(env):
    path = env.dir.parent / "bad.yaml"
    path.write_text(f"kind: peer\nname: r1\npassword: {PASSWORD}: [\n")
    code, out, err = env.run("apply", "-f", str(path))
    assert code == 2 and "not valid YAML or JSON" in err and "line 3" in err
    assert PASSWORD not in out + err


def test_get(env):
    env.run("apply", "-f", env.write("objs.yaml", [POOL, {**POOL, "name": "b", "addresses": ["203.0.113.0/24"]}]))
    code, out, _ = env.run("get", "pool", "public")
    assert code == 0
    assert yaml.safe_load(out) == {"name": "public", "addresses": ["198.51.100.0/24"], "auto_assign": True,
                                   "avoid_buggy_ips": False, "labels": {}}  # fmt: skip
    code, out, _ = env.run("get", "pool")
    assert code == 0 and [p["name"] for p in yaml.safe_load(out)] == ["b", "public"]
    code, out, _ = env.run("--json", "get", "pool")
    result = json.loads(out)
    assert result["ok"] is True and result["kind"] == "pool" and len(result["items"]) == 2
    code, out, err = env.run("get", "pool", "nope")
    assert (code, out) == (1, "") and "pool nope not found" in err
    with pytest.raises(SystemExit) as exc:
        env.run("get", "pools")
    assert exc.value.code == 2


def test_delete(env):
    env.run("apply", "-f", env.write("objs.yaml", [POOL, {"kind": "service", "name": "web", "pool": "public"}]))
    before = snapshot(env.dir)
    code, _, err = env.run("delete", "pool", "public")
    assert code == 2 and "service web: pool: no pool named public" in err
    assert snapshot(env.dir) == before
    code, out, _ = env.run("delete", "service", "web", "--dry-run")
    assert code == 0 and snapshot(env.dir) == before and out.startswith("service/web deleted")
    code, out, _ = env.run("delete", "service", "web")
    assert code == 0 and out.splitlines() == ["service/web deleted", NOT_RUNNING]
    assert not (env.dir / "objects/service/web.yaml").exists()
    code, out, _ = env.run("--json", "delete", "service", "web")
    result = json.loads(out)
    assert code == 0 and result["changed"] is False and result["changes"][0]["action"] == "unchanged"
    code, out, _ = env.run("delete", "service", "web")
    assert out == "service/web absent\n"


def test_validate(env):
    env.run("apply", "-f", env.write("pool.yaml", POOL))
    code, out, _ = env.run("validate")
    assert code == 0
    assert out == "valid: 0 peer(s), 1 pool(s), 0 community(s), 0 advertisement(s), 0 service(s)\n"
    before = snapshot(env.dir)
    code, out, _ = env.run("--json", "validate", "-f", env.write("svc.yaml", {"kind": "service", "name": "s",
                                                                             "pool": "public"}))  # fmt: skip
    assert code == 0 and json.loads(out) == {
        "ok": True,
        "message": "valid: 1 object(s) against the current configuration",
    }
    assert snapshot(env.dir) == before
    (env.dir / "objects/pool/x.yaml").write_text("name: x\naddresses: [10.0.0.0/33]\n")
    code, _, err = env.run("validate")
    assert code == 2 and "pool x: addresses[0]: 10.0.0.0/33 is not a CIDR" in err and "x.yaml" in err


@pytest.mark.parametrize("command", [["status"], ["routes"], ["drain", "--wait", "5"], ["undrain"], ["reload"]])
def test_speaker_commands_exit_3_when_unreachable(env, command):
    code, out, err = env.run(*command)
    assert (code, out) == (3, "")
    assert "bgplbctl: cannot reach the speaker at" in err and "no-such.sock" in err
    code, out, err = env.run("--json", *command)
    assert (code, err) == (3, "")
    result = json.loads(out)
    assert result["ok"] is False and "cannot reach the speaker" in result["errors"][0]


def test_password_is_never_printed(env):
    path = env.write("peer.yaml", PEER)
    outputs = [
        env.run("apply", "--dry-run", "-f", path),
        env.run("--json", "apply", "--dry-run", "-f", path),
        env.run("apply", "--diff", "-f", path),
        env.run("get", "peer", "r1"),
        env.run("get", "peer"),
        env.run("--json", "get", "peer", "r1"),
        env.run("apply", "--diff", "-f", env.write("peer2.yaml", {**PEER, "password": PASSWORD + "2"})),
        env.run("--json", "apply", "-f", env.write("peer3.yaml", {**PEER, "password": PASSWORD + "3", "hold_time": 2})),
        env.run("--json", "delete", "peer", "r1", "--dry-run"),
    ]
    assert [code for code, _, _ in outputs] == [0, 0, 0, 0, 0, 0, 0, 2, 0]
    text = "".join(out + err for _, out, err in outputs)
    assert PASSWORD not in text
    assert "********" in text
    # but it is stored for the daemon
    assert yaml.safe_load((env.dir / "objects/peer/r1.yaml").read_text())["password"] == PASSWORD + "2"


def test_module_entry_point(env, tmp_path):
    """`python -m bgplb.ctl` exits with main()'s code."""
    path = env.write("bad.yaml", {**POOL, "addresses": ["198.51.100.300"]})
    src = str(Path(bgplb.__file__).parents[1])
    pythonpath = os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, "-m", "bgplb.ctl", "--config-dir", str(env.dir), "--socket", str(tmp_path / "x.sock"),
         "apply", "-f", path],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": pythonpath}, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "pool public: addresses[0]: 198.51.100.300 is not an IP" in proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "bgplb.ctl", "--socket", str(tmp_path / "x.sock"), "status"],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": pythonpath}, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 3
