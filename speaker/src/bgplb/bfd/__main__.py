"""`python -m bgplb.bfd --local A --peer B [--min-rx MS --min-tx MS --multiplier N --passive --multihop ...]`: one
BFD session, outside the daemon.

For tests and troubleshooting: events go to stdout as JSON lines (`t` is the monotonic clock); stdin takes JSON lines
`{"set_timers": {"min_tx": 300}}`, `{"status": true}`, `{"stop": true}`. With `--auth-type` the key is read from the
environment variable BGPLB_BFD_KEY (never from the command line, where `ps` would show it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time

from bgplb.bfd.session import AUTH_TYPES, AuthConfig, Discarded, Session, SessionConfig, StateChanged
from bgplb.bfd.transport import BfdTransport, Key


def emit(**fields: object) -> None:
    sys.stdout.write(json.dumps({"t": time.monotonic(), **fields}) + "\n")
    sys.stdout.flush()


async def run(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    done = asyncio.Event()

    def on_event(key: Key, session: Session, event: object) -> None:
        if isinstance(event, StateChanged):
            emit(event="state", old=str(event.old), new=str(event.new), diag=str(event.diag),
                 remote_admin_down=event.remote_admin_down, status=session.status())  # fmt: skip
        elif isinstance(event, Discarded):
            emit(event="discarded", kind=event.kind, reason=event.reason)

    bfd = BfdTransport(on_event)
    auth = None
    if args.auth_type:
        auth = AuthConfig(args.auth_type, args.auth_key_id, os.environ.get("BGPLB_BFD_KEY", "").encode())
    config = SessionConfig(min_rx=args.min_rx, min_tx=args.min_tx, multiplier=args.multiplier, passive=args.passive,
                           multihop=args.multihop, min_ttl=args.min_ttl, auth=auth)  # fmt: skip
    session = bfd.add(args.local, args.peer, config)
    emit(event="started", status=session.status(loop.time()))

    def command() -> None:
        line = sys.stdin.readline()
        if not line:
            loop.remove_reader(sys.stdin.fileno())
            return
        cmd = json.loads(line)
        if "set_timers" in cmd:
            bfd.set_timers(args.local, args.peer, **cmd["set_timers"])
        if cmd.get("status"):
            emit(event="status", status=session.status(loop.time()))
        if cmd.get("stop"):
            done.set()

    loop.add_reader(sys.stdin.fileno(), command)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, done.set)
    await done.wait()
    bfd.close()
    emit(event="stopped", status=session.status(loop.time()))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bgplb.bfd", description=__doc__.split("\n")[0])
    parser.add_argument("--local", required=True)
    parser.add_argument("--peer", required=True)
    parser.add_argument("--min-rx", type=int, default=300)
    parser.add_argument("--min-tx", type=int, default=300)
    parser.add_argument("--multiplier", type=int, default=3)
    parser.add_argument("--passive", action="store_true")
    parser.add_argument("--multihop", action="store_true", help="RFC 5883 (UDP 4784)")
    parser.add_argument("--min-ttl", type=int, default=254, help="multihop: the lowest TTL accepted")
    parser.add_argument("--auth-type", choices=sorted(AUTH_TYPES), help="key in $BGPLB_BFD_KEY")
    parser.add_argument("--auth-key-id", type=int, default=1)
    asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
