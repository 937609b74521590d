"""The API socket under 500 concurrent clients and garbage (idle connections, random bytes, 1 MB lines, deep nesting,
NaN, hang-ups, real requests): the speaker keeps its BGP session (keepalives on time, no reset) and answers `status`
within 1 s throughout.

The BGP peer is a minimal one written here with our own codec on loopback, so every KEEPALIVE's arrival time is
measured exactly (hold time 3 s, keepalive every 1 s).
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import threading
import time

from bgplb.bgp import wire
from bgplb.ctl.client import call

from .conftest import fork, reap

CLIENTS = 500
FLOOD_SECONDS = 12.0


class RawPeer(threading.Thread):
    """Accepts one BGP connection, answers OPEN, sends KEEPALIVEs every second, records the speaker's."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.keepalives: list[float] = []
        self.notifications: list[bytes] = []
        self.connections = 0
        self.closed = False
        self.stopping = False

    def run(self) -> None:
        conn, _ = self.listener.accept()
        self.connections += 1
        conn.settimeout(0.1)
        reader = wire.MessageReader()
        next_keepalive: float | None = None
        while not self.stopping:
            now = time.monotonic()
            if next_keepalive is not None and now >= next_keepalive:
                conn.sendall(wire.KEEPALIVE_BYTES)
                next_keepalive = now + 1.0
            try:
                data = conn.recv(1 << 16)
            except TimeoutError:
                continue
            if not data:
                self.closed = True
                break
            for msg_type, body in reader.feed(data):
                if msg_type == wire.MsgType.OPEN and next_keepalive is None:
                    caps = wire.Capabilities(families=(wire.IPV4_UNICAST,), asn4=64512)
                    conn.sendall(wire.Open(asn=64512, hold_time=3, router_id="10.0.0.2", capabilities=caps).encode())
                    conn.sendall(wire.KEEPALIVE_BYTES)
                    next_keepalive = time.monotonic() + 1.0
                elif msg_type == wire.MsgType.KEEPALIVE:
                    self.keepalives.append(time.monotonic())
                elif msg_type == wire.MsgType.NOTIFICATION:
                    self.notifications.append(body)
        conn.close()


def _flood(path: str, seconds: float) -> int:
    rng = random.Random(3)
    kinds = ["idle"] * 35 + ["garbage"] * 20 + ["deep"] * 8 + ["huge"] * 3 + ["nan"] * 10 + ["status"] * 12
    kinds += ["hangup"] * 7 + ["partial"] * 5

    async def one(kind: str) -> None:
        try:
            reader, writer = await asyncio.open_unix_connection(path)
        except OSError:
            return
        try:
            if kind == "idle":
                await asyncio.sleep(7)
            elif kind == "hangup":
                pass
            else:
                line = {
                    "garbage": bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300))) + b"\n",
                    "deep": b"[" * 200_000 + b"\n",
                    "huge": b"x" * ((1 << 20) + 100),
                    "nan": b'{"command": "drain", "wait": NaN}\n',
                    "status": b'{"command": "status"}\n',
                    "partial": b'{"command": "sta',
                }[kind]
                writer.write(line)
                await writer.drain()
                await asyncio.wait_for(reader.read(), 8)
        except (OSError, TimeoutError, ValueError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            await asyncio.gather(*(one(rng.choice(kinds)) for _ in range(CLIENTS)))

    asyncio.run(main())
    return 0


def test_api_flood_keeps_sessions_and_status_answers(speaker):
    peer = RawPeer()
    peer.start()
    speaker.write_speaker(peers=[{"name": "r1", "address": "127.0.0.1", "port": peer.port, "asn": 64512,
                                  "hold_time": 3}])  # fmt: skip
    speaker.start()
    speaker.wait_ready()
    deadline = time.monotonic() + 20
    while call(speaker.socket, "status")["peers"][0]["state"] != "Established":
        assert time.monotonic() < deadline, "no session"
        time.sleep(0.1)
    time.sleep(1.5)
    flood_start = time.monotonic()
    flooder = fork(_flood, speaker.socket, FLOOD_SECONDS)
    latencies = []
    try:
        while time.monotonic() < flood_start + FLOOD_SECONDS:
            t = time.monotonic()
            status = call(speaker.socket, "status", timeout=1.0)  # SpeakerBusy after 1 s fails the test
            latencies.append(time.monotonic() - t)
            assert status["peers"][0]["state"] == "Established"
            time.sleep(0.1)
    finally:
        assert reap(flooder, timeout=60) == 0
    end = time.monotonic()
    status = call(speaker.socket, "status", timeout=1.0)["peers"][0]
    peer.stopping = True
    gaps = [b - a for a, b in zip(peer.keepalives, peer.keepalives[1:], strict=False) if b > flood_start - 1]
    assert len(latencies) > 20 and max(latencies) < 1.0, max(latencies)
    assert status["state"] == "Established" and status["established_count"] == 1, status
    assert peer.connections == 1 and not peer.closed and not peer.notifications
    # every 1 s expected; 2 s leaves 1 s of the 3 s hold time for a machine shared with other work
    assert peer.keepalives[-1] > end - 2.0
    assert gaps and max(gaps) < 2.0, f"keepalive gaps up to {max(gaps):.2f} s (every 1 s expected)"
    if os.environ.get("BGPLB_FLOOD_REPORT"):
        print(f"status max {max(latencies):.3f} s, keepalive gap {max(gaps):.3f} s")
