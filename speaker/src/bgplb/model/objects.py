# ruff: noqa: RUF009  (fields.attr is a dataclasses.field with metadata, not a shared default)
"""The objects an operator declares, as frozen dataclasses: the one schema of bgplb (docs: speaker/docs/objects.md).

Field names follow MetalLB's, in snake_case. Parsing from dicts and validation live in `parse` and `validate`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from bgplb.model import fields as t
from bgplb.model.fields import attr, listof, nested

if TYPE_CHECKING:
    from bgplb.model.kubernetes import KubernetesSettings

Labels = tuple[tuple[str, str], ...]
NAME_DOC = "letters, digits, `-`, `_`, `.`; at most 63 characters"


@dataclass(frozen=True)
class Expression:
    """One requirement of a selector on a label."""

    key: str = attr(t.string, "the label name")
    operator: str = attr(t.choice("In", "NotIn", "Exists", "DoesNotExist"),
                         "`In`, `NotIn` (both need at least one value), `Exists`, `DoesNotExist`")  # fmt: skip
    values: tuple[str, ...] = attr(listof(t.string), "the label values of `In` and `NotIn`", ())


@dataclass(frozen=True)
class Selector:
    """A Kubernetes-style label selector; every part must match."""

    match_labels: Labels = attr(t.labels, "labels that must all be present with these values", ())
    match_expressions: tuple[Expression, ...] = attr(listof(nested(Expression, "expression")),
                                                     "expressions that must all hold", ())  # fmt: skip


SELECTORS = listof(nested(Selector, "selector"), text="list of selectors")


@dataclass(frozen=True)
class Node:
    """This node, in speaker.yaml."""

    name: str = attr(t.name, "the node's name (shown by `bgplbctl status`)")
    router_id: str = attr(t.ipv4, "BGP identifier sent in OPEN")
    asn: int = attr(t.integer(1, t.MAX_ASN), "local AS; peers with the same ASN are iBGP")
    labels: Labels = attr(t.labels, "matched by `node_selectors` of peers, advertisements and services", ())
    ipv4_next_hop: str | None = attr(t.ipv4, "next hop for IPv4 routes sent over an IPv6 session (needed for "
                                           "`families: [ipv4]` on an IPv6 peer)", None)  # fmt: skip
    ipv6_next_hop: str | None = attr(t.ip, "next hop for IPv6 routes sent over an IPv4 session (needed for "
                                         "`families: [ipv6]` on an IPv4 peer)", None)  # fmt: skip


@dataclass(frozen=True)
class Bfd:
    """BFD for one peer (RFC 5880 asynchronous mode; RFC 5881 single hop, RFC 5883 for `ebgp_multihop` peers).

    Names follow MetalLB's BFDProfile in snake_case; intervals in milliseconds. Echo mode is not implemented (only
    `false` is accepted). `auth_type` keyed-sha1 / meticulous-keyed-sha1 (RFC 5880 6.7.4) with `auth_key_id` and
    `auth_key` (a secret: never logged or shown)."""

    receive_interval: int = attr(t.integer(10, 60000), "slowest rate (ms) at which we want the peer's packets", 300)
    transmit_interval: int = attr(t.integer(10, 60000), "fastest rate (ms) at which we send", 300)
    detect_multiplier: int = attr(t.integer(2, 255), "packets missed in a row before the session is down", 3)
    passive_mode: bool = attr(t.boolean, "wait for the peer's first packet before sending", False)
    minimum_ttl: int = attr(t.integer(1, 254), "multihop only: packets with a lower TTL are dropped (single hop "
                                             "requires 255)", 254)  # fmt: skip
    echo_mode: bool = attr(t.boolean, "not implemented: only `false`", False)
    auth_type: str | None = attr(t.choice("keyed-sha1", "meticulous-keyed-sha1"),
                                 "authentication (RFC 5880 6.7.4); with `auth_key`", None)  # fmt: skip
    auth_key_id: int = attr(t.integer(0, 255), "key id sent with the authentication", 1)
    auth_key: str | None = attr(t.string, "the key, 1 to 20 bytes; a secret: redacted in `get` output, applying "
                                        "`********` back keeps the stored key", None, secret=True)  # fmt: skip


@dataclass(frozen=True)
class Peer:
    """A BGP neighbor. Fields marked `compare=False` do not affect the session, so changing them never resets i"""

    name: str = attr(t.name, NAME_DOC)
    address: str = attr(t.ip_scoped, "the neighbor's address")
    asn: int = attr(t.integer(1, t.MAX_ASN), "the neighbor's AS")
    port: int = attr(t.integer(1, 65535), "TCP port to connect to", 179)
    source_address: str | None = attr(t.ip_scoped, "local address to connect from; same family as `address`", None)
    hold_time: int = attr(t.integer(0, 65535), "proposed hold time; 0 (no keepalives) or at least 3", 90)
    keepalive_time: int | None = attr(t.integer(0, 21845), "at most a third of `hold_time`; the negotiated hold time "
                                      "/ 3 caps it; 0 (no keepalives) only with `hold_time: 0`", None,
                                      default_doc="none (hold time / 3)")  # fmt: skip
    connect_time: int = attr(t.integer(1, 3600), "seconds between connection attempts", 5)
    password: str | None = attr(t.string, "TCP MD5 key (RFC 2385), at most 80 bytes; redacted in `get` output; "
                                "applying `********` back keeps the stored key (refused for a new peer)", None,
                                secret=True)  # fmt: skip
    ebgp_multihop: bool | int = attr(t.multihop, "eBGP TTL: `false` 1, `true` 255, a number that TTL; iBGP sessions "
                                     "use the system default", False)  # fmt: skip
    # GTSM (RFC 5082) for a directly connected eBGP peer: send TTL 255, accept only 255
    ttl_security: bool = attr(t.boolean, "GTSM (RFC 5082) for a directly connected eBGP peer: send with TTL 255 and "
                              "drop (in the kernel, `IP_MINTTL` / `IPV6_MINHOPCOUNT`) every segment from the peer "
                              "that arrives below 255, i.e. from further than one hop; the router needs the same "
                              "(FRR `neighbor X ttl-security hops 1`, which the router role renders). Not with "
                              "`ebgp_multihop`; ignored on iBGP sessions. Changing it restarts the session",
                              False)  # fmt: skip
    passive: bool = attr(t.boolean, "only accept the connection, never connect out", False)
    graceful_restart: bool = attr(t.boolean, "advertise the Graceful Restart capability (RFC 4724)", True)
    restart_time: int = attr(t.integer(1, 4095), "restart time advertised in that capability", 120)
    families: tuple[str, ...] = attr(listof(t.choice("ipv4", "ipv6"), text="list of `ipv4`, `ipv6`"),
                                     "address families to negotiate and announce", (),
                                     default_doc="the session's family")  # fmt: skip
    node_selectors: tuple[Selector, ...] = attr(SELECTORS, "the nodes that open this session (by node labels)", (),
                                                default_doc="`[]` (every node)", compare=False)  # fmt: skip
    bfd: Bfd | None = attr(nested(Bfd, "boolean or BFD settings", boolean_ok=True),
                           "BFD for this session: `true` (the defaults) or BFD settings; `false`/absent: none",
                           None, compare=False)  # fmt: skip


@dataclass(frozen=True)
class Pool:
    """A range service addresses are taken from (MetalLB's IPAddressPool)."""

    name: str = attr(t.name, NAME_DOC)
    addresses: tuple[str, ...] = attr(listof(t.address_range, text="list of CIDRs or ranges"),
                                      "`198.51.100.0/24`, `2001:db8::/64` or `198.51.100.10-198.51.100.20` (one "
                                      "family, low to high)", default_doc="required, at least one")  # fmt: skip
    auto_assign: bool = attr(t.boolean, "services naming this pool without an address get one assigned", True)
    avoid_buggy_ips: bool = attr(t.boolean, "never assign IPv4 addresses ending in `.0` or `.255`", False)
    labels: Labels = attr(t.labels, "matched by advertisements' `pool_selectors`", ())


@dataclass(frozen=True)
class Community:
    """A named community value, usable by name in advertisements (MetalLB's Community object)."""

    name: str = attr(t.name, NAME_DOC)
    value: str = attr(t.string, "`ASN:VALUE` (each 0-65535) or a well-known name: `no-export`, `no-advertise`, "
                              "`no-export-subconfed` (`local-as`), `graceful-shutdown`")  # fmt: skip


@dataclass(frozen=True)
class Advertisement:
    """How the addresses of some pools are announced, to which peers, from which nodes."""

    name: str = attr(t.name, NAME_DOC)
    pools: tuple[str, ...] = attr(listof(t.name, text="list of pool names"),
                                  "pools covered; with `pool_selectors` also empty: every pool", ())  # fmt: skip
    pool_selectors: tuple[Selector, ...] = attr(SELECTORS, "also cover pools whose labels match", ())
    aggregation_length: int = attr(t.integer(t.MAX_POOL_PREFIX[4], 32), "announce IPv4 addresses as this prefix "
                                   "length (not shorter than the pool's CIDRs)", 32)  # fmt: skip
    aggregation_length_v6: int = attr(t.integer(t.MAX_POOL_PREFIX[6], 128), "the same for IPv6", 128)
    local_pref: int | None = attr(t.integer(0, 4294967295), "LOCAL_PREF; only allowed when every targeted peer is "
                                  "iBGP (iBGP routes default to 100)", None)  # fmt: skip
    communities: tuple[str, ...] = attr(listof(t.string), "`ASN:VALUE`, a well-known name, or the name of a "
                                        "community object", ())  # fmt: skip
    large_communities: tuple[str, ...] = attr(listof(t.string), "`GLOBAL:LOCAL1:LOCAL2`, each 0-4294967295", ())
    peers: tuple[str, ...] = attr(listof(t.name, text="list of peer names"), "peers to announce to", (),
                                  default_doc="`[]` (every peer)")  # fmt: skip
    node_selectors: tuple[Selector, ...] = attr(SELECTORS, "nodes that announce", (),
                                                default_doc="`[]` (every node)")  # fmt: skip
    # per service IP at most this many nodes announce (rendezvous hashing)
    max_announcers: int | None = attr(t.integer(1, 1024), "per service address at most this many of the nodes that "
                                      "could announce it do (chosen by rendezvous hashing)", None,
                                      default_doc="none (every node)")  # fmt: skip


@dataclass(frozen=True)
class HealthCheck:
    """The check of a service, run on every node that serves it, against the service's first address."""

    type: str = attr(t.choice("tcp", "http", "exec"), "TCP connect; HTTP/1.0 `GET`; or run a command (exit 0 passes)")
    port: int | None = attr(t.integer(1, 65535), "required for `tcp` and `http`", None)
    path: str = attr(t.http_path, "`http`: request path: `/` then printable ASCII without spaces (percent-encode the "
                     "rest), at most 2048 characters; CR/LF would inject headers", "/")  # fmt: skip
    expected_status: int = attr(t.integer(100, 599), "`http`: status code that passes", 200)
    command: tuple[str, ...] = attr(listof(t.argument), "`exec`: argv, no shell, no NUL characters; required for "
                                    "`exec`. Runs in its own process group, killed whole (children of a shell "
                                    "included) on timeout", ())  # fmt: skip
    interval: float = attr(t.seconds(0.1, 3600), "between attempts", 5.0)
    timeout: float = attr(t.seconds(0.1, 3600), "per attempt; not more than `interval`", 2.0)
    rise: int = attr(t.integer(1, 100), "passes in a row to become healthy", 2)
    fall: int = attr(t.integer(1, 100), "failures in a row to become unhealthy", 3)


@dataclass(frozen=True)
class Service:
    """An address (or two, IPv4 and IPv6) announced while the service is healthy."""

    name: str = attr(t.name, NAME_DOC)
    address: tuple[str, ...] = attr(listof(t.ip, scalar_ok=True), "at most one IPv4 and one IPv6; each must lie in a "
                                    "pool and belong to no other service", ())  # fmt: skip
    pool: str | None = attr(replace(t.name, text="pool name"), "the pool the address comes from; with no "
                            "`address`, one is assigned", None)  # fmt: skip
    health_check: HealthCheck | None = attr(nested(HealthCheck, "health check"),
                                            "announce only while the check passes", None)  # fmt: skip
    node_selectors: tuple[Selector, ...] = attr(SELECTORS, "nodes that serve (announce and health-check) the "
                                                "service", (), default_doc="`[]` (every node)")  # fmt: skip


@dataclass(frozen=True)
class Config:
    node: Node
    peers: tuple[Peer, ...] = ()
    pools: tuple[Pool, ...] = ()
    communities: tuple[Community, ...] = ()
    advertisements: tuple[Advertisement, ...] = ()
    services: tuple[Service, ...] = ()
    kubernetes: KubernetesSettings | None = None  # speaker.yaml's `kubernetes` section (bgplb.model.kubernetes)

    def by_name(self, kind: str) -> dict[str, Any]:
        return {o.name: o for o in getattr(self, KIND_FIELDS[kind])}


KIND_FIELDS = {"peer": "peers", "pool": "pools", "community": "communities", "advertisement": "advertisements",
               "service": "services"}  # fmt: skip
KIND_CLASSES: dict[str, type] = {"peer": Peer, "pool": Pool, "community": Community, "advertisement": Advertisement,
                                 "service": Service}  # fmt: skip
