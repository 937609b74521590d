"""OPEN capabilities (RFC 5492): multiprotocol (4760), route refresh (2918), graceful restart (4724, 8538),
4-octet AS (6793), extended messages (8654). Unknown codes are kept as raw bytes."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from bgplb.bgp.wire.errors import ErrorCode, NotificationError, OpenSubcode

CAP_MULTIPROTOCOL = 1
CAP_ROUTE_REFRESH = 2
CAP_EXTENDED_MESSAGE = 6
CAP_GRACEFUL_RESTART = 64
CAP_ASN4 = 65
CAP_ROUTE_REFRESH_OLD = 128  # pre-standard code some routers still send

_GR_RESTARTING = 0x8000
_GR_NOTIFICATION = 0x4000
_GR_FORWARDING = 0x80
_FAMILY = struct.Struct("!HxB")
_GR_FAMILY = struct.Struct("!HBB")


@dataclass(frozen=True, slots=True)
class GracefulRestart:
    restart_time: int
    restarting: bool = False
    families: tuple[tuple[int, int, bool], ...] = ()
    notification: bool = False

    def encode(self) -> bytes:
        flags = (_GR_RESTARTING if self.restarting else 0) | (_GR_NOTIFICATION if self.notification else 0)
        value = (flags | (self.restart_time & 0x0FFF)).to_bytes(2, "big")
        value += b"".join(_GR_FAMILY.pack(a, s, _GR_FORWARDING if f else 0) for a, s, f in self.families)
        return value

    @classmethod
    def decode(cls, value: bytes) -> GracefulRestart:
        if len(value) < 2 or (len(value) - 2) % 4:
            raise _malformed("graceful restart", value)
        head = int.from_bytes(value[:2], "big")
        families = tuple(
            (a, s, bool(f & _GR_FORWARDING))
            for a, s, f in (_GR_FAMILY.unpack_from(value, i) for i in range(2, len(value), 4))
        )
        return cls(head & 0x0FFF, bool(head & _GR_RESTARTING), families, bool(head & _GR_NOTIFICATION))


@dataclass(frozen=True, slots=True)
class Capabilities:
    families: tuple[tuple[int, int], ...] = ()
    asn4: int | None = None
    route_refresh: bool = False
    graceful_restart: GracefulRestart | None = None
    extended_message: bool = False
    unknown: tuple[tuple[int, bytes], ...] = ()

    def encode(self) -> list[bytes]:
        """Each capability as code, length, value."""
        caps = [_cap(CAP_MULTIPROTOCOL, _FAMILY.pack(afi, safi)) for afi, safi in self.families]
        if self.route_refresh:
            caps.append(_cap(CAP_ROUTE_REFRESH, b""))
        if self.extended_message:
            caps.append(_cap(CAP_EXTENDED_MESSAGE, b""))
        if self.graceful_restart is not None:
            caps.append(_cap(CAP_GRACEFUL_RESTART, self.graceful_restart.encode()))
        if self.asn4 is not None:
            caps.append(_cap(CAP_ASN4, self.asn4.to_bytes(4, "big")))
        caps += [_cap(code, value) for code, value in self.unknown]
        return caps

    @classmethod
    def decode(cls, data: bytes) -> Capabilities:
        """Parse a run of capabilities (the value of one or more Capabilities optional parameters)."""
        families: list[tuple[int, int]] = []
        unknown: list[tuple[int, bytes]] = []
        fields: dict[str, object] = {}
        i = 0
        while i < len(data):
            if i + 2 > len(data) or i + 2 + data[i + 1] > len(data):
                raise _malformed("capability list", data[i:])
            code, length = data[i], data[i + 1]
            value = bytes(data[i + 2 : i + 2 + length])
            i += 2 + length
            if code == CAP_MULTIPROTOCOL:
                if length != 4:
                    raise _malformed("multiprotocol", value)
                afi, safi = _FAMILY.unpack(value)
                if (afi, safi) not in families:
                    families.append((afi, safi))
            elif code in (CAP_ROUTE_REFRESH, CAP_ROUTE_REFRESH_OLD):
                fields["route_refresh"] = True
            elif code == CAP_EXTENDED_MESSAGE:
                fields["extended_message"] = True
            elif code == CAP_GRACEFUL_RESTART:
                fields["graceful_restart"] = GracefulRestart.decode(value)
            elif code == CAP_ASN4:
                if length != 4:
                    raise _malformed("4-octet AS", value)
                fields["asn4"] = int.from_bytes(value, "big")
            else:
                unknown.append((code, value))
        return cls(families=tuple(families), unknown=tuple(unknown), **fields)  # type: ignore[arg-type]


def _cap(code: int, value: bytes) -> bytes:
    return bytes((code, len(value))) + value


def _malformed(what: str, value: bytes) -> NotificationError:
    return NotificationError(
        ErrorCode.OPEN_MESSAGE, OpenSubcode.UNSPECIFIC, reason=f"malformed {what} capability ({bytes(value).hex()})"
    )
