"""The asyncio side of BFD (RFC 5881 single hop, RFC 5883 multihop): sockets and timers around `Session`.

- One listener per local address and port (UDP 3784 single hop, 4784 multihop), shared by the sessions from that
  address, with IP_RECVTTL / IPV6_RECVHOPLIMIT: each datagram goes with its TTL to the session of its source address,
  which drops TTL < 255 (single hop) or below its minimum (multihop).
- One sending socket per session, bound to the local address and a source port in 49152-65535 kept for the life of
  the session (RFC 5881 §4), sending with TTL / hop limit 255.
- One timer per session at its `next_deadline()`; the clock is `loop.time()` (monotonic).
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import random
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from bgplb.bfd.packet import MULTIHOP_PORT, PORT, SOURCE_PORTS, TTL
from bgplb.bfd.session import Event, Send, Session, SessionConfig

log = logging.getLogger("bgplb.bfd")

# Linux values, for Pythons whose socket module lacks them
IP_RECVTTL = getattr(socket, "IP_RECVTTL", 12)
IPV6_RECVHOPLIMIT = getattr(socket, "IPV6_RECVHOPLIMIT", 51)
IPV6_HOPLIMIT = getattr(socket, "IPV6_HOPLIMIT", 52)

Key = tuple[str, str]  # (local address, peer address), normalised
OnEvent = Callable[[Key, Session, Event], None]


def _norm(address: str) -> str:
    return str(ipaddress.ip_address(address.split("%", 1)[0]))


def _family(address: str) -> int:
    return socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET


def _ttl(ancdata: list[tuple[int, int, bytes]]) -> int | None:
    for level, kind, data in ancdata:
        if (level, kind) in ((socket.IPPROTO_IP, socket.IP_TTL), (socket.IPPROTO_IPV6, IPV6_HOPLIMIT)) and data:
            return struct.unpack("i", data[:4])[0] if len(data) >= 4 else data[0]
    return None


@dataclass(eq=False)
class _Peer:
    key: Key
    session: Session
    sock: socket.socket
    port: int
    timer: asyncio.TimerHandle | None = None
    send_errors: int = 0


@dataclass(eq=False)
class _Listener:
    sock: socket.socket
    peers: dict[str, _Peer] = field(default_factory=dict)  # by peer address
    unknown: int = 0  # datagrams from an address without a session


class BfdTransport:
    """Runs BFD sessions: `add()` one per (local, peer) address pair; `on_event` gets their state changes."""

    def __init__(self, on_event: OnEvent, *, loop: asyncio.AbstractEventLoop | None = None,
                 rng: random.Random | None = None) -> None:  # fmt: skip
        self.on_event = on_event
        self.loop = loop or asyncio.get_running_loop()
        self._rng = rng or random.SystemRandom()
        self._listeners: dict[tuple[str, int], _Listener] = {}
        self._peers: dict[Key, _Peer] = {}

    # --- API -------------------------------------------------------------------------------------------------------
    def add(self, local: str, peer: str, config: SessionConfig) -> Session:
        key = (_norm(local), _norm(peer))
        if key in self._peers:
            raise ValueError(f"a BFD session {key[0]} -> {key[1]} exists")
        port = MULTIHOP_PORT if config.multihop else PORT
        listener = self._listeners.get((key[0], port)) or self._listen(key[0], port)
        discrs = {p.session.local_discr for p in self._peers.values()}
        discr = 0
        while discr == 0 or discr in discrs:
            discr = self._rng.randrange(1, 2**32)
        try:
            sender = self._sender(key[0])
        except BaseException:
            self._drop_listener(key[0], port)
            raise
        entry = _Peer(key, Session(config, discr, rng=random.Random(self._rng.random())), sender, port)
        self._peers[key] = listener.peers[key[1]] = entry
        entry.session.start(self.loop.time())
        self._pump(entry)
        return entry.session

    def remove(self, local: str, peer: str, *, admin_down: bool = True) -> None:
        """End a session; with `admin_down` the peer is told first (one AdminDown packet)."""
        key = (_norm(local), _norm(peer))
        entry = self._peers.pop(key, None)
        if entry is None:
            return
        if admin_down:
            entry.session.stop(self.loop.time())
            for item in entry.session.poll():
                if isinstance(item, Send):
                    self._send(entry, item.data)
        if entry.timer:
            entry.timer.cancel()
        entry.sock.close()
        del self._listeners[(key[0], entry.port)].peers[key[1]]
        self._drop_listener(key[0], entry.port)

    def _drop_listener(self, local: str, port: int) -> None:
        listener = self._listeners.get((local, port))
        if listener is not None and not listener.peers:
            self.loop.remove_reader(listener.sock.fileno())
            listener.sock.close()
            del self._listeners[(local, port)]

    def set_timers(self, local: str, peer: str, **timers: int) -> None:
        entry = self._peers[(_norm(local), _norm(peer))]
        entry.session.set_timers(self.loop.time(), **timers)
        self._pump(entry)

    def sessions(self) -> dict[Key, Session]:
        return {k: p.session for k, p in self._peers.items()}

    def session(self, local: str, peer: str) -> Session | None:
        entry = self._peers.get((_norm(local), _norm(peer)))
        return entry.session if entry else None

    def unknown(self) -> int:
        """Datagrams received from addresses without a session, since the start (listeners that closed excluded)."""
        return sum(listener.unknown for listener in self._listeners.values())

    def close(self) -> None:
        for local, peer in list(self._peers):
            self.remove(local, peer)

    # --- sockets ---------------------------------------------------------------------------------------------------
    def _listen(self, local: str, port: int) -> _Listener:
        family = _family(local)
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1)
            else:
                sock.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
            sock.bind((local, port))
        except BaseException:
            sock.close()
            raise
        listener = _Listener(sock)
        self._listeners[(local, port)] = listener
        self.loop.add_reader(sock.fileno(), self._readable, listener)
        return listener

    def _sender(self, local: str) -> socket.socket:
        family = _family(local)
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, TTL)
            else:
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, TTL)
            for _ in range(64):
                try:
                    sock.bind((local, self._rng.choice(SOURCE_PORTS)))
                    return sock
                except OSError as err:
                    if err.errno != errno.EADDRINUSE:
                        raise
            raise OSError(errno.EADDRINUSE, f"no free BFD source port on {local}")
        except BaseException:
            sock.close()
            raise

    def _readable(self, listener: _Listener) -> None:
        for _ in range(64):  # bounded: let the timers run under a flood
            try:
                data, ancdata, _flags, addr = listener.sock.recvmsg(512, socket.CMSG_SPACE(4) * 2)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as err:
                log.debug("bfd: receive error on %s: %s", listener.sock.getsockname()[0], err)
                return
            # the kernel's address text is already normal, but for a scope id
            entry = listener.peers.get(addr[0]) or listener.peers.get(_norm(addr[0]))
            if entry is None:
                listener.unknown += 1
                continue
            entry.session.datagram_received(data, self.loop.time(), ttl=_ttl(ancdata))
            self._pump(entry)

    def _send(self, entry: _Peer, data: bytes) -> None:
        try:
            entry.sock.sendto(data, (entry.key[1], entry.port))
        except OSError as err:  # no route yet, buffer full: BFD is a stream of datagrams, the next one follows
            entry.send_errors += 1
            if entry.send_errors in (1, 10, 100) or entry.send_errors % 1000 == 0:
                log.info("bfd %s -> %s: send failed (%d times): %s", *entry.key, entry.send_errors, err)

    # --- driving the session ---------------------------------------------------------------------------------------
    def _pump(self, entry: _Peer) -> None:
        for item in entry.session.poll():
            if isinstance(item, Send):
                self._send(entry, item.data)
            else:
                try:
                    self.on_event(entry.key, entry.session, item)
                except Exception:
                    log.exception("bfd %s -> %s: event handler failed", *entry.key)
        if entry.timer:
            entry.timer.cancel()
            entry.timer = None
        deadline = entry.session.next_deadline()
        if deadline is not None and self._peers.get(entry.key) is entry:
            entry.timer = self.loop.call_at(deadline, self._fire, entry)

    def _fire(self, entry: _Peer) -> None:
        entry.timer = None
        entry.session.handle_timers(self.loop.time())
        self._pump(entry)
