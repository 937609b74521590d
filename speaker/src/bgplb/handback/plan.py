"""Planning, without I/O: the kernel state (as ``ip -j``, ``bridge -j``, ``nft -j`` and /proc report it) and the
config in, the commands that bring the kernel to what a command asks for out. An empty plan means nothing to change.

What ``start`` makes true (and keeps true when run again, whatever hand-back route a drain has set):
  - per IP version in use, the nftables table ``bgplb_handback`` of the config (replaced only when the config changed:
    replacing it forgets the flows handed on);
  - ``priority rule_priority fwmark MARK ipproto tcp lookup TABLE``, ``lookup local`` moved to local_priority (the
    service IPs are local on every node: the fwmark rule must come first);
  - forwarding on, conntrack liberal/loose, IPv4 rp_filter and send_redirects off on every interface;
  - tunnel mode: the VXLAN device, up.
The hand-back route (``to``, ``drop``, ``clear``) lives in TABLE of each version in use.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any

from bgplb.handback import nft
from bgplb.handback.config import Address, Config, Network

# tunnel mode: a next hop that exists only as a permanent neighbour entry (the receiving node's device MAC)
TUNNEL_GW = {4: "169.254.98.1", 6: "fe80::98:1"}
FAMILY_OPT = {4: "-4", 6: "-6"}
SYSCTLS = {
    "/proc/sys/net/netfilter/nf_conntrack_tcp_be_liberal": "1",
    "/proc/sys/net/netfilter/nf_conntrack_tcp_loose": "1",
}
FORWARDING = {4: "/proc/sys/net/ipv4/ip_forward", 6: "/proc/sys/net/ipv6/conf/all/forwarding"}


class PlanError(ValueError):
    """A request the config cannot honour (the message says why)."""


@dataclasses.dataclass(frozen=True)
class Action:
    """One step: a command (``argv``, optional ``stdin``) or a write of ``value`` to the /proc file ``path``."""

    op: str
    argv: tuple[str, ...] = ()
    stdin: str | None = None
    path: str | None = None
    value: str = ""
    check: bool = True  # False: a failure is logged, not fatal

    def __str__(self) -> str:
        return f"echo {self.value} > {self.path}" if self.path else " ".join(self.argv)


@dataclasses.dataclass
class FamilyState:
    """One IP version: ``nft -j list table``, ``ip -j rule show``, ``ip -j route show table T``, neighbours."""

    table: Mapping[str, Any] | None = None
    rules: Sequence[Mapping[str, Any]] = ()
    routes: Sequence[Mapping[str, Any]] = ()
    neighbors: Sequence[Mapping[str, Any]] = ()


@dataclasses.dataclass
class State:
    families: dict[int, FamilyState] = dataclasses.field(default_factory=dict)
    link: Mapping[str, Any] | None = None  # `ip -j -d link show DEV`[0], None: no such device
    fdb: Sequence[Mapping[str, Any]] = ()  # `bridge -j fdb show dev DEV`
    proc: Mapping[str, str] = dataclasses.field(default_factory=dict)  # /proc/sys file -> its value

    def family(self, version: int) -> FamilyState:
        return self.families.get(version) or FamilyState()


# ---------------------------------------------------------------------------------------------------- start, stop


def _is_fwmark_rule(rule: Mapping[str, Any], config: Config) -> bool:
    try:
        mark = int(str(rule.get("fwmark", "")), 0)
    except ValueError:
        return False
    return mark == config.mark and str(rule.get("table")) == str(config.table)


def _is_local_rule(rule: Mapping[str, Any], priority: int) -> bool:
    keys = set(rule) - {"priority", "src", "table", "flags"}
    return rule.get("priority") == priority and rule.get("table") == "local" and rule.get("src") == "all" and not keys


def _rule(config: Config, version: int, verb: str, *spec: str) -> Action:
    return Action(f"rule-{verb}", ("ip", FAMILY_OPT[version], "rule", verb, *spec))


def _fwmark_spec(config: Config) -> tuple[str, ...]:
    return ("priority", str(config.rule_priority), "fwmark", f"{config.mark:#x}", "ipproto", "tcp",
            "lookup", str(config.table))  # fmt: skip


def plan_start(config: Config, state: State) -> list[Action]:
    actions: list[Action] = []
    if config.tunnel == "vxlan":
        actions += _plan_tunnel(config, state)
    elif state.link is not None:
        actions.append(Action("link-del", ("ip", "link", "del", config.device)))
    for version in (4, 6):
        fam = state.family(version)
        if version not in config.families:
            actions += _teardown(config, version, fam)
            continue
        if nft.installed_fingerprint(fam.table) != nft.fingerprint(config, version):
            actions.append(Action("nft-load", ("nft", "-f", "-"), stdin=nft.script(config, version)))
        wanted = False
        for rule in fam.rules:
            if not _is_fwmark_rule(rule, config):
                continue
            if (rule.get("priority") == config.rule_priority and rule.get("ipproto") == "tcp" and not wanted
                    and set(rule) <= {"priority", "src", "fwmark", "ipproto", "table", "flags"}):  # fmt: skip
                wanted = True
            else:  # a duplicate, or one from another priority/version of the config
                actions.append(_rule(config, version, "del", *_rule_spec(rule)))
        if not wanted:
            actions.append(_rule(config, version, "add", *_fwmark_spec(config)))
        if not any(_is_local_rule(r, config.local_priority) for r in fam.rules):
            actions.append(_rule(config, version, "add", "priority", str(config.local_priority), "lookup", "local"))
        if any(_is_local_rule(r, 0) for r in fam.rules):
            actions.append(_rule(config, version, "del", "priority", "0", "lookup", "local"))
    wanted_proc = dict(SYSCTLS)
    for version in config.families:
        wanted_proc[FORWARDING[version]] = "1"
    for path in sorted(state.proc):
        if path.startswith("/proc/sys/net/ipv4/conf/") and path.rsplit("/", 1)[1] in ("rp_filter", "send_redirects"):
            wanted_proc[path] = "0"
    for path, value in wanted_proc.items():
        if state.proc.get(path) != value:
            actions.append(Action("sysctl", path=path, value=value))
    return actions


def _rule_spec(rule: Mapping[str, Any]) -> tuple[str, ...]:
    spec = ["priority", str(rule["priority"]), "fwmark", str(rule["fwmark"])]
    if "ipproto" in rule:
        spec += ["ipproto", str(rule["ipproto"])]
    return (*spec, "lookup", str(rule["table"]))


def _plan_tunnel(config: Config, state: State) -> list[Action]:
    link = state.link
    data = ((link or {}).get("linkinfo") or {}).get("info_data") or {}
    same = (link or {}).get("linkinfo", {}).get("info_kind") == "vxlan" and data.get("id") == config.vxlan_id
    same = same and data.get("port") == config.vxlan_port and data.get("learning") is False
    actions = []
    if link is not None and not same:
        actions.append(Action("link-del", ("ip", "link", "del", config.device)))
    if link is None or not same:
        vxlan = ("type", "vxlan", "id", str(config.vxlan_id), "dstport", str(config.vxlan_port), "nolearning")
        actions.append(Action("link-add", ("ip", "link", "add", config.device, *vxlan)))
        # full-size inner packets: the underlay fragments the outer datagram rather than the client seeing a smaller
        # path MTU for handed-back flows only
        actions.append(Action("link-mtu", ("ip", "link", "set", config.device, "mtu", "1500"), check=False))
    if link is None or not same or "UP" not in (link.get("flags") or []):
        actions.append(Action("link-up", ("ip", "link", "set", config.device, "up")))
    return actions


def _teardown(config: Config, version: int, fam: FamilyState) -> list[Action]:
    """Everything of one IP version removed (stop, or IPv6 when no pool has IPv6 CIDRs any more)."""
    actions = []
    if fam.table is not None:
        actions.append(Action("nft-delete", ("nft", "-f", "-"), stdin=nft.delete_script(version)))
    for rule in fam.rules:
        if _is_fwmark_rule(rule, config):
            actions.append(_rule(config, version, "del", *_rule_spec(rule)))
    if any(_is_local_rule(r, config.local_priority) for r in fam.rules):
        if not any(_is_local_rule(r, 0) for r in fam.rules):
            actions.append(_rule(config, version, "add", "priority", "0", "lookup", "local"))
        actions.append(_rule(config, version, "del", "priority", str(config.local_priority), "lookup", "local"))
    if fam.routes:
        actions.append(_flush(config, version))
    return actions


def plan_stop(config: Config, state: State) -> list[Action]:
    actions = [a for v in (4, 6) for a in _teardown(config, v, state.family(v))]
    if state.link is not None:
        actions.append(Action("link-del", ("ip", "link", "del", config.device)))
    return actions


# ---------------------------------------------------------------------------------------------------- the route


@dataclasses.dataclass(frozen=True)
class Target:
    """Where unknown packets go: ``via`` a node's addresses (direct), through the tunnel to ``underlay`` whose
    device has ``mac``, or ``blackhole`` (the last node of an undrain chain); nothing of these: not handed back."""

    via: Mapping[int, str] = dataclasses.field(default_factory=dict)
    underlay: str | None = None
    mac: str | None = None
    blackhole: bool = False


def target(config: Config, addresses: Sequence[str], mac: str | None) -> Target:
    """The Target of `to ADDRESS... [--mac MAC]`, checked against the config."""
    parsed: dict[int, Address] = {}
    for text in addresses:
        try:
            addr = ipaddress.ip_address(text)
        except ValueError:
            raise PlanError(f"to: {text!r} is not an IP address") from None
        if addr.version in parsed:
            raise PlanError(f"to: two IPv{addr.version} addresses ({parsed[addr.version]}, {addr})")
        parsed[addr.version] = addr
    if config.tunnel == "vxlan":
        if mac is None:
            raise PlanError("to: tunnel mode needs --mac (the MAC that node's `bgplb-handback endpoint` prints)")
        if 4 not in parsed:
            raise PlanError("to: tunnel mode needs the node's IPv4 underlay address")
        if not _is_mac(mac):
            raise PlanError(f"to: {mac!r} is not a MAC address")
        return Target(underlay=str(parsed[4]), mac=mac.lower())
    if mac is not None:
        raise PlanError("to: --mac is for tunnel mode (tunnel: vxlan) only")
    missing = [v for v in config.families if v not in parsed]
    if missing:
        cidrs = ", ".join(str(n) for n in config.cidrs(missing[0])) or "the tunnel"
        raise PlanError(f"to: no IPv{missing[0]} address of the node to hand packets for {cidrs} to")
    return Target(via={v: str(parsed[v]) for v in config.families})


def _is_mac(text: str) -> bool:
    parts = text.split(":")
    return len(parts) == 6 and all(len(p) == 2 and all(c in "0123456789abcdefABCDEF" for c in p) for p in parts)


def _flush(config: Config, version: int) -> Action:
    return Action("route-flush", ("ip", FAMILY_OPT[version], "route", "flush", "table", str(config.table)))


def _route_matches(route: Mapping[str, Any], want: Mapping[str, Any]) -> bool:
    return route.get("dst") == "default" and all(route.get(k) == v for k, v in want.items())


def plan_route(config: Config, state: State, to: Target) -> list[Action]:
    """The actions that make each version's table hold exactly the route to ``to`` (empty Target: no route)."""
    actions: list[Action] = []
    if to.mac is not None:
        assert to.underlay is not None
        if not any(e.get("mac") == to.mac and e.get("dst") == to.underlay for e in state.fdb):
            actions.append(Action("fdb-replace", ("bridge", "fdb", "replace", to.mac, "dev", config.device, "dst",
                                                  to.underlay, "self", "permanent")))  # fmt: skip
    for version in config.families:
        fam = state.family(version)
        table = ("table", str(config.table))
        opt = FAMILY_OPT[version]
        argv: tuple[str, ...]
        if to.blackhole:
            want: dict[str, Any] | None = {"type": "blackhole"}
            argv = ("ip", opt, "route", "replace", "blackhole", "default", *table)
        elif to.mac is not None:
            gw = TUNNEL_GW[version]
            if not any(n.get("dst") == gw and n.get("lladdr") == to.mac and "PERMANENT" in (n.get("state") or [])
                       for n in fam.neighbors):  # fmt: skip
                actions.append(Action("neigh-replace", ("ip", opt, "neigh", "replace", gw, "lladdr", to.mac, "dev",
                                                        config.device, "nud", "permanent")))  # fmt: skip
            want = {"gateway": gw, "dev": config.device}
            argv = ("ip", opt, "route", "replace", "default", "via", gw, "dev", config.device,
                    *(("onlink",) if version == 4 else ()), *table)  # fmt: skip
        elif version in to.via:
            want = {"gateway": to.via[version]}
            argv = ("ip", opt, "route", "replace", "default", "via", to.via[version], *table)
        else:
            want, argv = None, ()
        routes = list(fam.routes)
        if want is None:
            if routes:
                actions.append(_flush(config, version))
        elif not (len(routes) == 1 and _route_matches(routes[0], want)):
            if len(routes) > 1 or (routes and routes[0].get("dst") != "default"):
                actions.append(_flush(config, version))
            actions.append(Action("route-replace", argv))
    return actions


