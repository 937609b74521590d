"""bgplb_net filters: pool ranges to CIDRs, inbound prefix rules, BGP addresses of hosts."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.baremetal.bgplb.plugins.filter import bgplb_net as f

POOLS = [{"name": "public", "addresses": ["198.51.100.0/24", "203.0.113.10-203.0.113.17", "2001:db8:100::/64"]}]


def test_ranges_become_exact_cidrs():
    assert f.bgplb_pool_cidrs(POOLS) == ["198.51.100.0/24", "203.0.113.10/31", "203.0.113.12/30",
                                         "203.0.113.16/31", "2001:db8:100::/64"]  # fmt: skip
    assert f.bgplb_pool_cidrs(POOLS, "ipv6") == ["2001:db8:100::/64"]
    with pytest.raises(AnsibleFilterError, match="not a CIDR"):
        f.bgplb_pool_cidrs([{"name": "bad", "addresses": ["198.51.100.20-198.51.100.10"]}])


def test_prefix_rules_use_the_shortest_applicable_aggregation_length():
    advs = [{"name": "d"}, {"name": "agg", "pools": ["public"], "aggregation_length": 28},
            {"name": "other", "pools": ["private"], "aggregation_length": 8}]  # fmt: skip
    rules = f.bgplb_prefix_rules(POOLS, advs)
    assert rules[0] == {"prefix": "198.51.100.0/24", "family": "ipv4", "ge": 28, "le": 32}
    assert rules[1] == {"prefix": "203.0.113.10/31", "family": "ipv4", "ge": None, "le": 32}  # /28 < /31: no ge
    assert rules[-1] == {"prefix": "2001:db8:100::/64", "family": "ipv6", "ge": 128, "le": 128}
    assert f.bgplb_prefix_rules([], None) == []


def test_bgp_hosts_follow_the_inventory_contract():
    hv = {"n1": {"bgplb_bgp_address": "10.0.0.1"}, "n2": {"ansible_host": "10.0.0.2", "bgplb_asn": 65002},
          "n3": {"ansible_host": "n3.example", "ansible_default_ipv4": {"address": "10.0.0.3"}}, "n4": {}}  # fmt: skip
    assert f.bgplb_bgp_hosts(["n1", "n2", "n3"], hv, 64512) == [
        {"host": "n1", "address": "10.0.0.1", "asn": 64512}, {"host": "n2", "address": "10.0.0.2", "asn": 65002},
        {"host": "n3", "address": "10.0.0.3", "asn": 64512}]  # fmt: skip
    with pytest.raises(AnsibleFilterError, match="host n4: no BGP address"):
        f.bgplb_bgp_hosts(["n4"], hv, 64512)
    assert f.bgplb_ip_version("fd00::1") == 6 and f.bgplb_ip_version("x") == 0


def test_bgp_hosts_keep_unresolved_hosts_for_fact_gathering():
    hv = {"n1": {"ansible_host": "n1.example"}, "n2": {"ansible_facts": {"default_ipv4": {"address": "10.0.0.2"}}}}
    assert f.bgplb_bgp_hosts(["n1", "n2"], hv, 64512, unresolved="keep") == [
        {"host": "n1", "address": None, "asn": 64512},
        {"host": "n2", "address": "10.0.0.2", "asn": 64512},
    ]
    with pytest.raises(AnsibleFilterError, match="host n1: no BGP address"):
        f.bgplb_bgp_hosts(["n1"], hv, 64512)
    with pytest.raises(AnsibleFilterError, match="host n3: no BGP address"):  # a bad value fails even with keep
        f.bgplb_bgp_hosts(["n3"], {"n3": {"bgplb_bgp_address": "10.0.0.3}"}}, 64512, unresolved="keep")


def test_handback_hosts_are_ipv4_and_checked():
    hv = {
        "n1": {"bgplb_speaker_handback_address": "10.1.0.1", "bgplb_bgp_address": "10.0.0.1"},
        "n2": {"ansible_host": "10.0.0.2"},
        "n3": {"bgplb_speaker_handback_address": "10.0.0.3 } chain evil {"},
        "n4": {"bgplb_bgp_address": "2001:db8::4"},
    }
    assert f.bgplb_handback_hosts(["n1", "n2"], hv) == [
        {"host": "n1", "address": "10.1.0.1"},
        {"host": "n2", "address": "10.0.0.2"},
    ]
    with pytest.raises(AnsibleFilterError, match="host n2: no IPv4 address"):
        f.bgplb_handback_hosts(["n2"], hv, explicit=True)  # tunnel mode: ansible_host is not explicit
    for bad in ("n3", "n4"):
        with pytest.raises(AnsibleFilterError, match=f"host {bad}: no IPv4 address"):
            f.bgplb_handback_hosts([bad], hv)
