"""ROUTE-REFRESH (RFC 2918; subtype from RFC 7313)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from bgplb.bgp.wire.constants import MsgType, frame
from bgplb.bgp.wire.errors import ErrorCode, NotificationError, RouteRefreshSubcode

_BODY = struct.Struct("!HBB")


@dataclass(frozen=True, slots=True)
class RouteRefresh:
    afi: int
    safi: int
    subtype: int = 0

    def encode(self) -> bytes:
        return frame(MsgType.ROUTE_REFRESH, _BODY.pack(self.afi, self.subtype, self.safi))


def decode_route_refresh(body: bytes) -> RouteRefresh:
    if len(body) != _BODY.size:
        raise NotificationError(
            ErrorCode.ROUTE_REFRESH,
            RouteRefreshSubcode.INVALID_MESSAGE_LENGTH,
            body,
            f"ROUTE-REFRESH body of {len(body)} bytes, expected 4",
        )
    afi, subtype, safi = _BODY.unpack(body)
    return RouteRefresh(afi, safi, subtype)
