"""OPEN (RFC 4271 §4.2), with capabilities in optional parameters (RFC 5492) and the extended optional
parameters length of RFC 9072 on decode."""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field, replace

from bgplb.bgp.wire.capabilities import Capabilities
from bgplb.bgp.wire.constants import AS_TRANS, MsgType, frame
from bgplb.bgp.wire.errors import ErrorCode, NotificationError, OpenSubcode

BGP_VERSION = 4
PARAM_CAPABILITIES = 2
_FIXED = struct.Struct("!BHH4sB")


@dataclass(frozen=True, slots=True)
class Open:
    asn: int
    hold_time: int
    router_id: str
    capabilities: Capabilities = field(default_factory=Capabilities)
    version: int = BGP_VERSION

    def encode(self) -> bytes:
        caps = self.capabilities
        if self.asn > 0xFFFF and caps.asn4 is None:
            caps = replace(caps, asn4=self.asn)
        # one capability per optional parameter: what most implementations send, and what old decoders expect
        params = b"".join(bytes((PARAM_CAPABILITIES, len(cap))) + cap for cap in caps.encode())
        my_as = self.asn if self.asn <= 0xFFFF else AS_TRANS
        router_id = ipaddress.IPv4Address(self.router_id).packed
        return frame(MsgType.OPEN, _FIXED.pack(self.version, my_as, self.hold_time, router_id, len(params)) + params)


def _open_error(subcode: int, reason: str, data: bytes = b"") -> NotificationError:
    return NotificationError(ErrorCode.OPEN_MESSAGE, subcode, data, reason)


def decode_open(body: bytes) -> Open:
    version, my_as, hold_time, router_id, params_len = _FIXED.unpack_from(body)
    if version != BGP_VERSION:
        raise _open_error(OpenSubcode.UNSUPPORTED_VERSION, f"version {version}", BGP_VERSION.to_bytes(2, "big"))
    pos, size = _FIXED.size, 1
    if params_len == 255 and len(body) > pos and body[pos] == 255:  # RFC 9072 extended parameters
        if len(body) < pos + 3:
            raise _open_error(OpenSubcode.UNSPECIFIC, "truncated extended optional parameters length")
        params_len = int.from_bytes(body[pos + 1 : pos + 3], "big")
        pos, size = pos + 3, 2
    if pos + params_len != len(body):
        raise _open_error(OpenSubcode.UNSPECIFIC, f"optional parameters length {params_len} does not match the message")
    caps = b""
    end = pos + params_len
    while pos < end:
        if pos + 1 + size > end:
            raise _open_error(OpenSubcode.UNSPECIFIC, "truncated optional parameter")
        ptype = body[pos]
        plen = int.from_bytes(body[pos + 1 : pos + 1 + size], "big")
        value = body[pos + 1 + size : pos + 1 + size + plen]
        if len(value) != plen:
            raise _open_error(OpenSubcode.UNSPECIFIC, "optional parameter runs past the message")
        if ptype != PARAM_CAPABILITIES:
            raise _open_error(OpenSubcode.UNSUPPORTED_OPTIONAL_PARAMETER, f"optional parameter type {ptype}")
        caps += value
        pos += 1 + size + plen
    capabilities = Capabilities.decode(caps)
    asn = capabilities.asn4 if capabilities.asn4 is not None else my_as
    if asn == 0 or my_as == 0:
        raise _open_error(OpenSubcode.BAD_PEER_AS, "AS 0", my_as.to_bytes(2, "big"))
    if hold_time in (1, 2):
        raise _open_error(OpenSubcode.UNACCEPTABLE_HOLD_TIME, f"hold time {hold_time}")
    if router_id == b"\0\0\0\0":
        raise _open_error(OpenSubcode.BAD_BGP_IDENTIFIER, "BGP identifier 0.0.0.0", router_id)
    return Open(asn, hold_time, str(ipaddress.IPv4Address(router_id)), capabilities, version)
