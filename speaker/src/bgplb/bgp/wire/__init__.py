"""The BGP-4 wire codec (sans-I/O): one module per message, capability set and attribute, encode and decode side
by side. Prefixes on the hot path are NLRI bytes (`prefix_to_nlri`)."""

from bgplb.bgp.wire.attributes import MPReach, MPUnreach, PathAttributes
from bgplb.bgp.wire.capabilities import Capabilities, GracefulRestart
from bgplb.bgp.wire.community import (
    COMMUNITY_GRACEFUL_SHUTDOWN,
    COMMUNITY_NO_ADVERTISE,
    COMMUNITY_NO_EXPORT,
    COMMUNITY_NO_EXPORT_SUBCONFED,
    WELL_KNOWN_COMMUNITIES,
    format_community,
    format_large_community,
    parse_community,
    parse_large_community,
)
from bgplb.bgp.wire.constants import (
    AFI_IPV4,
    AFI_IPV6,
    AS_TRANS,
    HEADER_LEN,
    IPV4_UNICAST,
    IPV6_UNICAST,
    MAX_EXTENDED_MESSAGE_LEN,
    MAX_MESSAGE_LEN,
    SAFI_UNICAST,
    MsgType,
)
from bgplb.bgp.wire.errors import (
    CeaseSubcode,
    ErrorCode,
    FsmSubcode,
    HeaderSubcode,
    NotificationError,
    OpenSubcode,
    RouteRefreshSubcode,
    UpdateSubcode,
)
from bgplb.bgp.wire.header import MessageReader
from bgplb.bgp.wire.keepalive import KEEPALIVE_BYTES, Keepalive
from bgplb.bgp.wire.message import Message, decode_message
from bgplb.bgp.wire.notification import Notification, decode_notification, shutdown_communication
from bgplb.bgp.wire.open import Open, decode_open
from bgplb.bgp.wire.pack import pack_announce, pack_withdraw
from bgplb.bgp.wire.prefix import nlri_to_prefix, prefix_to_nlri, split_nlri
from bgplb.bgp.wire.route_refresh import RouteRefresh, decode_route_refresh
from bgplb.bgp.wire.update import Update, decode_update, end_of_rib

__all__ = [
    "AFI_IPV4",
    "AFI_IPV6",
    "AS_TRANS",
    "COMMUNITY_GRACEFUL_SHUTDOWN",
    "COMMUNITY_NO_ADVERTISE",
    "COMMUNITY_NO_EXPORT",
    "COMMUNITY_NO_EXPORT_SUBCONFED",
    "HEADER_LEN",
    "IPV4_UNICAST",
    "IPV6_UNICAST",
    "KEEPALIVE_BYTES",
    "MAX_EXTENDED_MESSAGE_LEN",
    "MAX_MESSAGE_LEN",
    "SAFI_UNICAST",
    "WELL_KNOWN_COMMUNITIES",
    "Capabilities",
    "CeaseSubcode",
    "ErrorCode",
    "FsmSubcode",
    "GracefulRestart",
    "HeaderSubcode",
    "Keepalive",
    "MPReach",
    "MPUnreach",
    "Message",
    "MessageReader",
    "MsgType",
    "Notification",
    "NotificationError",
    "Open",
    "OpenSubcode",
    "PathAttributes",
    "RouteRefresh",
    "RouteRefreshSubcode",
    "Update",
    "UpdateSubcode",
    "decode_message",
    "decode_notification",
    "decode_open",
    "decode_route_refresh",
    "decode_update",
    "end_of_rib",
    "format_community",
    "format_large_community",
    "nlri_to_prefix",
    "pack_announce",
    "pack_withdraw",
    "parse_community",
    "parse_large_community",
    "prefix_to_nlri",
    "shutdown_communication",
    "split_nlri",
]
