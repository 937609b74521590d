"""The BGP session state machine (RFC 4271 §8), sans-I/O.

A `Session` is one configured peer. It never touches sockets or the clock: the caller feeds it bytes, connection
events and the current time, and collects `Action`s (open a TCP connection, send bytes, close one) and `Event`s
(established, down, refresh requested) with `poll()`; `next_deadline()` says when to call `handle_timers()` again.

Up to two TCP connections can exist at once (one we opened, one the peer opened); collision detection (§6.8) keeps the
one opened by the speaker with the higher BGP identifier. The connect-retry delay backs off exponentially with jitter
after each failed attempt and resets once a session reaches Established.
"""

from __future__ import annotations

import enum
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from bgplb.bgp import wire
from bgplb.bgp.wire import (
    Capabilities,
    CeaseSubcode,
    ErrorCode,
    FsmSubcode,
    GracefulRestart,
    MessageReader,
    MsgType,
    Notification,
    NotificationError,
    Open,
    OpenSubcode,
)

#: Hold time used while waiting for the peer's OPEN (RFC 4271 §8.2.2 suggests 4 minutes).
LARGE_HOLD_TIME = 240.0


class State(enum.Enum):
    IDLE = "Idle"
    CONNECT = "Connect"
    ACTIVE = "Active"
    OPEN_SENT = "OpenSent"
    OPEN_CONFIRM = "OpenConfirm"
    ESTABLISHED = "Established"


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """What a session needs to know; a change of any field requires a new session."""

    local_asn: int
    peer_asn: int
    router_id: str
    hold_time: int = 90
    keepalive_time: int | None = None
    connect_time: float = 5.0
    connect_time_max: float = 60.0
    passive: bool = False
    families: tuple[tuple[int, int], ...] = (wire.IPV4_UNICAST,)
    graceful_restart: bool = True
    restart_time: int = 120
    extended_message: bool = True


C = TypeVar("C")  # the transport's connection object: the session only compares and hands it back


# Actions for the transport.
@dataclass(frozen=True, slots=True)
class Connect:
    """Open an outbound TCP connection to the peer."""


@dataclass(frozen=True, slots=True)
class Send(Generic[C]):
    conn: C
    data: bytes


@dataclass(frozen=True, slots=True)
class Close(Generic[C]):
    conn: C


# Events for the application.
@dataclass(frozen=True, slots=True)
class Established(Generic[C]):
    conn: C
    peer_open: Open
    max_length: int
    asn4: bool
    families: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class Down:
    reason: str
    sent: Notification | None = None
    received: Notification | None = None


@dataclass(frozen=True, slots=True)
class RefreshRequested:
    afi: int
    safi: int


@dataclass(frozen=True, slots=True)
class UpdateIgnored:
    """An inbound UPDATE that RFC 7606 said to treat as withdraw or to strip attributes from; we log it."""

    reason: str


Action = Connect | Send[C] | Close[C]
Event = Established[C] | Down | RefreshRequested | UpdateIgnored


@dataclass(slots=True)
class _Connection(Generic[C]):
    id: C
    inbound: bool
    reader: MessageReader = field(default_factory=MessageReader)
    state: State = State.OPEN_SENT
    peer_open: Open | None = None
    hold_time: float = LARGE_HOLD_TIME
    keepalive_time: float = 0.0
    hold_deadline: float | None = None
    keepalive_deadline: float | None = None


