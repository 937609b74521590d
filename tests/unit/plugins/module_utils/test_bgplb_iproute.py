"""The agent (roles/router/files/bgplb_resilient.py) and router_info (plugins/module_utils/iproute.py) read the same
captured iproute2 JSON (tests/fixtures/iproute_resilient_router.json) and must agree on it: the agent's view of what
it installed in table 200 is what router_info reports as forwarding."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ansible_collections.baremetal.bgplb.plugins.module_utils import iproute

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT / "roles" / "router" / "files"))
import bgplb_resilient as br  # noqa: E402 - a script, not a package

FIXTURE = json.loads((ROOT / "tests" / "fixtures" / "iproute_resilient_router.json").read_text())
IP = FIXTURE["commands"]
CFG = br.Config(pools=(br.ipaddress.ip_network("198.51.100.0/24"), br.ipaddress.ip_network("2001:db8:100::/64")),
                proto=250, id_base=1000000, id_count=1000)  # fmt: skip


def agent_state():
    kernel = br.KernelState()
    br.parse_nexthops(IP["ip -N -j nexthop show"], kernel)
    bgp = {}
    for fam in ("-4", "-6"):
        bgp.update(br.parse_bgp_routes(IP[f"ip -N -j {fam} route show table 254 proto 186"], kernel))
        kernel.routes.update(br.parse_table_routes(IP[f"ip -N -j {fam} route show table 200"], CFG))
        kernel.rules |= br.parse_rules(IP[f"ip -N -j {fam} rule show"], CFG)
    return bgp, kernel


def test_agent_reads_the_fixture():
    bgp, kernel = agent_state()
    assert set(bgp) == {"198.51.100.10/32", "198.51.100.11/32", "2001:db8:100::10/128"}
    assert kernel.routes == {"198.51.100.10/32": 1000003, "2001:db8:100::10/128": 1000006}
    assert kernel.groups[1000003].resilient and kernel.groups[1000003].buckets == 128
    assert kernel.rules == {br.Rule("198.51.100.0/24", 200, 90), br.Rule("2001:db8:100::/64", 200, 90)}
    # one step more for the agent: mirror 198.51.100.11/32, nothing else changes
    assert [a.target for a in br.plan(bgp, kernel, CFG) if a.op.startswith("route")] == ["198.51.100.11/32"]


def test_router_info_and_the_agent_agree_on_the_forwarding_next_hops():
    bgp, kernel = agent_state()
    nexthops = iproute.index_nexthops(IP["ip -N -j nexthop show"])
    for prefix, nhid in kernel.routes.items():
        fam = "-6" if ":" in prefix else "-4"
        fwd = iproute.forwarding(
            prefix, IP[f"ip -N -j {fam} rule show"],
            lambda table, p=prefix, f=fam: IP.get(f"ip -N -j {f} route show table {table} {p}", []), nexthops,
        )  # fmt: skip
        agent = {(g.address, g.dev): w for g, w in br._resolve_nhid(nhid, kernel).items()}
        assert fwd["table"] == CFG.table and fwd["group"]["id"] == nhid
        assert {(h["gateway"], h["dev"]): h["weight"] for h in fwd["next_hops"]} == agent
        # and the same gateways as BGP's main-table route the agent mirrored
        assert {(g.address, g.dev) for g in bgp[prefix]} == set(agent)


def test_lookup_tables_follow_rule_priority_and_skip_selective_rules():
    rules = [
        {"priority": 0, "src": "all", "table": "255"},
        {"priority": 10, "src": "all", "fwmark": "0x62", "table": "98"},  # hand-back: marked packets only
        {"priority": 20, "src": "10.0.0.0", "srclen": 8, "table": "50"},  # some sources only
        {"priority": 90, "src": "all", "dst": "198.51.100.0", "dstlen": 24, "table": "200"},
        {"priority": 91, "src": "all", "dst": "203.0.113.0", "dstlen": 24, "table": "201"},
        {"priority": 32766, "src": "all", "table": "254"},
    ]
    assert iproute.lookup_tables(rules, "198.51.100.10/32") == [200, 254]
    assert iproute.lookup_tables(rules, "192.0.2.1/32") == [254]
    assert iproute.lookup_tables([], "2001:db8::1/128") == [254]
