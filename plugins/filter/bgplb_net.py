# Copyright: bgplb developers
# Apache License 2.0 (see LICENSE)
"""Address helpers for bgplb (no ansible.utils needed), used by the router role.

- bgplb_pool_cidrs(pools, family=None): CIDRs covering the pools' addresses (ranges a.b.c.d-e.f.g.h become the
  smallest exact set of CIDRs), collapsed and sorted, IPv4 first.
- bgplb_prefix_rules(pools, advertisements, family=None): [{prefix, family, ge, le}] for inbound prefix lists.
- bgplb_bgp_hosts(hosts, hostvars, default_asn, unresolved='fail'): [{host, address, asn}] per docs/inventory.md,
  the one resolver of a host's BGP address (roles, playbooks); unresolved='keep' gives address None instead of failing
  for a host whose facts are still to be gathered.
- bgplb_handback_hosts(hosts, hostvars, explicit=False): [{host, address}], the IPv4 address other nodes hand
  packets to: bgplb_speaker_handback_address, else the BGP address (explicit=True: else bgplb_bgp_address only).
- bgplb_ip_version(value): 4, 6, or 0 when not an IP.
"""

from __future__ import annotations

import ipaddress

from ansible.errors import AnsibleFilterError

FAMILIES = {"ipv4": 4, "ipv6": 6}


def _networks(value, where):
    text = str(value).strip()
    try:
        if "-" in text:
            first, _, last = text.partition("-")
            low, high = ipaddress.ip_address(first.strip()), ipaddress.ip_address(last.strip())
            if low.version != high.version or low > high:
                raise ValueError("not a range of one family from low to high")
            return list(ipaddress.summarize_address_range(low, high))
        return [ipaddress.ip_network(text, strict=True)]
    except ValueError as err:
        raise AnsibleFilterError(f"{where}: {text!r} is not a CIDR or an address range ({err})") from None


def _pool_networks(pools):
    """[(pool name or None, network)] for every address of every pool."""
    if pools is None:
        return []
    if not isinstance(pools, list):
        raise AnsibleFilterError(f"bgplb pools: expected a list, got {type(pools).__name__}")
    out = []
    for index, pool in enumerate(pools):
        if isinstance(pool, dict):
            name = pool.get("name")
            addresses = pool.get("addresses") or []
            if not isinstance(addresses, list):
                addresses = [addresses]
            for i, address in enumerate(addresses):
                out += [(name, n) for n in _networks(address, f"pool {name or index}: addresses[{i}]")]
        else:
            out += [(None, n) for n in _networks(pool, f"addresses[{index}]")]
    return out


def _collapse(networks):
    v4 = list(ipaddress.collapse_addresses(n for n in networks if n.version == 4))
    v6 = list(ipaddress.collapse_addresses(n for n in networks if n.version == 6))
    return sorted(v4) + sorted(v6)


def bgplb_pool_cidrs(pools, family=None):
    if family is not None and family not in FAMILIES:
        raise AnsibleFilterError(f"bgplb_pool_cidrs: family must be ipv4 or ipv6, got {family!r}")
    networks = [n for _, n in _pool_networks(pools) if family is None or n.version == FAMILIES[family]]
    return [str(n) for n in _collapse(networks)]


def _applies(advertisement, pool_name):
    """Whether an advertisement may announce addresses of this pool (selectors: assume it may)."""
    pools = advertisement.get("pools") or []
    selectors = advertisement.get("pool_selectors") or []
    if not pools and not selectors:
        return True
    return pool_name in pools or bool(selectors) or pool_name is None


def bgplb_prefix_rules(pools, advertisements=None, family=None):
    """Inbound prefix-list rules: [{prefix, ge, le, family}] accepting only prefixes inside the pools.

    ge is the shortest aggregation length of the advertisements that may announce the pool (default /32, /128),
    never shorter than the pool CIDR itself; le is the host length. An aggregate shorter than a pool CIDR (which
    would cover addresses outside the pool) is therefore never accepted.
    """
    if advertisements is None:
        advertisements = [{"name": "default"}]
    if not isinstance(advertisements, list):
        raise AnsibleFilterError("bgplb advertisements: expected a list")
    if family is not None and family not in FAMILIES:
        raise AnsibleFilterError(f"bgplb_prefix_rules: family must be ipv4 or ipv6, got {family!r}")
    by_len = {}  # (network) -> shortest allowed length
    for pool_name, net in _pool_networks(pools):
        if family is not None and net.version != FAMILIES[family]:
            continue
        host = net.max_prefixlen
        key = "aggregation_length" if net.version == 4 else "aggregation_length_v6"
        lengths = [
            int(a.get(key) if a.get(key) is not None else host)
            for a in advertisements
            if isinstance(a, dict) and _applies(a, pool_name)
        ]
        shortest = max(min(lengths) if lengths else host, net.prefixlen)
        by_len[net] = min(by_len.get(net, host), shortest)
    rules = []
    for net in sorted(by_len, key=lambda n: (n.version, n)):
        rules.append(
            {
                "prefix": str(net),
                "family": "ipv4" if net.version == 4 else "ipv6",
                "ge": by_len[net] if by_len[net] > net.prefixlen else None,
                "le": net.max_prefixlen,
            }
        )
    return rules


