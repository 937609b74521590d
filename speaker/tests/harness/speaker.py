"""Our own `bgplb-speaker` in a namespace, with a temp config dir, state dir and API socket, and `bgplbctl` for it."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from harness.netns import Namespace


class Speaker:
    def __init__(self, ns: Namespace, config: dict[str, Any], *args: str) -> None:
        self.ns = ns
        self.dir = Path(tempfile.mkdtemp(prefix="bgplbt-speaker-"))
        self.config_dir = self.dir / "etc"
        self.state_dir = self.dir / "state"
        self.socket = self.dir / "run" / "api.sock"
        self.config_dir.mkdir()
        (self.config_dir / "speaker.yaml").write_text(yaml.safe_dump(config))
        self.args = args
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Speaker:
        self.log_file = open(self.dir / "speaker.log", "ab")  # noqa: SIM115 - closed in stop()
        self.proc = self.ns.popen(
            [sys.executable, "-m", "bgplb.daemon", "--config-dir", str(self.config_dir), "--state-dir",
             str(self.state_dir), "--socket", str(self.socket), "--watch-interval", "0.2", *self.args],
            stdout=self.log_file, stderr=subprocess.STDOUT,
        )  # fmt: skip
        # until the API answers (or the daemon exits, which the test then sees): bgplbctl starts faster than the
        # daemon, and a status asked for too early would find no socket
        deadline = time.monotonic() + 30
        while not self.socket.exists() and self.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        return self

    def __enter__(self) -> Speaker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def send(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_file.close()
        code, self.proc = self.proc.returncode, None
        return code

    def log(self) -> str:
        return (self.dir / "speaker.log").read_text(errors="replace")

    def ctl(self, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run bgplbctl against this speaker (from the host: the socket is a file)."""
        cmd = [sys.executable, "-m", "bgplb.ctl", "--config-dir", str(self.config_dir), "--socket", str(self.socket),
               *args]  # fmt: skip
        result = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=60)
        if check and result.returncode != 0:
            raise AssertionError(
                f"bgplbctl {' '.join(args)} exited {result.returncode}: {result.stderr}{result.stdout}"
            )
        return result

    def apply(self, *objects: dict[str, Any]) -> dict[str, Any]:
        return json.loads(self.ctl("--json", "apply", "-f", "-", input=json.dumps(list(objects))).stdout)

    def status(self) -> dict[str, Any]:
        return json.loads(self.ctl("--json", "status").stdout)
