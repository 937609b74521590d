"""The session state machine, driven by hand with a fake clock: no sockets."""

from __future__ import annotations

import random

import pytest

from bgplb.bgp import fsm, wire
from bgplb.bgp.wire import Capabilities, ErrorCode, Open

CFG = fsm.SessionConfig(local_asn=64512, peer_asn=64500, router_id="10.0.0.2", hold_time=90, connect_time=5)


def peer_open(asn: int = 64500, hold: int = 30, router_id: str = "10.0.0.1", **caps: object) -> bytes:
    capabilities = Capabilities(families=(wire.IPV4_UNICAST,), asn4=asn, route_refresh=True, **caps)  # type: ignore[arg-type]
    return Open(asn=asn, hold_time=hold, router_id=router_id, capabilities=capabilities).encode()


def decode_sent(out: list[object]) -> list[object]:
    """Every message the session asked to send, decoded."""
    messages = []
    for item in out:
        if isinstance(item, fsm.Send):
            reader = wire.MessageReader(wire.MAX_EXTENDED_MESSAGE_LEN)
            messages += [wire.decode_message(t, b) for t, b in reader.feed(item.data)]
    return messages


def establish(session: fsm.Session, conn: object = "c1", now: float = 0.0, **open_args: object) -> list[object]:
    session.start(now)
    session.connection_made(conn, now, inbound=False)
    session.data_received(conn, peer_open(**open_args) + wire.KEEPALIVE_BYTES, now)  # type: ignore[arg-type]
    return session.poll()


def test_active_session_reaches_established_and_negotiates_hold_time():
    s = fsm.Session(CFG)
    s.start(0)
    assert s.poll() == [fsm.Connect()]
    assert s.state is fsm.State.CONNECT
    s.connection_made("c1", 0, inbound=False)
    ours = decode_sent(s.poll())
    assert len(ours) == 1 and isinstance(ours[0], Open)
    assert ours[0].asn == 64512 and ours[0].hold_time == 90 and ours[0].router_id == "10.0.0.2"
    caps = ours[0].capabilities
    assert caps.route_refresh and caps.asn4 == 64512 and caps.families == (wire.IPV4_UNICAST,)
    assert caps.graceful_restart is not None and caps.graceful_restart.restart_time == 120
    assert s.state is fsm.State.OPEN_SENT
    s.data_received("c1", peer_open(hold=30), 1)
    assert [type(m) for m in decode_sent(s.poll())] == [wire.Keepalive]
    assert s.state is fsm.State.OPEN_CONFIRM
    s.data_received("c1", wire.KEEPALIVE_BYTES, 2)
    events = s.poll()
    assert s.state is fsm.State.ESTABLISHED
    (est,) = [e for e in events if isinstance(e, fsm.Established)]
    assert est.conn == "c1" and est.asn4 and est.families == (wire.IPV4_UNICAST,)
    assert est.max_length == wire.MAX_MESSAGE_LEN  # the peer did not offer extended messages
    # hold 30 negotiated -> keepalive every 10 s (the last thing sent was our KEEPALIVE at t=1)
    assert s.next_deadline() == pytest.approx(11)
    s.handle_timers(11)
    assert [type(m) for m in decode_sent(s.poll())] == [wire.Keepalive]


def test_extended_message_negotiated_only_when_both_offer_it():
    events = establish(fsm.Session(CFG), extended_message=True)
    (est,) = [e for e in events if isinstance(e, fsm.Established)]
    assert est.max_length == wire.MAX_EXTENDED_MESSAGE_LEN


def test_hold_timer_expiry_sends_notification_and_goes_down():
    s = fsm.Session(CFG)
    establish(s)
    s.handle_timers(29.9)
    assert s.state is fsm.State.ESTABLISHED
    s.handle_timers(30.0)
    out = s.poll()
    notes = [m for m in decode_sent(out) if isinstance(m, wire.Notification)]
    assert [(n.code, n.subcode) for n in notes] == [(ErrorCode.HOLD_TIMER_EXPIRED, 0)]
    assert fsm.Close("c1") in out
    assert any(isinstance(e, fsm.Down) for e in out)
    assert s.state is fsm.State.ACTIVE  # waiting for the connect-retry timer


def test_received_traffic_restarts_the_hold_timer():
    s = fsm.Session(CFG)
    establish(s)
    s.data_received("c1", wire.KEEPALIVE_BYTES, 25)
    s.handle_timers(40)
    assert s.state is fsm.State.ESTABLISHED


def test_hold_time_zero_means_no_keepalives_and_no_hold_timer():
    s = fsm.Session(CFG)
    establish(s, hold=0)
    assert s.next_deadline() is None
    s.handle_timers(10_000)
    assert s.state is fsm.State.ESTABLISHED


