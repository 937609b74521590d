"""One BFD session (RFC 5880 asynchronous mode, RFC 5881 single hop), sans-I/O.

A `Session` never touches sockets or the clock, like `bgplb.bgp.fsm.Session`: the caller feeds it received datagrams
(with their TTL) and the current time, collects `Send` actions and `StateChanged` / `Discarded` events with `poll()`,
and calls `handle_timers()` again at `next_deadline()`.

- Three-way handshake Down -> Init -> Up (§6.8.6); a packet is also sent at once on each state change.
- While not Up the advertised Desired Min TX is at least 1 s (§6.8.3); on Up the configured value is taken with a
  Poll Sequence, as is any later `set_timers()`. An increased TX interval (or a reduced RX interval for the detection
  time) takes effect only when the peer's Final arrives (§6.8.3).
- Transmit interval = max(our Desired Min TX, the peer's Required Min RX), jittered to 75-100% (75-90% when our
  detect multiplier is 1) (§6.8.7). Detection time = the peer's detect multiplier x max(our Required Min RX, the
  peer's Desired Min TX) (§6.8.4).
- Demand mode and echo are not implemented: we never set D and always advertise Required Min Echo RX 0.
- Optional keyed SHA1 / meticulous keyed SHA1 authentication (§6.7.4): every packet is signed and every received
  one must carry a good digest and a sequence number in the window; the key is never in a repr, status or log.
- Multihop (RFC 5883): the received TTL must be at least `min_ttl` instead of exactly 255.
"""

from __future__ import annotations

import hashlib
import hmac
import random
from collections import Counter
from dataclasses import dataclass, field, replace

from bgplb.bfd.packet import HEADER_LEN, TTL, Auth, AuthType, Diag, MalformedPacket, Packet, State, decode

SLOW_TX = 1_000_000  # µs: the floor of the advertised Desired Min TX while not Up (§6.8.3)
SHA1_LEN = 20
_DIGEST_AT = HEADER_LEN + 3 + 1 + 4  # Auth Type, Auth Len, Key ID, Reserved, Sequence Number, then the digest
AUTH_TYPES = {"keyed-sha1": AuthType.KEYED_SHA1, "meticulous-keyed-sha1": AuthType.METICULOUS_KEYED_SHA1}


@dataclass(frozen=True, slots=True)
class AuthConfig:
    """Keyed SHA1 (RFC 5880 §6.7.4): `type` is `keyed-sha1` or `meticulous-keyed-sha1`; `key` 1-20 bytes."""

    type: str
    key_id: int
    key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if self.type not in AUTH_TYPES:
            raise ValueError(f"auth type {self.type!r}: expected one of {', '.join(AUTH_TYPES)}")
        if not 0 <= self.key_id <= 255:
            raise ValueError(f"auth key id {self.key_id}: expected 0..255")
        if not 1 <= len(self.key) <= SHA1_LEN:
            raise ValueError(f"auth key of {len(self.key)} bytes: expected 1..{SHA1_LEN}")

    @property
    def code(self) -> AuthType:
        return AUTH_TYPES[self.type]

    @property
    def meticulous(self) -> bool:
        return self.code is AuthType.METICULOUS_KEYED_SHA1


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """Intervals in milliseconds (MetalLB's BFDProfile units); a change of these needs no new session."""

    min_rx: int = 300  # Required Min RX Interval
    min_tx: int = 300  # Desired Min TX Interval
    multiplier: int = 3  # Detect Mult
    passive: bool = False  # do not send until the peer has (§6.1)
    multihop: bool = False  # RFC 5883: UDP 4784, TTL >= min_ttl instead of == 255 on receipt
    min_ttl: int = 254  # multihop only
    auth: AuthConfig | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.min_ttl <= 255:
            raise ValueError(f"min_ttl {self.min_ttl}: expected 1..255")
        if not 1 <= self.multiplier <= 255:
            raise ValueError(f"multiplier {self.multiplier}: expected 1..255")
        for name in ("min_rx", "min_tx"):
            value = getattr(self, name)
            if not 10 <= value <= 60_000:
                raise ValueError(f"{name} {value} ms: expected 10..60000")


