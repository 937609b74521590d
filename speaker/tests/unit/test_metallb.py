"""MetalLB manifests to bgplb objects (bgplb.sources.metallb) and `bgplbctl import-metallb`: the documented shapes
convert field by field, every refusal names the manifest and the field, and bgplb's own errors come through."""

from __future__ import annotations

import base64
import copy
import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from bgplb import ctl, model
from bgplb.sources.metallb import MetalLBError, convert, go_duration

FIXTURES = Path(__file__).parent.parent / "fixtures" / "metallb"
ASN = 64512
NODE = model.Node(name="n1", router_id="10.0.0.11", asn=ASN, ipv4_next_hop="10.0.0.11", ipv6_next_hop="2001:db8:ff::11")
NS = "metallb-system"


def documented() -> list[dict[str, Any]]:
    return list(yaml.safe_load_all((FIXTURES / "bgp.yaml").read_text()))


def manifest(kind: str, name: str, spec: dict[str, Any] | None = None, version: str = "v1beta1", **meta: Any) -> dict:
    return {"apiVersion": f"metallb.io/{version}", "kind": kind, "metadata": {"name": name, "namespace": NS, **meta},
            **({"spec": spec} if spec is not None else {})}  # fmt: skip


def pool(name: str = "public", addresses: list[str] | None = None, **spec: Any) -> dict:
    return manifest("IPAddressPool", name, {"addresses": addresses or ["198.51.100.0/24"], **spec})


def peer(name: str = "tor", **spec: Any) -> dict:
    return manifest("BGPPeer", name, {"myASN": ASN, "peerASN": 64600, "peerAddress": "100.64.0.1", **spec}, "v1beta2")


def advertisement(name: str = "adv", **spec: Any) -> dict:
    return manifest("BGPAdvertisement", name, spec)


def errors(*manifests: dict, **kwargs: Any) -> list[str]:
    with pytest.raises(MetalLBError) as info:
        convert(manifests, **(kwargs or {"asn": ASN}))
    assert isinstance(info.value, model.ValidationError)  # bgplbctl's exit 2
    return info.value.errors


# --- the documented shapes ------------------------------------------------------------------------------------------
EXPECTED = [
    {"kind": "community", "name": "tenant-blue", "value": "65010:300"},
    {"kind": "pool", "name": "public",
     "addresses": ["198.51.100.0/26", "198.51.100.200-198.51.100.210", "2001:db8:51::/120"]},
    {"kind": "pool", "name": "reserved", "addresses": ["203.0.113.0/28"], "auto_assign": False,
     "avoid_buggy_ips": True, "labels": {"tier": "gold"}},
    {"kind": "peer", "name": "tor-a", "asn": 64600, "address": "100.64.0.1", "hold_time": 90, "keepalive_time": 30,
     "graceful_restart": False,
     "node_selectors": [{"match_labels": {"rack": "r1"}},
                        {"match_expressions": [{"key": "kubernetes.io/hostname", "operator": "In",
                                                "values": ["node-7", "node-8"]}]}],
     "families": ["ipv4", "ipv6"]},
    {"kind": "peer", "name": "tor-b", "asn": 64600, "address": "2001:db8:64::1", "ebgp_multihop": True,
     "password": "not-a-real-key", "port": 1179, "graceful_restart": True, "families": ["ipv4", "ipv6"]},
    {"kind": "advertisement", "name": "per-address", "pools": ["public"], "communities": ["tenant-blue", "65535:65281"],
     "large_communities": ["64512:10:20", "64512:1:1"]},
    {"kind": "advertisement", "name": "aggregated", "aggregation_length": 28, "aggregation_length_v6": 120,
     "peers": ["tor-a"], "pool_selectors": [{"match_labels": {"tier": "gold"}}],
     "node_selectors": [{"match_expressions": [{"key": "node-role.kubernetes.io/edge", "operator": "Exists"}]}]},
]  # fmt: skip


def test_documented_shapes_convert_field_by_field():
    result = convert(documented(), asn=ASN)
    assert list(result.documents) == EXPECTED
    assert [model.kind_of(o) for o in result.objects] == [d["kind"] for d in EXPECTED]
    tor_a = result.objects[3]
    assert isinstance(tor_a, model.Peer) and (tor_a.hold_time, tor_a.keepalive_time, tor_a.port) == (90, 30, 179)
    assert tor_a.node_selectors[1].match_expressions == (
        model.Expression("kubernetes.io/hostname", "In", ("node-7", "node-8")),
    )
    aggregated = result.objects[-1]
    assert aggregated.pool_selectors == (model.Selector(match_labels=(("tier", "gold"),)),)
    # with the real node (its IPv6 next hop for IPv6 routes over the IPv4 session) the result is the same
    assert list(convert(documented(), node=NODE).documents) == EXPECTED


