"""NOTIFICATION (RFC 4271 §4.5), with the shutdown communication of RFC 8203/9003."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from bgplb.bgp.wire.constants import MsgType, frame
from bgplb.bgp.wire.errors import CeaseSubcode, ErrorCode, describe


@dataclass(frozen=True, slots=True)
class Notification:
    code: int
    subcode: int
    data: bytes = b""

    def encode(self) -> bytes:
        return frame(MsgType.NOTIFICATION, bytes((self.code, self.subcode)) + self.data)

    @property
    def reason(self) -> str:
        """Readable text: the code and subcode names, and an operator's shutdown message if there is one."""
        text = describe(self.code, self.subcode)
        shutdown = self.code == ErrorCode.CEASE and self.subcode in (
            CeaseSubcode.ADMIN_SHUTDOWN,
            CeaseSubcode.ADMIN_RESET,
        )
        if shutdown and self.data and self.data[0] and len(self.data) > self.data[0]:
            message = printable(self.data[1 : 1 + self.data[0]].decode("utf-8", "replace"))
            return f'{text} "{message}"'
        if self.data:
            return f"{text} (data {self.data.hex()})"
        return text


def printable(text: str) -> str:
    """A peer's text made safe for logs and terminals: control and format characters (newlines, ESC, bidi
    overrides, line separators) and quotes become escapes, so it stays one line and cannot move the cursor."""
    out = []
    for ch in text:
        if ch in '"\\' or unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"):
            out.append(ch.encode("unicode_escape").decode("ascii") if ch not in '"\\' else "\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def shutdown_communication(code: int, subcode: int, message: str) -> Notification:
    """A Cease with an operator message (RFC 9003: up to 255 octets of UTF-8)."""
    data = message.encode()[:255]
    return Notification(code, subcode, bytes((len(data),)) + data)


def decode_notification(body: bytes) -> Notification:
    return Notification(body[0], body[1], bytes(body[2:]))
