"""KEEPALIVE (RFC 4271 §4.4): a bare header."""

from __future__ import annotations

from dataclasses import dataclass

from bgplb.bgp.wire.constants import MsgType, frame

KEEPALIVE_BYTES = frame(MsgType.KEEPALIVE, b"")


@dataclass(frozen=True, slots=True)
class Keepalive:
    def encode(self) -> bytes:
        return KEEPALIVE_BYTES