class Session(Generic[C]):
    """One BGP peer: connection management, OPEN negotiation, keepalives, collision detection. `C` is the
    transport's connection type (any hashable object)."""

    def __init__(self, config: SessionConfig, *, restarting: bool = False, rng: random.Random | None = None) -> None:
        self.config = config
        self.restarting = restarting and config.graceful_restart
        self._rng = rng or random.Random()
        self._conns: dict[C, _Connection[C]] = {}
        self._out: list[Action[C] | Event[C]] = []
        self._running = False
        self._retry_deadline: float | None = None
        self._failures = 0
        self._established: _Connection[C] | None = None
        self.established_at: float | None = None
        self.last_error: str | None = None
        self.sent: Counter[int] = Counter()  # messages by type
        self.received: Counter[int] = Counter()

    # --- state -----------------------------------------------------------------------------------------------------
    @property
    def state(self) -> State:
        if self._established is not None:
            return State.ESTABLISHED
        if self._conns:
            states = {c.state for c in self._conns.values()}
            return State.OPEN_CONFIRM if State.OPEN_CONFIRM in states else State.OPEN_SENT
        if not self._running:
            return State.IDLE
        return State.ACTIVE if self.config.passive or self._retry_deadline is not None else State.CONNECT

    @property
    def established_conn(self) -> C | None:
        return self._established.id if self._established else None

    def poll(self) -> list[Action[C] | Event[C]]:
        """Return and clear everything produced since the last call, in order."""
        out, self._out = self._out, []
        return out

    def next_deadline(self) -> float | None:
        deadlines = [self._retry_deadline] if self._retry_deadline is not None else []
        for c in self._conns.values():
            deadlines += [d for d in (c.hold_deadline, c.keepalive_deadline) if d is not None]
        return min(deadlines, default=None)

    # --- inputs ----------------------------------------------------------------------------------------------------
    def start(self, now: float) -> None:
        """ManualStart: connect now (or wait for the peer when passive)."""
        if self._running:
            return
        self._running = True
        if not self.config.passive:
            self._out.append(Connect())

    def stop(self, now: float, subcode: int = CeaseSubcode.ADMIN_SHUTDOWN, *, notify: bool = True) -> None:
        """ManualStop: close every connection with a Cease (or silently, for a graceful restart)."""
        self._running = False
        self._retry_deadline = None
        for conn in list(self._conns.values()):
            if notify:
                self._send(conn, Notification(ErrorCode.CEASE, subcode).encode(), now)
            self._drop(conn, "administratively stopped", now, retry=False)

    def connect_failed(self, now: float, reason: str) -> None:
        """The transport could not open the outbound connection."""
        self.last_error = reason
        self._schedule_retry(now)

    def connection_made(self, conn: C, now: float, *, inbound: bool) -> None:
        """A TCP connection is up (ours or the peer's): send OPEN."""
        if not self._running or (self._established is not None) or len(self._conns) >= 2:
            self._out.append(Close(conn))
            return
        if inbound and any(c.inbound for c in self._conns.values()):
            self._out.append(Close(conn))
            return
        self._retry_deadline = None
        c = _Connection(conn, inbound)
        self._conns[conn] = c
        c.hold_deadline = now + LARGE_HOLD_TIME
        self._send(c, self._local_open().encode(), now)

    def connection_lost(self, conn: C, now: float, reason: str = "connection closed by peer") -> None:
        c = self._conns.get(conn)
        if c is not None:
            self._drop(c, reason, now, retry=True, closed=True)

    def data_received(self, conn: C, data: bytes, now: float) -> None:
        c = self._conns.get(conn)
        if c is None:
            return
        try:
            for msg_type, body in c.reader.feed(data):
                self.received[msg_type] += 1
                self._handle(c, msg_type, body, now)
                if c.id not in self._conns:
                    return
        except NotificationError as err:
            self._fail(c, err, now)

    def handle_timers(self, now: float) -> None:
        if self._retry_deadline is not None and now >= self._retry_deadline:
            self._retry_deadline = None
            if self._running and not self._conns:
                self._out.append(Connect())
        for c in list(self._conns.values()):
            if c.hold_deadline is not None and now >= c.hold_deadline:
                self._fail(c, NotificationError(ErrorCode.HOLD_TIMER_EXPIRED, 0, reason="hold timer expired"), now)
            elif c.keepalive_deadline is not None and now >= c.keepalive_deadline:
                self._send(c, wire.KEEPALIVE_BYTES, now)

    def send(self, messages: list[bytes], now: float) -> None:
        """Send UPDATE messages on the established connection (counted one by one, written as one chunk)."""
        if self._established is None:
            raise RuntimeError("session is not established")
        self._send(self._established, b"".join(messages), now)
        self.sent[MsgType.UPDATE] += len(messages) - 1

    # --- internals -------------------------------------------------------------------------------------------------
    def _local_open(self) -> Open:
        cfg = self.config
        gr = None
        if cfg.graceful_restart:
            gr = GracefulRestart(
                restart_time=cfg.restart_time,
                restarting=self.restarting,
                families=tuple((afi, safi, True) for afi, safi in cfg.families),
            )
        caps = Capabilities(
            families=cfg.families,
            asn4=cfg.local_asn,
            route_refresh=True,
            graceful_restart=gr,
            extended_message=cfg.extended_message,
        )
        return Open(asn=cfg.local_asn, hold_time=cfg.hold_time, router_id=cfg.router_id, capabilities=caps)

    def _send(self, c: _Connection[C], data: bytes, now: float) -> None:
        self._out.append(Send(c.id, data))
        self.sent[data[18]] += 1
        if c.keepalive_time:
            c.keepalive_deadline = now + c.keepalive_time

    def _handle(self, c: _Connection[C], msg_type: int, body: bytes, now: float) -> None:
        if msg_type == MsgType.NOTIFICATION:
            received = wire.decode_notification(body)
            self.last_error = f"received NOTIFICATION: {received.reason}"
            self._drop(c, self.last_error, now, retry=True, received=received)
            return
        if c.state is State.OPEN_SENT:
            if msg_type != MsgType.OPEN:
                raise NotificationError(ErrorCode.FSM, FsmSubcode.OPEN_SENT, reason="expected OPEN")
            self._handle_open(c, wire.decode_open(body), now)
            return
        if c.hold_time:
            c.hold_deadline = now + c.hold_time
        if c.state is State.OPEN_CONFIRM:
            if msg_type != MsgType.KEEPALIVE:
                raise NotificationError(ErrorCode.FSM, FsmSubcode.OPEN_CONFIRM, reason="expected KEEPALIVE")
            self._establish(c, now)
            return
        # Established
        if msg_type == MsgType.UPDATE:
            assert c.peer_open is not None
            asn4 = c.peer_open.capabilities.asn4 is not None
            update = wire.decode_update(body, asn4=asn4, ebgp=self.config.local_asn != self.config.peer_asn)
            problem = update.treat_as_withdraw or "; ".join(update.discarded)
            if problem:
                self._out.append(UpdateIgnored(problem))
        elif msg_type == MsgType.ROUTE_REFRESH:
            rr = wire.decode_route_refresh(body)
            if (rr.afi, rr.safi) in self._negotiated_families(c):
                self._out.append(RefreshRequested(rr.afi, rr.safi))
        elif msg_type == MsgType.OPEN:
            raise NotificationError(ErrorCode.FSM, FsmSubcode.ESTABLISHED, reason="OPEN in Established")

    def _handle_open(self, c: _Connection[C], peer: Open, now: float) -> None:
        cfg = self.config
        if peer.asn != cfg.peer_asn:
            raise NotificationError(
                ErrorCode.OPEN_MESSAGE, OpenSubcode.BAD_PEER_AS, reason=f"peer AS {peer.asn}, expected {cfg.peer_asn}"
            )
        if peer.router_id == cfg.router_id and cfg.peer_asn == cfg.local_asn:
            raise NotificationError(
                ErrorCode.OPEN_MESSAGE, OpenSubcode.BAD_BGP_IDENTIFIER, reason="peer uses our BGP identifier"
            )
        c.peer_open = peer
        if self._lost_collision(c, now):
            return
        c.hold_time = float(min(cfg.hold_time, peer.hold_time))
        if c.hold_time:
            keepalive = cfg.keepalive_time if cfg.keepalive_time is not None else cfg.hold_time / 3
            c.keepalive_time = min(float(keepalive), c.hold_time / 3)
            c.hold_deadline = now + c.hold_time
        else:
            c.keepalive_time = 0.0
            c.hold_deadline = None
        c.state = State.OPEN_CONFIRM
        self._send(c, wire.KEEPALIVE_BYTES, now)

    def _lost_collision(self, c: _Connection[C], now: float) -> bool:
        """RFC 4271 §6.8: of two connections that both got an OPEN, keep the one the higher identifier opened."""
        other = next((o for o in self._conns.values() if o is not c), None)
        if other is None or other.peer_open is None:
            return False
        local_wins = _id(self.config.router_id) > _id(c.peer_open.router_id)  # type: ignore[union-attr]
        # keep the connection initiated by the side with the higher identifier
        loser = next(x for x in (c, other) if x.inbound == local_wins)
        self._send(loser, Notification(ErrorCode.CEASE, CeaseSubcode.CONNECTION_COLLISION).encode(), now)
        self._drop(loser, "connection collision", now, retry=False)
        return loser is c

    def _establish(self, c: _Connection[C], now: float) -> None:
        c.state = State.ESTABLISHED
        self._established = c
        self.established_at = now
        self._failures = 0
        self.last_error = None
        for other in [o for o in self._conns.values() if o is not c]:
            self._send(other, Notification(ErrorCode.CEASE, CeaseSubcode.CONNECTION_COLLISION).encode(), now)
            self._drop(other, "connection collision", now, retry=False)
        peer = c.peer_open
        assert peer is not None
        extended = self.config.extended_message and peer.capabilities.extended_message
        max_length = wire.MAX_EXTENDED_MESSAGE_LEN if extended else wire.MAX_MESSAGE_LEN
        c.reader.max_length = max_length
        self._out.append(
            Established(c.id, peer, max_length, peer.capabilities.asn4 is not None, self._negotiated_families(c))
        )

    def _negotiated_families(self, c: _Connection[C]) -> tuple[tuple[int, int], ...]:
        assert c.peer_open is not None
        theirs = set(c.peer_open.capabilities.families) or {wire.IPV4_UNICAST}
        return tuple(f for f in self.config.families if f in theirs)

    def _fail(self, c: _Connection[C], err: NotificationError, now: float) -> None:
        self.last_error = str(err)
        sent = Notification(err.code, err.subcode, err.data)
        self._send(c, sent.encode(), now)
        self._drop(c, str(err), now, retry=True, sent=sent)

    def _drop(
        self,
        c: _Connection[C],
        reason: str,
        now: float,
        *,
        retry: bool,
        closed: bool = False,
        sent: Notification | None = None,
        received: Notification | None = None,
    ) -> None:
        del self._conns[c.id]
        if not closed:
            self._out.append(Close(c.id))
        if c is self._established:
            self._established = None
            self.established_at = None
            self.restarting = False
            self._out.append(Down(reason, sent, received))
        elif c.state is not State.ESTABLISHED and retry:
            self.last_error = reason
        if retry and self._running and not self._conns:
            self._schedule_retry(now)

    def _schedule_retry(self, now: float) -> None:
        if not self._running or self.config.passive:
            return
        cfg = self.config
        delay = min(cfg.connect_time_max, cfg.connect_time * (2**self._failures))
        self._failures += 1
        self._retry_deadline = now + delay * self._rng.uniform(0.75, 1.0)


def _id(router_id: str) -> int:
    a, b, c, d = (int(x) for x in router_id.split("."))
    return (a << 24) | (b << 16) | (c << 8) | d
