"""The defects of the outside audit (issue 10), one test (or more) each; every one failed on the audited code.

Items 2 (concurrent applies) and the SIGKILL / full-disk / API-flood cases are in speaker/tests/fault/.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path

import pytest
import yaml

from bgplb import api, ctl, daemon, health, model
from bgplb.bgp import wire
from bgplb.store import Store

NODE = {"name": "n1", "router_id": "10.0.0.1", "asn": 64512}
POOL = {"name": "public", "addresses": ["198.51.100.0/24"]}


@pytest.fixture
def root(tmp_path) -> Path:
    (tmp_path / "speaker.yaml").write_text(yaml.safe_dump({"node": NODE}))
    return tmp_path


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def parse_error(kind: str, data: dict) -> str:
    with pytest.raises(model.ObjectError) as err:
        model.parse_object(kind, data)
    return str(err.value)


# --- 1. unreadable object files -------------------------------------------------------------------------------------
def test_1_unreadable_object_files_are_reported_not_raised(root):
    Store(root).apply([("pool", POOL)])
    folder = root / "objects" / "pool"
    (folder / "latin1.yaml").write_bytes(b"name: latin1\naddresses: [198.51.101.0/24]\nlabels: {a: caf\xe9}\n")
    (folder / "huge.yaml").write_text("name: huge\naddresses: [198.51.102.0/24]\nlabels: {a: " + "9" * 5000 + "}\n")
    (folder / "dir.yaml").mkdir()
    (folder / "deep.yaml").write_text("name: deep\naddresses: " + "[" * 100000 + "]" * 100000 + "\n")
    config, errors = Store(root).load_lenient()
    assert [p.name for p in config.pools] == ["public"]
    assert len(errors) == 4, errors
    by_file = {Path(e.split(":")[0]).name: e for e in errors}
    assert "not UTF-8" in by_file["latin1.yaml"]
    assert "unusable value" in by_file["huge.yaml"] and len(by_file["huge.yaml"]) < 400
    assert "is a directory" in by_file["dir.yaml"]
    assert "deep.yaml" in by_file
    with pytest.raises(model.ValidationError):  # bgplbctl stays strict
        Store(root).load()


def test_1_a_bad_speaker_yaml_is_a_validation_error(root):
    (root / "speaker.yaml").write_bytes(b"node: {name: n\xff}\n")
    with pytest.raises(model.ValidationError, match="not UTF-8"):
        Store(root).load_lenient()


def test_1_the_config_watcher_survives_a_failing_reload(root, tmp_path_factory, monkeypatch):
    """The watcher task used to die on the first exception and never reload again."""
    args = daemon.parse_args(["--config-dir", str(root), "--state-dir", str(tmp_path_factory.mktemp("state")),
                              "--watch-interval", "0.01"])  # fmt: skip
    d = daemon.Daemon(args)
    calls = []

    async def reload() -> dict:
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")
        return {}

    fingerprints = iter(range(10**6))
    monkeypatch.setattr(d.store, "fingerprint", lambda: next(fingerprints) // 2)  # changes, then holds one interval
    monkeypatch.setattr(d, "reload", reload)

    async def run() -> None:
        task = asyncio.get_running_loop().create_task(d._watch())
        for _ in range(200):
            await asyncio.sleep(0.01)
            if len(calls) >= 3:
                break
        assert not task.done(), task
        task.cancel()

    asyncio.run(run())
    assert len(calls) >= 3


# --- 3. HTTP health check with an oversized status line ---------------------------------------------------------
def test_3_an_oversized_status_line_fails_the_check_and_the_task_lives():
    reply = [b"HTTP/1.0 200 OK\r\n\r\n"]

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            await reader.readline()
            writer.write(reply[0])
            await writer.drain()
        writer.close()

    async def run() -> tuple[dict, bool]:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        checker = health.HealthChecker(lambda name, ok: None)
        check = model.HealthCheck("http", port=port, interval=0.1, timeout=0.1, rise=1, fall=1)
        checker.update([model.Service("web", address=("127.0.0.1",), health_check=check)])
        await asyncio.sleep(0.35)
        assert checker.state["web"] is True
        reply[0] = b"HTTP/1.0 200 " + b"x" * 70000 + b"\r\n\r\n"  # the backend breaks: a 70 KB status line
        await asyncio.sleep(0.5)
        state, alive = dict(checker.state), not checker._tasks["web"][2].done()
        await checker.close()
        server.close()
        return state, alive

    state, alive = asyncio.run(run())
    assert alive, "the check task ended"
    assert state["web"] is False, "a dead backend stayed healthy"


def test_3_any_exception_in_a_probe_is_a_failure(monkeypatch):
    async def boom(check, address):
        raise KeyError("unexpected")

    monkeypatch.setattr(health, "_probe", boom)
    check = model.HealthCheck("tcp", port=1, interval=0.1, timeout=0.1)
    assert asyncio.run(health.probe(check, "127.0.0.1")) is False


# --- 4. drain.json ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "content",
    [b"", b'{"state": "draining", "since": 1', b'{"state": "draining"}', b"[]", b'{"state": "drained", '
     b'"since": NaN, "until": 1}', b"\xff", b'{"state": "gone", "since": 1, "until": 2}'],
)  # fmt: skip
def test_4_a_corrupt_drain_file_is_logged_and_ignored(tmp_path, content, caplog):
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / daemon.DRAIN_FILE).write_bytes(content)
    args = daemon.parse_args(["--config-dir", str(tmp_path), "--state-dir", str(tmp_path / "state")])
    with caplog.at_level(logging.ERROR, logger="bgplb"):
        d = daemon.Daemon(args)
    assert d.drain is None
    assert "drain: ignoring" in caplog.text


def test_4_drain_file_is_written_atomically_and_synced(tmp_path, monkeypatch):
    args = daemon.parse_args(["--config-dir", str(tmp_path), "--state-dir", str(tmp_path)])
    d = daemon.Daemon(args)
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    d.drain = {"state": "draining", "since": 1.0, "until": 2.0}
    d._save_drain()
    assert len(synced) >= 2  # the file and its directory
    assert json.loads((tmp_path / daemon.DRAIN_FILE).read_text()) == d.drain
    assert sorted(p.name for p in tmp_path.iterdir()) == [daemon.DRAIN_FILE]  # no temp file left
    assert daemon.Daemon(args).drain == d.drain


# --- 5. keepalive 0 with a hold time ------------------------------------------------------------------------------
def test_5_keepalive_zero_needs_hold_time_zero():
    peer = {"name": "r1", "address": "10.0.0.1", "asn": 65000}
    assert parse_error("peer", {**peer, "hold_time": 90, "keepalive_time": 0}).startswith(
        "peer r1: keepalive_time: 0 sends no keepalives"
    )
    assert parse_error("peer", {**peer, "keepalive_time": 0}).startswith("peer r1: keepalive_time:")  # default 90
    assert model.parse_object("peer", {**peer, "hold_time": 0, "keepalive_time": 0}).keepalive_time == 0


# --- 6. labels: scalars, capped -------------------------------------------------------------------------------------
BOMB = """
name: p
addresses: [198.51.100.0/24]
labels:
  a: &a [x, x, x, x, x, x, x, x, x]
  b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
  c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
  d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
  e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
  f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
  g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
  h: [*g, *g, *g, *g, *g, *g, *g, *g, *g]
