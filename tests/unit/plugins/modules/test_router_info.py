"""router_info: parsing of FRR 8.4 JSON and iproute2 JSON (shapes captured from a bookworm FRR 8.4.4 router)."""

from __future__ import annotations

import json
from pathlib import Path

from ansible_collections.baremetal.bgplb.plugins.modules import router_info as ri

DETAIL_TABLE = {  # show bgp ipv4 unicast json detail: a {prefix, version} header, then the paths
    "routes": {
        "198.51.100.10/32": [
            {"prefix": "198.51.100.10/32", "version": 1},
            {"aspath": {"string": "64512", "segments": [{"type": "as-sequence", "list": [64512]}], "length": 1},
             "origin": "IGP", "valid": True, "multipath": True, "bestpath": {"overall": True},
             "community": {"string": "65000:100", "list": ["65000:100"]},
             "nexthops": [{"ip": "10.89.77.3", "afi": "ipv4", "used": True}],
             "peer": {"peerId": "10.89.77.3", "routerId": "10.89.77.3", "type": "external"}},
            {"aspath": {"string": "64512"}, "origin": "IGP", "valid": True, "multipath": True,
             "nexthops": [{"ip": "10.89.77.4", "afi": "ipv4", "used": True}], "peer": {"peerId": "10.89.77.4"}},
        ]
    }
}  # fmt: skip


class FakeModule:
    def __init__(self, outputs, **params):
        self.outputs = outputs
        self.params = {"vtysh_path": "vtysh", "ip_path": "ip", "prefixes": None, "families": ["ipv4"], **params}
        self.calls = []

    def run_command(self, args, check_rc=False):
        self.calls.append(args)
        key = " ".join(args)
        for pattern, out in self.outputs.items():
            if pattern in key:
                return 0, out if isinstance(out, str) else json.dumps(out), ""
        return 1, "", f"unexpected {key}"

    def fail_json(self, **kw):
        raise AssertionError(kw)


def test_decode_all_reads_concatenated_documents():
    assert ri.decode_all('{"a": 1}\n{}\n { "b": [2] } \n') == [{"a": 1}, {}, {"b": [2]}]


def test_table_detail_skips_header_and_reads_flags():
    router = ri.Router(FakeModule({"json detail": DETAIL_TABLE}))
    routes = ri.bgp_routes(router, router.module)
    paths = routes["198.51.100.10/32"]["paths"]
    assert [p["next_hop"] for p in paths] == ["10.89.77.3", "10.89.77.4"]
    assert paths[0]["bestpath"] and not paths[1]["bestpath"] and all(p["multipath"] for p in paths)
    assert paths[0]["as_path"] == [64512] and paths[0]["communities"] == ["65000:100"]


def test_prefixes_are_canonical_and_unknown_ones_are_empty():
    module = FakeModule({"vtysh": '{"prefix": "198.51.100.10/32", "paths": []}\n{}\n'},
                        prefixes=["198.51.100.10", "2001:db8::1/128"])  # fmt: skip
    routes = ri.bgp_routes(ri.Router(module), module)
    assert routes == {"198.51.100.10/32": {"family": "ipv4", "paths": []},
                      "2001:db8::1/128": {"family": "ipv6", "paths": []}}  # fmt: skip
    assert module.calls[0] == ["vtysh", "-c", "show bgp ipv4 unicast 198.51.100.10/32 json",
                               "-c", "show bgp ipv6 unicast 2001:db8::1/128 json"]  # fmt: skip


FIXTURE = json.loads((Path(__file__).parents[3] / "fixtures" / "iproute_resilient_router.json").read_text())


class KernelModule(FakeModule):
    """`ip` answers exactly from the captured fixture; a table without the route answers [] like the kernel."""

    def run_command(self, args, check_rc=False):
        self.calls.append(args)
        key = " ".join(args)
        if key in FIXTURE["commands"]:
            return 0, json.dumps(FIXTURE["commands"][key]), ""
        return 2, "", "Error: ipv4: FIB table does not exist.\nDump terminated\n"