def test_the_result_validates_as_one_bgplb_configuration():
    objects = convert(documented(), asn=ASN).objects
    config = model.Config(node=NODE, peers=tuple(o for o in objects if isinstance(o, model.Peer)),
                          pools=tuple(o for o in objects if isinstance(o, model.Pool)),
                          communities=tuple(o for o in objects if isinstance(o, model.Community)),
                          advertisements=tuple(o for o in objects if isinstance(o, model.Advertisement)))  # fmt: skip
    model.validate_config(config)


def test_kubectl_list_output_is_opened_and_status_and_metadata_are_not_configuration():
    items = documented()
    for item in items:
        item["metadata"].update(uid="0b0e", resourceVersion="41", creationTimestamp="2024-01-01T00:00:00Z")
        item["status"] = {}
    listed = {"apiVersion": "v1", "kind": "List", "items": items[:3]}
    typed = {"apiVersion": "metallb.io/v1beta2", "kind": "BGPPeerList", "items": items[3:5]}
    assert list(convert([listed, typed, *items[5:]], asn=ASN).documents) == EXPECTED


def test_go_zero_values_are_unset():
    """`kubectl get -o yaml` prints Go's zero values of some fields: they mean "not set" in MetalLB too."""
    (p,) = convert([peer(passwordSecret={}, vrf="", bfdProfile="", peerPort=0, password="", sourceAddress="")],
                   asn=ASN).documents  # fmt: skip
    assert p == {"kind": "peer", "name": "tor", "asn": 64600, "address": "100.64.0.1", "graceful_restart": False}
    docs = convert([pool(serviceAllocation=None), advertisement(localPref=0)], asn=ASN).documents
    assert docs[1] == {"kind": "advertisement", "name": "adv"}


def test_peer_fields():
    (p,) = convert([peer(sourceAddress="100.64.0.2", connectTime="5s", holdTime="9s", keepaliveTime="3s",
                         ebgpMultiHop=False, routerID="10.0.0.11", disableMP=True)], node=NODE).documents  # fmt: skip
    assert p == {"kind": "peer", "name": "tor", "asn": 64600, "address": "100.64.0.1", "source_address": "100.64.0.2",
                 "ebgp_multihop": False, "connect_time": 5, "hold_time": 9, "keepalive_time": 3,
                 "graceful_restart": False}  # fmt: skip
    internal = peer(dynamicASN="internal")
    del internal["spec"]["peerASN"]
    assert convert([internal], asn=ASN).documents[0]["asn"] == ASN


def test_multiprotocol_only_when_it_matters_and_not_with_disable_mp():
    v4 = [pool(addresses=["198.51.100.0/24"]), peer(), advertisement()]
    assert "families" not in convert(v4, asn=ASN).documents[1]
    dual = [pool(addresses=["198.51.100.0/24", "2001:db8::/64"]), peer(), advertisement()]
    assert convert(dual, asn=ASN).documents[1]["families"] == ["ipv4", "ipv6"]
    dual[1]["spec"]["disableMP"] = True
    assert "families" not in convert(dual, asn=ASN).documents[1]
    # IPv6 over the IPv4 session needs the node's IPv6 next hop: bgplb's own rule, when the node is known
    no_v6 = model.Node(name="n1", router_id="10.0.0.11", asn=ASN)
    del dual[1]["spec"]["disableMP"]
    assert errors(*dual, node=no_v6) == [
        f"BGPPeer {NS}/tor: peer tor: families: ipv6 over an IPv4 session needs node.ipv6_next_hop"
    ]


def secret(name: str = "tor-auth", **body: Any) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/basic-auth",
            "metadata": {"name": name, "namespace": NS}, **body}  # fmt: skip


def test_password_secret_from_the_documents():
    ref = {"passwordSecret": {"name": "tor-auth", "namespace": NS}}
    key = "s3cret-md5"
    for body in ({"stringData": {"password": key}}, {"data": {"password": base64.b64encode(key.encode()).decode()}}):
        (p,) = convert([secret(**body), peer(**ref)], asn=ASN).documents
        assert p["password"] == key
    assert errors(peer(**ref)) == [f"BGPPeer {NS}/tor: spec.passwordSecret: Secret {NS}/tor-auth is not among the "
                                   "documents: add it (kubectl get secret -o yaml) or give password"]  # fmt: skip
    assert errors(secret(data={"password": "%%%"}), peer(**ref)) == [
        f"Secret {NS}/tor-auth: data.password: is not base64 of UTF-8 text"
    ]
    assert errors(secret(data={}), peer(**ref)) == [
        f"Secret {NS}/tor-auth: data.password: is missing: BGPPeer {NS}/tor takes its password from it"
    ]
    assert errors(secret(stringData={"password": key}), peer()) == [
        f"Secret {NS}/tor-auth: not converted: only a Secret that a BGPPeer's passwordSecret names is read"
    ]
    assert errors(secret(stringData={"password": key}), peer(password="x", **ref)) == [
        f"BGPPeer {NS}/tor: spec.passwordSecret: password and passwordSecret exclude each other"
    ]


