"""BFD (RFC 5880/5881): the packet codec and the session machine, driven by hand with a fake clock: no sockets."""

from __future__ import annotations

import itertools
import random
import struct

import pytest

from bgplb.bfd import packet, session
from bgplb.bfd.packet import Diag, MalformedPacket, Packet, State
from bgplb.bfd.session import Discarded, Send, Session, SessionConfig, StateChanged

FAST = SessionConfig(min_rx=100, min_tx=100, multiplier=3)


def sent(out: list[object]) -> list[Packet]:
    return [packet.decode(a.data) for a in out if isinstance(a, Send)]


def changes(out: list[object]) -> list[tuple[State, State, Diag]]:
    return [(e.old, e.new, e.diag) for e in out if isinstance(e, StateChanged)]


class Link:
    """Two sessions joined by a lossless wire, run on one fake clock by stepping from deadline to deadline."""

    def __init__(self, a: Session, b: Session) -> None:
        self.a, self.b = a, b
        self.now = 0.0
        self.cut = False
        self.events: dict[str, list[object]] = {"a": [], "b": []}
        self.packets: dict[str, list[tuple[float, Packet]]] = {"a": [], "b": []}  # sent by

    def _deliver(self) -> None:
        moved = True
        while moved:
            moved = False
            for name, src, dst in (("a", self.a, self.b), ("b", self.b, self.a)):
                for item in src.poll():
                    if isinstance(item, Send):
                        self.packets[name].append((self.now, packet.decode(item.data)))
                        if not self.cut:
                            dst.datagram_received(item.data, self.now, ttl=255)
                            moved = True
                    else:
                        self.events[name].append(item)

    def start(self) -> None:
        self.a.start(self.now)
        self.b.start(self.now)
        self._deliver()

    def run_until(self, t: float) -> None:
        while True:
            deadlines = [d for d in (self.a.next_deadline(), self.b.next_deadline()) if d is not None]
            nxt = min(deadlines, default=None)
            if nxt is None or nxt > t:
                self.now = t
                return
            self.now = max(self.now, nxt)
            self.a.handle_timers(self.now)
            self.b.handle_timers(self.now)
            self._deliver()


def pair(cfg_a: SessionConfig = FAST, cfg_b: SessionConfig = FAST) -> Link:
    return Link(Session(cfg_a, 0x1111, rng=random.Random(1)), Session(cfg_b, 0x2222, rng=random.Random(2)))


# --- codec ---------------------------------------------------------------------------------------------------------
def test_encode_is_the_rfc_layout_and_round_trips():
    p = Packet(state=State.UP, my_discr=1, your_discr=2, diag=Diag.DETECT_EXPIRED, detect_mult=3,
               desired_min_tx=100_000, required_min_rx=200_000, poll=True)  # fmt: skip
    data = p.encode()
    assert data == bytes([0x21, 0xE0, 3, 24]) + struct.pack("!IIIII", 1, 2, 100_000, 200_000, 0)
    assert packet.decode(data) == p
    f = Packet(state=State.INIT, my_discr=7, final=True)
    assert packet.decode(f.encode()) == f


def good(**kw: object) -> bytearray:
    return bytearray(Packet(state=State.DOWN, my_discr=5, **kw).encode())  # type: ignore[arg-type]


def with_byte(index: int, value: int, data: bytes | None = None) -> bytes:
    out = good() if data is None else bytearray(data)
    out[index] = value
    return bytes(out)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (bytes(good())[:23], "shorter than the 24-byte header"),
        (with_byte(0, 0x40), "version 2, expected 1"),
        (with_byte(3, 20), "length 20 is below the minimum 24"),
        (with_byte(3, 30), "length 30 is larger than the 24-byte payload"),
        (with_byte(2, 0), "detect multiplier is zero"),
        (with_byte(1, 0x41), "multipoint (M) bit is set"),
        (bytes(good())[:4] + bytes(4) + bytes(good())[8:], "my discriminator is zero"),
        (with_byte(1, 0x44), "length 24 is below the minimum 26 (A bit set)"),
        (with_byte(3, 28, good() + bytes([4, 4, 0, 0])), "length 28 without the A bit"),
        (with_byte(1, 0x44, with_byte(3, 28, good() + bytes([9, 4, 1, 0]))), "unknown auth type 9"),
        (with_byte(1, 0x44, with_byte(3, 28, good() + bytes([4, 5, 1, 0]))), "auth len 5 does not match"),
        (with_byte(1, 0x44, with_byte(3, 28, good() + bytes([4, 4, 1, 0]))), "auth len 4 for auth type 4, expected 28"),
    ],
)
def test_malformed_packets_are_refused_with_the_field(data: bytes, message: str):
    with pytest.raises(MalformedPacket, match=message.replace("(", r"\(").replace(")", r"\)")):
        packet.decode(bytes(data))


