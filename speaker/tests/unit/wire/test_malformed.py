"""Broken input gets the RFC 4271 §6 / RFC 7606 treatment: the right NOTIFICATION, or treat-as-withdraw."""

from __future__ import annotations

import pytest

from bgplb.bgp import wire
from bgplb.bgp.wire import ErrorCode, HeaderSubcode, OpenSubcode, UpdateSubcode

MARKER = b"\xff" * 16


def header(length: int, msg_type: int) -> bytes:
    return MARKER + length.to_bytes(2, "big") + bytes((msg_type,))


@pytest.mark.parametrize(
    ("data", "subcode"),
    [
        (b"\xfe" * 16 + b"\x00\x13\x04", HeaderSubcode.CONNECTION_NOT_SYNCHRONIZED),
        (header(18, 4), HeaderSubcode.BAD_MESSAGE_LENGTH),
        (header(20, 4) + b"\0", HeaderSubcode.BAD_MESSAGE_LENGTH),  # KEEPALIVE must be 19
        (header(28, 1) + b"\0" * 9, HeaderSubcode.BAD_MESSAGE_LENGTH),  # OPEN < 29
        (header(22, 2) + b"\0" * 3, HeaderSubcode.BAD_MESSAGE_LENGTH),  # UPDATE < 23
        (header(4097, 2), HeaderSubcode.BAD_MESSAGE_LENGTH),  # beyond 4096 without extended messages
        (header(19, 9), HeaderSubcode.BAD_MESSAGE_TYPE),
    ],
)
def test_header_errors(data: bytes, subcode: int):
    with pytest.raises(wire.NotificationError) as err:
        wire.MessageReader().feed(data)
    assert (err.value.code, err.value.subcode) == (ErrorCode.MESSAGE_HEADER, subcode)


def test_bad_length_carries_the_length_and_bad_type_the_type():
    with pytest.raises(wire.NotificationError) as err:
        wire.MessageReader().feed(header(5000, 2))
    assert err.value.data == (5000).to_bytes(2, "big")
    with pytest.raises(wire.NotificationError) as err:
        wire.MessageReader().feed(header(19, 77))
    assert err.value.data == bytes((77,))


def test_extended_message_length_accepted_once_negotiated():
    reader = wire.MessageReader(wire.MAX_EXTENDED_MESSAGE_LEN)
    msg = wire.pack_withdraw(1, 1, [wire.prefix_to_nlri(f"10.0.{i >> 8}.{i & 255}/32") for i in range(2000)], 65535)
    assert len(msg) == 1 and len(msg[0]) > 4096
    assert len(reader.feed(msg[0])) == 1


def open_body(version: int = 4, asn: int = 64500, hold: int = 90, router_id: bytes = b"\x0a\0\0\x01",
              params: bytes = b"") -> bytes:  # fmt: skip
    return (
        bytes((version,))
        + asn.to_bytes(2, "big")
        + hold.to_bytes(2, "big")
        + router_id
        + bytes((len(params),))
        + params
    )


@pytest.mark.parametrize(
    ("body", "subcode"),
    [
        (open_body(version=3), OpenSubcode.UNSUPPORTED_VERSION),
        (open_body(asn=0), OpenSubcode.BAD_PEER_AS),
        (open_body(hold=1), OpenSubcode.UNACCEPTABLE_HOLD_TIME),
        (open_body(hold=2), OpenSubcode.UNACCEPTABLE_HOLD_TIME),
        (open_body(router_id=b"\0\0\0\0"), OpenSubcode.BAD_BGP_IDENTIFIER),
        (open_body(params=b"\x01\x02\x00\x00"), OpenSubcode.UNSUPPORTED_OPTIONAL_PARAMETER),
        (open_body(params=b"\x02\x04\x41\x04\x00\x00"), OpenSubcode.UNSPECIFIC),  # capability runs past param
        (open_body(params=b"\x02\x03\x41\x01\x00"), OpenSubcode.UNSPECIFIC),  # 4-octet AS of 1 byte
        (open_body() + b"\x00", OpenSubcode.UNSPECIFIC),  # trailing garbage
    ],
)
def test_open_errors(body: bytes, subcode: int):
    with pytest.raises(wire.NotificationError) as err:
        wire.decode_open(body)
    assert (err.value.code, err.value.subcode) == (ErrorCode.OPEN_MESSAGE, subcode)


def test_unsupported_version_tells_ours():
    with pytest.raises(wire.NotificationError) as err:
        wire.decode_open(open_body(version=5))
    assert err.value.data == b"\x00\x04"


def update(attrs: bytes, nlri: bytes = b"", withdrawn: bytes = b"") -> bytes:
    return len(withdrawn).to_bytes(2, "big") + withdrawn + len(attrs).to_bytes(2, "big") + attrs + nlri


ORIGIN = bytes.fromhex("40010100")
AS_PATH = bytes.fromhex("4002060201 0000fc00".replace(" ", ""))
NEXT_HOP = bytes.fromhex("400304c0000201")
NLRI = wire.prefix_to_nlri("198.51.100.1/32")


