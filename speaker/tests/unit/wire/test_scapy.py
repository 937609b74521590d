"""scapy's BGP layer, an independent decoder, reads our encoder's output the same way we meant it."""

from __future__ import annotations

from scapy.all import load_contrib

from bgplb.bgp import wire

load_contrib("bgp")
from scapy.contrib import bgp as sbgp  # noqa: E402

sbgp.bgp_module_conf.use_2_bytes_asn = False


def test_open_with_every_capability():
    caps = wire.Capabilities(
        families=(wire.IPV4_UNICAST, wire.IPV6_UNICAST), asn4=4200000001, route_refresh=True, extended_message=True,
        graceful_restart=wire.GracefulRestart(120, restarting=True, families=((1, 1, True), (2, 1, True))),
    )  # fmt: skip
    pkt = sbgp.BGPHeader(wire.Open(4200000001, 90, "192.0.2.7", caps).encode())
    o = pkt[sbgp.BGPOpen]
    assert (o.version, o.my_as, o.hold_time, o.bgp_id) == (4, wire.AS_TRANS, 90, "192.0.2.7")
    found = {}
    for param in o.opt_params:
        for cap in param.param_value if isinstance(param.param_value, list) else [param.param_value]:
            found.setdefault(cap.code, []).append(cap)
    assert [(c.afi, c.safi) for c in found[1]] == [(1, 1), (2, 1)]
    assert 2 in found and 6 in found
    assert found[65][0].asn == 4200000001
    gr = found[64][0]
    assert gr.restart_time == 120 and gr.restart_flags & 0x8
    # scapy decodes the first family entry and leaves the next as payload
    assert [(e.afi, e.safi, e.flags) for e in gr.entries[:1]] == [(1, 1, 0x80)]
    assert bytes(gr.entries[0].payload) == b"\x00\x02\x01\x80"


def _attrs(pkt: sbgp.BGPHeader) -> dict[int, object]:
    return {a.type_code: a.attribute for a in pkt[sbgp.BGPUpdate].path_attr}


def test_update_ipv4_attributes():
    attrs = wire.PathAttributes(origin=0, as_path=(4200000001, 65000), next_hop="192.0.2.1", med=7, local_pref=150,
                                communities=(wire.COMMUNITY_NO_EXPORT, 65000 << 16 | 100),
                                large_communities=((4200000001, 1, 2),))  # fmt: skip
    nlri = [wire.prefix_to_nlri(p) for p in ("198.51.100.1/32", "198.51.100.0/24")]
    (msg,) = wire.pack_announce(1, 1, attrs.encode(), nlri, 4096)
    pkt = sbgp.BGPHeader(msg)
    a = _attrs(pkt)
    assert a[1].origin == 0
    assert a[2].segments[0].segment_value == [4200000001, 65000]
    assert a[3].next_hop == "192.0.2.1"
    assert a[4].med == 7 and a[5].local_pref == 150
    # scapy's COMMUNITIES layer decodes the first value and leaves the rest as payload
    assert a[8].community == 0xFFFFFF01 and bytes(a[8].payload) == (65000 << 16 | 100).to_bytes(4, "big")
    (large,) = a[32].segments
    assert (large.global_administrator, large.local_data_part1, large.local_data_part2) == (4200000001, 1, 2)
    assert [p.prefix for p in pkt[sbgp.BGPUpdate].nlri] == ["198.51.100.1/32", "198.51.100.0/24"]


def test_update_ipv6_mp_reach_and_unreach():
    block = wire.PathAttributes(as_path=(64512,)).encode()
    (msg,) = wire.pack_announce(2, 1, block, [wire.prefix_to_nlri("2001:db8::10/128")], 4096, ("2001:db8::1",))
    a = _attrs(sbgp.BGPHeader(msg))
    reach = a[14]
    assert (reach.afi, reach.safi) == (2, 1)
    assert reach.nh_v6_addr == "2001:db8::1"
    assert [p.prefix for p in reach.nlri] == ["2001:db8::10/128"]
    (wd,) = wire.pack_withdraw(2, 1, [wire.prefix_to_nlri("2001:db8::10/128")], 4096)
    unreach = _attrs(sbgp.BGPHeader(wd))[15]
    assert (unreach.afi, unreach.safi) == (2, 1)
    assert [p.prefix for p in unreach.afi_safi_specific.withdrawn_routes] == ["2001:db8::10/128"]


def test_notification_and_route_refresh():
    n = sbgp.BGPHeader(wire.Notification(6, 2, b"\x03bye").encode())[sbgp.BGPNotification]
    assert (n.error_code, n.error_subcode) == (6, 2)
    rr = sbgp.BGPHeader(wire.RouteRefresh(2, 1).encode())[sbgp.BGPRouteRefresh]
    assert (rr.afi, rr.safi) == (2, 1)
