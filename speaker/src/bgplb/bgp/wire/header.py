"""Framing: cut a TCP byte stream into messages and check the 19-byte header (RFC 4271 §4.1, §6.1)."""

from __future__ import annotations

from bgplb.bgp.wire.constants import HEADER_LEN, MARKER, MAX_MESSAGE_LEN, MsgType
from bgplb.bgp.wire.errors import ErrorCode, HeaderSubcode, NotificationError

# Smallest and largest length each message type may have (RFC 4271 §6.1, RFC 2918).
_LIMITS = {
    MsgType.OPEN: (29, None),
    MsgType.UPDATE: (23, None),
    MsgType.NOTIFICATION: (21, None),
    MsgType.KEEPALIVE: (19, 19),
    MsgType.ROUTE_REFRESH: (23, None),
}


class MessageReader:
    """Buffers partial input; `feed()` returns the complete (type, body) pairs."""

    def __init__(self, max_length: int = MAX_MESSAGE_LEN) -> None:
        self.max_length = max_length
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        buf = self._buf
        buf += data
        out = []
        pos, end = 0, len(buf)
        try:
            while end - pos >= HEADER_LEN:
                if buf[pos : pos + 16] != MARKER:
                    raise NotificationError(
                        ErrorCode.MESSAGE_HEADER, HeaderSubcode.CONNECTION_NOT_SYNCHRONIZED, reason="bad marker"
                    )
                length = int.from_bytes(buf[pos + 16 : pos + 18], "big")
                msg_type = buf[pos + 18]
                limits = _LIMITS.get(msg_type)  # type: ignore[call-overload]
                if limits is None:
                    raise NotificationError(
                        ErrorCode.MESSAGE_HEADER,
                        HeaderSubcode.BAD_MESSAGE_TYPE,
                        bytes((msg_type,)),
                        f"unknown message type {msg_type}",
                    )
                low, high = limits
                if length < low or length > (high or self.max_length):
                    raise NotificationError(
                        ErrorCode.MESSAGE_HEADER,
                        HeaderSubcode.BAD_MESSAGE_LENGTH,
                        length.to_bytes(2, "big"),
                        f"{MsgType(msg_type).name} length {length}",
                    )
                if end - pos < length:
                    break
                out.append((msg_type, bytes(buf[pos + HEADER_LEN : pos + length])))
                pos += length
        finally:
            del buf[:pos]
        return out
