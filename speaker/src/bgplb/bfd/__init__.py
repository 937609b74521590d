"""BFD (RFC 5880 asynchronous mode, RFC 5881 single hop, RFC 5883 multihop) beside the BGP session: a sans-I/O
session machine (`session`), its packet codec (`packet`) and a thin asyncio adapter (`transport`)."""

from bgplb.bfd.packet import Diag, MalformedPacket, Packet, State
from bgplb.bfd.session import AuthConfig, Discarded, Event, Send, Session, SessionConfig, StateChanged

__all__ = [
    "AuthConfig", "Diag", "Discarded", "Event", "MalformedPacket", "Packet", "Send", "Session", "SessionConfig",
    "State", "StateChanged",
]  # fmt: skip
