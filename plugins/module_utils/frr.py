# Copyright: bgplb developers
# Apache License 2.0 (see LICENSE)
"""FRR 8.4 JSON (``vtysh -c 'show ... json'``) to router_info's fields: neighbors, BFD sessions, BGP paths. Pure
functions."""

from __future__ import annotations

import ipaddress
import json

AFI_KEYS = {"ipv4": "ipv4Unicast", "ipv6": "ipv6Unicast"}


def decode_all(text):
    """vtysh with several -c prints the JSON documents one after the other: decode each."""
    decoder = json.JSONDecoder()
    out, pos, text = [], 0, text or ""
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return out
        value, pos = decoder.raw_decode(text, pos)
        out.append(value)


def as_int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def neighbor_facts(detail, summary, families):
    """``show bgp neighbors json`` and ``show bgp summary json`` -> one entry per neighbor, sorted by address."""
    counts = {}
    for family in families:
        for address, peer in (summary.get(AFI_KEYS[family]) or {}).get("peers", {}).items():
            counts.setdefault(address, {})[family] = as_int(peer.get("pfxRcd")) or 0
    out = []
    for address, n in detail.items():
        if not isinstance(n, dict) or "bgpState" not in n:
            continue  # peer-groups and other keys
        received = dict(counts.get(address, {}))
        for family, key in AFI_KEYS.items():
            af = (n.get("addressFamilyInfo") or {}).get(key)
            if family in families and af is not None and family not in received:
                received[family] = as_int(af.get("acceptedPrefixCounter")) or 0
        up = n.get("bgpTimerUpMsec")
        if up is None:
            up = n.get("lastResetTimerMsecs")
        out.append(
            {
                "address": address,
                "state": n.get("bgpState"),
                "uptime_msec": as_int(up) or 0,
                "remote_as": as_int(n.get("remoteAs")),
                "local_as": as_int(n.get("localAs")),
                "description": n.get("nbrDesc"),
                "peer_group": n.get("peerGroup"),
                "prefixes_received": received,
                "connections_established": as_int(n.get("connectionsEstablished")) or 0,
                "connections_dropped": as_int(n.get("connectionsDropped")) or 0,
                "last_reset": n.get("lastResetDueTo"),
            }
        )
    return sorted(out, key=lambda n: (":" in n["address"], n["address"]))


# bfdd's `show bfd peers json` keys -> ours (intervals in ms; uptime/downtime in s, only the one of the state)
BFD_KEYS = {"status": "status", "diagnostic": "diagnostic", "remote-diagnostic": "remote_diagnostic",
            "multihop": "multihop", "local": "local", "interface": "interface", "uptime": "uptime_s",
            "downtime": "downtime_s", "receive-interval": "receive_interval",
            "transmit-interval": "transmit_interval", "detect-multiplier": "detect_multiplier",
            "remote-receive-interval": "remote_receive_interval",
            "remote-transmit-interval": "remote_transmit_interval",
            "remote-detect-multiplier": "remote_detect_multiplier"}  # fmt: skip


def bfd_sessions(peers):
    """``show bfd peers json`` (a list) -> {peer address: session}, default VRF. An address with several sessions
    (single hop and multihop) gives the one that is up, else the first."""
    out = {}
    for p in peers if isinstance(peers, list) else []:
        if not isinstance(p, dict) or not p.get("peer") or p.get("vrf", "default") != "default":
            continue
        session = {ours: p.get(theirs) for theirs, ours in BFD_KEYS.items()}
        session["multihop"] = bool(session["multihop"])
        address = p["peer"]
        if address not in out or (out[address]["status"] != "up" and session["status"] == "up"):
            out[address] = session
    return out


def path_facts(p):
    """One FRR path (the shape of 'show bgp ... json detail' and of the per-prefix JSON) to our fields."""
    aspath = p.get("aspath")
    if isinstance(aspath, dict):
        as_string = aspath.get("string", "")
    else:  # the table (non-detail) shape: "path": "64512 65001"
        as_string = p.get("path", "") if isinstance(p.get("path"), str) else ""
    as_path = [
        as_int(a) if as_int(a) is not None else a
        for a in as_string.replace("{", " ").replace("}", " ").replace(",", " ").split()
    ]
    hops = [h.get("ip") for h in p.get("nexthops", []) if h.get("ip")]
    used = [h.get("ip") for h in p.get("nexthops", []) if h.get("ip") and h.get("used")]
    best = p.get("bestpath")
    if isinstance(best, dict):
        best = bool(best.get("overall"))
    peer = p.get("peer") if isinstance(p.get("peer"), dict) else {}
    return {
        "next_hop": (used or hops or [None])[0],
        "next_hops": hops,
        "peer": peer.get("peerId") or p.get("peerId"),
        "as_path": as_path,
        "as_path_string": as_string,
        "origin": p.get("origin"),
        "communities": list((p.get("community") or {}).get("list") or []),
        "large_communities": list((p.get("largeCommunity") or {}).get("list") or []),
        "local_pref": as_int(p.get("locPrf", p.get("localpref"))),
        "med": as_int(p.get("metric", p.get("med"))),
        "valid": bool(p.get("valid")),
        "bestpath": bool(best),
        "multipath": bool(p.get("multipath")),
        "stale": bool(p.get("stale")),
    }


def is_path(entry):
    # 'json detail' lists {"prefix", "version"} first, then the paths.
    return isinstance(entry, dict) and any(k in entry for k in ("nexthops", "aspath", "path", "peer", "valid"))


def canonical(prefix):
    return str(ipaddress.ip_network(prefix.strip(), strict=False))
