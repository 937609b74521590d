"""The hand-back configuration: a YAML file rendered by the speaker role (/etc/bgplb/handback.yaml)."""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from pathlib import Path
from typing import Any

import yaml

DEFAULT_PATH = Path("/etc/bgplb/handback.yaml")
TUNNELS = ("none", "vxlan")
DEVICE_RE = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class ConfigError(ValueError):
    """The configuration file cannot be used; the message names the file and the field."""


@dataclasses.dataclass(frozen=True)
class Config:
    mark: int = 98  # fwmark and ct mark of handed-back packets
    table: int = 98  # routing table of the hand-back route (both families)
    rule_priority: int = 10
    local_priority: int = 100  # where `lookup local` moves to (after the fwmark rule)
    idle: int = 30  # seconds without a packet after which a connection / handed-back flow stops counting
    flows_max: int = 65536
    tunnel: str = "none"
    vxlan_id: int = 98
    vxlan_port: int = 4789
    device: str = "bgplb-hb"
    service_cidrs: tuple[Network, ...] = ()
    nodes: tuple[Address, ...] = ()  # tunnel mode: the only underlay sources accepted on the VXLAN port

    @property
    def families(self) -> tuple[int, ...]:
        """The IP versions hand-back runs for: 4 always (the tunnel underlay), 6 when a pool has IPv6 CIDRs."""
        return (4, 6) if any(n.version == 6 for n in self.service_cidrs) else (4,)

    def cidrs(self, version: int) -> list[Network]:
        return [n for n in self.service_cidrs if n.version == version]


INTS = {
    "mark": (1, 2**32 - 1),
    "table": (1, 2**32 - 2),
    "rule_priority": (1, 2**32 - 1),
    "local_priority": (1, 2**32 - 1),
    "idle": (1, 86400),
    "flows_max": (1, 2**31 - 1),
    "vxlan_id": (1, 2**24 - 1),
    "vxlan_port": (1, 65535),
}


def parse(data: Any, source: str = "handback config") -> Config:
    """A Config from the YAML mapping; every problem is reported with the field's name."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: must be a mapping of settings, not {type(data).__name__}")
    fields = {f.name for f in dataclasses.fields(Config)}
    unknown = sorted(set(data) - fields)
    if unknown:
        raise ConfigError(f"{source}: unknown setting(s) {', '.join(map(str, unknown))}")
    kw: dict[str, Any] = {}
    for name, (lo, hi) in INTS.items():
        if name in data:
            value = data[name]
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise ConfigError(f"{source}: {name} must be an integer from {lo} to {hi}, not {value!r}")
            kw[name] = value
    if "tunnel" in data:
        if data["tunnel"] not in TUNNELS:
            raise ConfigError(f"{source}: tunnel must be one of {', '.join(TUNNELS)}, not {data['tunnel']!r}")
        kw["tunnel"] = data["tunnel"]
    if "device" in data:
        if not isinstance(data["device"], str) or not DEVICE_RE.match(data["device"]):
            raise ConfigError(f"{source}: device must be an interface name (1-15 of A-Z a-z 0-9 _ . -)")
        kw["device"] = data["device"]
    kw["service_cidrs"] = tuple(_list(data, "service_cidrs", source, _network))
    kw["nodes"] = tuple(_list(data, "nodes", source, _address))
    config = Config(**kw)
    if config.table in (253, 254, 255):
        raise ConfigError(f"{source}: table {config.table} is a kernel table (default, main, local)")
    if config.rule_priority >= config.local_priority:
        raise ConfigError(
            f"{source}: rule_priority ({config.rule_priority}) must be below local_priority ({config.local_priority})"
        )
    if any(a.version != 4 for a in config.nodes):
        raise ConfigError(f"{source}: nodes are the tunnel's IPv4 underlay addresses; IPv6 is not supported there")
    return config


def _list(data: dict[str, Any], name: str, source: str, convert: Any) -> list[Any]:
    value = data.get(name) or []
    if not isinstance(value, list):
        raise ConfigError(f"{source}: {name} must be a list")
    out = []
    for i, item in enumerate(value):
        try:
            out.append(convert(item))
        except ValueError as err:
            raise ConfigError(f"{source}: {name}[{i}]: {err}") from None
    return out


def _network(item: Any) -> Network:
    if not isinstance(item, str):
        raise ValueError(f"{item!r} is not a CIDR")
    return ipaddress.ip_network(item, strict=False)


def _address(item: Any) -> Address:
    if not isinstance(item, str):
        raise ValueError(f"{item!r} is not an IP address")
    return ipaddress.ip_address(item)


def load(path: Path = DEFAULT_PATH) -> Config:
    try:
        text = path.read_text()
    except OSError as err:
        raise ConfigError(f"{path}: cannot read: {err.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    return parse(data, str(path))
