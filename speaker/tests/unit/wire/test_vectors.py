"""Byte-exact encodings written out by hand from the RFCs."""

from __future__ import annotations

import pytest

from bgplb.bgp import wire

MARKER = "ff" * 16


def test_keepalive():
    assert wire.KEEPALIVE_BYTES.hex() == MARKER + "0013" + "04"


def test_open_with_4_octet_as_uses_as_trans_and_the_capability():
    msg = wire.Open(asn=4200000001, hold_time=90, router_id="192.0.2.1", capabilities=wire.Capabilities(
        families=(wire.IPV4_UNICAST,), route_refresh=True)).encode()  # fmt: skip
    body = msg[19:]
    assert msg[18] == wire.MsgType.OPEN
    # version 4, my AS = AS_TRANS 23456 (0x5ba0), hold 90, id 192.0.2.1
    assert body[:9].hex() == "04" + "5ba0" + "005a" + "c0000201"
    params = body[10:]
    assert (
        params.hex()
        == (
            "0206" + "0104" + "00010001"  # multiprotocol IPv4 unicast
            "0202" + "0200"  # route refresh
            "0206" + "4104" + "fa56ea01"  # 4-octet AS 4200000001
        )
    )
    assert body[9] == len(params)


def test_graceful_restart_capability_bits():
    gr = wire.GracefulRestart(restart_time=120, restarting=True, families=((1, 1, True), (2, 1, False)))
    assert gr.encode().hex() == "8078" + "00010180" + "00020100"
    assert wire.capabilities.GracefulRestart.decode(gr.encode()) == gr


@pytest.mark.parametrize(
    ("prefix", "nlri"),
    [("10.0.0.1/32", "200a000001"), ("10.0.0.0/8", "080a"), ("0.0.0.0/0", "00"), ("198.51.100.0/23", "17c63364"),
     ("2001:db8::/32", "2020010db8"), ("2001:db8::1/128", "8020010db8000000000000000000000001")],
)  # fmt: skip
def test_nlri(prefix: str, nlri: str):
    assert wire.prefix_to_nlri(prefix).hex() == nlri
    afi = wire.AFI_IPV6 if ":" in prefix else wire.AFI_IPV4
    assert wire.nlri_to_prefix(afi, bytes.fromhex(nlri)) == prefix


def test_update_ipv4_attribute_block():
    attrs = wire.PathAttributes(origin=0, as_path=(64512,), next_hop="192.0.2.1", med=5, local_pref=100,
                                communities=(0xFFFFFF01,), large_communities=((1, 2, 3),))  # fmt: skip
    assert attrs.encode().hex() == (
        "400101"
        "00"  # ORIGIN IGP
        "400206"
        "0201"
        "0000fc00"  # AS_PATH: one AS_SEQUENCE of 64512
        "400304"
        "c0000201"  # NEXT_HOP
        "800404"
        "00000005"  # MED
        "400504"
        "00000064"  # LOCAL_PREF 100
        "c00804"
        "ffffff01"  # COMMUNITIES no-export
        "c0200c"
        "000000010000000200000003"  # LARGE_COMMUNITY 1:2:3
    )


def test_as_path_for_a_2_octet_peer_gets_as4_path():
    block = wire.PathAttributes(as_path=(4200000001, 65000)).encode(asn4=False)
    assert "40020602025ba0fde8" in block.hex()  # AS_PATH with AS_TRANS, 65000
    assert "c0110a0202fa56ea010000fde8" in block.hex()  # AS4_PATH with the real ASes
    update = wire.decode_update(b"\0\0" + len(block).to_bytes(2, "big") + block, asn4=False)
    assert update.attributes.as_path == (4200000001, 65000)


def test_end_of_rib_markers():
    assert wire.end_of_rib(1, 1).hex() == MARKER + "0017" + "02" + "00000000"
    v6 = wire.end_of_rib(2, 1)
    assert v6.hex() == MARKER + "001d" + "02" + "0000" + "0006" + "800f03" + "000201"
    assert wire.decode_update(v6[19:]).end_of_rib == (2, 1)
    assert wire.decode_update(wire.end_of_rib(1, 1)[19:]).end_of_rib == (1, 1)


def test_notification_reason_reads_the_shutdown_communication():
    n = wire.shutdown_communication(wire.ErrorCode.CEASE, wire.CeaseSubcode.ADMIN_SHUTDOWN, "maintenance TKT-1")
    decoded = wire.decode_notification(n.encode()[19:])
    assert decoded.reason == 'CEASE/ADMIN_SHUTDOWN "maintenance TKT-1"'
    assert wire.Notification(4, 0).reason == "HOLD_TIMER_EXPIRED/0"


@pytest.mark.parametrize(
    ("text", "value"),
    [("65000:100", 0xFDE80064), ("no-export", 0xFFFFFF01), ("no-advertise", 0xFFFFFF02),
     ("local-as", 0xFFFFFF03), ("graceful-shutdown", 0xFFFF0000)],
)  # fmt: skip
def test_communities(text: str, value: int):
    assert wire.parse_community(text) == value
    assert wire.parse_community(wire.format_community(value)) == value


@pytest.mark.parametrize("bad", ["65536:1", "1:2:3", "abc", "-1:5", ""])
def test_bad_communities_name_the_text(bad: str):
    with pytest.raises(ValueError, match="is not a community"):
        wire.parse_community(bad)
