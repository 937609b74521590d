# Copyright: bgplb developers
# Apache License 2.0 (see LICENSE)
"""BIRD 2 ``birdc`` text to router_info's fields (the same as for FRR): neighbors, BGP paths. Pure functions.

Expects the ISO times the router role's bird.conf sets (``timeformat protocol iso long``, ``timeformat route iso
long``); other time formats still parse, without uptimes.
"""

from __future__ import annotations

import datetime
import ipaddress
import re

_TIME = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?"
# Name Proto Table State Since Info: "bgplb_10_0_0_21 BGP --- up 2026-12-02 08:10:11.123  Established"
_PROTOCOL = re.compile(
    rf"^(?P<name>\S+)\s+(?P<proto>\S+)\s+(?P<table>\S+)\s+(?P<state>\S+)\s+(?P<since>{_TIME}|\S+)\s*(?P<info>.*)$"
)
# "198.51.100.10/32     unicast [bgplb_10_0_0_21 2026-12-02 08:10:12.000] * (100) [AS64512i]", the prefix only on
# the first path of a prefix
_ROUTE = re.compile(
    r"^(?P<net>\S+/\d+)?\s+(?P<type>unicast|blackhole|unreachable|prohibit)\s+\[(?P<src>[^\]]*)\](?P<rest>.*)$"
)
_VIA = re.compile(r"^\s+via (?P<gw>\S+) on (?P<dev>\S+)(?: weight (?P<weight>\d+))?")
_NOW = re.compile(rf"^Current server time is (?P<now>{_TIME})", re.M)


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _time(text):
    try:
        return datetime.datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None


def server_time(status):
    """``show status`` -> the daemon's current time (None if the time format is not ISO)."""
    m = _NOW.search(status or "")
    return _time(m.group("now")) if m else None


def protocols(text):
    """``show protocols all`` -> [{name, proto, state, since, info, fields: {key: value}, channels: {name: {...}}}]."""
    out, current, channel = [], None, None
    for line in (text or "").splitlines():
        if not line.strip() or line.startswith(("BIRD ", "Name ")):
            continue
        if not line[0].isspace():
            m = _PROTOCOL.match(line)
            current = None
            if m:
                current = {**m.groupdict(), "fields": {}, "channels": {}}
                current["info"] = current["info"].strip()
                out.append(current)
            channel = None
            continue
        if current is None:
            continue
        stripped = line.strip()
        if stripped.startswith("Channel "):
            channel = current["channels"].setdefault(stripped.split()[1], {})
            continue
        key, sep, value = stripped.partition(":")
        if not sep:
            continue
        (channel if channel is not None else current["fields"]).setdefault(key.strip(), value.strip())
    return out


def neighbor_facts(protocols_all, status="", families=("ipv4", "ipv6")):
    """``show protocols all`` (+ ``show status`` for the uptimes) -> one entry per BGP protocol, sorted by address.

    The keys are FRR's (plugins/module_utils/frr.py); BIRD has no session counters, so ``connections_established``
    and ``connections_dropped`` are None, and ``since`` (when the protocol last changed state) tells a session that
    stayed up from one that was reset.
    """
    now = server_time(status)
    out = []
    for p in protocols(protocols_all):
        if p["proto"] != "BGP":
            continue
        f = p["fields"]
        state = f.get("BGP state") or ("Down" if p["state"] == "down" else p["info"] or p["state"])
        since = _time(p["since"])
        uptime = int((now - since).total_seconds() * 1000) if now and since else 0
        received = {}
        for family in families:
            ch = p["channels"].get(family)
            if ch is not None:
                m = re.match(r"(\d+) imported", ch.get("Routes", ""))
                received[family] = int(m.group(1)) if m else 0
        out.append(
            {
                "address": f.get("Neighbor address"),
                "state": state,
                "uptime_msec": max(uptime, 0),
                "since": p["since"],
                "remote_as": _int(f.get("Neighbor AS")),
                "local_as": _int(f.get("Local AS")),
                "description": f.get("Description"),
                "peer_group": None,
                "protocol": p["name"],
                "prefixes_received": received,
                "connections_established": None,
                "connections_dropped": None,
                "last_reset": f.get("Last error"),
            }
        )
    out = [n for n in out if n["address"]]
    return sorted(out, key=lambda n: (":" in n["address"], n["address"]))


_BFD_STATES = {"Up": "up", "Down": "down", "Init": "init", "AdminDown": "shutdown"}  # to bfdd's words