@pytest.mark.parametrize(
    ("body", "subcode"),
    [
        (b"\x00\x09\x00\x00", UpdateSubcode.MALFORMED_ATTRIBUTE_LIST),  # withdrawn length past the end
        (b"\x00\x00\x00\x40" + ORIGIN, UpdateSubcode.MALFORMED_ATTRIBUTE_LIST),  # attribute length past the end
        (update(ORIGIN + AS_PATH + NEXT_HOP, b"\x21\x0a\0\0\x01"), UpdateSubcode.INVALID_NETWORK_FIELD),  # /33
        (update(ORIGIN + AS_PATH + NEXT_HOP, b"\x20\x0a\0"), UpdateSubcode.INVALID_NETWORK_FIELD),  # truncated
        (update(b"", b"", b"\x18\x0a"), UpdateSubcode.INVALID_NETWORK_FIELD),  # truncated withdrawn
        (update(ORIGIN + AS_PATH + bytes.fromhex("0063 0100".replace(" ", ""))), UpdateSubcode.UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE),
        (update(ORIGIN + AS_PATH + bytes.fromhex("800e03000201")), UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR),  # MP_REACH short
        (update(ORIGIN + AS_PATH + bytes.fromhex("800f0100")), UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR),  # MP_UNREACH short
        (update(bytes.fromhex("800f03000201") * 2), UpdateSubcode.MALFORMED_ATTRIBUTE_LIST),  # MP_UNREACH twice
    ],
)  # fmt: skip
def test_update_errors_that_reset(body: bytes, subcode: int):
    with pytest.raises(wire.NotificationError) as err:
        wire.decode_update(body)
    assert (err.value.code, err.value.subcode) == (ErrorCode.UPDATE_MESSAGE, subcode)


@pytest.mark.parametrize(
    ("attrs", "reason"),
    [
        (bytes.fromhex("40010103") + AS_PATH + NEXT_HOP, "ORIGIN"),  # origin 3
        (bytes.fromhex("4001020000") + AS_PATH + NEXT_HOP, "ORIGIN"),  # origin of 2 bytes
        (ORIGIN + bytes.fromhex("400203020100") + NEXT_HOP, "AS_PATH"),  # segment runs past the attribute
        (ORIGIN + bytes.fromhex("4002020500") + NEXT_HOP, "AS_PATH"),  # segment type 5
        (ORIGIN + AS_PATH + bytes.fromhex("400303c00002"), "NEXT_HOP"),
        (ORIGIN + AS_PATH + NEXT_HOP + bytes.fromhex("80040200 05".replace(" ", "")), "MULTI_EXIT_DISC"),
        (ORIGIN + AS_PATH + NEXT_HOP + bytes.fromhex("c00803010203"), "COMMUNITIES"),
        (ORIGIN + AS_PATH + NEXT_HOP + bytes.fromhex("c0200400000001"), "LARGE_COMMUNITY"),
        (bytes.fromhex("c0010100") + AS_PATH + NEXT_HOP, "flags"),  # ORIGIN marked optional
        (ORIGIN + AS_PATH, "missing well-known attribute NEXT_HOP"),
        (AS_PATH + NEXT_HOP, "missing well-known attribute ORIGIN"),
        (ORIGIN + AS_PATH + NEXT_HOP + bytes.fromhex("c0080f"), "runs past"),
    ],
)
def test_update_errors_treated_as_withdraw(attrs: bytes, reason: str):
    result = wire.decode_update(update(attrs, NLRI))
    assert result.treat_as_withdraw is not None and reason in result.treat_as_withdraw


def test_attribute_discard_cases():
    local_pref = bytes.fromhex("40050400000064")
    result = wire.decode_update(update(ORIGIN + AS_PATH + NEXT_HOP + local_pref, NLRI), ebgp=True)
    assert result.treat_as_withdraw is None and result.attributes.local_pref is None
    assert result.discarded == ("LOCAL_PREF from an eBGP peer",)
    atomic_bad = bytes.fromhex("40060100")
    result = wire.decode_update(update(ORIGIN + AS_PATH + NEXT_HOP + atomic_bad, NLRI))
    assert result.treat_as_withdraw is None and result.discarded == ("ATOMIC_AGGREGATE of 1 bytes",)
    dup = wire.decode_update(update(ORIGIN + bytes.fromhex("40010102") + AS_PATH + NEXT_HOP, NLRI))
    assert dup.attributes.origin == 0 and dup.discarded == ("duplicate ORIGIN",)


def test_unknown_optional_transitive_is_kept_and_marked_partial_when_passed_on():
    unknown = bytes.fromhex("c0630201ff")
    result = wire.decode_update(update(ORIGIN + AS_PATH + NEXT_HOP + unknown, NLRI))
    assert result.treat_as_withdraw is None and result.attributes.other == ((0xC0, 0x63, b"\x01\xff"),)
    assert bytes.fromhex("e0630201ff") in result.attributes.encode()


def test_route_refresh_bad_length():
    with pytest.raises(wire.NotificationError) as err:
        wire.decode_route_refresh(b"\x00\x01\x00\x01\x00")
    assert (err.value.code, err.value.subcode) == (ErrorCode.ROUTE_REFRESH, 1)
