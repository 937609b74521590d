"""List + watch of one resource in a worker thread (the `kubernetes` client is synchronous): a full list, then a
watch from its resourceVersion with bookmarks, a relist on 410 Gone, reconnects with backoff, never polling.

Each (re)list is handed over as one `sync` (the whole current set, replacing what the consumer had, so objects
deleted while disconnected disappear); watch events as `event`. Both are delivered on the asyncio loop. While the
API server is unreachable nothing is delivered: the consumer keeps its last view (no withdraw storm).
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from kubernetes.client.exceptions import ApiException
from kubernetes.watch.watch import iter_resp_lines

log = logging.getLogger("bgplb.kubernetes")

WATCH_SECONDS = 300
PAGE = 500
BACKOFF = (0.5, 1, 2, 4, 8, 15, 30)


class Gone(Exception):
    """The watch's resourceVersion is too old (410): list again."""


def explain(err: BaseException, verb: str, resource: str) -> tuple[str, str]:
    """(state, message) for a failed request: forbidden names the verb and resource."""
    if isinstance(err, ApiException):
        if err.status == 403:
            return "forbidden", f"forbidden to {verb} {resource}: {_reason(err)}"
        if err.status == 401:
            return "unauthorized", f"the API server refused our credentials ({verb} {resource})"
        return "error", f"{verb} {resource}: HTTP {err.status} {_reason(err)}"
    return "unreachable", f"{verb} {resource}: {type(err).__name__}: {err}"


def _reason(err: ApiException) -> str:
    try:
        return str(json.loads(err.body).get("message", err.reason))
    except (TypeError, ValueError, AttributeError):
        return str(err.reason)


class Reflector:
    """`list_call(**kwargs)` is a generated client method (`list_service_for_all_namespaces` ...)."""

    def __init__(
        self,
        resource: str,
        list_call: Callable[..., Any],
        view: Callable[[dict[str, Any]], Any],
        *,
        deliver: Callable[[Callable[..., None], Any], None],
        on_sync: Callable[[str, dict[Any, Any]], None],
        on_event: Callable[[str, str, Any], None],
        on_state: Callable[[str, str, str], None],
        key: Callable[[Any], Any],
    ) -> None:
        self.resource = resource
        self.list_call, self.view, self.key = list_call, view, key
        self.deliver, self.on_sync, self.on_event, self.on_state = deliver, on_sync, on_event, on_state
        self.requests = 0
        self._stop = threading.Event()
        self._relist = threading.Event()
        self._response: Any = None
        self._phase = "list"
        self.thread = threading.Thread(target=self._run, name=f"watch-{resource}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._close_response()

    def relist(self) -> None:
        """List again now (a new allocator wants a fresh, consistent view)."""
        self._relist.set()
        self._close_response()

    def _close_response(self) -> None:
        """Wake the thread reading the watch: shut the TCP socket down under the TLS layer (closing the response
        from this thread would wait for the reader)."""
        response = self._response
        conn = getattr(response, "connection", None) or getattr(response, "_connection", None)
        sock = getattr(conn, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def _state(self, state: str, message: str = "") -> None:
        self.deliver(self.on_state, (self.resource, state, message))

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                self._relist.clear()
                version = self._list()
                failures = 0
                self._state("synced")
                while not self._stop.is_set() and not self._relist.is_set():
                    version = self._watch(version)
            except Gone:
                continue
            except Exception as err:
                if self._stop.is_set():
                    return
                if self._relist.is_set():  # we interrupted the watch ourselves
                    continue
                state, message = explain(err, self._phase, self.resource)
                self._state(state, message)
                self._stop.wait(BACKOFF[min(failures, len(BACKOFF) - 1)])
                failures += 1

    def _list(self) -> str:
        self._phase = "list"
        items: dict[Any, Any] = {}
        token = None
        while True:
            kwargs: dict[str, Any] = {"limit": PAGE, "_preload_content": False, "_request_timeout": (5, 60)}
            if token:
                kwargs["_continue"] = token
            self.requests += 1
            try:
                data = json.loads(self.list_call(**kwargs).data)
            except ApiException as err:
                if err.status == 410 and token:  # the continue token expired: start over
                    items, token = {}, None
                    continue
                raise
            for obj in data.get("items") or ():
                view = self.view(obj)
                items[self.key(view)] = view
            token = (data.get("metadata") or {}).get("continue")
            if not token:
                self.deliver(self.on_sync, (self.resource, items))
                return str((data.get("metadata") or {}).get("resourceVersion", ""))

    def _watch(self, version: str) -> str:
        self._phase = "watch"
        self.requests += 1
        try:
            response = self.list_call(
                watch=True,
                resource_version=version,
                allow_watch_bookmarks=True,
                timeout_seconds=WATCH_SECONDS,
                _preload_content=False,
                _request_timeout=(5, WATCH_SECONDS + 30),
            )
        except ApiException as err:
            if err.status == 410:
                raise Gone from None
            raise
        self._response = response
        started = time.monotonic()
        try:
            for line in iter_resp_lines(response):
                event = json.loads(line)
                kind, obj = event.get("type"), event.get("object") or {}
                if kind == "ERROR":
                    if obj.get("code") == 410:
                        raise Gone
                    raise ApiException(status=obj.get("code", 500), reason=obj.get("message", "watch error"))
                version = (obj.get("metadata") or {}).get("resourceVersion", version)
                if kind == "BOOKMARK":
                    continue
                self.deliver(self.on_event, (self.resource, kind, self.view(obj)))
        finally:
            self._response = None
            response.release_conn()
        if self._stop.is_set() or self._relist.is_set():
            return version
        if time.monotonic() - started < 1:  # a watch that ends at once is a failure, not a timeout
            raise ConnectionError("watch closed by the server")
        return version