def test_community_aliases_and_values():
    aliases = manifest("Community", "c", {"communities": [{"name": "gold", "value": "65000:1"},
                                                          {"name": "wide", "value": "large:1:2:3"}]})  # fmt: skip
    docs = convert([aliases, pool(), advertisement(communities=["gold", "wide", "no-export", "large:7:8:9"])],
                   asn=ASN).documents  # fmt: skip
    assert docs[0] == {"kind": "community", "name": "gold", "value": "65000:1"}
    assert docs[-1] == {"kind": "advertisement", "name": "adv", "communities": ["gold", "no-export"],
                        "large_communities": ["1:2:3", "7:8:9"]}  # fmt: skip


# --- refusals: each names the manifest and the field ----------------------------------------------------------------
BFD = "BFD profiles are not converted: give the bgplb peer its `bfd` settings (speaker/docs/bfd.md)"
REFUSALS = [
    (manifest("L2Advertisement", "l2", {"ipAddressPools": ["public"]}),
     f"L2Advertisement {NS}/l2: not converted: bgplb announces over BGP only; L2 mode (ARP/NDP answers) is not "
     "supported"),
    (manifest("BFDProfile", "fast", {"receiveInterval": 300, "transmitInterval": 300}),
     f"BFDProfile {NS}/fast: not converted: {BFD}"),
    (peer(bfdProfile="fast"), f"BGPPeer {NS}/tor: spec.bfdProfile: not supported: {BFD}"),
    (peer(vrf="red"), f"BGPPeer {NS}/tor: spec.vrf: not supported: bgplb peers from the node's main routing table "
                      "only (no VRFs)"),
    (peer(interface="eth1"), f"BGPPeer {NS}/tor: spec.interface: not supported: BGP unnumbered (peering over an "
                             "interface) is not supported: give peerAddress"),
    (pool(serviceAllocation={"priority": 50, "namespaces": ["web"]}),
     f"IPAddressPool {NS}/public: spec.serviceAllocation: not supported: bgplb does not restrict a pool to namespaces "
     "or services, nor rank pools by priority; pick a pool with the metallb.io/address-pool annotation"),
    (peer(myASN=64513), f"BGPPeer {NS}/tor: spec.myASN: 64513 is not the node's asn 64512: bgplb has one AS per node "
                        "(node.asn, the inventory's bgplb_node_asn / bgplb_asn)"),
    (peer(myASN=None), f"BGPPeer {NS}/tor: spec.myASN: is required"),
    (peer(dynamicASN="external", peerASN=0), f"BGPPeer {NS}/tor: spec.dynamicASN: 'external' is not supported: bgplb "
                                             "needs the neighbor's AS (give peerASN); `internal` is the node's own AS"),
    (peer(dynamicASN="internal"), f"BGPPeer {NS}/tor: spec.dynamicASN: peerASN and dynamicASN exclude each other"),
    (peer(routerID="10.9.9.9"), f"BGPPeer {NS}/tor: spec.routerID: '10.9.9.9' is set per node in bgplb: the BGP "
                                "identifier is node.router_id (inventory bgplb_router_id); remove routerID"),
    (peer(holdTime="1.5s"), f"BGPPeer {NS}/tor: spec.holdTime: '1.5s' is not a whole number of seconds"),
    (peer(keepaliveTime="30"), f"BGPPeer {NS}/tor: spec.keepaliveTime: '30' is not a duration (a number and a unit, "
                               "ns to h: 90s, 1m30s)"),
    (peer(connectTime=5), f"BGPPeer {NS}/tor: spec.connectTime: expected a duration such as 90s or 1m30s, got 5"),
    (peer(peerAsn=64600), f"BGPPeer {NS}/tor: spec.peerAsn: unknown field"),
    (peer(nodeSelectors=[{"matchLabel": {"a": "b"}}]),
     f"BGPPeer {NS}/tor: spec.nodeSelectors[0].matchLabel: unknown field"),
    (advertisement(nodeSelectors=[{"matchExpressions": [{"key": "a", "operator": "Exists", "value": "x"}]}]),
     f"BGPAdvertisement {NS}/adv: spec.nodeSelectors[0].matchExpressions[0].value: unknown field"),
    (advertisement(ipAddressPoolSelectors={"matchLabels": {}}),
     f"BGPAdvertisement {NS}/adv: spec.ipAddressPoolSelectors: expected a list of label selectors, got "
     "{'matchLabels': {}}"),
    ({**pool(), "data": {}}, f"IPAddressPool {NS}/public: data: unknown field"),
    ({**pool(), "apiVersion": "metallb.io/v1alpha1"},
     f"IPAddressPool {NS}/public: apiVersion: 'metallb.io/v1alpha1' is not metallb.io/v1beta1"),
    ({**peer(), "apiVersion": "metallb.io/v1"},
     f"BGPPeer {NS}/tor: apiVersion: 'metallb.io/v1' is not metallb.io/v1beta2 or metallb.io/v1beta1"),
    (manifest("AddressPool", "old", {"protocol": "bgp"}),
     f"AddressPool {NS}/old: not converted: MetalLB's removed AddressPool kind: convert it to an IPAddressPool and a "
     "BGPAdvertisement"),
    ({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}},
     "Service web: kind: Service is not a MetalLB resource bgplb reads (IPAddressPool, BGPAdvertisement, Community, "
     "BGPPeer)"),
    ({"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool", "spec": {}},
     "document 0: IPAddressPool: metadata.name: is required"),
    (["not", "a", "manifest"], "document 0: expected a Kubernetes manifest (a mapping with apiVersion and kind)"),
    (manifest("Community", "c", {"communities": [{"name": "x", "value": "1:2", "color": "red"}]}),
     f"Community {NS}/c: spec.communities[0].color: unknown field"),
    # bgplb's own messages, behind the manifest they come from
    (pool(addresses=["10.0.0.x"]), f"IPAddressPool {NS}/public: pool public: addresses[0]: 10.0.0.x is not an IP"),
    (pool(autoAssign="yes"), f"IPAddressPool {NS}/public: pool public: auto_assign: expected true or false, got 'yes'"),
    (peer(holdTime="9s", keepaliveTime="5s"),
     f"BGPPeer {NS}/tor: peer tor: keepalive_time: must be at most a third of hold_time (9)"),
    (advertisement(aggregationLength=33),
     f"BGPAdvertisement {NS}/adv: advertisement adv: aggregation_length: expected an integer from 8 to 32, got 33"),
    (manifest("Community", "c", {"communities": [{"name": "bad", "value": "1:2:3"}]}),
     f"Community {NS}/c: community bad: value: '1:2:3' is not a community (ASN:VALUE, each 0-65535, or a well-known "
     "name)"),
]  # fmt: skip


