"""MetalLB manifests, converted by `bgplbctl import-metallb` and applied with `bgplbctl apply` to a real speaker,
give the routes MetalLB would announce at a real FRR: per-address and aggregated prefixes, communities from aliases
and values (standard and large), node selectors deciding which advertisements this node makes, IPv6 over the IPv4
session (MetalLB's multiprotocol default)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml

from harness import FrrRouter, Neighbor, NetnsPair, Speaker, wait_for

NODE_ASN, FRR_ASN, NS = 64512, 64500, "metallb-system"


def manifests(router: str) -> list[dict]:
    """The shapes of MetalLB's BGP examples (our own names and values), peering with `router`."""

    def m(kind: str, name: str, spec: dict, version: str = "v1beta1", **meta: object) -> dict:
        return {"apiVersion": f"metallb.io/{version}", "kind": kind,
                "metadata": {"name": name, "namespace": NS, **meta}, "spec": spec}  # fmt: skip

    return [
        m("IPAddressPool", "public", {"addresses": ["198.51.100.0/26", "198.51.100.200-198.51.100.210",
                                                    "2001:db8:51::/120"]}),
        m("IPAddressPool", "reserved", {"addresses": ["203.0.113.0/28"], "autoAssign": False},
          labels={"tier": "gold"}),
        m("Community", "aliases", {"communities": [{"name": "tenant-blue", "value": "65010:300"},
                                                   {"name": "backbone-only", "value": "large:64512:10:20"}]}),
        m("BGPPeer", "tor", {"myASN": NODE_ASN, "peerASN": FRR_ASN, "peerAddress": router, "holdTime": "9s",
                             "keepaliveTime": "3s", "connectTime": "1s", "passwordSecret": {},
                             "nodeSelectors": [{"matchLabels": {"rack": "r1"}}]}, "v1beta2"),
        m("BGPAdvertisement", "per-address", {"ipAddressPools": ["public"],
                                              "communities": ["tenant-blue", "65535:65281", "backbone-only",
                                                              "large:64512:1:1"]}),
        m("BGPAdvertisement", "aggregated", {"ipAddressPoolSelectors": [{"matchLabels": {"tier": "gold"}}],
                                             "aggregationLength": 28, "peers": ["tor"],
                                             "nodeSelectors": [{"matchExpressions": [{"key": "rack",
                                                                                      "operator": "Exists"}]}]}),
        m("BGPAdvertisement", "other-racks", {"ipAddressPools": ["public"], "communities": ["65000:999"],
                                              "nodeSelectors": [{"matchLabels": {"rack": "r2"}}]}),
    ]  # fmt: skip


def test_converted_metallb_manifests_give_metallbs_routes_at_frr():
    with NetnsPair() as net:
        neighbors = [Neighbor(net.left_v4, NODE_ASN)]
        with FrrRouter(net.right, asn=FRR_ASN, router_id="10.255.0.1", neighbors=neighbors) as frr:
            node = {"name": "n1", "router_id": net.left_v4, "asn": NODE_ASN, "labels": {"rack": "r1"},
                    "ipv6_next_hop": net.left_v6}  # fmt: skip
            with Speaker(net.left, {"node": node}) as sp, tempfile.TemporaryDirectory() as tmp:
                wait_for(lambda: sp.ctl("status", check=False).returncode == 0, what="the speaker's API")
                source = Path(tmp) / "metallb.yaml"
                source.write_text(yaml.safe_dump_all(manifests(net.right_v4)))
                converted = sp.ctl("import-metallb", "-f", str(source)).stdout  # the node from speaker.yaml
                objects = yaml.safe_load(converted)
                (peer,) = [o for o in objects if o["kind"] == "peer"]
                assert peer == {"kind": "peer", "name": "tor", "asn": FRR_ASN, "address": net.right_v4,
                                "hold_time": 9, "keepalive_time": 3, "connect_time": 1, "graceful_restart": False,
                                "node_selectors": [{"match_labels": {"rack": "r1"}}],
                                "families": ["ipv4", "ipv6"]}  # fmt: skip
                applied = sp.ctl("apply", "-f", "-", input=converted).stdout
                assert applied.splitlines()[-1] == "speaker reloaded"
                # the Kubernetes Services' addresses (what the Kubernetes source would give the speaker)
                sp.apply({"kind": "service", "name": "web", "address": ["198.51.100.10", "2001:db8:51::10"]},
                         {"kind": "service", "name": "api", "address": "198.51.100.205"},
                         {"kind": "service", "name": "gold", "address": "203.0.113.5"})  # fmt: skip

                wait_for(lambda: frr.established(net.left_v4), timeout=15, what="the session")
                want4 = {"198.51.100.10/32", "198.51.100.205/32", "203.0.113.0/28"}
                wait_for(lambda: set(frr.routes()) == want4, what="the IPv4 routes at FRR")
                wait_for(lambda: set(frr.routes("ipv6")) == {"2001:db8:51::10/128"}, what="the IPv6 route at FRR")
                for prefix, paths in [*frr.routes().items(), *frr.routes("ipv6").items()]:
                    (p,) = paths
                    assert p.as_path == (NODE_ASN,) and p.origin == "IGP", prefix
                    assert p.next_hop == (net.left_v6 if ":" in prefix else net.left_v4), prefix
                    if prefix == "203.0.113.0/28":  # the aggregated advertisement: no communities
                        assert (p.communities, p.large_communities) == ((), ()), prefix
                    else:  # per-address: aliases resolved, values kept; rack r2's advertisement not made here
                        assert set(p.communities) == {"65010:300", "no-export"}, prefix
                        assert set(p.large_communities) == {"64512:10:20", "64512:1:1"}, prefix
