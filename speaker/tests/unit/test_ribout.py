"""The outbound table sends only differences, packed by attribute set."""

from __future__ import annotations

from bgplb.bgp import wire
from bgplb.bgp.ribout import AdjRibOut, AttributeEncoder
from bgplb.bgp.route import Route

V4, V6 = wire.IPV4_UNICAST, wire.IPV6_UNICAST
EBGP = AttributeEncoder(local_asn=64512, ebgp=True, next_hop_v4="10.0.0.2", next_hops_v6=("fd00::2",))


def nlri(*prefixes: str) -> list[bytes]:
    return [wire.prefix_to_nlri(p) for p in prefixes]


def decode(messages: list[bytes]) -> list[wire.Update]:
    out = []
    for msg in messages:
        assert len(msg) <= wire.MAX_MESSAGE_LEN
        ((_msg_type, body),) = wire.MessageReader().feed(msg)
        out.append(wire.decode_update(body, asn4=True))
    return out


def announced(updates: list[wire.Update]) -> dict[str, wire.PathAttributes]:
    result = {}
    for u in updates:
        for p in u.nlri:
            result[wire.nlri_to_prefix(1, p)] = u.attributes
        mp = u.attributes.mp_reach if u.attributes else None
        if mp:
            for p in mp.nlri:
                result[wire.nlri_to_prefix(mp.afi, p)] = u.attributes
    return result


def withdrawn(updates: list[wire.Update]) -> set[str]:
    result = {wire.nlri_to_prefix(1, p) for u in updates for p in u.withdrawn}
    for u in updates:
        mp = u.attributes.mp_unreach if u.attributes else None
        if mp:
            result |= {wire.nlri_to_prefix(mp.afi, p) for p in mp.withdrawn}
    return result


def test_initial_table_grouped_by_attributes_then_only_differences():
    gold, plain = Route(communities=(0xFDE80064,)), Route()
    rib = AdjRibOut()
    rib.set_desired(
        {V4: dict(zip(nlri("198.51.100.1/32", "198.51.100.2/32", "198.51.100.3/32"), (gold, gold, plain), strict=True))}
    )
    updates = decode(rib.flush(EBGP, (V4,), wire.MAX_MESSAGE_LEN))
    assert len(updates) == 2  # one UPDATE per attribute set
    got = announced(updates)
    assert set(got) == {"198.51.100.1/32", "198.51.100.2/32", "198.51.100.3/32"}
    attrs = got["198.51.100.1/32"]
    assert attrs.as_path == (64512,) and attrs.next_hop == "10.0.0.2" and attrs.communities == (0xFDE80064,)
    assert attrs.local_pref is None  # eBGP
    assert got["198.51.100.3/32"].communities == ()
    assert rib.flush(EBGP, (V4,), wire.MAX_MESSAGE_LEN) == []
    assert len(rib) == 3

    # change one prefix's attributes, drop another, keep the third
    rib.set_desired({V4: dict(zip(nlri("198.51.100.1/32", "198.51.100.3/32"), (plain, plain), strict=True))})
    updates = decode(rib.flush(EBGP, (V4,), wire.MAX_MESSAGE_LEN))
    assert set(announced(updates)) == {"198.51.100.1/32"}
    assert withdrawn(updates) == {"198.51.100.2/32"}
    assert len(rib) == 2


def test_ipv6_goes_in_mp_reach_with_the_v6_next_hop():
    rib = AdjRibOut()
    rib.set_desired({V6: {p: Route() for p in nlri("2001:db8::1/128", "2001:db8::2/128")}})
    updates = decode(rib.flush(EBGP, (V4, V6), wire.MAX_MESSAGE_LEN))
    got = announced(updates)
    assert set(got) == {"2001:db8::1/128", "2001:db8::2/128"}
    assert got["2001:db8::1/128"].mp_reach.next_hops == ("fd00::2",)
    rib.set_desired({})
    assert withdrawn(decode(rib.flush(EBGP, (V4, V6), wire.MAX_MESSAGE_LEN))) == set(got)


def test_ibgp_gets_local_pref_default_and_configured():
    ibgp = AttributeEncoder(local_asn=64512, ebgp=False, next_hop_v4="10.0.0.2", next_hops_v6=())
    rib = AdjRibOut()
    rib.set_desired({V4: {nlri("198.51.100.1/32")[0]: Route(), nlri("198.51.100.2/32")[0]: Route(local_pref=50)}})
    got = announced(decode(rib.flush(ibgp, (V4,), wire.MAX_MESSAGE_LEN)))
    assert got["198.51.100.1/32"].local_pref == 100 and got["198.51.100.1/32"].as_path == ()
    assert got["198.51.100.2/32"].local_pref == 50


def test_reset_and_refresh_resend_the_whole_table_and_families_wait_for_negotiation():
    rib = AdjRibOut()
    rib.set_desired(
        {V4: {p: Route() for p in nlri("198.51.100.1/32")}, V6: {p: Route() for p in nlri("2001:db8::1/128")}}
    )
    assert set(announced(decode(rib.flush(EBGP, (V4,), wire.MAX_MESSAGE_LEN)))) == {"198.51.100.1/32"}
    assert rib.pending  # the IPv6 prefix waits for a session that negotiated IPv6
    rib.refresh(V4)
    assert set(announced(decode(rib.flush(EBGP, (V4,), wire.MAX_MESSAGE_LEN)))) == {"198.51.100.1/32"}
    rib.reset()
    assert len(rib) == 0
    assert set(announced(decode(rib.flush(EBGP, (V4, V6), wire.MAX_MESSAGE_LEN)))) == {
        "198.51.100.1/32",
        "2001:db8::1/128",
    }


def test_large_table_is_packed_into_full_messages():
    prefixes = [wire.prefix_to_nlri(f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}/32") for i in range(20_000)]
    rib = AdjRibOut()
    rib.set_desired({V4: dict.fromkeys(prefixes, Route())})
    messages = rib.flush(EBGP, (V4,), wire.MAX_MESSAGE_LEN)
    assert sum(len(u.nlri) for u in decode(messages)) == 20_000
    # 5 bytes per /32: a full 4096-byte UPDATE carries ~800, so 20k need at most 26 messages
    assert len(messages) <= 26