@pytest.mark.parametrize(("bad", "message"), REFUSALS, ids=[m.split(":")[0] + str(i) for i, (_, m) in
                                                              enumerate(REFUSALS)])  # fmt: skip
def test_each_refusal_names_manifest_and_field(bad, message):
    assert errors(bad) == [message]


def test_cross_object_errors_are_bgplbs_behind_their_manifest():
    assert errors(pool(), advertisement(ipAddressPools=["nope"], peers=["tor"])) == [
        f"BGPAdvertisement {NS}/adv: advertisement adv: pools[0]: no pool named nope",
        f"BGPAdvertisement {NS}/adv: advertisement adv: peers[0]: no peer named tor",
    ]
    assert errors(pool(), peer(), advertisement(localPref=200)) == [
        f"BGPAdvertisement {NS}/adv: advertisement adv: local_pref: only for iBGP peers, peer tor is eBGP (asn 64600 "
        "!= node asn 64512)"
    ]
    assert errors(pool(), pool("other", ["198.51.100.128/25"])) == [
        f"IPAddressPool {NS}/other: pool other: addresses overlap pool public (198.51.100.0/24 and 198.51.100.128/25)"
    ]
    assert errors(pool(), advertisement(communities=["gold"])) == [
        f"BGPAdvertisement {NS}/adv: advertisement adv: communities[0]: 'gold' is not a community (ASN:VALUE, each "
        "0-65535, or a well-known name) (nor the name of a community object)"
    ]
    assert errors(pool(), advertisement(aggregationLength=16)) == [
        f"BGPAdvertisement {NS}/adv: advertisement adv: aggregation_length: 16 is shorter than /24 of pool public "
        "(198.51.100.0/24): routers would get addresses outside the pool"
    ]


