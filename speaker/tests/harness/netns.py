"""Network namespaces joined by a veth pair: the hosts of an interop test. Everything is removed on exit."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path

PREFIX = "bgplbt-"
_counter = itertools.count(1)


def run(cmd: Sequence[str], *, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), check=check, capture_output=True, text=True, timeout=timeout)


class Namespace:
    """One network namespace and the processes started in it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.procs: list[subprocess.Popen[bytes]] = []

    def exec(self, *cmd: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return run(["ip", "netns", "exec", self.name, *cmd], check=check, timeout=timeout)

    def popen(self, cmd: Sequence[str], **kwargs: object) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(["ip", "netns", "exec", self.name, *cmd], start_new_session=True, **kwargs)  # type: ignore[call-overload]
        self.procs.append(proc)
        return proc

    def kill_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        # daemons that forked away from their Popen (FRR -d, bird) are found by namespace
        pids = run(["ip", "netns", "pids", self.name], check=False).stdout.split()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)


def sweep() -> None:
    """Remove namespaces left by an earlier run that was killed before it could clean up."""
    for line in run(["ip", "netns", "list"]).stdout.splitlines():
        name = line.split()[0]
        owner = name[len(PREFIX) :].split("-")[0]
        if name.startswith(PREFIX) and owner.isdigit() and not Path(f"/proc/{owner}").exists():
            Namespace(name).kill_all()
            run(["ip", "netns", "del", name], check=False)


class NetnsPair:
    """Two namespaces, `left` and `right`, joined by a veth with IPv4 and IPv6 addresses.

    left: 100.65.N.1/24 and fd00:65:N::1/64; right: 100.65.N.2/24 and fd00:65:N::2/64 (N counts per process).
    """

    def __init__(self) -> None:
        n = next(_counter)
        base = f"{PREFIX}{os.getpid()}-{n}"
        self.left = Namespace(base + "-l")
        self.right = Namespace(base + "-r")
        self.left_v4, self.right_v4 = f"100.65.{n % 250}.1", f"100.65.{n % 250}.2"
        self.left_v6, self.right_v6 = f"fd00:65:{n}::1", f"fd00:65:{n}::2"

    def __enter__(self) -> NetnsPair:
        sweep()
        try:
            for ns in (self.left, self.right):
                run(["ip", "netns", "add", ns.name])
                ns.exec("ip", "link", "set", "lo", "up")
            run(["ip", "link", "add", "veth-bgplbt", "netns", self.left.name, "type", "veth",
                 "peer", "name", "veth-bgplbt", "netns", self.right.name])  # fmt: skip
            for ns, v4, v6 in ((self.left, self.left_v4, self.left_v6), (self.right, self.right_v4, self.right_v6)):
                ns.exec("ip", "addr", "add", f"{v4}/24", "dev", "veth-bgplbt")
                ns.exec("ip", "addr", "add", f"{v6}/64", "dev", "veth-bgplbt", "nodad")
                ns.exec("ip", "link", "set", "veth-bgplbt", "up")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        for ns in (self.left, self.right):
            ns.kill_all()
            run(["ip", "netns", "del", ns.name], check=False)
