"""Decoding any message body by its type."""

from __future__ import annotations

from bgplb.bgp.wire.constants import MsgType
from bgplb.bgp.wire.keepalive import Keepalive
from bgplb.bgp.wire.notification import Notification, decode_notification
from bgplb.bgp.wire.open import Open, decode_open
from bgplb.bgp.wire.route_refresh import RouteRefresh, decode_route_refresh
from bgplb.bgp.wire.update import Update, decode_update

Message = Open | Update | Notification | Keepalive | RouteRefresh


def decode_message(msg_type: int, body: bytes, *, asn4: bool = True, ebgp: bool = False) -> Message:
    """Decode a body that `MessageReader` framed (so the type and the minimum length are already checked)."""
    if msg_type == MsgType.UPDATE:
        return decode_update(body, asn4=asn4, ebgp=ebgp)
    if msg_type == MsgType.KEEPALIVE:
        return Keepalive()
    if msg_type == MsgType.OPEN:
        return decode_open(body)
    if msg_type == MsgType.NOTIFICATION:
        return decode_notification(body)
    return decode_route_refresh(body)
