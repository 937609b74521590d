"""Fuzzing the decoder and the session with random and mutated messages: only NotificationError may come out of
the codec, and the session turns every error into a NOTIFICATION, never an exception. Bounded by example counts
(about 20 s in all); raise FUZZ_EXAMPLES for a longer run."""

from __future__ import annotations

import contextlib
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bgplb.bgp import fsm, wire

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "4000"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)

SEEDS = [
    wire.Open(64512, 90, "10.0.0.1", wire.Capabilities(families=((1, 1), (2, 1)), asn4=64512, route_refresh=True,
              graceful_restart=wire.GracefulRestart(120, True, ((1, 1, True),)), extended_message=True)).encode(),
    wire.Update((wire.prefix_to_nlri("10.1.0.0/16"),), wire.PathAttributes(
        as_path=(64512, 4200000001), next_hop="10.0.0.1", med=1, local_pref=100, communities=(1, 2),
        large_communities=((1, 2, 3),), mp_reach=wire.MPReach(2, 1, ("2001:db8::1", "fe80::1"),
        (wire.prefix_to_nlri("2001:db8::/48"),)), mp_unreach=wire.MPUnreach(2, 1, (wire.prefix_to_nlri("::/0"),)),
        other=((0xC0, 99, b"xyz"),)), (wire.prefix_to_nlri("198.51.100.0/24"),)).encode(),
    wire.Notification(6, 2, b"\x03bye").encode(),
    wire.RouteRefresh(1, 1).encode(),
    wire.KEEPALIVE_BYTES,
    wire.end_of_rib(2, 1),
]  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["flip", "set", "cut", "insert"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[pos : pos + draw(st.integers(1, 16))]
        else:
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
    if len(data) >= 18 and draw(st.booleans()):
        data[16:18] = len(data).to_bytes(2, "big")  # keep the length consistent so the body gets decoded
    return bytes(data)


def decode_all(data: bytes) -> None:
    reader = wire.MessageReader(wire.MAX_EXTENDED_MESSAGE_LEN)
    try:
        for msg_type, body in reader.feed(data):
            for asn4 in (True, False):
                with contextlib.suppress(wire.NotificationError):
                    wire.decode_message(msg_type, body, asn4=asn4, ebgp=asn4)
    except wire.NotificationError:
        pass


@FUZZ
@given(mutated())
def test_mutated_messages_only_raise_notification_errors(data: bytes):
    decode_all(data)


@FUZZ
@given(st.binary(max_size=300).map(lambda b: b"\xff" * 16 + b))
def test_random_bodies_only_raise_notification_errors(data: bytes):
    decode_all(data)


@settings(max_examples=EXAMPLES // 4, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(st.lists(mutated(), min_size=1, max_size=4))
def test_established_session_survives_anything(messages: list[bytes]):
    s = fsm.Session(fsm.SessionConfig(local_asn=64512, peer_asn=64500, router_id="10.0.0.2"))
    s.start(0)
    s.connection_made("c", 0, inbound=False)
    peer = wire.Open(64500, 90, "10.0.0.1", wire.Capabilities(families=((1, 1),), asn4=64500)).encode()
    s.data_received("c", peer + wire.KEEPALIVE_BYTES, 0)
    assert s.state is fsm.State.ESTABLISHED
    for m in messages:
        s.data_received("c", m, 1)  # must not raise
    out = s.poll()
    if s.state is not fsm.State.ESTABLISHED:
        assert any(isinstance(e, fsm.Down) for e in out)