def test_a_payload_longer_than_length_is_read_up_to_length_and_auth_parses():
    assert packet.decode(bytes(good()) + b"\xff" * 8).my_discr == 5
    simple = Packet(state=State.DOWN, my_discr=5, auth=packet.Auth(type=1, key_id=3, data=b"secret"))
    assert packet.decode(simple.encode()).auth == packet.Auth(type=1, key_id=3, data=b"secret")


# --- handshake -----------------------------------------------------------------------------------------------------
def test_three_way_handshake_then_fast_timers_with_a_poll_sequence():
    link = pair()
    link.start()
    # both sent Down (yours=0) -> both Init on the other's Down -> both Up on the other's Init: all at t=0
    for side in "ab":
        assert changes(link.events[side]) == [(State.DOWN, State.INIT, Diag.NONE), (State.INIT, State.UP, Diag.NONE)]
    first = link.packets["a"][0][1]
    assert first.state is State.DOWN and first.your_discr == 0 and first.desired_min_tx == 1_000_000
    assert link.a.state is link.b.state is State.UP
    assert link.a.remote_discr == 0x2222 and link.b.remote_discr == 0x1111
    # on Up each side moves from the 1 s slow rate to 100 ms with a Poll; the other's Final ends it
    assert any(p.poll and p.desired_min_tx == 100_000 for _, p in link.packets["a"])
    assert any(p.final for _, p in link.packets["b"])
    assert not link.a.polling and not link.b.polling
    link.run_until(10.0)
    assert link.a.tx_interval == pytest.approx(0.1) and link.a.detect_time == pytest.approx(0.3)
    assert link.a.state is link.b.state is State.UP
    # periodic packets at 75-100% of 100 ms, never both P and F
    times = [t for t, _ in link.packets["a"] if t > 1.0]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.075 - 1e-9 and max(gaps) <= 0.1 + 1e-9
    assert 95 <= len(gaps) <= 130
    assert not any(p.poll and p.final for _, p in link.packets["a"] + link.packets["b"])


def test_negotiated_interval_is_the_slower_of_our_tx_and_their_rx():
    link = pair(SessionConfig(min_rx=100, min_tx=100, multiplier=3), SessionConfig(min_rx=300, min_tx=50, multiplier=5))
    link.start()
    link.run_until(3.0)
    assert link.a.tx_interval == pytest.approx(0.3)  # b wants no more than one every 300 ms
    assert link.b.tx_interval == pytest.approx(0.1)  # a wants no more than one every 100 ms
    assert link.a.detect_time == pytest.approx(5 * 0.1)  # b's multiplier 5 x max(a's rx 100, b's tx 50)
    assert link.b.detect_time == pytest.approx(3 * 0.3)  # a's multiplier 3 x max(b's rx 300, a's tx 100)


def test_jitter_is_75_to_90_percent_with_multiplier_one():
    link = pair(SessionConfig(min_rx=100, min_tx=100, multiplier=1), FAST)
    link.start()
    link.run_until(20.0)
    times = [t for t, _ in link.packets["a"] if t > 1.0]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.075 - 1e-9 and max(gaps) <= 0.09 + 1e-9


def test_passive_side_waits_for_the_peer():
    lone = Session(SessionConfig(passive=True), 9)
    lone.start(0)
    assert lone.poll() == [] and lone.next_deadline() is None
    link = pair(SessionConfig(min_rx=100, min_tx=100, passive=True), FAST)
    link.start()
    assert link.a.state is link.b.state is State.UP


# --- detection -----------------------------------------------------------------------------------------------------
def test_silence_is_detected_after_the_detection_time():
    link = pair()
    link.start()
    link.run_until(5.0)
    last_from_b = max(t for t, _ in link.packets["b"])
    link.cut = True
    link.run_until(6.0)
    assert link.a.state is State.DOWN and link.b.state is State.DOWN
    (down,) = [e for e in link.events["a"] if isinstance(e, StateChanged) and e.new is State.DOWN]
    assert down.diag is Diag.DETECT_EXPIRED and not down.remote_admin_down
    assert link.a.last_change == pytest.approx(last_from_b + 0.3)  # 3 x 100 ms after the last packet heard
    assert link.a.remote_discr == 0  # forgotten (§6.8.1)
    # back on the wire: a new handshake
    link.cut = False
    link.run_until(9.0)
    assert link.a.state is link.b.state is State.UP and link.a.up_count == 2