def test_router_id_against_the_node_and_every_problem_at_once():
    assert convert([peer(routerID="10.0.0.11")], node=NODE).documents[0]["name"] == "tor"
    assert errors(peer(routerID="10.0.0.12"), node=NODE) == [
        f"BGPPeer {NS}/tor: spec.routerID: '10.0.0.12' is not this node's router_id 10.0.0.11: the BGP identifier is "
        "node.router_id (inventory bgplb_router_id); remove routerID"
    ]
    everything = [bad for bad, _ in REFUSALS[:6]]
    assert errors(*everything) == [m for _, m in REFUSALS[:6]]


def test_input_is_not_modified():
    docs = documented()
    before = copy.deepcopy(docs)
    convert(docs, asn=ASN)
    assert docs == before


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("1m30s", 90), ("1h", 3600), ("1.5m", 90), ("0s", 0),
                                               ("0", 0), ("500ms", 0.5), ("2h0m0s", 7200), ("+3s", 3)])  # fmt: skip
def test_go_durations(text, seconds):
    assert go_duration(text) == seconds


@pytest.mark.parametrize("text", ["90", "s", "1x", "1m 30s", "-3s", "", "1.s5"])
def test_not_go_durations(text):
    with pytest.raises(ValueError):
        go_duration(text)


# --- bgplbctl import-metallb ----------------------------------------------------------------------------------------
@pytest.fixture
def run(tmp_path, capsys, monkeypatch):
    root = tmp_path / "etc"
    root.mkdir()

    def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        capsys.readouterr()
        code = ctl.main(["--config-dir", str(root), "--socket", str(tmp_path / "none.sock"), *args])
        out, err = capsys.readouterr()
        return code, out, err

    run.dir = root
    return run


def test_ctl_converts_to_yaml_that_bgplbctl_applies(run):
    code, out, err = run("import-metallb", "-f", str(FIXTURES / "bgp.yaml"), "--asn", str(ASN))
    assert (code, err) == (0, "")
    assert yaml.safe_load(out) == EXPECTED
    node = {"name": "n1", "router_id": "10.0.0.11", "asn": ASN, "ipv4_next_hop": "10.0.0.11",
            "ipv6_next_hop": "2001:db8:ff::11"}  # fmt: skip
    (run.dir / "speaker.yaml").write_text(yaml.safe_dump({"node": node}))
    code, applied, err = run("apply", "-f", "-", stdin=out)
    assert code == 0, err
    assert [line.split()[:2] for line in applied.splitlines()[:7]] == [
        [f"{d['kind']}/{d['name']}", "created"] for d in EXPECTED
    ]
    code, stored, _ = run("--json", "get", "peer", "tor-b")
    assert json.loads(stored)["items"][0]["password"] == model.REDACTED
    # without --asn: the node of speaker.yaml (and its router id, which a BGPPeer's routerID may repeat)
    code, again, err = run("--json", "import-metallb", "-f", str(FIXTURES / "bgp.yaml"))
    assert (code, err) == (0, "") and json.loads(again) == {"ok": True, "items": EXPECTED}


def test_ctl_refuses_with_every_message_and_prints_nothing_else(run, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump_all([pool(), manifest("L2Advertisement", "l2", {}), peer(vrf="red")]))
    code, out, err = run("import-metallb", "-f", str(bad), "--asn", str(ASN))
    assert (code, out) == (2, "")
    assert err.splitlines() == [f"bgplbctl: {bad}: {REFUSALS[0][1]}", f"bgplbctl: {bad}: {REFUSALS[3][1]}"]
    code, out, err = run("--json", "import-metallb", "-f", str(bad), "--asn", str(ASN))
    assert code == 2 and err == ""
    assert json.loads(out)["errors"] == [f"{bad}: {REFUSALS[0][1]}", f"{bad}: {REFUSALS[3][1]}"]
    code, out, err = run("import-metallb", "-f", "-", "--json", stdin="a: [")
    assert code == 2 and json.loads(out)["ok"] is False
    code, out, err = run("import-metallb", "-f", str(FIXTURES / "bgp.yaml"))
    assert (code, out) == (2, "")
    assert err == (f"bgplbctl: the node's AS is needed to check BGPPeer myASN: give --asn, or a --config-dir whose "
                   f"speaker.yaml defines the node ({run.dir / 'speaker.yaml'} does not exist)\n")  # fmt: skip
    code, out, err = run("import-metallb", "-f", str(FIXTURES / "bgp.yaml"), "--asn", "64512", "--router-id", "x")
    assert code == 2 and out == "" and "router_id" in err
