# Copyright: bgplb developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""`wait`: until the running speaker has the configuration and has sent every planned route to every established
peer, read from bgplbctl's typed JSON (`status --json` peers and states, `routes --json` `sent`;
speaker/docs/bgplbctl.md), never from its messages. Peers whose session is not established cannot be sent
anything: they are reported in `not_established`, not waited for."""

from __future__ import annotations

import time

from ansible_collections.baremetal.bgplb.plugins.module_utils.bgplbctl import BgplbctlError

POLL = 0.25


class ConvergeError(Exception):
    """The wait failed or timed out; `result` is the module result so far (returned with the failure)."""

    def __init__(self, message, result):
        self.result = {k: v for k, v in result.items() if k not in ("msg", "failed")}
        super().__init__(message)


def pending_routes(status, routes):
    """{peer: [prefix, ...]} of the routes not yet sent to each established peer, and the names of the others."""
    established = {p["name"] for p in status["peers"] if p["state"] == "Established"}
    pending = {}
    for peer in sorted(established):
        unsent = [r["prefix"] for r in routes.get(peer, []) if not r["sent"]]
        if unsent:
            pending[peer] = unsent
    others = sorted(p["name"] for p in status["peers"] if p["name"] not in established)
    return pending, sorted(established), others


def converge(ctl, timeout, result, clock=time.monotonic, sleep=time.sleep):
    """Poll until converged; return `{seconds, established, not_established}` or raise ConvergeError."""
    start = clock()
    while True:
        try:
            pending, established, others = pending_routes(ctl.status(), ctl.routes())
            problem = None if not pending else "routes not yet sent: " + "; ".join(
                f"{peer}: {', '.join(prefixes[:5])}{' ...' if len(prefixes) > 5 else ''}"
                for peer, prefixes in pending.items()
            )  # fmt: skip
        except BgplbctlError as err:
            if not err.unreachable and err.kind != "busy":
                raise
            problem = f"the speaker does not answer ({err})"
        waited = round(clock() - start, 2)
        if problem is None:
            return {"seconds": waited, "established": established, "not_established": others}
        if waited >= timeout:
            raise ConvergeError(f"wait_timeout ({timeout} s) reached: {problem}", result)
        sleep(POLL)
