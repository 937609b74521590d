"""`python -m bgplb.bfd` (one BFD session of ours) in a namespace, and nftables helpers for the BFD tests."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from typing import Any

from harness.netns import Namespace
from harness.path import wait_for


class BfdProc:
    """`python -m bgplb.bfd` in a namespace: JSON events read on a thread, commands written to stdin."""

    def __init__(self, ns: Namespace, local: str, peer: str, *args: str, min_rx: int, min_tx: int, multiplier: int,
                 key: str | None = None) -> None:  # fmt: skip
        env = {**os.environ, "BGPLB_BFD_KEY": key} if key is not None else None
        self.proc = ns.popen(
            [sys.executable, "-m", "bgplb.bfd", "--local", local, "--peer", peer, "--min-rx", str(min_rx),
             "--min-tx", str(min_tx), "--multiplier", str(multiplier), *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
        )  # fmt: skip
        self.events: list[dict[str, Any]] = []
        self._status: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            ev = json.loads(line)
            if ev["event"] == "status":
                self._status.put(ev["status"])
            else:
                self.events.append(ev)

    def send(self, **cmd: object) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd).encode() + b"\n")
        self.proc.stdin.flush()

    def status(self) -> dict[str, Any]:
        self.send(status=True)
        return self._status.get(timeout=10)

    def states(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == "state"]

    def state(self) -> str:
        s = self.states()
        return s[-1]["new"] if s else "Down"

    def __enter__(self) -> BfdProc:
        wait_for(lambda: any(e["event"] == "started" for e in self.events) or self.proc.poll() is not None, timeout=15,
                 what="python -m bgplb.bfd")  # fmt: skip
        if self.proc.poll() is not None:
            raise RuntimeError(f"bgplb.bfd exited: {self.proc.stderr.read().decode() if self.proc.stderr else ''}")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.send(stop=True)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def nft(ns: Namespace, *rules: str) -> None:
    """A table `bgplbt` with input/output chains in the namespace, then `rules` (each: chain, statement)."""
    ns.exec("nft", "add table inet bgplbt")
    ns.exec("nft", "add chain inet bgplbt input { type filter hook input priority 0 ; }")
    ns.exec("nft", "add chain inet bgplbt output { type filter hook output priority 0 ; }")
    for rule in rules:
        ns.exec("nft", f"add rule inet bgplbt {rule}")


def nft_clear(ns: Namespace) -> None:
    ns.exec("nft", "delete table inet bgplbt")
