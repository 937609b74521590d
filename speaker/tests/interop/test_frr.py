"""Our speaker against FRR 8.4 in a namespace: sessions, attributes, MD5, withdrawals, graceful restart."""

from __future__ import annotations

import signal
import time

from harness import FrrRouter, Neighbor, NetnsPair, Speaker, wait_for

POOL = {"kind": "pool", "name": "public", "addresses": ["198.51.100.0/24", "2001:db8:100::/64"]}
ADV = {"kind": "advertisement", "name": "default", "communities": ["no-export", "65000:100"],
       "large_communities": ["4200000001:7:9"]}  # fmt: skip


def node(net: NetnsPair, asn: int = 4200000001, **extra: object) -> dict[str, object]:
    return {"node": {"name": "n1", "router_id": net.left_v4, "asn": asn, **extra}}


def peer(address: str, asn: int = 64500, **extra: object) -> dict[str, object]:
    return {"kind": "peer", "name": "r1", "address": address, "asn": asn, "hold_time": 9, **extra}


def test_ipv4_and_ipv6_routes_with_attributes_over_one_session_4_octet_asn():
    with (
        NetnsPair() as net,
        FrrRouter(
            net.right, asn=64500, router_id="10.255.0.1", neighbors=[Neighbor(net.left_v4, asn=4200000001)]
        ) as frr,
        Speaker(net.left, node(net, ipv6_next_hop=net.left_v6)) as sp,
    ):
        sp.apply(POOL, ADV, peer(net.right_v4, families=["ipv4", "ipv6"]),
                 {"kind": "service", "name": "web", "address": ["198.51.100.10", "2001:db8:100::10"]},
                 {"kind": "service", "name": "api", "address": "198.51.100.11"})  # fmt: skip
        wait_for(lambda: frr.prefix_count(net.left_v4) == 2, what="2 IPv4 prefixes at FRR")
        wait_for(lambda: frr.prefix_count(net.left_v4, "ipv6") == 1, what="1 IPv6 prefix at FRR")
        v4, v6 = frr.routes(), frr.routes("ipv6")
        assert set(v4) == {"198.51.100.10/32", "198.51.100.11/32"}
        assert set(v6) == {"2001:db8:100::10/128"}
        (p,) = v4["198.51.100.10/32"]
        assert p.next_hop == net.left_v4 and p.as_path == (4200000001,) and p.origin == "IGP"
        assert set(p.communities) == {"65000:100", "no-export"}
        assert p.large_communities == ("4200000001:7:9",)
        assert p.local_pref in (None, 100)  # eBGP: we send none, FRR shows its default
        (p6,) = v6["2001:db8:100::10/128"]
        assert p6.next_hop == net.left_v6 and p6.as_path == (4200000001,)

        uptime = frr.uptime_ms(net.left_v4)
        sp.ctl("delete", "service", "api")
        wait_for(lambda: "198.51.100.11/32" not in frr.routes(), what="withdrawal of api")
        assert set(frr.routes()) == {"198.51.100.10/32"}
        assert frr.uptime_ms(net.left_v4) >= uptime  # no session reset for an object change
        status = sp.status()["peers"][0]
        assert status["state"] == "Established" and status["prefixes_sent"] == 2


def test_ipv6_session_with_2_octet_asns():
    with (
        NetnsPair() as net,
        FrrRouter(
            net.right,
            asn=64500,
            router_id="10.255.0.1",
            neighbors=[Neighbor(net.left_v6, asn=64512, families=("ipv6",))],
        ) as frr,
        Speaker(net.left, node(net, asn=64512)) as sp,
    ):
        sp.apply(POOL, ADV, peer(net.right_v6), {"kind": "service", "name": "web", "address": "2001:db8:100::10"})
        wait_for(lambda: frr.prefix_count(net.left_v6, "ipv6") == 1, what="IPv6 prefix over an IPv6 session")
        (p,) = frr.routes("ipv6")["2001:db8:100::10/128"]
        assert p.as_path == (64512,) and p.next_hop in (net.left_v6, f"{net.left_v6}")


def test_md5_matching_password_comes_up_and_wrong_one_stays_down():
    with NetnsPair() as net, FrrRouter(
        net.right, asn=64500, router_id="10.255.0.1",
        neighbors=[Neighbor(net.left_v4, asn=64512, password="s3cret-key")],
    ) as frr:  # fmt: skip
        with Speaker(net.left, node(net, asn=64512)) as sp:
            sp.apply(POOL, peer(net.right_v4, password="wrong-key"))
            # A wrong key: the kernels drop each other's segments, nothing establishes (FRR retries every second).
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                assert not frr.established(net.left_v4)
                time.sleep(0.2)
            assert sp.status()["peers"][0]["state"] != "Established"
            assert "wrong-key" not in sp.log()  # never logged
        with Speaker(net.left, node(net, asn=64512)) as sp:
            sp.apply(POOL, ADV, peer(net.right_v4, password="s3cret-key"),
                     {"kind": "service", "name": "web", "address": "198.51.100.10"})  # fmt: skip
            wait_for(lambda: frr.prefix_count(net.left_v4) == 1, timeout=20, what="route over an MD5 session")
            assert "s3cret-key" not in sp.log() and "s3cret-key" not in sp.ctl("get", "peer", "r1").stdout


def test_graceful_restart_keeps_routes_stale_until_end_of_rib():
    with (
        NetnsPair() as net,
        FrrRouter(net.right, asn=64500, router_id="10.255.0.1", neighbors=[Neighbor(net.left_v4, asn=64512)]) as frr,
    ):
        sp = Speaker(net.left, node(net, asn=64512)).start()
        sp.apply(POOL, ADV, peer(net.right_v4), {"kind": "service", "name": "web", "address": "198.51.100.10"})
        wait_for(lambda: frr.prefix_count(net.left_v4) == 1, what="route")
        sp.stop(signal.SIGKILL)  # a crash: no NOTIFICATION, the TCP connection dies with the process
        wait_for(lambda: not frr.established(net.left_v4), what="FRR to notice")
        (p,) = frr.routes()["198.51.100.10/32"]
        assert p.stale, "FRR must keep the route as stale while we restart"
        sp.start()
        wait_for(lambda: frr.established(net.left_v4), what="session back")
        wait_for(lambda: not frr.routes()["198.51.100.10/32"][0].stale, what="End-of-RIB clears the stale flag")
        sp.stop(signal.SIGTERM)  # planned: graceful-restart mode keeps the route too
        wait_for(lambda: not frr.established(net.left_v4), what="FRR to notice the stop")
        assert frr.routes()["198.51.100.10/32"][0].stale
        sp.__exit__()


def test_ibgp_gets_local_pref():
    with (
        NetnsPair() as net,
        FrrRouter(net.right, asn=64512, router_id="10.255.0.1", neighbors=[Neighbor(net.left_v4, asn=64512)]) as frr,
        Speaker(net.left, node(net, asn=64512)) as sp,
    ):
        sp.apply(POOL, {"kind": "advertisement", "name": "pref", "local_pref": 250}, peer(net.right_v4, asn=64512),
                 {"kind": "service", "name": "web", "address": "198.51.100.10"})  # fmt: skip
        wait_for(lambda: frr.prefix_count(net.left_v4) == 1, what="iBGP route")
        (p,) = frr.routes()["198.51.100.10/32"]
        assert p.local_pref == 250 and p.as_path == ()
