"""The objects an operator declares, as frozen dataclasses: the one schema of bgplb (docs: speaker/docs/objects.md).

Field names follow MetalLB's, in snake_case. Parsing from dicts and validation live in `parse` and `validate`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bgplb.model.kubernetes import KubernetesSettings

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Expression:
    key: str
    operator: str  # In, NotIn, Exists, DoesNotExist
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class Selector:
    """A Kubernetes-style label selector; every part must match."""

    match_labels: Labels = ()
    match_expressions: tuple[Expression, ...] = ()


@dataclass(frozen=True)
class Node:
    name: str
    router_id: str
    asn: int
    labels: Labels = ()
    ipv4_next_hop: str | None = None
    ipv6_next_hop: str | None = None


@dataclass(frozen=True)
class Bfd:
    """BFD for one peer (RFC 5880 asynchronous mode; RFC 5881 single hop, RFC 5883 for `ebgp_multihop` peers).

    Names follow MetalLB's BFDProfile in snake_case; intervals in milliseconds. Echo mode is not implemented (only
    `false` is accepted). `auth_type` keyed-sha1 / meticulous-keyed-sha1 (RFC 5880 6.7.4) with `auth_key_id` and
    `auth_key` (a secret: never logged or shown)."""

    receive_interval: int = 300
    transmit_interval: int = 300
    detect_multiplier: int = 3
    passive_mode: bool = False
    minimum_ttl: int = 254  # multihop only: packets with a lower TTL are dropped (single hop requires 255)
    echo_mode: bool = False
    auth_type: str | None = None
    auth_key_id: int = 1
    auth_key: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Peer:
    """A BGP neighbor. Fields marked `compare=False` do not affect the session, so changing them never resets it."""

    name: str
    address: str
    asn: int
    port: int = 179
    source_address: str | None = None
    hold_time: int = 90
    keepalive_time: int | None = None
    connect_time: int = 5
    password: str | None = field(default=None, repr=False)
    ebgp_multihop: bool | int = False
    ttl_security: bool = False  # GTSM (RFC 5082) for a directly connected eBGP peer: send TTL 255, accept only 255
    passive: bool = False
    graceful_restart: bool = True
    restart_time: int = 120
    families: tuple[str, ...] = ()
    node_selectors: tuple[Selector, ...] = field(default=(), compare=False)
    bfd: Bfd | None = field(default=None, compare=False)  # None: no BFD; `bfd: true` in a file = Bfd()


@dataclass(frozen=True)
class Pool:
    name: str
    addresses: tuple[str, ...]
    auto_assign: bool = True
    avoid_buggy_ips: bool = False
    labels: Labels = ()


@dataclass(frozen=True)
class Community:
    """A named community value, usable by name in advertisements (MetalLB's Community object)."""

    name: str
    value: str


@dataclass(frozen=True)
class Advertisement:
    name: str
    pools: tuple[str, ...] = ()
    pool_selectors: tuple[Selector, ...] = ()
    aggregation_length: int = 32
    aggregation_length_v6: int = 128
    local_pref: int | None = None
    communities: tuple[str, ...] = ()
    large_communities: tuple[str, ...] = ()
    peers: tuple[str, ...] = ()
    node_selectors: tuple[Selector, ...] = ()
    max_announcers: int | None = None  # per service IP at most this many nodes announce (rendezvous hashing)


@dataclass(frozen=True)
class HealthCheck:
    type: str  # tcp, http, exec
    port: int | None = None
    path: str = "/"
    expected_status: int = 200
    command: tuple[str, ...] = ()
    interval: float = 5.0
    timeout: float = 2.0
    rise: int = 2
    fall: int = 3


@dataclass(frozen=True)
class Service:
    name: str
    address: tuple[str, ...] = ()
    pool: str | None = None
    health_check: HealthCheck | None = None
    node_selectors: tuple[Selector, ...] = ()


@dataclass(frozen=True)
class Config:
    node: Node
    peers: tuple[Peer, ...] = ()
    pools: tuple[Pool, ...] = ()
    communities: tuple[Community, ...] = ()
    advertisements: tuple[Advertisement, ...] = ()
    services: tuple[Service, ...] = ()
    kubernetes: KubernetesSettings | None = None  # speaker.yaml's `kubernetes` section (bgplb.model.kubernetes)

    def by_name(self, kind: str) -> dict[str, object]:
        return {o.name: o for o in getattr(self, KIND_FIELDS[kind])}


KINDS = ("peer", "pool", "community", "advertisement", "service")
KIND_FIELDS = {"peer": "peers", "pool": "pools", "community": "communities", "advertisement": "advertisements",
               "service": "services"}  # fmt: skip
KIND_CLASSES: dict[str, type] = {"peer": Peer, "pool": Pool, "community": Community, "advertisement": Advertisement,
                                 "service": Service}  # fmt: skip
