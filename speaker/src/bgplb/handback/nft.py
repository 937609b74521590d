"""The nftables side: the tables hand-back needs (built from the config, one per address family) and what
``nft -j`` says about the installed ones."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from bgplb.handback.config import Config

TABLE = "bgplb_handback"
FAMILIES = {4: "ip", 6: "ip6"}
FINGERPRINT = "bgplb-handback "  # comment prefix of the prerouting rule: the config the table was built from
HAND_BACK = "mid-stream, unknown here: hand back"  # comment of the counting rule (bench, molecule read it)


def body(config: Config, version: int) -> str:
    """The table's content for one IP version (without the fingerprint)."""
    fam, addr = FAMILIES[version], "ipv4_addr" if version == 4 else "ipv6_addr"
    mark = f"{config.mark:#x}"
    key = f"{fam} saddr . tcp sport . {fam} daddr . tcp dport"
    cidrs = ", ".join(str(n) for n in config.cidrs(version))
    lines = [
        "    set service_ips {",
        f"        type {addr}",
        "        flags interval",
        *([f"        elements = {{ {cidrs} }}"] if cidrs else []),
        "    }",
        "    set handed_back {",
        f"        type {addr} . inet_service . {addr} . inet_service",
        f"        size {config.flows_max}",
        "        flags dynamic, timeout",
        f"        timeout {config.idle}s",
        "    }",
    ]
    if config.tunnel == "vxlan" and version == 4:
        nodes = ", ".join(str(a) for a in config.nodes)
        lines += [
            "    set nodes {",
            "        type ipv4_addr",
            *([f"        elements = {{ {nodes} }}"] if nodes else []),
            "    }",
            "    chain input {",
            "        type filter hook input priority filter; policy accept;",
            f"        udp dport {config.vxlan_port} ip saddr != @nodes counter drop"
            ' comment "VXLAN hand-back from a stranger"',
            "    }",
        ]
    lines += [
        "    chain service {",
        '        tcp flags & (syn | ack) == syn ct mark set 0 accept comment "new connections stay here"',
        f'        ct mark {mark} update @handed_back {{ {key} }} comment "still handed back"',
        f'        ct mark {mark} meta mark set ct mark accept comment "a flow already handed back"',
        '        ct state established,related accept comment "a connection this node terminates"',
        f'        counter ct mark set {mark} meta mark set {mark} comment "{HAND_BACK}"',
        f'        meta mark {mark} update @handed_back {{ {key} }} comment "handed back from now"',
        "    }",
    ]
    return "\n".join(lines)


def fingerprint(config: Config, version: int) -> str:
    return hashlib.sha256(body(config, version).encode()).hexdigest()[:16]


def script(config: Config, version: int) -> str:
    """An `nft -f` script that replaces the table atomically (in one transaction)."""
    fam = FAMILIES[version]
    jump = (
        f"        {fam} daddr @service_ips meta l4proto tcp jump service "
        f'comment "{FINGERPRINT}{fingerprint(config, version)}"'
    )
    return "\n".join([
        f"table {fam} {TABLE}",
        f"delete table {fam} {TABLE}",
        f"table {fam} {TABLE} {{",
        "    chain prerouting {",
        "        type filter hook prerouting priority mangle; policy accept;",
        jump,
        "    }",
        body(config, version),
        "}",
        "",
    ])  # fmt: skip


def delete_script(version: int) -> str:
    fam = FAMILIES[version]
    return f"table {fam} {TABLE}\ndelete table {fam} {TABLE}\n"


def _items(doc: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    return list((doc or {}).get("nftables") or [])


def installed_fingerprint(doc: Mapping[str, Any] | None) -> str | None:
    """From `nft -j list table FAMILY bgplb_handback`: the fingerprint it was built with; None: no table (or not
    one this program built)."""
    for item in _items(doc):
        rule = item.get("rule")
        if rule and rule.get("chain") == "prerouting" and str(rule.get("comment", "")).startswith(FINGERPRINT):
            return str(rule["comment"])[len(FINGERPRINT) :]
    return None


def set_size(doc: Mapping[str, Any] | None) -> int:
    """From `nft -j list set FAMILY bgplb_handback handed_back`: how many flows it holds."""
    return sum(len(item["set"].get("elem") or []) for item in _items(doc) if "set" in item)


def handed_back_packets(doc: Mapping[str, Any] | None) -> int:
    """From `nft -j list chain FAMILY bgplb_handback service`: packets the hand-back rule marked."""
    for item in _items(doc):
        rule = item.get("rule")
        if rule and rule.get("comment") == HAND_BACK:
            for expr in rule.get("expr", []):
                if "counter" in expr:
                    return int(expr["counter"]["packets"])
    return 0
