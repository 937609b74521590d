# Copyright: bgplb developers
# Apache License 2.0 (see LICENSE)
"""iproute2 JSON (``ip -N -j``) as the kernel forwards: which table a packet to a prefix is looked up in (the rules,
by priority), that table's route and its next hops (multipath lists, a single gateway or ``via``, nexthop objects and
groups, resilient ones included).

Pure functions over parsed JSON: router_info runs the commands, these read them. The fixtures of
tests/fixtures/iproute_resilient_router.json (captured from a kernel) are read both by these functions' tests and
by the tests of the router's agent (roles/router/files/bgplb_resilient.py), which parses the same commands.
"""

from __future__ import annotations

import ipaddress

MAIN_TABLE = 254
LOCAL_TABLE = 255
# Rule selectors that make a rule not apply to every forwarded packet to a destination.
SELECTORS = ("fwmark", "iif", "oif", "sport", "dport", "ipproto", "tos", "dsfield", "uidrange", "l3mdev", "not")


def as_int(value, default=None):
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def network(dst, family):
    """A route's or rule's ``dst`` ("198.51.100.10", "198.51.100.0/24", "default") as a network, else None."""
    if dst in (None, "", "all"):
        return None
    if dst == "default":
        return ipaddress.ip_network("::/0" if family == 6 else "0.0.0.0/0")
    try:
        return ipaddress.ip_network(dst, strict=False)
    except ValueError:
        return None


def gateway(obj):
    """The gateway of a route, a multipath member or a nexthop object: ``gateway``, or ``via.host`` (IPv4 over IPv6)."""
    address = obj.get("gateway")
    if address is None and isinstance(obj.get("via"), dict):
        address = obj["via"].get("host")
    return str(ipaddress.ip_address(address)) if address is not None else None


def index_nexthops(data):
    """``ip -N -j nexthop show`` -> {id: object}."""
    return {as_int(o.get("id")): o for o in data or [] if as_int(o.get("id")) is not None}


def lookup_tables(rules, prefix):
    """The tables a packet to `prefix` from anywhere is looked up in, in rule order (``ip -N -j rule show``).

    A rule applies when its only selector is a destination that covers the prefix (``src`` all); rules with marks,
    interfaces, ports and the like, or whose action is not a table lookup, do not. The local table is left out (a
    service prefix is not a local address of the router). Main comes last if no rule names it.
    """
    net = ipaddress.ip_network(prefix, strict=False)
    out = []
    for rule in sorted(rules or [], key=lambda r: as_int(r.get("priority"), 0)):
        if any(k in rule for k in SELECTORS) or rule.get("action") not in (None, "lookup"):
            continue
        if rule.get("src", "all") != "all":
            continue
        if "dst" in rule:
            dst = network(f"{rule['dst']}/{rule.get('dstlen', net.max_prefixlen)}", net.version)
            if dst is None or dst.version != net.version or not net.subnet_of(dst):
                continue
        table = as_int(rule.get("table"))
        if table is not None and table != LOCAL_TABLE and table not in out:
            out.append(table)
    if MAIN_TABLE not in out:
        out.append(MAIN_TABLE)
    return out


def route_for(routes, prefix):
    """The unicast route for exactly `prefix` in one table's ``ip -N -j route show table T PREFIX`` (lowest metric)."""
    net = ipaddress.ip_network(prefix, strict=False)
    found = [
        r for r in routes or [] if r.get("type", "unicast") == "unicast" and network(r.get("dst"), net.version) == net
    ]
    return min(found, key=lambda r: as_int(r.get("metric"), 0)) if found else None


def next_hops(route, nexthops):
    """[{gateway, dev, weight}] of a route; `nexthops` from index_nexthops resolves a route that only has ``nhid``."""
    hops = route.get("nexthops")
    if hops:
        return [{"gateway": gateway(h), "dev": h.get("dev"), "weight": as_int(h.get("weight"), 1)} for h in hops]
    if route.get("gateway") or route.get("via"):
        return [{"gateway": gateway(route), "dev": route.get("dev"), "weight": 1}]
    nhid = as_int(route.get("nhid"))
    obj = nexthops.get(nhid) if nhid is not None else None
    if obj is None:
        return [{"gateway": None, "dev": route.get("dev"), "weight": 1}] if route.get("dev") else []
    members = obj.get("group") or [{"id": nhid}]
    hops = []
    for m in members:
        member = nexthops.get(as_int(m.get("id")), {})
        if member.get("gateway") or member.get("via") or member.get("dev"):
            hops.append({"gateway": gateway(member), "dev": member.get("dev"), "weight": as_int(m.get("weight"), 1)})
    return hops


def group_of(route, nexthops):
    """The nexthop group a route goes through: {id, type (resilient, mpath), buckets, members} or None."""
    nhid = as_int(route.get("nhid"))
    obj = nexthops.get(nhid) if nhid is not None else None
    if obj is None or not obj.get("group"):
        return None
    args = obj.get("resilient_args") or {}
    return {
        "id": nhid,
        "type": obj.get("type", "mpath"),
        "buckets": as_int(args.get("buckets")),
        "members": [as_int(m.get("id")) for m in obj["group"]],
    }


def forwarding(prefix, rules, table_routes, nexthops):
    """How the kernel forwards `prefix`: {table, protocol, next_hops, group}, or None when no table has it.

    `table_routes(table)` returns that table's ``ip -N -j route show table T PREFIX`` ([] for a missing table).
    """
    for table in lookup_tables(rules, prefix):
        route = route_for(table_routes(table), prefix)
        if route is not None:
            return {
                "table": table,
                "protocol": route.get("protocol"),
                "next_hops": next_hops(route, nexthops),
                "group": group_of(route, nexthops),
            }
    return None
