"""decode(encode(x)) == x for every message kind, and packing keeps every prefix exactly once."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st
from wire_strategies import mp_reach, mp_unreach, nlri4, nlri6, opens, path_attributes

from bgplb.bgp import wire


def one(msg: bytes) -> tuple[int, bytes]:
    (item,) = wire.MessageReader(wire.MAX_EXTENDED_MESSAGE_LEN).feed(msg)
    return item


@given(opens)
def test_open(o: wire.Open):
    msg_type, body = one(o.encode())
    assert msg_type == wire.MsgType.OPEN
    decoded = wire.decode_open(body)
    expected_caps = o.capabilities if o.asn <= 0xFFFF else dataclasses.replace(o.capabilities, asn4=o.asn)
    assert decoded == dataclasses.replace(o, capabilities=expected_caps)


@given(path_attributes, st.lists(nlri4, max_size=50).map(tuple), st.lists(nlri4, max_size=50).map(tuple),
       st.none() | mp_reach, st.none() | mp_unreach)  # fmt: skip
def test_update(attrs: wire.PathAttributes, nlri: tuple[bytes, ...], withdrawn: tuple[bytes, ...],
                reach: wire.MPReach | None, unreach: wire.MPUnreach | None):  # fmt: skip
    attrs = dataclasses.replace(attrs, mp_reach=reach, mp_unreach=unreach)
    update = wire.Update(withdrawn, attrs, nlri)
    msg_type, body = one(update.encode())
    assert msg_type == wire.MsgType.UPDATE
    assert wire.decode_update(body) == update


@given(path_attributes)
def test_update_to_2_octet_peer_keeps_the_real_as_path(attrs: wire.PathAttributes):
    update = wire.Update((), attrs, (wire.prefix_to_nlri("10.0.0.0/8"),))
    _, body = one(update.encode(asn4=False))
    assert wire.decode_update(body, asn4=False).attributes.as_path == attrs.as_path


@given(st.integers(1, 6), st.integers(0, 255), st.binary(max_size=100))
def test_notification(code: int, subcode: int, data: bytes):
    n = wire.Notification(code, subcode, data)
    assert wire.decode_notification(one(n.encode())[1]) == n


@given(st.sampled_from([1, 2]), st.sampled_from([1, 2, 128]), st.integers(0, 2))
def test_route_refresh(afi: int, safi: int, subtype: int):
    rr = wire.RouteRefresh(afi, safi, subtype)
    assert wire.decode_route_refresh(one(rr.encode())[1]) == rr


@settings(max_examples=50)
@given(st.lists(nlri4, max_size=3000), st.lists(nlri6, max_size=1500), st.sampled_from([4096, 65535]), path_attributes)
def test_packing_carries_every_prefix_once_within_max_length(v4: list[bytes], v6: list[bytes], max_length: int,
                                                            attrs: wire.PathAttributes):  # fmt: skip
    block4 = attrs.encode()
    block6 = dataclasses.replace(attrs, next_hop=None).encode()
    msgs = (wire.pack_announce(1, 1, block4, v4, max_length) + wire.pack_withdraw(1, 1, v4, max_length)
            + wire.pack_announce(2, 1, block6, v6, max_length, ("2001:db8::1",))
            + wire.pack_withdraw(2, 1, v6, max_length))  # fmt: skip
    got: dict[str, list[bytes]] = {"a4": [], "w4": [], "a6": [], "w6": []}
    for msg in msgs:
        assert len(msg) <= max_length
        u = wire.decode_update(one(msg)[1])
        assert u.treat_as_withdraw is None
        got["a4"] += u.nlri
        got["w4"] += u.withdrawn
        if u.attributes and u.attributes.mp_reach:
            got["a6"] += u.attributes.mp_reach.nlri
            assert u.attributes.mp_reach.next_hops == ("2001:db8::1",)
            assert dataclasses.replace(u.attributes, mp_reach=None) == dataclasses.replace(attrs, next_hop=None)
        if u.attributes and u.attributes.mp_unreach:
            got["w6"] += u.attributes.mp_unreach.withdrawn
    assert got == {"a4": v4, "w4": v4, "a6": v6, "w6": v6}