"""


def test_6_a_yaml_alias_bomb_in_labels_is_refused_quickly(root):
    start = time.process_time()
    message = parse_error("pool", yaml.safe_load(BOMB))
    assert time.process_time() - start < 1.0
    assert message == "pool p: labels.a: expected a string value of at most 63 characters, got list"
    # the same through a file: nothing written, error short
    (root / "bomb.yaml").write_text("kind: pool\n" + BOMB)
    code = ctl.main(["--config-dir", str(root), "--socket", str(root / "none"), "apply", "-f", str(root / "bomb.yaml")])
    assert code == 2 and not (root / "objects").exists()


def test_6_bombs_in_other_fields_give_short_messages():
    data = yaml.safe_load(BOMB.replace("labels:", "x_labels:"))
    bomb = data["x_labels"]["h"]
    start = time.process_time()
    for kind, field in [("peer", "port"), ("peer", "passive"), ("peer", "families")]:
        message = parse_error(kind, {"name": "r1", "address": "10.0.0.1", "asn": 1, field: bomb})
        assert len(message) < 300, message
    assert time.process_time() - start < 1.0


def test_6_label_values_are_scalars_of_bounded_length():
    base = {"name": "p", "addresses": ["198.51.100.0/24"]}
    assert model.parse_object("pool", {**base, "labels": {"a": 1, "b": True, "c": "x"}}).labels == (
        ("a", "1"), ("b", "True"), ("c", "x"))  # fmt: skip
    assert parse_error("pool", {**base, "labels": {"a": {"b": 1}}}).endswith("got dict")
    assert parse_error("pool", {**base, "labels": {"a": None}}).endswith("got null")
    assert "longer than 63" in parse_error("pool", {**base, "labels": {"a": "v" * 64}})
    assert "longer than 253" in parse_error("pool", {**base, "labels": {"k" * 254: "v"}})
    assert "at most 63 characters" in parse_error("pool", {**base, "labels": {"a": 10**70}})


# --- 7. IPv6 zone ids -----------------------------------------------------------------------------------------------
def test_7_zone_ids_are_refused_in_services_and_pools():
    assert parse_error("service", {"name": "s", "address": "2001:db8::5%eth0"}) == (
        "service s: address[0]: 2001:db8::5%eth0: an IPv6 zone id (%...) is not allowed here"
    )
    assert "zone id" in parse_error("pool", {"name": "p", "addresses": ["2001:db8::%eth0/64"]})
    assert "zone id" in parse_error("pool", {"name": "p", "addresses": ["2001:db8::1%1-2001:db8::9"]})
    pool = model.parse_object("pool", {"name": "p", "addresses": ["2001:db8::/64"]})
    svc = model.parse_object("service", {"name": "a", "address": "2001:db8::5"})
    model.validate_config(model.Config(model.parse_node(NODE), pools=(pool,), services=(svc,)))


# --- 8. pools wider than the limit, aggregation to length 0 ------------------------------------------------------
@pytest.mark.parametrize(
    ("entry", "message"),
    [("0.0.0.0/0", "0.0.0.0/0 is wider than a /8, the widest IPv4 pool entry allowed"),
     ("::/0", "::/0 is wider than a /32, the widest IPv6 pool entry allowed"),
     ("10.0.0.0/7", "10.0.0.0/7 is wider than a /8"),
     ("0.0.0.1-255.255.255.254", "0.0.0.1-255.255.255.254 is wider than a /8"),
     ("2001:db8::-2001:db9::", "2001:db8::-2001:db9:: is wider than a /32")],
)  # fmt: skip
def test_8_pools_wider_than_the_limit_are_refused(entry, message):
    assert parse_error("pool", {"name": "p", "addresses": [entry]}).startswith(f"pool p: addresses[0]: {message}")


def test_8_widest_pools_allowed_and_aggregation_zero_refused():
    model.parse_object("pool", {"name": "p", "addresses": ["10.0.0.0/8", "2001:db8::/32", "11.0.0.0-11.255.255.255"]})
    assert parse_error("advertisement", {"name": "a", "aggregation_length": 0}) == (
        "advertisement a: aggregation_length: expected an integer from 8 to 32, got 0"
    )
    assert parse_error("advertisement", {"name": "a", "aggregation_length_v6": 0}) == (
        "advertisement a: aggregation_length_v6: expected an integer from 32 to 128, got 0"
    )


# --- 10. bgplbctl apply of unusable input -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("content", "message"),
    [(b"kind: pool\nname: p\naddresses: [caf\xe9]\n", "not UTF-8 text"),
     (b"kind: pool\nname: p\nauto_assign: " + b"7" * 5000 + b"\naddresses: [198.51.100.0/24]\n", "unusable value"),
     (b"[" * 100000, "")],
)  # fmt: skip
def test_10_apply_of_unusable_input_exits_2_with_a_message(root, content, message, capsys, monkeypatch):
    (root / "in.yaml").write_bytes(content)
    before = snapshot(root)
    code = ctl.main(["--config-dir", str(root), "--socket", str(root / "none"), "apply", "-f", str(root / "in.yaml")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("bgplbctl: ") and message in err and len(err) < 400
    # and from stdin, as bytes
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(content)))
    assert ctl.main(["--config-dir", str(root), "--socket", str(root / "none"), "apply", "-f", "-"]) == 2
    assert snapshot(root) == before


# --- 11. health check path and command ---------------------------------------------------------------------------
def test_11_http_path_and_exec_command_are_validated():
    hc = {"type": "http", "port": 80}
    for bad in ["/x\r\nX-Injected: 1", "/a b", "/\x00", "noslash", "/caf\u00e9"]:
        message = parse_error("service", {"name": "s", "pool": "p", "health_check": {**hc, "path": bad}})
        assert message.startswith("service s: health_check.path: "), message
        assert "\r" not in message and "\n" not in message
    ok = model.parse_object("service", {"name": "s", "pool": "p", "health_check": {**hc, "path": "/healthz?x=%20"}})
    assert ok.health_check.path == "/healthz?x=%20"
    message = parse_error("service", {"name": "s", "pool": "p", "health_check": {"type": "exec", "command": ["a\0b"]}})
    assert message == "service s: health_check.command[0]: must not contain a NUL character"


# --- 12. exec checks: the whole process group is killed on timeout --------------------------------------------------
def test_12_a_timed_out_exec_check_kills_its_grandchildren(tmp_path):
    pidfile = tmp_path / "pid"
    script = f"sleep 30 & echo $! > {pidfile}; wait"
    check = model.HealthCheck("exec", command=("sh", "-c", script), interval=1, timeout=0.5)
    assert asyncio.run(health.probe(check, "127.0.0.1")) is False
    pid = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        # a killed but unreaped child of an exited shell is reparented and reaped by init; give it a moment
        if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
            break
        time.sleep(0.05)
    else:
        os.kill(pid, signal.SIGKILL)
        pytest.fail("the grandchild `sleep 30` outlived the check")


# --- 13. API socket: timeouts, client limit, deep nesting ---------------------------------------------------------
def test_13_api_drops_idle_clients_limits_connections_and_refuses_deep_json(tmp_path, monkeypatch):
    monkeypatch.setattr(api, "READ_TIMEOUT", 0.3)
    monkeypatch.setattr(api, "MAX_CLIENTS", 8)

    async def status(request):
        return {"fine": True}

    async def run() -> None:
        server = api.ApiServer(tmp_path / "api.sock", {"status": status})
        await server.start()
        path = str(tmp_path / "api.sock")

        async def ask(line: bytes) -> dict:
            reader, writer = await asyncio.open_unix_connection(path)
            writer.write(line)
            reply = json.loads(await asyncio.wait_for(reader.readline(), 2))
            writer.close()
            return reply

        # deep nesting: an error reply, not a RecursionError
        assert (await ask(b"[" * 200000 + b"\n")) == {"ok": False, "error": "request is not a JSON line"}
        assert (await ask(b'{"command": "status", "x": NaN}\n'))["ok"] is False
        # 20 idle clients: at most 8 kept, and a real client is still answered at once
        idle = [await asyncio.open_unix_connection(path) for _ in range(20)]
        await asyncio.sleep(0.05)
        assert len(server._clients) <= 8
        start = time.monotonic()
        assert (await ask(b'{"command": "status"}\n')) == {"ok": True, "result": {"fine": True}}
        assert time.monotonic() - start < 0.5
        # the idle ones are dropped after READ_TIMEOUT
        await asyncio.sleep(0.5)
        assert server._clients == {}
        for reader, writer in idle:
            assert await asyncio.wait_for(reader.read(), 1) == b""
            writer.close()
        await server.close()

    asyncio.run(run())


# --- 14. drain --wait nan -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("wait", ["nan", "inf", "-1", "1e308"])
def test_14_drain_wait_must_be_finite(wait, capsys):
    with pytest.raises(SystemExit) as exc:
        ctl.main(["--socket", "/nonexistent", "drain", "--wait", wait])
    assert exc.value.code == 2
    assert "--wait" in capsys.readouterr().err


def test_14_the_daemon_refuses_a_non_finite_wait(tmp_path):
    d = daemon.Daemon(daemon.parse_args(["--config-dir", str(tmp_path), "--state-dir", str(tmp_path)]))
    for wait in (float("nan"), float("inf"), True, -1):
        with pytest.raises(ValueError, match="drain: wait"):
            asyncio.run(d._api_drain({"wait": wait}))
    assert d.drain is None and not (tmp_path / daemon.DRAIN_FILE).exists()


# --- 15. shutdown communication text --------------------------------------------------------------------------------
def test_15_shutdown_communication_is_escaped():
    text = 'maintenance\nINFO fake log line\x1b[2J\u202eevil "q"'
    note = wire.shutdown_communication(wire.ErrorCode.CEASE, wire.CeaseSubcode.ADMIN_SHUTDOWN, text)
    reason = wire.decode_notification(note.encode()[19:]).reason
    assert "\n" not in reason and "\x1b" not in reason and "\u202e" not in reason
    assert reason == 'CEASE/ADMIN_SHUTDOWN "maintenance\\nINFO fake log line\\x1b[2J\\u202eevil \\"q\\""'
    plain = wire.shutdown_communication(wire.ErrorCode.CEASE, wire.CeaseSubcode.ADMIN_SHUTDOWN, "für Wartung")
    assert wire.decode_notification(plain.encode()[19:]).reason == 'CEASE/ADMIN_SHUTDOWN "für Wartung"'