def test_wrong_peer_as_is_refused_with_bad_peer_as_and_retried_with_jittered_backoff():
    s = fsm.Session(CFG, rng=random.Random(7))
    s.start(0)
    s.poll()
    delays = []
    now = 0.0
    for _ in range(6):
        s.connection_made("c", now, inbound=False)
        s.data_received("c", peer_open(asn=65000), now)
        notes = [m for m in decode_sent(s.poll()) if isinstance(m, wire.Notification)]
        assert [(n.code, n.subcode) for n in notes] == [(ErrorCode.OPEN_MESSAGE, wire.OpenSubcode.BAD_PEER_AS)]
        assert "65000" in (s.last_error or "")
        deadline = s.next_deadline()
        assert deadline is not None
        delays.append(deadline - now)
        now = deadline
        s.handle_timers(now)
        assert s.poll() == [fsm.Connect()]
    for i, delay in enumerate(delays):
        nominal = min(CFG.connect_time_max, CFG.connect_time * 2**i)
        assert 0.75 * nominal <= delay <= nominal
    assert len(set(delays)) == len(delays)  # jittered


def test_unexpected_message_in_open_sent_is_an_fsm_error():
    s = fsm.Session(CFG)
    s.start(0)
    s.connection_made("c1", 0, inbound=False)
    s.poll()
    s.data_received("c1", wire.KEEPALIVE_BYTES, 0)
    notes = [m for m in decode_sent(s.poll()) if isinstance(m, wire.Notification)]
    assert [(n.code, n.subcode) for n in notes] == [(ErrorCode.FSM, wire.FsmSubcode.OPEN_SENT)]


def test_malformed_header_resets_with_message_header_error():
    s = fsm.Session(CFG)
    establish(s)
    s.data_received("c1", b"\x00" * 16 + b"\x00\x13\x04", 1)
    out = s.poll()
    notes = [m for m in decode_sent(out) if isinstance(m, wire.Notification)]
    assert [(n.code, n.subcode) for n in notes] == [
        (ErrorCode.MESSAGE_HEADER, wire.HeaderSubcode.CONNECTION_NOT_SYNCHRONIZED)
    ]
    assert any(isinstance(e, fsm.Down) for e in out)


def test_messages_split_across_reads_are_reassembled():
    s = fsm.Session(CFG)
    s.start(0)
    s.connection_made("c1", 0, inbound=False)
    data = peer_open() + wire.KEEPALIVE_BYTES
    for i in range(len(data)):
        s.data_received("c1", data[i : i + 1], 0)
    assert s.state is fsm.State.ESTABLISHED


def test_route_refresh_for_a_negotiated_family_is_reported():
    s = fsm.Session(CFG)
    establish(s)
    s.data_received("c1", wire.RouteRefresh(1, 1).encode() + wire.RouteRefresh(2, 1).encode(), 1)
    assert [e for e in s.poll() if isinstance(e, fsm.RefreshRequested)] == [fsm.RefreshRequested(1, 1)]


def test_admin_stop_sends_cease_and_graceful_stop_sends_nothing():
    s = fsm.Session(CFG)
    establish(s)
    s.stop(1)
    out = s.poll()
    notes = [m for m in decode_sent(out) if isinstance(m, wire.Notification)]
    assert [(n.code, n.subcode) for n in notes] == [(ErrorCode.CEASE, wire.CeaseSubcode.ADMIN_SHUTDOWN)]
    assert s.state is fsm.State.IDLE and s.next_deadline() is None

    s = fsm.Session(CFG)
    establish(s)
    s.stop(1, notify=False)
    out = s.poll()
    assert decode_sent(out) == [] and fsm.Close("c1") in out


@pytest.mark.parametrize(("local_id", "kept_inbound"), [("10.0.0.2", False), ("10.0.0.0", True)])
def test_collision_keeps_the_connection_opened_by_the_higher_identifier(local_id: str, kept_inbound: bool):
    s = fsm.Session(fsm.SessionConfig(local_asn=64512, peer_asn=64500, router_id=local_id))
    s.start(0)
    s.connection_made("out", 0, inbound=False)
    s.connection_made("in", 0, inbound=True)
    s.data_received("out", peer_open(router_id="10.0.0.1"), 0)
    s.poll()
    s.data_received("in", peer_open(router_id="10.0.0.1"), 0)
    out = s.poll()
    loser = "out" if kept_inbound else "in"
    winner = "in" if kept_inbound else "out"
    assert fsm.Close(loser) in out
    cease = [i for i in out if isinstance(i, fsm.Send) and i.conn == loser]
    note = wire.decode_notification(cease[0].data[19:])
    assert (note.code, note.subcode) == (ErrorCode.CEASE, wire.CeaseSubcode.CONNECTION_COLLISION)
    s.data_received(winner, wire.KEEPALIVE_BYTES, 0)
    assert s.established_conn == winner


def test_passive_session_never_connects():
    s = fsm.Session(fsm.SessionConfig(local_asn=1, peer_asn=2, router_id="1.1.1.1", passive=True))
    s.start(0)
    assert s.poll() == [] and s.state is fsm.State.ACTIVE
    s.connect_failed(0, "x")
    assert s.next_deadline() is None


def test_restarting_speaker_sets_the_r_bit_until_the_first_session_ends():
    s = fsm.Session(CFG, restarting=True)
    s.start(0)
    s.connection_made("c1", 0, inbound=False)
    (ours,) = decode_sent(s.poll())
    assert ours.capabilities.graceful_restart.restarting  # type: ignore[union-attr]
    assert ours.capabilities.graceful_restart.families == ((1, 1, True),)  # type: ignore[union-attr]