def test_peer_down_takes_us_down_with_neighbor_down():
    s = Session(FAST, 1)
    s.start(0)
    s.packet_received(Packet(state=State.INIT, my_discr=2, your_discr=1), 0.1)
    assert s.state is State.UP
    s.poll()
    s.packet_received(Packet(state=State.DOWN, my_discr=2, your_discr=1, diag=Diag.DETECT_EXPIRED), 0.2)
    assert changes(s.poll()) == [(State.UP, State.DOWN, Diag.NEIGHBOR_DOWN)]
    assert s.remote_diag is Diag.DETECT_EXPIRED


def test_admin_down_both_ways():
    link = pair()
    link.start()
    link.run_until(2.0)
    link.b.stop(link.now)
    link._deliver()
    (ev,) = [e for e in link.events["a"] if isinstance(e, StateChanged) and e.new is State.DOWN]
    assert ev.diag is Diag.NEIGHBOR_DOWN and ev.remote_admin_down  # RFC 5882 §3.2: not a failure of the path
    assert link.b.state is State.ADMIN_DOWN and link.b.diag is Diag.ADMIN_DOWN
    link.run_until(10.0)
    assert link.a.state is State.DOWN  # b stopped telling after a while and stays quiet
    assert max(t for t, _ in link.packets["b"]) < 6.0
    link.b.start(link.now)
    link._deliver()
    link.run_until(13.0)
    assert link.a.state is link.b.state is State.UP


# --- poll sequence -------------------------------------------------------------------------------------------------
def test_timer_change_runs_a_poll_sequence_and_slower_tx_waits_for_the_final():
    s = Session(FAST, 1, rng=random.Random(3))
    s.start(0)
    s.packet_received(Packet(state=State.INIT, my_discr=2, your_discr=1, desired_min_tx=100_000,
                             required_min_rx=100_000), 0.0)  # fmt: skip
    s.packet_received(Packet(state=State.UP, my_discr=2, your_discr=1, desired_min_tx=100_000,
                             required_min_rx=100_000, final=True), 0.01)  # fmt: skip
    s.poll()
    assert s.state is State.UP and not s.polling and s.tx_interval == pytest.approx(0.1)
    s.set_timers(0.02, min_tx=500, min_rx=400)
    (p,) = sent(s.poll())
    assert p.poll and p.desired_min_tx == 500_000 and p.required_min_rx == 400_000
    assert s.polling and s.tx_interval == pytest.approx(0.1)  # slower tx not in force before the Final
    assert s.detect_time == pytest.approx(3 * 0.4)  # a longer detection time is safe at once
    # every periodic packet carries P until the Final
    s.handle_timers(s.next_deadline())  # type: ignore[arg-type]
    assert all(p.poll for p in sent(s.poll()))
    s.packet_received(Packet(state=State.UP, my_discr=2, your_discr=1, desired_min_tx=100_000,
                             required_min_rx=100_000, final=True), 0.2)  # fmt: skip
    assert not s.polling and s.tx_interval == pytest.approx(0.5)
    s.handle_timers(s.next_deadline())  # type: ignore[arg-type]
    assert not any(p.poll for p in sent(s.poll()))


def test_a_shorter_detection_time_waits_for_the_final():
    s = Session(SessionConfig(min_rx=300, min_tx=100), 1)
    s.start(0)
    s.packet_received(Packet(state=State.INIT, my_discr=2, your_discr=1, desired_min_tx=100_000), 0.0)
    s.packet_received(Packet(state=State.UP, my_discr=2, your_discr=1, desired_min_tx=100_000, final=True), 0.0)
    assert s.detect_time == pytest.approx(0.9)
    s.set_timers(0.5, min_rx=100)
    assert s.detect_time == pytest.approx(0.9)  # the peer may still be sending every 300 ms
    s.packet_received(Packet(state=State.UP, my_discr=2, your_discr=1, desired_min_tx=100_000, final=True), 0.6)
    assert s.detect_time == pytest.approx(0.3)


