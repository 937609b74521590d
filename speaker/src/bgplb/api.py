"""The local API: a unix socket (mode 0600, root only) speaking one JSON line each way per connection.

Request `{"command": NAME, ...arguments}`; reply `{"ok": true, "result": ...}` or `{"ok": false, "error": TEXT}`.
The commands are the daemon's (`status`, `routes`, `drain`, `undrain`, `reload`); see speaker/docs/bgplbctl.md.

A client has READ_TIMEOUT seconds to send its request line and as long to take the reply; at most MAX_CLIENTS
connections are kept, and when one more arrives the longest-waiting client that has not sent its request yet is
dropped (a real client sends at once, so idle or slow ones go first). Deep nesting, NaN and Infinity are refused.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger("bgplb.api")

Handler = Callable[[dict[str, Any]], Awaitable[Any]]
MAX_REQUEST = 1 << 20
READ_TIMEOUT = 5.0
MAX_CLIENTS = 512  # well under the usual 1,024 open files, leaving room for sessions and health checks


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


class ApiServer:
    def __init__(self, path: Path, handlers: Mapping[str, Handler]) -> None:
        self.path = path
        self.handlers = handlers
        self._server: asyncio.AbstractServer | None = None
        self._clients: dict[asyncio.StreamWriter, float | None] = {}  # -> when it connected, None once it asked

    async def start(self) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self.path.is_socket():
            self.path.unlink()
        old_umask = os.umask(0o177)  # the socket is created 0600: only root may talk to the speaker
        try:
            self._server = await asyncio.start_unix_server(
                self._serve, path=str(self.path), limit=MAX_REQUEST, backlog=1024
            )
        finally:
            os.umask(old_umask)
        os.chmod(self.path, 0o600)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        if self.path.is_socket():
            self.path.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._make_room()
        self._clients[writer] = time.monotonic()
        try:
            async with asyncio.timeout(READ_TIMEOUT):
                line = await reader.readline()
            self._clients[writer] = None
            reply = await self._dispatch(line)
            writer.write(json.dumps(reply).encode() + b"\n")
            async with asyncio.timeout(READ_TIMEOUT):
                await writer.drain()
        except (ConnectionError, asyncio.LimitOverrunError, ValueError, TimeoutError) as err:
            log.debug("api: dropped a client: %r", err)
        except Exception:
            log.exception("api: client failed")
        finally:
            self._clients.pop(writer, None)
            writer.close()

    def _make_room(self) -> None:
        """Below MAX_CLIENTS connections: drop the longest-waiting clients that have not sent their request."""
        while len(self._clients) >= MAX_CLIENTS:
            waiting = [(t, w) for w, t in self._clients.items() if t is not None]
            if not waiting:
                return  # every client is being answered: let the new one wait its turn
            _, oldest = min(waiting, key=lambda tw: tw[0])
            self._clients.pop(oldest)
            oldest.transport.abort()

    async def _dispatch(self, line: bytes) -> dict[str, Any]:
        try:
            request = json.loads(line, parse_constant=_no_constant)
        except (ValueError, RecursionError):
            return {"ok": False, "error": "request is not a JSON line"}
        if not isinstance(request, dict) or not isinstance(request.get("command"), str):
            return {"ok": False, "error": 'request must be an object with a "command" string'}
        handler = self.handlers.get(request["command"])
        if handler is None:
            known = ", ".join(sorted(self.handlers))
            return {"ok": False, "error": f"unknown command {request['command']!r} (known: {known})"}
        try:
            return {"ok": True, "result": await handler(request)}
        except ValueError as err:
            return {"ok": False, "error": str(err)}
        except Exception as err:
            log.exception("api: command %s failed", request["command"])
            return {"ok": False, "error": f"internal error: {err}"}