def routes(config: Config, state: State) -> dict[str, list[str]]:
    """`show`: each version's hand-back route, in words."""
    out = {}
    for version in config.families:
        words = []
        for r in state.family(version).routes:
            if r.get("type") == "blackhole":
                words.append(f"blackhole {r.get('dst')}")
            else:
                words.append(f"{r.get('dst')} via {r.get('gateway')}" + (f" dev {r['dev']}" if r.get("dev") else ""))
        out[f"ipv{version}"] = words
    return out


# ---------------------------------------------------------------------------------------------------- counting


def live_connections(ss_text: str, cidrs: Sequence[Network], idle_ms: int) -> int:
    """From `ss -Htni state established`: connections whose local address is in ``cidrs`` and that got a packet
    (the smaller of lastrcv and lastack) in the last ``idle_ms`` ms. Older ones are half-open leftovers whose client
    is gone, which would otherwise hold every drain until its timeout."""
    count, local = 0, None
    for line in ss_text.splitlines():
        if not line.strip():
            continue
        if not line[0].isspace():  # a connection: Recv-Q Send-Q Local:Port Peer:Port
            fields = line.split()
            local = _address_of(fields[2]) if len(fields) >= 4 else None
            continue
        if local is None or not any(local.version == n.version and local in n for n in cidrs):
            continue
        seen = {k: int(v) for k, _, v in (f.partition(":") for f in line.split()) if k in ("lastrcv", "lastack")}
        if "lastack" in seen and min(seen.get("lastrcv", idle_ms), seen["lastack"]) < idle_ms:
            count += 1
        local = None
    return count


def _address_of(endpoint: str) -> Address | None:
    host = endpoint.rsplit(":", 1)[0].strip("[]").split("%", 1)[0]
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        return addr.ipv4_mapped
    return addr