@dataclass(frozen=True, slots=True)
class Send:
    data: bytes


@dataclass(frozen=True, slots=True)
class StateChanged:
    old: State
    new: State
    diag: Diag  # our diagnostic: why we left Up (detect-expired, neighbor-down, admin-down)
    remote_admin_down: bool = False  # the peer signalled AdminDown: RFC 5882 §3.2 says not to fail the client over it


@dataclass(frozen=True, slots=True)
class Discarded:
    kind: str  # ttl | malformed | discriminator | auth (see DISCARD_KINDS)
    reason: str


DISCARD_KINDS = ("ttl", "malformed", "discriminator", "auth")
Action = Send
Event = StateChanged | Discarded


class Session:
    def __init__(self, config: SessionConfig, local_discr: int, *, rng: random.Random | None = None) -> None:
        if not 0 < local_discr < 2**32:
            raise ValueError("local discriminator must be a nonzero 32-bit value")
        self.config = config
        self.local_discr = local_discr
        self._rng = rng or random.Random()
        self._out: list[Action | Event] = []
        self.state = State.DOWN
        self.diag = Diag.NONE
        self.remote_discr = 0
        self.remote_state = State.DOWN
        self.remote_diag = Diag.NONE
        self.remote_min_rx = 1  # µs (§6.8.1 initial value)
        self.remote_min_tx = 0  # the peer's last Desired Min TX
        self.remote_mult = 0
        # what we advertise (µs), and what is in force for our tx interval / the detection time until a Final
        self._adv_tx = max(SLOW_TX, config.min_tx * 1000)
        self._adv_rx = config.min_rx * 1000
        self._tx_in_force = self._adv_tx
        self._rx_in_force = self._adv_rx
        self._poll: tuple[int, int] | None = None  # the (tx, rx) a running Poll Sequence is for
        self._final_due = False
        self._running = False
        self._admin_until: float | None = None  # after stop(): keep telling AdminDown until then
        self._tx_deadline: float | None = None
        self._detect_deadline: float | None = None
        self.sent = 0
        self.received = 0
        self.discarded: Counter[str] = Counter()
        self.up_count = 0
        self.transitions: Counter[str] = Counter()  # state entered -> times
        self.last_change: float | None = None
        self._xmit_seq = self._rng.randrange(2**32)  # §6.8.1: bfd.XmitAuthSeq starts random
        self._rcv_seq: int | None = None  # bfd.RcvAuthSeq while bfd.AuthSeqKnown
        self._last_rx: float | None = None

    # --- reading ---------------------------------------------------------------------------------------------------
    def poll(self) -> list[Action | Event]:
        """Return and clear everything produced since the last call, in order."""
        out, self._out = self._out, []
        return out

    def next_deadline(self) -> float | None:
        return min((d for d in (self._tx_deadline, self._detect_deadline, self._admin_until) if d is not None),
                   default=None)  # fmt: skip

    @property
    def tx_interval(self) -> float:
        """Seconds between our packets before jitter (§6.8.7)."""
        return max(self._tx_in_force, self.remote_min_rx) / 1e6

    @property
    def detect_time(self) -> float:
        """Seconds without a packet from the peer before we declare it down (§6.8.4); 0 before we heard from it."""
        return self.remote_mult * max(self._rx_in_force, self.remote_min_tx) / 1e6

    @property
    def polling(self) -> bool:
        return self._poll is not None

    @property
    def rx_interval(self) -> float:
        """Seconds between the peer's packets as negotiated: max(our Required Min RX, its Desired Min TX)."""
        return max(self._rx_in_force, self.remote_min_tx) / 1e6

    def status(self, now: float | None = None) -> dict[str, object]:
        """The session as `bgplbctl status --json` shows it (speaker/docs/bfd.md); never the key."""
        since = None if now is None or self.last_change is None else round(now - self.last_change, 3)
        return {"state": str(self.state), "diag": str(self.diag), "remote_state": str(self.remote_state),
                "remote_diag": str(self.remote_diag), "local_discr": self.local_discr,
                "remote_discr": self.remote_discr, "tx_interval_ms": round(self.tx_interval * 1000, 3),
                "rx_interval_ms": round(self.rx_interval * 1000, 3),
                "detect_time_ms": round(self.detect_time * 1000, 3), "remote_min_rx_ms": self.remote_min_rx / 1000,
                "remote_min_tx_ms": self.remote_min_tx / 1000, "remote_multiplier": self.remote_mult,
                "polling": self.polling, "up_count": self.up_count, "since": since,
                "packets_sent": self.sent, "packets_received": self.received,
                "discarded": {k: self.discarded[k] for k in DISCARD_KINDS}}  # fmt: skip

    # --- inputs ----------------------------------------------------------------------------------------------------
    def start(self, now: float) -> None:
        if self._running:
            return
        self._running = True
        self._admin_until = None
        if self.state is State.ADMIN_DOWN:
            self._set_state(State.DOWN, Diag.NONE, now)
        if not self.config.passive:
            self._transmit(now)

    def stop(self, now: float) -> None:
        """Administratively down: tell the peer (AdminDown, diag 7) for a detection time, then go quiet (§6.8.16)."""
        if not self._running:
            return
        self._running = False
        self._set_state(State.ADMIN_DOWN, Diag.ADMIN_DOWN, now)
        self._detect_deadline = None
        self._admin_until = now + max(self.detect_time, 3 * self.tx_interval)

    def set_timers(self, now: float, *, min_rx: int | None = None, min_tx: int | None = None,
                   multiplier: int | None = None) -> None:  # fmt: skip
        """New intervals (ms) / multiplier on a running session, negotiated with a Poll Sequence (§6.8.3)."""
        cfg = self.config
        self.config = SessionConfig(
            min_rx=cfg.min_rx if min_rx is None else min_rx,
            min_tx=cfg.min_tx if min_tx is None else min_tx,
            multiplier=cfg.multiplier if multiplier is None else multiplier,
            passive=cfg.passive,
            multihop=cfg.multihop,
            min_ttl=cfg.min_ttl,
            auth=cfg.auth,
        )
        self._update_advertised(now, send=True)

    def datagram_received(self, data: bytes, now: float, *, ttl: int | None) -> None:
        """One UDP payload from the peer's address, with the TTL / hop limit it arrived with."""
        if self.config.multihop:
            if ttl is None or ttl < self.config.min_ttl:
                return self._discard("ttl", f"ttl {ttl} < {self.config.min_ttl}")
        elif ttl != TTL:
            return self._discard("ttl", f"ttl {ttl} != {TTL}")
        try:
            pkt = decode(data)
        except MalformedPacket as err:
            return self._discard("malformed", str(err))
        self.packet_received(pkt, now, data)

    def packet_received(self, pkt: Packet, now: float, data: bytes = b"") -> None:
        """The session part of RFC 5880 §6.8.6, for a packet that decoded (`data`: its bytes, for the digest)."""
        if pkt.your_discr != 0 and pkt.your_discr != self.local_discr:
            return self._discard("discriminator", f"your discriminator {pkt.your_discr} is not ours")
        if pkt.your_discr == 0 and pkt.state not in (State.DOWN, State.ADMIN_DOWN):
            return self._discard("discriminator", f"your discriminator is zero in state {pkt.state}")
        if self.config.auth is None and pkt.auth is not None:
            return self._discard("auth", "authentication present but not configured")
        if self.config.auth is not None and (reason := self._check_auth(pkt, data, now)):
            return self._discard("auth", reason)
        if pkt.poll and pkt.final:
            return self._discard("malformed", "both poll and final bits set")
        self.received += 1
        self._last_rx = now
        self.remote_discr = pkt.my_discr
        self.remote_state = pkt.state
        self.remote_diag = pkt.diag
        self.remote_mult = pkt.detect_mult
        self.remote_min_tx = pkt.desired_min_tx
        old_min_rx, self.remote_min_rx = self.remote_min_rx, pkt.required_min_rx
        if pkt.final and self._poll is not None:
            self._tx_in_force, self._rx_in_force = self._poll
            self._poll = None
            if (self._adv_tx, self._adv_rx) != (self._tx_in_force, self._rx_in_force):
                self._poll = (self._adv_tx, self._adv_rx)  # changed again while the last one ran
        if self.state is State.ADMIN_DOWN:
            return
        self._detect_deadline = now + self.detect_time
        if pkt.state is State.ADMIN_DOWN:
            if self.state is not State.DOWN:
                self._set_state(State.DOWN, Diag.NEIGHBOR_DOWN, now, remote_admin_down=True)
        elif self.state is State.DOWN:
            if pkt.state is State.DOWN:
                self._set_state(State.INIT, Diag.NONE, now)
            elif pkt.state is State.INIT:
                self._set_state(State.UP, Diag.NONE, now)
        elif self.state is State.INIT:
            if pkt.state in (State.INIT, State.UP):
                self._set_state(State.UP, Diag.NONE, now)
        elif pkt.state is State.DOWN:  # Up
            self._set_state(State.DOWN, Diag.NEIGHBOR_DOWN, now)
        if pkt.poll:
            self._final_due = True
            self._transmit(now, reschedule=False)
        if self._running and self._tx_deadline is None:
            self._transmit(now)  # passive: the peer spoke first
        elif self._tx_deadline is not None and self.remote_min_rx < old_min_rx:
            # the peer wants packets more often: do not wait out the old, longer interval (§6.8.7)
            self._tx_deadline = min(self._tx_deadline, now + self._jittered())

    def handle_timers(self, now: float) -> None:
        if self._detect_deadline is not None and now >= self._detect_deadline:
            self._detect_deadline = None
            if self.state in (State.INIT, State.UP):
                self._set_state(State.DOWN, Diag.DETECT_EXPIRED, now)
            self._forget_remote()
        if self._admin_until is not None and now >= self._admin_until:
            self._admin_until = None
            self._tx_deadline = None
            self._forget_remote()
        if self._tx_deadline is not None and now >= self._tx_deadline:
            self._transmit(now)

    # --- internals -------------------------------------------------------------------------------------------------
    def _discard(self, kind: str, reason: str) -> None:
        self.discarded[kind] += 1
        self._out.append(Discarded(kind, reason))

    def _check_auth(self, pkt: Packet, data: bytes, now: float) -> str | None:
        """Why an authenticated packet is refused (§6.7.4), or None; on success the sequence number is taken."""
        auth = self.config.auth
        assert auth is not None
        if pkt.auth is None:
            return "authentication required but absent"
        if pkt.auth.type != auth.code:
            return f"auth type {pkt.auth.type}, expected {int(auth.code)}"
        if pkt.auth.key_id != auth.key_id:
            return f"auth key id {pkt.auth.key_id}, expected {auth.key_id}"
        seq = int.from_bytes(pkt.auth.data[1:5], "big")
        if self._rcv_seq is not None and self._last_rx is not None and now - self._last_rx > 2 * self.detect_time:
            self._rcv_seq = None  # §6.8.1: AuthSeqKnown is reset after twice the detection time without packets
        if self._rcv_seq is not None:
            low = (self._rcv_seq + (1 if auth.meticulous else 0)) % 2**32
            if (seq - low) % 2**32 > 3 * pkt.detect_mult:
                return f"sequence number {seq} out of the window from {low}"
        length = HEADER_LEN + 3 + len(pkt.auth.data)
        signed = bytearray(data[:length])
        if len(signed) != length:
            return "authentication section truncated"
        digest = bytes(signed[_DIGEST_AT:length])
        signed[_DIGEST_AT:length] = auth.key.ljust(SHA1_LEN, b"\0")
        if not hmac.compare_digest(digest, hashlib.sha1(signed).digest()):
            return "bad digest"
        self._rcv_seq = seq
        return None

    def _sign(self, pkt: Packet) -> bytes:
        auth = self.config.auth
        if auth is None:
            return pkt.encode()
        if auth.meticulous or self.sent % 2 == 0:  # keyed: any increment is allowed; meticulous: every packet
            self._xmit_seq = (self._xmit_seq + 1) % 2**32
        section = b"\0" + self._xmit_seq.to_bytes(4, "big") + auth.key.ljust(SHA1_LEN, b"\0")
        data = bytearray(replace(pkt, auth=Auth(int(auth.code), auth.key_id, section)).encode())
        data[_DIGEST_AT:] = hashlib.sha1(data).digest()
        return bytes(data)

    def _forget_remote(self) -> None:
        self.remote_discr = 0
        self.remote_state = State.DOWN
        self.remote_min_rx = 1
        self.remote_min_tx = 0
        self.remote_mult = 0
        self._poll = None
        self._tx_in_force, self._rx_in_force = self._adv_tx, self._adv_rx
        if self.config.passive:
            self._tx_deadline = None

    def _set_state(self, new: State, diag: Diag, now: float, *, remote_admin_down: bool = False) -> None:
        old = self.state
        if new is old:
            return
        self.state = new
        self.diag = diag
        self.last_change = now
        self.transitions[str(new)] += 1
        if new is State.UP:
            self.up_count += 1
        self._out.append(StateChanged(old, new, diag, remote_admin_down))
        self._update_advertised(now)
        if self._running or new is State.ADMIN_DOWN:
            self._transmit(now)

    def _update_advertised(self, now: float, *, send: bool = False) -> None:
        cfg = self.config
        tx = cfg.min_tx * 1000 if self.state is State.UP else max(SLOW_TX, cfg.min_tx * 1000)
        rx = cfg.min_rx * 1000
        if (tx, rx) == (self._adv_tx, self._adv_rx):
            return
        self._adv_tx, self._adv_rx = tx, rx
        if self.state is not State.UP or self.remote_discr == 0:
            self._tx_in_force, self._rx_in_force = tx, rx  # nobody to negotiate with
            self._poll = None
            return
        # A faster TX or a longer RX (detection) is safe at once; the other ways wait for the Final (§6.8.3).
        self._tx_in_force = min(self._tx_in_force, tx)
        self._rx_in_force = max(self._rx_in_force, rx)
        if self._poll is None:
            self._poll = (tx, rx)
            if send:
                self._transmit(now)
        # else: the running poll finishes first, then the next one starts (packet_received)

    def _jittered(self) -> float:
        top = 0.9 if self.config.multiplier == 1 else 1.0
        return self.tx_interval * self._rng.uniform(0.75, top)

    def _transmit(self, now: float, *, reschedule: bool = True) -> None:
        final = self._final_due
        self._final_due = False
        pkt = Packet(
            state=self.state,
            diag=self.diag,
            my_discr=self.local_discr,
            your_discr=self.remote_discr,
            detect_mult=self.config.multiplier,
            desired_min_tx=self._adv_tx,
            required_min_rx=self._adv_rx,
            poll=self._poll is not None and not final,
            final=final,
        )
        self._out.append(Send(self._sign(pkt)))
        self.sent += 1
        if reschedule or self._tx_deadline is None:
            if self.remote_min_rx == 0:  # the peer asks for no packets (§6.8.7)
                self._tx_deadline = None
            else:
                self._tx_deadline = now + self._jittered()
