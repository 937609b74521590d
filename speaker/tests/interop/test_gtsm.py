"""GTSM (RFC 5082, `ttl_security`) against FRR 8.4 `ttl-security hops 1`, directly connected eBGP, both directions.

With both ends on, the session comes up whichever side connects. With one end off, the kernel of the end that has it
drops the other's segments (TTL 1 < 255): no session, and that kernel's TCPMinTTLDrop counter proves why.
"""

from __future__ import annotations

import time

import pytest

from harness import FrrRouter, Namespace, Neighbor, NetnsPair, Speaker, wait_for

POOL = {"kind": "pool", "name": "public", "addresses": ["198.51.100.0/24", "2001:db8:100::/64"]}
ADV = {"kind": "advertisement", "name": "default"}
WEB = {"kind": "service", "name": "web", "address": ["198.51.100.10", "2001:db8:100::10"]}


def node(net: NetnsPair) -> dict[str, object]:
    return {"node": {"name": "n1", "router_id": net.left_v4, "asn": 64512, "ipv6_next_hop": net.left_v6}}


def peer(address: str, **extra: object) -> dict[str, object]:
    return {"kind": "peer", "name": "r1", "address": address, "asn": 64500, "hold_time": 9, **extra}


def min_ttl_drops(ns: Namespace) -> int:
    """Segments this namespace's kernel dropped for a TTL below a socket's IP_MINTTL / IPV6_MINHOPCOUNT."""
    out = ns.exec("nstat", "-az", "TcpExtTCPMinTTLDrop").stdout
    return sum(int(line.split()[1]) for line in out.splitlines() if line.startswith("TcpExtTCPMinTTLDrop"))


def never_established(frr: FrrRouter, sp: Speaker, address: str, seconds: float = 6) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert not frr.established(address)
        assert sp.status()["peers"][0]["state"] != "Established"
        time.sleep(0.3)


@pytest.mark.parametrize("passive", [False, True], ids=["speaker-connects", "frr-connects"])
@pytest.mark.parametrize("v6", [False, True], ids=["ipv4", "ipv6"])
def test_gtsm_on_both_ends_comes_up(passive: bool, v6: bool):
    with NetnsPair() as net:
        left, right = (net.left_v6, net.right_v6) if v6 else (net.left_v4, net.right_v4)
        with (
            FrrRouter(
                net.right, asn=64500, router_id="10.255.0.1", neighbors=[Neighbor(left, asn=64512, ttl_security=1)]
            ) as frr,  # fmt: skip
            Speaker(net.left, node(net)) as sp,
        ):
            family = "ipv6" if v6 else "ipv4"
            sp.apply(POOL, ADV, WEB, peer(right, ttl_security=True, passive=passive, families=[family]))
            wait_for(lambda: frr.prefix_count(left, family) == 1, timeout=20, what="route over GTSM")
            info = frr.neighbor(left)
            assert info.get("externalBgpNbrMaxHopsAway") == 1, info  # FRR runs GTSM (ttl-security hops 1)
            # It stays up: keepalives both ways pass the other end's minimum TTL (hold time 9 s, keepalives every 3 s).
            ups = sp.status()["peers"][0]["established_count"]
            time.sleep(7)
            assert frr.established(left) and sp.status()["peers"][0]["established_count"] == ups


@pytest.mark.parametrize("passive", [False, True], ids=["speaker-connects", "frr-connects"])
def test_speaker_gtsm_drops_a_router_without_it(passive: bool):
    with (
        NetnsPair() as net,
        FrrRouter(net.right, asn=64500, router_id="10.255.0.1", neighbors=[Neighbor(net.left_v4, asn=64512)]) as frr,
        Speaker(net.left, node(net)) as sp,
    ):
        sp.apply(POOL, ADV, WEB, peer(net.right_v4, ttl_security=True, passive=passive))
        never_established(frr, sp, net.left_v4)
        assert min_ttl_drops(net.left) > 0  # FRR sends TTL 1 to an eBGP neighbor: our kernel dropped it


def test_router_gtsm_drops_a_speaker_without_it():
    with (
        NetnsPair() as net,
        FrrRouter(
            net.right, asn=64500, router_id="10.255.0.1", neighbors=[Neighbor(net.left_v4, asn=64512, ttl_security=1)]
        ) as frr,  # fmt: skip
        Speaker(net.left, node(net)) as sp,
    ):
        sp.apply(POOL, ADV, WEB, peer(net.right_v4))
        # FRR sets IP_MINTTL on a connection it accepts only after accepting it, so a first OPEN that arrived before
        # can still bring a session up (seen 1 in ~20 runs); every later segment is dropped, so it never outlives
        # one hold time (9 s). What must hold: no session lasts, and FRR's kernel drops our TTL-1 segments.
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if frr.established(net.left_v4):
                assert frr.uptime_ms(net.left_v4) < 11_000, "a session without GTSM outlived the hold time"
            time.sleep(0.3)
        assert min_ttl_drops(net.right) > 0  # we sent TTL 1 without ttl_security: FRR's kernel dropped it