def test_a_poll_from_the_peer_is_answered_at_once_with_final():
    link = pair()
    link.start()
    link.run_until(2.0)
    link.b.set_timers(link.now, min_rx=200, min_tx=200)
    link._deliver()
    finals = [p for t, p in link.packets["a"] if t == link.now and p.final]
    assert finals and not finals[0].poll
    assert not link.b.polling
    link.run_until(4.0)
    assert link.a.tx_interval == pytest.approx(0.2) and link.b.tx_interval == pytest.approx(0.2)
    assert link.a.detect_time == pytest.approx(0.6) and link.a.state is State.UP


def test_a_session_that_is_not_up_never_advertises_under_one_second():
    s = Session(FAST, 1)
    s.start(0)
    (p,) = sent(s.poll())
    assert p.desired_min_tx == 1_000_000 and p.required_min_rx == 100_000
    assert s.next_deadline() is not None and 0.75 <= s.next_deadline() <= 1.0  # type: ignore[operator]


# --- discards ------------------------------------------------------------------------------------------------------
def test_ttl_below_255_is_discarded():
    s = Session(FAST, 1)
    s.start(0)
    s.poll()
    data = Packet(state=State.DOWN, my_discr=2).encode()
    for ttl in (254, 1, None):
        s.datagram_received(data, 0.1, ttl=ttl)
    out = s.poll()
    assert [e.kind for e in out if isinstance(e, Discarded)] == ["ttl"] * 3
    assert s.state is State.DOWN and s.remote_discr == 0 and s.discarded["ttl"] == 3
    s.datagram_received(data, 0.2, ttl=255)
    assert s.state is State.INIT
    multihop = Session(SessionConfig(multihop=True, min_ttl=250), 1)
    multihop.datagram_received(data, 0.0, ttl=249)
    assert multihop.state is State.DOWN and multihop.discarded["ttl"] == 1  # RFC 5883: below the minimum
    multihop.datagram_received(data, 0.0, ttl=250)
    assert multihop.state is State.INIT


@pytest.mark.parametrize(
    ("pkt", "kind"),
    [
        (Packet(state=State.UP, my_discr=2, your_discr=99), "discriminator"),
        (Packet(state=State.UP, my_discr=2, your_discr=0), "discriminator"),
        (Packet(state=State.DOWN, my_discr=2, auth=packet.Auth(1, 1, b"pw")), "auth"),
        (Packet(state=State.DOWN, my_discr=2, poll=True, final=True), "malformed"),
    ],
)
def test_session_level_discards(pkt: Packet, kind: str):
    s = Session(FAST, 1)
    s.start(0)
    s.poll()
    s.datagram_received(pkt.encode(), 0.1, ttl=255)
    (d,) = s.poll()
    assert isinstance(d, Discarded) and d.kind == kind
    assert s.state is State.DOWN and s.received == 0


def test_garbage_is_discarded_not_raised():
    s = Session(FAST, 1)
    s.datagram_received(b"\x00" * 3, 0, ttl=255)
    s.datagram_received(b"\xff" * 24, 0, ttl=255)
    assert s.discarded["malformed"] == 2


def test_config_is_validated():
    with pytest.raises(ValueError, match="multiplier 0"):
        SessionConfig(multiplier=0)
    with pytest.raises(ValueError, match="min_rx 5 ms"):
        SessionConfig(min_rx=5)
    with pytest.raises(ValueError, match="nonzero"):
        session.Session(FAST, 0)


def test_down_init_up_from_one_side():
    s = Session(FAST, 1)
    s.start(0)
    s.poll()
    s.datagram_received(Packet(state=State.DOWN, my_discr=2).encode(), 0.1, ttl=255)
    out = s.poll()
    assert changes(out) == [(State.DOWN, State.INIT, Diag.NONE)]
    (p,) = sent(out)  # sent at once, answering the peer's discriminator
    assert p.state is State.INIT and p.your_discr == 2
    s.datagram_received(Packet(state=State.UP, my_discr=2, your_discr=1).encode(), 0.2, ttl=255)
    out = s.poll()
    assert changes(out) == [(State.INIT, State.UP, Diag.NONE)]
    assert [(p.state, p.poll, p.desired_min_tx) for p in sent(out)] == [(State.UP, True, 100_000)]
    s.handle_timers(0.2 + 0.31)
    assert s.state is State.UP  # the peer advertised Desired Min TX 1 s: detection time is 3 s
    s.handle_timers(3.21)
    assert s.state is State.DOWN and s.diag is Diag.DETECT_EXPIRED