def bfd_sessions(text, status=""):
    """``show bfd sessions`` (+ ``show status`` for the times) -> {peer address: session} with the keys of FRR's
    (plugins/module_utils/frr.py BFD_KEYS). BIRD prints the address, interface, state, since, the transmit interval
    in use and the detection time: ``status``, ``interface``, ``uptime_s`` / ``downtime_s`` and
    ``transmit_interval`` (ms) come from there; ``detect_time`` (ms) is BIRD's own; the rest is None. An address
    with several sessions gives the one that is up."""
    now = server_time(status)
    out = {}
    for line in (text or "").splitlines():
        fields = line.split()
        at = next((i for i, f in enumerate(fields) if i >= 1 and f in _BFD_STATES), None)
        if at is None or len(fields) < at + 4:
            continue
        try:
            address = str(ipaddress.ip_address(fields[0]))
            interval, timeout = float(fields[-2]), float(fields[-1])
        except ValueError:
            continue
        status_word = _BFD_STATES[fields[at]]
        since = _time(" ".join(fields[at + 1 : -2]))
        age = int((now - since).total_seconds()) if now and since else None
        session = {key: None for key in ("diagnostic", "remote_diagnostic", "multihop", "local", "receive_interval",
                                         "detect_multiplier", "remote_receive_interval", "remote_transmit_interval",
                                         "remote_detect_multiplier")}  # fmt: skip
        session.update(
            status=status_word,
            interface=" ".join(fields[1:at]) or None,
            uptime_s=max(age, 0) if age is not None and status_word == "up" else None,
            downtime_s=max(age, 0) if age is not None and status_word != "up" else None,
            transmit_interval=round(interval * 1000),
            detect_time=round(timeout * 1000),
        )
        if address not in out or (out[address]["status"] != "up" and status_word == "up"):
            out[address] = session
    return out


def _merged(text):
    """``show route <prefix> export <kernel protocol>``: the merged (ECMP) route -> {prefix: {gateway, ...}}."""
    out, net = {}, None
    for line in (text or "").splitlines():
        m = _ROUTE.match(line)
        if m:
            net = m.group("net") or net
            out.setdefault(net, set())
            if " via " in m.group("rest"):  # a single next hop is on the route line in some versions
                out[net].add(m.group("rest").split(" via ")[1].split()[0])
            continue
        v = _VIA.match(line)
        if v and net:
            out[net].add(v.group("gw"))
    return out


def route_facts(route_all, merged=None, peers=None):
    """``show route [<prefix>] all`` -> {canonical prefix: [path, ...]} with FRR's path keys.

    ``merged`` is the same prefixes' ``show route ... export <kernel protocol>`` output: a path is ``multipath`` when
    its next hop is in the route the kernel protocol merges (merge paths); without it only the best path is.
    ``peers`` maps BGP protocol names to neighbor addresses.
    """
    merged = {canonical(k): v for k, v in _merged(merged).items()} if merged is not None else None
    peers = peers or {}
    routes, net, path = {}, None, None
    for line in (route_all or "").splitlines():
        m = _ROUTE.match(line)
        if m:
            net = canonical(m.group("net")) if m.group("net") else net
            src = m.group("src").split()
            rest = m.group("rest")
            frm = re.search(r"\bfrom (\S+)", m.group("src"))
            path = {
                "next_hop": None,
                "next_hops": [],
                "peer": frm.group(1) if frm else peers.get(src[0] if src else "", src[0] if src else None),
                "protocol": src[0] if src else None,
                "as_path": [],
                "as_path_string": "",
                "origin": None,
                "communities": [],
                "large_communities": [],
                "local_pref": None,
                "med": None,
                "valid": True,
                "bestpath": rest.lstrip().startswith("*"),
                "multipath": False,
                "stale": "stale" in rest.lower(),
                "_bgp": False,
            }
            routes.setdefault(net, []).append(path)
            continue
        if path is None:
            continue
        v = _VIA.match(line)
        if v:
            path["next_hops"].append(v.group("gw"))
            continue
        key, _, value = line.strip().partition(": ")
        value = value.strip()
        if key == "Type":
            path["_bgp"] = value.startswith("BGP")
        elif key == "BGP.origin":
            path["origin"] = value.upper()
        elif key == "BGP.as_path":
            path["as_path_string"] = value
            path["as_path"] = [
                _int(a) if _int(a) is not None else a for a in value.replace("{", " ").replace("}", " ").split()
            ]
        elif key == "BGP.next_hop":
            path["next_hop"] = value.split()[0]
        elif key == "BGP.med":
            path["med"] = _int(value)
        elif key == "BGP.local_pref":
            path["local_pref"] = _int(value)
        elif key == "BGP.community":
            path["communities"] = [c.replace(",", ":") for c in re.findall(r"\((\d+,\d+)\)", value)]
        elif key == "BGP.large_community":
            path["large_communities"] = [c.replace(", ", ":") for c in re.findall(r"\((\d+, \d+, \d+)\)", value)]
    out = {}
    for prefix, paths in routes.items():
        bgp = [p for p in paths if p.pop("_bgp")]
        for p in bgp:
            p["next_hop"] = p["next_hop"] or (p["next_hops"] or [None])[0]
            p["multipath"] = p["bestpath"] if merged is None else p["next_hop"] in merged.get(prefix, set())
        if bgp:
            out[prefix] = bgp
    return out


def canonical(prefix):
    return str(ipaddress.ip_network(prefix.strip(), strict=False))
