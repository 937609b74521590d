"""BFD Control packets (RFC 5880 §4.1): encode, decode and the stateless checks of §6.8.6.

Everything a packet can be refused for without knowing the session (version, lengths, detect multiplier, the
multipoint bit, a zero My Discriminator, a malformed authentication section) raises `MalformedPacket` with a message
that names the field. What needs the session (Your Discriminator, the A bit against the configured authentication,
the TTL) is checked by `bgplb.bfd.session`.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

VERSION = 1
HEADER_LEN = 24
PORT = 3784  # RFC 5881 §4: single hop control packets
MULTIHOP_PORT = 4784  # RFC 5883
SOURCE_PORTS = range(49152, 65536)  # RFC 5881 §4
TTL = 255  # RFC 5881 §5: sent, and required on receipt

_HEADER = struct.Struct("!BBBBIIIII")

# flag bits of the second byte, after the 2-bit state
POLL, FINAL, CPI, AUTH, DEMAND, MULTIPOINT = 0x20, 0x10, 0x08, 0x04, 0x02, 0x01


class State(enum.IntEnum):
    ADMIN_DOWN = 0
    DOWN = 1
    INIT = 2
    UP = 3

    def __str__(self) -> str:
        return {0: "AdminDown", 1: "Down", 2: "Init", 3: "Up"}[self.value]


class Diag(enum.IntEnum):
    """RFC 5880 §4.1 diagnostic codes."""

    NONE = 0
    DETECT_EXPIRED = 1  # Control Detection Time Expired
    ECHO_FAILED = 2
    NEIGHBOR_DOWN = 3  # Neighbor Signaled Session Down
    FORWARDING_RESET = 4
    PATH_DOWN = 5
    CONCAT_PATH_DOWN = 6
    ADMIN_DOWN = 7
    REVERSE_CONCAT_PATH_DOWN = 8

    def __str__(self) -> str:
        return self.name.lower().replace("_", "-")


class AuthType(enum.IntEnum):
    SIMPLE = 1
    KEYED_MD5 = 2
    METICULOUS_KEYED_MD5 = 3
    KEYED_SHA1 = 4
    METICULOUS_KEYED_SHA1 = 5


# RFC 5880 §4.2-4.4: the fixed Auth Len of each type (simple password: 4 + 1..16)
_AUTH_LEN = {AuthType.KEYED_MD5: 24, AuthType.METICULOUS_KEYED_MD5: 24, AuthType.KEYED_SHA1: 28,
             AuthType.METICULOUS_KEYED_SHA1: 28}  # fmt: skip


class MalformedPacket(ValueError):
    """A packet RFC 5880 §6.8.6 says to discard; the message names the field."""


@dataclass(frozen=True, slots=True)
class Auth:
    type: int
    key_id: int
    data: bytes  # everything after Auth Type, Auth Len and Key ID (sequence number, digest or password)


@dataclass(frozen=True, slots=True)
class Packet:
    state: State
    my_discr: int
    your_discr: int = 0
    diag: Diag = Diag.NONE
    detect_mult: int = 3
    desired_min_tx: int = 1_000_000  # microseconds, like the wire
    required_min_rx: int = 1_000_000
    required_min_echo_rx: int = 0
    poll: bool = False
    final: bool = False
    cpi: bool = False
    demand: bool = False
    multipoint: bool = False
    auth: Auth | None = None
    version: int = VERSION

    def encode(self) -> bytes:
        auth = b""
        if self.auth is not None:
            auth = bytes([self.auth.type, 3 + len(self.auth.data), self.auth.key_id]) + self.auth.data
        flags = (
            (POLL if self.poll else 0)
            | (FINAL if self.final else 0)
            | (CPI if self.cpi else 0)
            | (AUTH if self.auth is not None else 0)
            | (DEMAND if self.demand else 0)
            | (MULTIPOINT if self.multipoint else 0)
        )
        header = _HEADER.pack(
            (self.version << 5) | int(self.diag),
            (int(self.state) << 6) | flags,
            self.detect_mult,
            HEADER_LEN + len(auth),
            self.my_discr,
            self.your_discr,
            self.desired_min_tx,
            self.required_min_rx,
            self.required_min_echo_rx,
        )
        return header + auth


def decode(data: bytes) -> Packet:
    """Decode one Control packet (one UDP payload); raise `MalformedPacket` for what §6.8.6 says to discard."""
    if len(data) < HEADER_LEN:
        raise MalformedPacket(f"packet of {len(data)} bytes is shorter than the {HEADER_LEN}-byte header")
    vd, sf, mult, length, my, your, tx, rx, echo = _HEADER.unpack_from(data)
    version = vd >> 5
    if version != VERSION:
        raise MalformedPacket(f"version {version}, expected {VERSION}")
    has_auth = bool(sf & AUTH)
    minimum = HEADER_LEN + 2 if has_auth else HEADER_LEN
    if length < minimum:
        raise MalformedPacket(f"length {length} is below the minimum {minimum}" + (" (A bit set)" if has_auth else ""))
    if length > len(data):
        raise MalformedPacket(f"length {length} is larger than the {len(data)}-byte payload")
    if mult == 0:
        raise MalformedPacket("detect multiplier is zero")
    if sf & MULTIPOINT:
        raise MalformedPacket("multipoint (M) bit is set")
    if my == 0:
        raise MalformedPacket("my discriminator is zero")
    diag = vd & 0x1F
    auth = None
    if has_auth:
        auth = _decode_auth(data[HEADER_LEN:length])
    elif length != HEADER_LEN:
        raise MalformedPacket(f"length {length} without the A bit, expected {HEADER_LEN}")
    return Packet(
        state=State(sf >> 6),
        my_discr=my,
        your_discr=your,
        diag=Diag(diag) if diag in Diag._value2member_map_ else diag,
        detect_mult=mult,
        desired_min_tx=tx,
        required_min_rx=rx,
        required_min_echo_rx=echo,
        poll=bool(sf & POLL),
        final=bool(sf & FINAL),
        cpi=bool(sf & CPI),
        demand=bool(sf & DEMAND),
        auth=auth,
    )


def _decode_auth(section: bytes) -> Auth:
    auth_type, auth_len = section[0], section[1]
    if auth_len != len(section):
        raise MalformedPacket(f"auth len {auth_len} does not match the {len(section)} bytes after the header")
    if auth_type == AuthType.SIMPLE:
        if not 4 <= auth_len <= 19:
            raise MalformedPacket(f"auth len {auth_len} for simple password, expected 4..19")
    elif auth_type in _AUTH_LEN:
        if auth_len != _AUTH_LEN[auth_type]:  # type: ignore[index]
            raise MalformedPacket(f"auth len {auth_len} for auth type {auth_type}, expected {_AUTH_LEN[auth_type]}")  # type: ignore[index]
    else:
        raise MalformedPacket(f"unknown auth type {auth_type}")
    return Auth(type=auth_type, key_id=section[2], data=bytes(section[3:]))