def _ip(value):
    try:
        return ipaddress.ip_address(str(value).strip())
    except ValueError:
        return None


def _bgp_address(hv):
    """bgplb_bgp_address, else ansible_host when it is an IP, else the default IPv4 address (facts), else None."""
    address = hv.get("bgplb_bgp_address")
    if address not in (None, ""):
        return address
    if _ip(hv.get("ansible_host", "")) is not None:
        return hv.get("ansible_host")
    facts = hv.get("ansible_default_ipv4") or (hv.get("ansible_facts") or {}).get("default_ipv4") or {}
    return facts.get("address") or None


def bgplb_bgp_hosts(hosts, hostvars, default_asn, unresolved="fail"):
    """[{host, address, asn}] for inventory hosts, following docs/inventory.md.

    address: bgplb_bgp_address, else ansible_host when it is an IP, else ansible_default_ipv4.address (facts).
    asn: bgplb_asn, else default_asn. A value that is not an IP fails whatever `unresolved` says.
    """
    if unresolved not in ("fail", "keep"):
        raise AnsibleFilterError(f"bgplb_bgp_hosts: unresolved must be fail or keep, got {unresolved!r}")
    out = []
    for host in hosts or []:
        hv = hostvars[host]
        address = _bgp_address(hv)
        if address is None and unresolved == "keep":
            pass
        elif _ip(address) is None:
            raise AnsibleFilterError(
                f"host {host}: no BGP address: set bgplb_bgp_address (or ansible_host to an IP, or gather its facts"
                f" so that ansible_default_ipv4 is known); got {address!r}"
            )
        asn = hv.get("bgplb_asn")
        asn = default_asn if asn in (None, "") else asn
        try:
            asn = int(asn)
        except (TypeError, ValueError):
            raise AnsibleFilterError(f"host {host}: bgplb_asn {asn!r} is not an integer") from None
        if not 1 <= asn <= 4294967295:
            raise AnsibleFilterError(f"host {host}: bgplb_asn {asn} is not from 1 to 4294967295")
        out.append({"host": str(host), "address": None if address is None else str(_ip(address)), "asn": asn})
    return out


def bgplb_handback_hosts(hosts, hostvars, explicit=False):
    """[{host, address}]: where the other nodes hand packets to for each host (IPv4: the hand-back is IPv4 only).

    address: bgplb_speaker_handback_address, else the BGP address (bgplb_bgp_hosts' rule), or with explicit=True
    else bgplb_bgp_address only (tunnel mode: the other nodes' facts are not at hand). Anything else fails, naming
    the host, so that no value reaches the nftables or shell templates unchecked.
    """
    out = []
    for host in hosts or []:
        hv = hostvars[host]
        address = hv.get("bgplb_speaker_handback_address") or hv.get("bgplb_bgp_address") or None
        if address is None and not explicit:
            address = _bgp_address(hv)
        ip = _ip(address) if address is not None else None
        if ip is None or ip.version != 4:
            raise AnsibleFilterError(
                f"host {host}: no IPv4 address to hand packets to: set bgplb_speaker_handback_address (or"
                f" bgplb_bgp_address{'' if explicit else ', an IPv4 ansible_host or gathered facts'}); got {address!r}"
            )
        out.append({"host": str(host), "address": str(ip)})
    return out


def bgplb_ip_version(value):
    """4 or 6 for an IP address, 0 for anything else."""
    address = _ip(value) if value is not None else None
    return address.version if address is not None else 0


class FilterModule:
    def filters(self):
        return {
            "bgplb_pool_cidrs": bgplb_pool_cidrs,
            "bgplb_prefix_rules": bgplb_prefix_rules,
            "bgplb_bgp_hosts": bgplb_bgp_hosts,
            "bgplb_handback_hosts": bgplb_handback_hosts,
            "bgplb_ip_version": bgplb_ip_version,
        }
