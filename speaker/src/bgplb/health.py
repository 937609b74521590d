"""Health checks of the services this node serves: tcp connect, http GET, or a command; rise/fall hysteresis.

A check's state starts unknown (None), turns True after `rise` passes in a row and False after `fall` failures in a
row. `on_change(service, healthy)` is called on every flip. Checks whose definition did not change keep running (and
keep their state) across `update()` calls.

Any exception in a probe counts as a failure, and a check task never ends on an error: a dead backend must not stay
announced because its check died. An exec check runs in its own process group, killed whole on timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable, Iterable

from bgplb.model import HealthCheck, Service

log = logging.getLogger("bgplb.health")
MAX_STATUS_LINE = 8192  # an HTTP status line longer than this fails the check


async def probe(check: HealthCheck, address: str) -> bool:
    """One attempt, bounded by the check's timeout; any error is a failure."""
    try:
        return await asyncio.wait_for(_probe(check, address), check.timeout)
    except (TimeoutError, OSError):
        return False
    except Exception as err:  # a malformed reply, an unusable command: the backend is not healthy
        log.debug("health probe of %s failed: %r", address, err)
        return False


async def _probe(check: HealthCheck, address: str) -> bool:
    if check.type == "exec":
        proc = await asyncio.create_subprocess_exec(
            *check.command, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        try:
            return await proc.wait() == 0
        except asyncio.CancelledError:
            # the whole group: a shell's children (`sh -c 'curl ...'`) would otherwise outlive the check
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            raise
    reader, writer = await asyncio.open_connection(address, check.port, limit=MAX_STATUS_LINE)
    try:
        if check.type == "tcp":
            return True
        host = f"[{address}]" if ":" in address else address
        writer.write(f"GET {check.path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: bgplb-health\r\n\r\n".encode())
        await writer.drain()
        status = (await reader.readline()).split()
        return len(status) >= 2 and status[1] == str(check.expected_status).encode()
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


class HealthChecker:
    def __init__(self, on_change: Callable[[str, bool], None]) -> None:
        self.on_change = on_change
        self.state: dict[str, bool | None] = {}
        self._tasks: dict[str, tuple[HealthCheck, str, asyncio.Task[None]]] = {}

    def update(self, services: Iterable[Service]) -> None:
        """Run the checks of these services (the ones this node serves); stop the others."""
        wanted = {s.name: (s.health_check, s.address[0]) for s in services if s.health_check and s.address}
        for name in list(self._tasks):
            if name not in wanted or self._tasks[name][:2] != wanted[name]:
                self._tasks.pop(name)[2].cancel()
                self.state.pop(name, None)
        for name, (check, address) in wanted.items():
            if name not in self._tasks:
                self.state[name] = None
                task = asyncio.get_running_loop().create_task(self._run(name, check, address))
                self._tasks[name] = (check, address, task)

    async def _run(self, name: str, check: HealthCheck, address: str) -> None:
        passes = fails = 0
        while True:
            try:
                ok = await probe(check, address)
            except Exception:  # probe() catches everything; this is the last line of defence
                log.exception("service %s: health check error (counted as a failure)", name)
                ok = False
            passes, fails = (passes + 1, 0) if ok else (0, fails + 1)
            current = self.state.get(name)
            try:
                if ok and passes >= check.rise and current is not True:
                    self._flip(name, True)
                elif not ok and fails >= check.fall and current is not False:
                    self._flip(name, False)
            except Exception:
                log.exception("service %s: applying the health state failed", name)
            await asyncio.sleep(check.interval)

    def _flip(self, name: str, healthy: bool) -> None:
        self.state[name] = healthy
        self.on_change(name, healthy)

    async def close(self) -> None:
        tasks = [t for _, _, t in self._tasks.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
