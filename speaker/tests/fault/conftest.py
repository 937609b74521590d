"""Fault injection helpers: a forked `bgplb-speaker` (no re-import per start, so hundreds of restarts stay cheap) on
loopback, with `--no-listen`, its own config dir, state dir and API socket."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from bgplb import daemon
from bgplb.ctl.client import SpeakerBusy, SpeakerUnreachable, call

NODE = {"name": "n1", "router_id": "10.0.0.1", "asn": 64512}
PEER = {"name": "r1", "address": "192.0.2.1", "asn": 64512, "passive": True}  # never connects: the routes are shown
ADVERTISEMENT = {"name": "all"}


def fork(fn: Any, *args: Any) -> int:
    """Run fn(*args) in a child process; its return value (an int) is the exit status."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            code = fn(*args)
        finally:
            os._exit(code if isinstance(code, int) else 0)
    return pid


def reap(pid: int, timeout: float = 30.0) -> int:
    """Wait for a child; its exit code, or -signal."""
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.002)


class ForkedSpeaker:
    def __init__(self, root: Path, *extra: str) -> None:
        self.root = root
        self.config_dir = root / "etc"
        self.state_dir = root / "state"
        self.socket = str(root / "api.sock")
        self.extra = extra
        self.pid: int | None = None

    def write_speaker(self, **objects: list[dict[str, Any]]) -> None:
        self.config_dir.mkdir(parents=True, exist_ok=True)
        (self.config_dir / "speaker.yaml").write_text(yaml.safe_dump({"node": NODE, **objects}))

    def start(self) -> ForkedSpeaker:
        argv = ["--config-dir", str(self.config_dir), "--state-dir", str(self.state_dir), "--socket", self.socket,
                "--no-listen", "--watch-interval", "0.1", "--log-level", "warning", *self.extra]  # fmt: skip
        self.pid = fork(daemon.main, argv)
        return self

    def wait_ready(self, timeout: float = 15.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                return call(self.socket, "status", timeout=2)
            except (SpeakerUnreachable, SpeakerBusy):
                if time.monotonic() > deadline:
                    raise
                assert self.pid is not None
                done, status = os.waitpid(self.pid, os.WNOHANG)
                if done:
                    self.pid = None
                    raise AssertionError(f"the speaker exited ({os.waitstatus_to_exitcode(status)})") from None
                time.sleep(0.02)

    def routes(self) -> set[str]:
        return {r["prefix"] for rs in call(self.socket, "routes").values() for r in rs}

    def kill(self, sig: int = signal.SIGKILL) -> int | None:
        if self.pid is None:
            return None
        os.kill(self.pid, sig)
        code, self.pid = reap(self.pid), None
        return code


@pytest.fixture
def tmpfs(tmp_path):
    """A small tmpfs of its own (fsync is free there, so a thousand rounds are quick); unmounted afterwards."""
    path = tmp_path / "tmpfs"
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m,mode=0700", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


@pytest.fixture
def speaker(tmp_path):
    s = ForkedSpeaker(tmp_path)
    yield s
    if s.pid is not None:
        s.kill()
