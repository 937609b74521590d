#!/usr/bin/python3
"""Long-lived TCP flows through a load balancer, and which of them an event breaks (standard library only).

Used by bench/continuity.py (network namespaces) and bench/continuity_lab.py (copied into the lab's client
container). Two roles:

    flows.py --role server --name n1 [--vip 198.51.100.10 --port 80]
        echo server; the first line it sends is its name
    flows.py --role client --sources 10.98.0.10,10.98.0.11 [--connections 2000] [--lifetime 10:40] ...
        keeps N connections open to VIP:PORT from the source addresses (random source ports), each sending a
        line every --interval seconds and expecting its echo; with --lifetime MIN:MAX a connection closes cleanly
        after a random lifetime and its slot opens a new one (steady churn), as a broken one is replaced too.
        New short connections (connect, read the name, one echo) arrive at --rate per second.

The client prints one JSON line when every slot has opened ({"ready": n, ...}), then reads commands on stdin:
`event` (the event starts now), `end` (the window in which breaks count ends now); it waits --stall seconds more
to see stalls of messages sent before `end`, prints the JSON report (`Client.report`) and exits.

A connection is broken in [event, end) if it gets a RST/EOF/error there, or one of its messages sent from one
interval before the event on stays unanswered for more than --stall seconds. The connections alive at the event
(`alive_at_event`, `per_node`, `broken`) are the measure; connections opened after the event are reported apart.

`summarise` turns a report into a table row (broken vs unavoidable vs what an ideal hash must move) for both
benches.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import fnmatch
import json
import random
import resource
import socket
import statistics
import struct
import sys
import time
from collections import Counter, defaultdict
from typing import Any

LINGER_RESET = struct.pack("ii", 1, 0)


def raise_nofile() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(hard, 65536)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))


# --------------------------------------------------------------------------------------------------------------------
# server


class Echo(asyncio.Protocol):
    def __init__(self, name: bytes) -> None:
        self.name = name

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.t: asyncio.Transport = transport  # type: ignore[assignment]
        # closing (the server is killed at the end of a case) resets: no orphaned sockets retransmitting FINs into
        # the next case
        self.t.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
        self.t.write(self.name + b"\n")

    def data_received(self, data: bytes) -> None:
        self.t.write(data)


async def serve(name: str, vip: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    await loop.create_server(lambda: Echo(name.encode()), vip, port, backlog=4096, reuse_address=True)
    print("ready", flush=True)
    await asyncio.Event().wait()


# --------------------------------------------------------------------------------------------------------------------
# client


class Conn(asyncio.Protocol):
    """One long connection: the node that answered, its messages, how and when it ended."""

    def __init__(self, client: Client) -> None:
        self.c = client
        self.t: asyncio.Transport | None = None
        self.node: str | None = None
        self.named: asyncio.Future[None] = client.loop.create_future()
        self.ended: asyncio.Future[None] = client.loop.create_future()
        self.buf = b""
        self.seq = 0
        self.expect = b""
        self.sent_at = 0.0
        self.opened_at = 0.0
        self.due = float("inf")  # clean close after this time (--lifetime)
        self.closed_at: float | None = None  # clean close
        self.stalls: list[float] = []  # send times of messages answered later than `stall`
        self.err: str | None = None
        self.err_at = 0.0
        self.handle: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.t = transport  # type: ignore[assignment]

    def start(self, now: float) -> None:
        """Start the message loop (first message within one interval) and the lifetime."""
        self.opened_at = now
        if self.c.lifetime:
            self.due = now + random.uniform(*self.c.lifetime)
        self.handle = self.c.loop.call_at(now + random.uniform(0, self.c.interval), self.send)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        buf = self.buf + data
        if self.node is None:
            i = buf.find(b"\n")
            if i < 0:
                self.buf = buf
                return
            self.node, buf = buf[:i].decode(), buf[i + 1 :]
            if not self.named.done():
                self.named.set_result(None)
        if self.expect and len(buf) >= len(self.expect):
            if buf[: len(self.expect)] != self.expect:
                self.fail(now, "garbled")
                return
            buf = buf[len(self.expect) :]
            if now - self.sent_at > self.c.stall:
                self.stalls.append(self.sent_at)
            self.expect = b""
            if now >= self.due:
                self.close(now)
                return
            self.handle = self.c.loop.call_at(max(self.sent_at + self.c.interval, now), self.send)
        self.buf = buf

    def send(self) -> None:
        if self.err or self.closed_at is not None or self.c.closing or self.t is None:
            return
        self.seq += 1
        self.expect = b"%07d\n" % (self.seq % 10_000_000)
        self.sent_at = time.monotonic()
        self.t.write(self.expect)

    def close(self, now: float) -> None:
        self.closed_at = now
        if self.t:
            self.t.close()
        self._end()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.c.closing or self.closed_at is not None:
            return
        kind = "reset" if isinstance(exc, ConnectionResetError) else ("error" if exc else "eof")
        self.fail(time.monotonic(), kind)

    def fail(self, now: float, kind: str) -> None:
        if self.err is None:
            self.err, self.err_at = kind, now
        if not self.named.done():
            self.named.set_exception(ConnectionError(kind))
        if self.handle:
            self.handle.cancel()
        if self.t and not self.t.is_closing():
            self.t.abort()
        self._end()

    def _end(self) -> None:
        if not self.ended.done():
            self.ended.set_result(None)

    def alive_at(self, t: float) -> bool:
        """Open at time t: started before it, neither failed nor closed before it."""
        return (
            self.opened_at <= t
            and (self.err is None or self.err_at >= t)
            and (self.closed_at is None or self.closed_at >= t)
        )

    def break_in(self, lo: float, hi: float, end: float) -> str | None:
        """How this connection broke with its breaking moment in [lo, hi): RST/EOF time, or a stalled send time.

        A message never answered stalled if it waited longer than `stall`: until the connection's error when it
        failed (also when that error came after the window, a connection that hung in it and was reset later), or
        until `end`, the report. (A clean close only follows an answer, so it never leaves a message unanswered.)"""
        if self.err is not None and lo <= self.err_at < hi:
            return self.err
        stalls = list(self.stalls)
        if self.expect:
            waited_until = self.err_at if self.err is not None else end
            if waited_until - self.sent_at > self.c.stall:
                stalls.append(self.sent_at)
        if any(lo - self.c.interval <= s < hi - self.c.interval for s in stalls):
            return "stall"
        return None


class Client:
    def __init__(self, args: argparse.Namespace) -> None:
        self.loop = asyncio.get_running_loop()
        self.args = args
        self.interval: float = args.interval
        self.stall: float = args.stall
        self.lifetime: tuple[float, float] | None = args.lifetime
        self.closing = False
        self.started = False
        self.conns: list[Conn] = []
        # (start, or failure time if it failed; failure kind, "" if ok; node that answered)
        self.shorts: list[tuple[float, str, str | None]] = []
        self.open_failures: list[float] = []
        self.ips = args.sources
        self.open_times: list[float] = []

    async def open_one(self, i: int) -> Conn | None:
        ip = self.ips[i % len(self.ips)]
        t0 = time.monotonic()
        for _ in range(50):
            try:
                t, conn = await asyncio.wait_for(
                    self.loop.create_connection(
                        lambda: Conn(self), self.args.vip, self.args.port, local_addr=(ip, random.randint(10000, 60999))
                    ),
                    5,
                )
            except OSError as e:
                if e.errno == errno.EADDRINUSE:
                    continue
                break
            except TimeoutError:
                break
            try:
                await asyncio.wait_for(conn.named, 5)
            except (TimeoutError, ConnectionError):
                t.abort()
                break
            self.open_times.append(time.monotonic() - t0)
            return conn
        self.open_failures.append(time.monotonic())
        return None

    async def slot(self, i: int, sem: asyncio.Semaphore, first: asyncio.Future[Conn | None]) -> None:
        """One of the N connections: opened, replaced when it closes or breaks, until the client stops."""
        async with sem:
            conn = await self.open_one(i)
        first.set_result(conn)
        while not self.closing:
            if conn is not None:
                if self.started:
                    conn.start(time.monotonic())
                self.conns.append(conn)
                await conn.ended
            else:
                await asyncio.sleep(0.5)
            if self.closing:
                return
            conn = await self.open_one(i)

    async def short(self) -> None:
        start = time.monotonic()
        fail, node = "", None
        w = None
        try:
            async with asyncio.timeout(self.stall):
                r, w = await asyncio.open_connection(
                    self.args.vip, self.args.port, local_addr=(random.choice(self.ips), 0)
                )
                node = (await r.readline()).decode().strip() or None
                w.write(b"hello\n")
                if await r.readexactly(6) != b"hello\n":
                    fail = "garbled"
        except TimeoutError:
            fail = "timeout"
        except ConnectionResetError:
            fail = "reset"
        except asyncio.IncompleteReadError:
            fail = "eof"
        except OSError as e:
            fail = errno.errorcode.get(e.errno or 0, "oserror")
        finally:
            if w is not None:
                with contextlib.suppress(OSError):
                    w.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
                w.close()
        self.shorts.append((time.monotonic() if fail else start, fail, node))

    async def shorts_loop(self) -> None:
        period = 1.0 / self.args.rate
        tasks: set[asyncio.Task[None]] = set()
        nxt = time.monotonic()
        while not self.closing:
            task = asyncio.ensure_future(self.short())
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            nxt += period
            await asyncio.sleep(max(0.0, nxt - time.monotonic()))
        for task in list(tasks):
            task.cancel()

    async def command(self, want: str) -> float:
        line = await self.loop.run_in_executor(None, sys.stdin.readline)
        if line.strip() != want:
            raise SystemExit(f"flows client: expected {want!r} on stdin, got {line.strip()!r}")
        return time.monotonic()

    async def run(self) -> dict[str, Any]:
        sem = asyncio.Semaphore(200)
        firsts = [self.loop.create_future() for _ in range(self.args.connections)]
        slots = [asyncio.ensure_future(self.slot(i, sem, f)) for i, f in enumerate(firsts)]
        opened = [await f for f in firsts]
        now = time.monotonic()
        self.started = True
        for c in self.conns:  # messages start once all are open, spread over one interval
            if c.err is None:
                c.start(now)
        ready = now + self.interval
        ot = sorted(self.open_times) or [0.0]
        n_ready = sum(1 for c in opened if c is not None)
        opening = {"open_p50_s": round(ot[len(ot) // 2], 3), "open_max_s": round(ot[-1], 3)}
        print(json.dumps({"ready": n_ready, "failed_open": len(opened) - n_ready, **opening}), flush=True)
        shorts = asyncio.ensure_future(self.shorts_loop())
        event = await self.command("event")
        win_end = await self.command("end")
        await asyncio.sleep(self.stall + 0.3)
        end = time.monotonic()
        self.closing = True
        await shorts
        out = self.report(ready, event, win_end, end)
        for s in slots:
            s.cancel()
        for c in self.conns:
            if c.t and not c.t.is_closing():
                with contextlib.suppress(OSError):
                    c.t.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
                c.t.close()
        await asyncio.sleep(0.1)
        return out

    def report(self, ready: float, event: float, win_end: float, end: float) -> dict[str, Any]:
        alive = [c for c in self.conns if c.alive_at(event)]
        per_node = Counter(c.node for c in alive)
        broken: dict[str, Counter[str]] = defaultdict(Counter)
        for c in alive:
            kind = c.break_in(event, win_end, end)
            if kind:
                broken[c.node or "?"][kind] += 1
        later = [c for c in self.conns if event < c.opened_at < win_end]
        later_broken = Counter(kind for c in later if (kind := c.break_in(event, win_end, end)))
        base_alive = [c for c in self.conns if c.alive_at(ready)]
        baseline = Counter(kind for c in base_alive if (kind := c.break_in(ready, event, end)))

        def shorts(lo: float, hi: float) -> dict[str, Any]:
            sel = [s for s in self.shorts if lo <= s[0] < hi]
            return {
                "n": len(sel),
                "failed": sum(1 for s in sel if s[1]),
                "failures": dict(Counter(f"{s[1]}@{s[2] or '?'}" for s in sel if s[1])),
                "per_node": dict(sorted(Counter(s[2] for s in sel if not s[1]).items())),
            }

        return {
            "alive_at_event": len(alive),
            "per_node": dict(sorted(per_node.items())),
            "broken": {n: dict(k) for n, k in sorted(broken.items())},
            "window_s": round(win_end - event, 2),
            "opened_in_window": len(later),
            "opened_in_window_broken": dict(later_broken),
            "reopen_failures_in_window": sum(1 for t in self.open_failures if event <= t < win_end),
            "closed_cleanly_in_window": sum(1 for c in alive if c.closed_at is not None and c.closed_at < win_end),
            "baseline_broken": dict(baseline),
            "baseline_seconds": round(event - ready, 2),
            "new_conns_before": shorts(ready, event),
            "new_conns_after": shorts(event, win_end),
        }


async def client_main(args: argparse.Namespace) -> None:
    out = await Client(args).run()
    print(json.dumps(out), flush=True)


# --------------------------------------------------------------------------------------------------------------------
# accounting shared by the benches


TABLE_KEYS = (
    "hash",
    "ecmp",
    "event",
    "broken",
    "unavoidable",
    "expected_uniform",
    "broken_from_node",
    "broken_from_others",
    "baseline_broken",
    "spread_max_over_mean",
    "new_conns_failed_after",
)


def hash_threshold_moved(before: list[Any], after: list[Any]) -> float:
    """Fraction of a uniform hash space whose owner changes when the equal-weight next-hop list changes."""

    def slices(hops: list[Any]) -> dict[Any, tuple[float, float]]:
        return {h: (k / len(hops), (k + 1) / len(hops)) for k, h in enumerate(hops)}

    old, new = slices(before), slices(after)
    stay = sum(max(0.0, min(old[h][1], new[h][1]) - max(old[h][0], new[h][0])) for h in old if h in new)
    return 1 - stay


def summarise(
    case: dict[str, Any], ready: dict[str, Any], res: dict[str, Any], members: list[str], after: list[str]
) -> dict[str, Any]:
    """One table row. `case`: name, hash_policy (0/1), ecmp, event (failure|join|join-idle|drain), handback, node
    (the node that fails, drains or joins); `members`/`after`: the next-hop list (node names, in the router's order)
    before and after the event."""
    event, node, ecmp = case["event"], case["node"], case["ecmp"]
    joining = event.startswith("join")
    alive = res["alive_at_event"]
    per_node = {n: res["per_node"].get(n, 0) for n in members}
    share = per_node.get(node, 0) / alive if alive else 0.0
    broken_by_node = {n: sum(k.values()) for n, k in res["broken"].items()}
    kinds: Counter[str] = Counter()
    for k in res["broken"].values():
        kinds.update(k)
    n_broken = sum(broken_by_node.values())
    from_node = 0 if joining else broken_by_node.get(node, 0)
    counts = list(per_node.values())
    if ecmp == "hash-threshold":
        moved = hash_threshold_moved(members, after)
    else:
        moved = {"join": 1 / len(after), "join-idle": 0.0}.get(event, 1 / len(members))
    expected: float | None = moved
    if case["handback"]:  # what hand-back cannot save: flows moved between nodes that stay (hash-threshold)
        expected = 0.0 if ecmp == "resilient" else (moved - 1 / len(members) if event == "drain" else None)
    return {
        "case": case["name"],
        "hash": f"{5 if case['hash_policy'] else 3}-tuple",
        "ecmp": ecmp,
        "event": event + ("-handback" if case["handback"] else ("-plain" if event in ("drain", "join") else "")),
        "node": node,
        "connections_open": ready["ready"],
        "connect_p50_s": ready["open_p50_s"],
        "connect_max_s": ready["open_max_s"],
        "failed_open": ready["failed_open"],
        "alive_at_event": alive,
        "per_node": per_node,
        "spread_max_over_mean": round(max(counts) / statistics.mean(counts), 3) if alive else None,
        "unavoidable": round(share, 4) if event == "failure" else 0.0,
        "broken": round(n_broken / alive, 4) if alive else None,
        "broken_count": n_broken,
        "broken_from_node": from_node,
        "broken_from_others": n_broken - from_node,
        "broken_kinds": dict(kinds),
        "expected_uniform": None if expected is None else round(expected, 4),
        "window_s": res["window_s"],
        "opened_in_window": res["opened_in_window"],
        "opened_in_window_broken": sum(res["opened_in_window_broken"].values()),
        "closed_cleanly_in_window": res["closed_cleanly_in_window"],
        "baseline_broken": sum(res["baseline_broken"].values()),
        "baseline_seconds": res["baseline_seconds"],
        "new_conns_before": res["new_conns_before"],
        "new_conns_after": res["new_conns_after"],
        "new_conns_failed_after": f"{res['new_conns_after']['failed']}/{res['new_conns_after']['n']}",
    }


def spread_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """max/mean connections per node at the event, per hash and ECMP kind."""
    spread: dict[str, dict[str, list[float]]] = {}
    for r in rows:
        if r["spread_max_over_mean"] is not None:
            spread.setdefault(r["hash"], {}).setdefault(r["ecmp"], []).append(r["spread_max_over_mean"])
    return {
        h: {e: {"max_over_mean": v, "mean": round(statistics.mean(v), 3)} for e, v in d.items()}
        for h, d in spread.items()
    }


def select_cases(spec: str, cases: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The cases (tuples, name first) whose name matches one of the comma-separated globs of --cases; exits with
    the list of names when none does."""
    patterns = [p.strip() for p in spec.split(",") if p.strip()]
    chosen = [c for c in cases if any(fnmatch.fnmatch(c[0], p) for p in patterns)]
    if not chosen:
        sys.exit(f"no case matches {spec!r}; cases: {', '.join(c[0] for c in cases)}")
    return chosen


def client_command(args: argparse.Namespace, sources: list[str], vip: str, port: int) -> list[str]:
    """The arguments of a client run (after `python3 flows.py`) from a bench's options."""
    cmd = ["--role", "client", "--vip", vip, "--port", str(port), "--sources", ",".join(sources),
           "--connections", str(args.connections), "--interval", str(args.interval), "--stall", str(args.stall),
           "--rate", str(args.rate)]  # fmt: skip
    if args.lifetime:
        cmd += ["--lifetime", f"{args.lifetime[0]}:{args.lifetime[1]}"]
    return cmd


def lifetime(text: str) -> tuple[float, float] | None:
    """--lifetime MIN:MAX seconds (0 = connections live until the end)."""
    if text in ("", "0"):
        return None
    lo, _, hi = text.partition(":")
    try:
        pair = (float(lo), float(hi or lo))
    except ValueError:
        raise argparse.ArgumentTypeError(f"lifetime {text!r}: expected MIN:MAX seconds") from None
    if not 0 < pair[0] <= pair[1]:
        raise argparse.ArgumentTypeError(f"lifetime {text!r}: expected 0 < MIN <= MAX")
    return pair


def add_client_options(ap: argparse.ArgumentParser, lifetime_default: str = "0") -> None:
    """Options of the flows a bench drives (shared by the benches and the client role)."""
    ap.add_argument("--connections", type=int, default=2000, help="long connections kept open (default 2000)")
    ap.add_argument("--interval", type=float, default=0.3, help="seconds between a connection's messages")
    ap.add_argument("--stall", type=float, default=2.0, help="an echo later than this is a break (seconds)")
    ap.add_argument("--rate", type=float, default=20.0, help="new short connections per second")
    ap.add_argument("--lifetime", type=lifetime, default=lifetime(lifetime_default),
                    help=f"MIN:MAX seconds a long connection lives before a clean close and replacement "
                         f"(0 = until the end; default {lifetime_default})")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--role", choices=("server", "client"), required=True)
    ap.add_argument("--name", help="server: the name it answers with")
    ap.add_argument("--vip", default="198.51.100.10")
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("--sources", type=lambda s: s.split(","), help="client: source addresses, comma-separated")
    add_client_options(ap)
    args = ap.parse_args()
    raise_nofile()
    if args.role == "server":
        asyncio.run(serve(args.name, args.vip, args.port))
    else:
        if not args.sources:
            ap.error("--role client needs --sources")
        asyncio.run(client_main(args))


if __name__ == "__main__":
    main()
