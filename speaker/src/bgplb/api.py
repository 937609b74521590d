"""The local API: a unix socket (mode 0600, root only) speaking one JSON line each way per connection.

Request `{"command": NAME, ...arguments}`; reply `{"ok": true, "result": ...}` or `{"ok": false, "error": TEXT}`.
The commands are the daemon's (`status`, `routes`, `drain`, `undrain`, `reload`); see speaker/docs/bgplbctl.md.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger("bgplb.api")

Handler = Callable[[dict[str, Any]], Awaitable[Any]]
MAX_REQUEST = 1 << 20


class ApiServer:
    def __init__(self, path: Path, handlers: Mapping[str, Handler]) -> None:
        self.path = path
        self.handlers = handlers
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self.path.is_socket():
            self.path.unlink()
        old_umask = os.umask(0o177)  # the socket is created 0600: only root may talk to the speaker
        try:
            self._server = await asyncio.start_unix_server(self._serve, path=str(self.path), limit=MAX_REQUEST)
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
        try:
            reply = await self._dispatch(await reader.readline())
            writer.write(json.dumps(reply).encode() + b"\n")
            await writer.drain()
        except (ConnectionError, asyncio.LimitOverrunError, ValueError) as err:
            log.info("api: dropped a client: %s", err)
        finally:
            writer.close()

    async def _dispatch(self, line: bytes) -> dict[str, Any]:
        try:
            request = json.loads(line)
        except ValueError:
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