def test_kernel_reads_the_table_that_forwards_with_the_resilient_agent():
    """Issue 12 #1: rule `to 198.51.100.0/24 lookup 200` (priority 90) wins over main: the resilient group's route."""
    router = ri.Router(KernelModule({}))
    got = ri.kernel_routes(router, ["198.51.100.10/32", "2001:db8:100::10/128", "198.51.100.11/32", "198.51.100.99/32"])
    v4 = got["198.51.100.10/32"]
    assert v4["table"] == 200 and v4["protocol"] == "250"
    assert v4["group"] == {"id": 1000003, "type": "resilient", "buckets": 128, "members": [1000001, 1000002]}
    assert [h["gateway"] for h in v4["next_hops"]] == ["10.0.0.2", "10.0.0.3"]
    v6 = got["2001:db8:100::10/128"]
    assert v6["table"] == 200 and v6["group"]["type"] == "resilient"
    assert [h["gateway"] for h in v6["next_hops"]] == ["fd00::2", "fd00::3"]
    # not (yet) mirrored by the agent: main forwards it, through no group
    main_only = got["198.51.100.11/32"]
    assert main_only["table"] == 254 and main_only["protocol"] == "186" and main_only["group"] is None
    assert main_only["next_hops"] == [{"gateway": "10.0.0.2", "dev": "eth1", "weight": 1}]
    assert got["198.51.100.99/32"] is None


def test_kernel_nhid_only_routes_resolve_through_the_nexthop_objects():
    """net.ipv4.nexthop_compat_mode=0: a route only carries its nexthop id; group weights are kept."""
    router = ri.Router(FakeModule({
        "nexthop show": [{"id": 11, "gateway": "10.89.77.3", "dev": "eth0"}, {"id": 20, "gateway": "10.89.77.4",
                         "dev": "eth0"}, {"id": 19, "group": [{"id": 11}, {"id": 20, "weight": 3}]}],
        "rule show": [{"priority": 32766, "src": "all", "table": "254"}],
        "table 254 198.51.100.11/32": [{"dst": "198.51.100.11", "nhid": 19, "protocol": "186"}],
    }))  # fmt: skip
    fwd = ri.kernel_routes(router, ["198.51.100.11/32"])["198.51.100.11/32"]
    assert fwd["next_hops"] == [{"gateway": "10.89.77.3", "dev": "eth0", "weight": 1},
                                {"gateway": "10.89.77.4", "dev": "eth0", "weight": 3}]  # fmt: skip
    assert fwd["group"] == {"id": 19, "type": "mpath", "buckets": None, "members": [11, 20]}


def test_neighbors_from_detail_and_summary():
    detail = {"BGPLB_NODES": {"peerGroupMembers": {}},
              "10.89.77.3": {"remoteAs": 64512, "localAs": 64500, "bgpState": "Established", "bgpTimerUpMsec": 29000,
                             "nbrDesc": "n1", "peerGroup": "BGPLB_NODES", "connectionsEstablished": 1,
                             "addressFamilyInfo": {"ipv4Unicast": {"acceptedPrefixCounter": 1}}}}  # fmt: skip
    summary = {"ipv4Unicast": {"peers": {"10.89.77.3": {"pfxRcd": 2, "state": "Established"}}}}
    module = FakeModule({"show bfd peers json": [], "vtysh": json.dumps(detail) + "\n" + json.dumps(summary)})
    (n,) = ri.neighbors(ri.Router(module), ["ipv4", "ipv6"])
    assert n["address"] == "10.89.77.3" and n["state"] == "Established" and n["uptime_msec"] == 29000
    assert n["remote_as"] == 64512 and n["prefixes_received"] == {"ipv4": 2} and n["peer_group"] == "BGPLB_NODES"


BFD = json.loads((Path(__file__).parents[3] / "fixtures" / "frr_bfd_peers.json").read_text())


