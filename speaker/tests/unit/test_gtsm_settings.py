"""GTSM (`ttl_security`): what the model accepts and the TTLs the daemon gives the sockets."""

from __future__ import annotations

import socket

import pytest

from bgplb import model
from bgplb.daemon import peer_settings
from bgplb.model.parse import ObjectError, parse_object
from bgplb.transport import IP_MINTTL, IPV6_MINHOPCOUNT, client_socket, gtsm_min_ttl

NODE = model.Node(name="n1", router_id="10.0.0.1", asn=64512)


def peer(**extra: object) -> model.Peer:
    return parse_object("peer", {"name": "r1", "address": "10.0.0.254", "asn": 64500, **extra})


def test_gtsm_ebgp_sends_255_and_accepts_only_255():
    s = peer_settings(NODE, peer(ttl_security=True))
    assert (s.ttl, s.min_ttl) == (255, 255)


def test_without_gtsm_ebgp_sends_ttl_1_and_accepts_any():
    s = peer_settings(NODE, peer())
    assert (s.ttl, s.min_ttl) == (1, None)


def test_gtsm_is_ignored_for_ibgp():
    s = peer_settings(NODE, peer(asn=64512, ttl_security=True))
    assert (s.ttl, s.min_ttl) == (None, None)


def test_gtsm_change_is_a_session_change():
    assert peer_settings(NODE, peer(ttl_security=True)) != peer_settings(NODE, peer())


def test_gtsm_with_multihop_is_refused():
    with pytest.raises(ObjectError, match=r"peer r1: ttl_security: .*not with ebgp_multihop"):
        peer(ttl_security=True, ebgp_multihop=2)


def test_gtsm_min_ttl_per_hops():
    assert gtsm_min_ttl(1) == 255 and gtsm_min_ttl(2) == 254
    with pytest.raises(ValueError):
        gtsm_min_ttl(0)


@pytest.mark.parametrize(
    ("address", "level", "ttl_opt", "min_opt"),
    [
        ("127.0.0.1", socket.IPPROTO_IP, socket.IP_TTL, IP_MINTTL),
        ("::1", socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, IPV6_MINHOPCOUNT),
    ],
)
def test_client_socket_carries_the_gtsm_options(address, level, ttl_opt, min_opt):
    sock = client_socket(address, ttl=255, min_ttl=255)
    try:
        assert sock.getsockopt(level, ttl_opt) == 255
        assert sock.getsockopt(level, min_opt) == 255
    finally:
        sock.close()