def test_a_poll_that_lowers_the_peers_rx_brings_our_next_packet_forward():
    # FRR advertises Required Min RX 1 s until Up, then polls it down: we must not wait out the 1 s gap (a false
    # Down at the peer, whose detection time now counts with our 100 ms).
    s = Session(FAST, 1, rng=random.Random(4))
    s.start(0)
    s.packet_received(Packet(state=State.INIT, my_discr=2, your_discr=1, required_min_rx=1_000_000), 0.0)
    assert s.state is State.UP
    s.poll()
    assert s.next_deadline() is not None and s.next_deadline() > 0.7  # type: ignore[operator]
    s.packet_received(Packet(state=State.UP, my_discr=2, your_discr=1, required_min_rx=100_000,
                             desired_min_tx=100_000, poll=True), 0.05)  # fmt: skip
    (final,) = sent(s.poll())
    assert final.final and not final.poll
    assert s.next_deadline() <= 0.05 + 0.1  # type: ignore[operator]


# --- authentication (RFC 5880 §6.7.4) -------------------------------------------------------------------------------
def authed(kind: str, key: bytes = b"s3cret", key_id: int = 1) -> SessionConfig:
    return SessionConfig(min_rx=100, min_tx=100, multiplier=3, auth=session.AuthConfig(kind, key_id, key))


@pytest.mark.parametrize("kind", ["keyed-sha1", "meticulous-keyed-sha1"])
def test_authenticated_sessions_come_up_and_stay_up_and_sign_every_packet(kind: str):
    link = pair(authed(kind), authed(kind))
    link.start()
    link.run_until(5.0)
    assert link.a.state is State.UP and link.b.state is State.UP
    assert link.a.up_count == 1 and not any(link.a.discarded.values()) and not any(link.b.discarded.values())
    pkts = [p for _, p in link.packets["a"]]
    assert all(p.auth is not None and p.auth.type == session.AUTH_TYPES[kind] and len(p.auth.data) == 25 for p in pkts)
    seqs = [int.from_bytes(p.auth.data[1:5], "big") for p in pkts]  # type: ignore[union-attr]
    steps = {(b - a) % 2**32 for a, b in itertools.pairwise(seqs)}
    assert steps == {1} if kind == "meticulous-keyed-sha1" else steps <= {0, 1}


def test_wrong_key_key_id_type_or_missing_auth_never_comes_up():
    for other in (authed("keyed-sha1", b"other"), authed("keyed-sha1", key_id=2), authed("meticulous-keyed-sha1"),
                  FAST):  # fmt: skip
        link = pair(authed("keyed-sha1"), other)
        link.start()
        link.run_until(5.0)
        assert link.a.state is State.DOWN and link.a.received == 0 and link.a.discarded["auth"] > 0, other


def test_replayed_and_out_of_window_packets_are_refused():
    a = Session(authed("meticulous-keyed-sha1"), 0x1111, rng=random.Random(1))
    b = Session(authed("meticulous-keyed-sha1"), 0x2222, rng=random.Random(2))
    b.start(0)
    first = next(x.data for x in b.poll() if isinstance(x, Send))
    a.start(0)
    a.poll()
    a.datagram_received(first, 0.1, ttl=255)
    assert a.received == 1 and a.state is State.INIT
    a.datagram_received(first, 0.2, ttl=255)  # meticulous: the same sequence number again is a replay
    assert a.received == 1 and a.discarded["auth"] == 1
    far = bytearray(first)
    far[28:32] = ((int.from_bytes(first[28:32], "big") + 100) % 2**32).to_bytes(4, "big")  # beyond 3 x DetectMult
    a.datagram_received(bytes(far), 0.3, ttl=255)
    assert a.discarded["auth"] == 2
    out = [e.reason for e in a.poll() if isinstance(e, Discarded)]
    assert out[0].startswith("sequence number") and out[1].startswith("sequence number"), out
    b.handle_timers(1.5)
    tampered = bytearray(next(x.data for x in b.poll() if isinstance(x, Send)))  # the next one, in the window
    tampered[1] ^= 0x20  # the poll bit flipped in transit
    a.datagram_received(bytes(tampered), 0.4, ttl=255)
    assert [e.reason for e in a.poll() if isinstance(e, Discarded)] == ["bad digest"]


def test_the_key_is_never_shown():
    cfg = authed("keyed-sha1", b"very-s3cret")
    s = Session(cfg, 1)
    assert "very-s3cret" not in repr(cfg) and "very-s3cret" not in str(s.status(0.0))
    with pytest.raises(ValueError, match="auth key of 21 bytes"):
        session.AuthConfig("keyed-sha1", 1, b"x" * 21)