def bfd_module(state, **outputs):
    """vtysh answers from the FRR 8.4.4 capture (`up` or `down`): neighbors + summary in one run, bfdd's peers."""
    shows = BFD[state]
    return FakeModule({
        "show bfd peers json": shows["show bfd peers json"],
        "show bgp neighbors json": json.dumps(shows["show bgp neighbors json"]) + "\n"
        + json.dumps(shows["show bgp summary json"]),
        **outputs,
    })  # fmt: skip


def test_neighbors_carry_bfdd_sessions_up():
    a = BFD["addresses"]
    got = {n["address"]: n for n in ri.neighbors(ri.Router(bfd_module("up")), ["ipv4", "ipv6"])}
    assert sorted(got) == [a["node_v4"], a["node_v6"]]
    v4, v6 = got[a["node_v4"]], got[a["node_v6"]]
    assert v4["state"] == "Established" and v4["description"] == "n1"
    assert v4["bfd"]["status"] == "up" and v6["bfd"]["status"] == "up"
    assert v4["bfd"]["local"] == a["router_v4"] and v6["bfd"]["local"] == a["router_v6"]
    assert v4["bfd"]["multihop"] is False and v4["bfd"]["diagnostic"] == "ok"
    # the profile's timers (200/150 x 3) locally, the node's defaults (300/300 x 3) remotely
    s = v4["bfd"]
    assert (s["receive_interval"], s["transmit_interval"], s["detect_multiplier"]) == (200, 150, 3)
    assert (s["remote_receive_interval"], s["remote_transmit_interval"], s["remote_detect_multiplier"]) == (300, 300, 3)
    assert v4["bfd"]["uptime_s"] is not None and v4["bfd"]["downtime_s"] is None


def test_neighbors_carry_bfdd_sessions_down():
    a = BFD["addresses"]
    got = {n["address"]: n for n in ri.neighbors(ri.Router(bfd_module("down")), ["ipv4", "ipv6"])}
    v4 = got[a["node_v4"]]
    assert v4["state"] != "Established"  # bgpd took the session down with BFD
    assert v4["bfd"]["status"] == "down" and v4["bfd"]["diagnostic"] == "control detection time expired"
    assert v4["bfd"]["downtime_s"] is not None and v4["bfd"]["uptime_s"] is None


def test_bfd_is_null_without_bfdd_or_without_a_session():
    class NoBfdd(FakeModule):
        def run_command(self, args, check_rc=False):
            if "show bfd peers json" in args:  # what vtysh does when bfdd is not running
                self.calls.append(args)
                return 1, "", "bfdd is not running\n"
            return super().run_command(args, check_rc)

    shows = BFD["up"]
    module = NoBfdd({"vtysh": json.dumps(shows["show bgp neighbors json"]) + json.dumps(shows["show bgp summary json"])
                     })  # fmt: skip
    got = ri.neighbors(ri.Router(module), ["ipv4", "ipv6"])
    assert len(got) == 2 and all(n["bfd"] is None for n in got)
    # a session for another address (or another VRF) is nobody's
    a = BFD["addresses"]
    other = [dict(p, peer="192.0.2.9") for p in BFD["up"]["show bfd peers json"]]
    other += [dict(p, vrf="blue") for p in BFD["up"]["show bfd peers json"]]
    got = ri.neighbors(ri.Router(bfd_module("up", **{"show bfd peers json": other})), ["ipv4"])
    assert [n["bfd"] for n in got if n["address"] == a["node_v4"]] == [None]
    # bfd=false does not even ask bfdd
    module = bfd_module("up")
    got = ri.neighbors(ri.Router(module), ["ipv4"], bfd=False)
    assert all(n["bfd"] is None for n in got) and not any("show bfd peers json" in c for c in module.calls)


def test_bfd_session_up_wins_over_a_down_one_for_the_same_address():
    up = BFD["up"]["show bfd peers json"][0]
    down = dict(up, status="down", multihop=True)
    assert ri.bfd_sessions([down, up])[up["peer"]]["status"] == "up"
    assert ri.bfd_sessions([up, down])[up["peer"]]["multihop"] is False
