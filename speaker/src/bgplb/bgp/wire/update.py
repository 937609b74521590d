"""UPDATE (RFC 4271 §4.3), End-of-RIB (RFC 4724 §2) and the RFC 7606 checks that need the whole message."""

from __future__ import annotations

from dataclasses import dataclass

from bgplb.bgp.wire import attributes
from bgplb.bgp.wire.attributes import PathAttributes
from bgplb.bgp.wire.attributes.header import AS_PATH, MP_UNREACH_NLRI, NEXT_HOP, OPTIONAL_NON_TRANSITIVE, ORIGIN
from bgplb.bgp.wire.attributes.header import attribute as encode_attribute
from bgplb.bgp.wire.constants import AFI_IPV4, IPV4_UNICAST, MsgType, frame
from bgplb.bgp.wire.errors import ErrorCode, NotificationError, UpdateSubcode
from bgplb.bgp.wire.prefix import split_nlri

_EMPTY_IPV4_UPDATE = frame(MsgType.UPDATE, b"\0\0\0\0")


@dataclass(frozen=True, slots=True)
class Update:
    withdrawn: tuple[bytes, ...] = ()
    attributes: PathAttributes | None = None
    nlri: tuple[bytes, ...] = ()
    treat_as_withdraw: str | None = None
    discarded: tuple[str, ...] = ()

    def encode(self, asn4: bool = True) -> bytes:
        withdrawn = b"".join(self.withdrawn)
        attrs = self.attributes.encode(asn4) if self.attributes is not None else b""
        body = len(withdrawn).to_bytes(2, "big") + withdrawn + len(attrs).to_bytes(2, "big") + attrs
        return frame(MsgType.UPDATE, body + b"".join(self.nlri))

    @property
    def end_of_rib(self) -> tuple[int, int] | None:
        """The family this UPDATE marks the end of the initial table for, if it is an End-of-RIB marker."""
        if self.withdrawn or self.nlri:
            return None
        if self.attributes is None:
            return IPV4_UNICAST
        a = self.attributes
        if a.mp_unreach is not None and not a.mp_unreach.withdrawn and a == PathAttributes(mp_unreach=a.mp_unreach):
            return (a.mp_unreach.afi, a.mp_unreach.safi)
        return None


def end_of_rib(afi: int, safi: int) -> bytes:
    """The End-of-RIB marker of a family, a whole message."""
    if (afi, safi) == IPV4_UNICAST:
        return _EMPTY_IPV4_UPDATE
    attr = encode_attribute(OPTIONAL_NON_TRANSITIVE, MP_UNREACH_NLRI, afi.to_bytes(2, "big") + bytes((safi,)))
    return frame(MsgType.UPDATE, b"\0\0" + len(attr).to_bytes(2, "big") + attr)


def decode_update(body: bytes, *, asn4: bool = True, ebgp: bool = False) -> Update:
    size = len(body)
    withdrawn_len = int.from_bytes(body[0:2], "big")
    if 2 + withdrawn_len + 2 > size:
        raise NotificationError(
            ErrorCode.UPDATE_MESSAGE,
            UpdateSubcode.MALFORMED_ATTRIBUTE_LIST,
            reason=f"withdrawn routes length {withdrawn_len} exceeds the message",
        )
    attrs_at = 4 + withdrawn_len
    attrs_len = int.from_bytes(body[attrs_at - 2 : attrs_at], "big")
    if attrs_at + attrs_len > size:
        raise NotificationError(
            ErrorCode.UPDATE_MESSAGE,
            UpdateSubcode.MALFORMED_ATTRIBUTE_LIST,
            reason=f"total path attribute length {attrs_len} exceeds the message",
        )
    withdrawn = split_nlri(AFI_IPV4, body[2 : 2 + withdrawn_len])
    nlri = split_nlri(AFI_IPV4, body[attrs_at + attrs_len :])
    if not attrs_len:
        if nlri:
            return Update(withdrawn, None, nlri, treat_as_withdraw="NLRI without path attributes")
        return Update(withdrawn)
    decoded = attributes.decode(body[attrs_at : attrs_at + attrs_len], asn4=asn4, ebgp=ebgp)
    reason = decoded.treat_as_withdraw
    if reason is None and (nlri or decoded.attributes.mp_reach is not None):
        required = {ORIGIN: "ORIGIN", AS_PATH: "AS_PATH"} | ({NEXT_HOP: "NEXT_HOP"} if nlri else {})
        missing = [name for code, name in required.items() if code not in decoded.seen]
        if missing:  # RFC 7606 §3d
            reason = f"missing well-known attribute {', '.join(missing)}"
    return Update(withdrawn, decoded.attributes, nlri, reason, decoded.discarded)
