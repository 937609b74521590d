"""Kubernetes LoadBalancer Services end to end: a real etcd + kube-apiserver (RBAC on, token users), three real
speakers in network namespaces peering with a real FRR, Services, EndpointSlices and Nodes created through the API
as the control plane would (there is no kubelet). One rig serves every test of this module; each test removes the
Services it made. Speaker n3's credentials lack `services/status`: it must never allocate, and must still announce.
"""

from __future__ import annotations

import contextlib
import copy
import ipaddress
import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from harness import FrrRouter, Neighbor, Speaker, wait_for
from harness.kube import REPO, ControlPlane
from harness.lan import Lan

NODE_ASN, ROUTER_ASN = 64512, 64500
NAMES = ("n1", "n2", "n3")
LEASE_NS = "bgplb-system"
PUBLIC4, PUBLIC6, RESERVED = "198.51.100.0/24", "2001:db8:100::/120", "203.0.113.0/29"


class Rig:
    def __init__(self, lan: Lan, cp: ControlPlane, frr: FrrRouter) -> None:
        self.lan, self.cp, self.frr = lan, cp, frr
        self.api = cp.client()
        self.core = client.CoreV1Api(self.api)
        self.discovery = client.DiscoveryV1Api(self.api)
        self.speakers: dict[str, Speaker] = {}
        self.started: list[Speaker] = []

    # --- speakers --------------------------------------------------------------------------------------------------
    def speaker_config(self, i: int) -> dict[str, Any]:
        name = NAMES[i]
        kubeconfig = self.cp.kubeconfig(f"bgplb:{name}", Path(self.cp.dir) / f"kubeconfig-{name}")
        return {
            "node": {
                "name": name,
                "router_id": self.lan.node_v4[i],
                "asn": NODE_ASN,
                "ipv6_next_hop": self.lan.node_v6[i],
            },
            "peers": [
                {
                    "name": "r1",
                    "address": self.lan.router_v4,
                    "asn": ROUTER_ASN,
                    "hold_time": 9,
                    "connect_time": 1,
                    "families": ["ipv4", "ipv6"],
                }
            ],
            "pools": [
                {"name": "public", "addresses": [PUBLIC4, PUBLIC6]},
                {"name": "reserved", "addresses": [RESERVED], "auto_assign": False},
            ],
            "advertisements": [{"name": "all"}],
            "kubernetes": {
                "kubeconfig": str(kubeconfig),
                "metallb": True,
                "lease_namespace": LEASE_NS,
                "lease_duration": 4,
                "renew_deadline": 3,
                "retry_period": 0.5,
            },
        }

    def start_speaker(self, i: int) -> Speaker:
        sp = Speaker(self.lan.nodes[i], self.speaker_config(i)).start()
        self.speakers[NAMES[i]] = sp
        self.started.append(sp)
        return sp

    def logs(self) -> str:
        return "\n".join(f"--- {n}\n{sp.log()[-3000:]}" for n, sp in self.speakers.items())

    def close(self) -> None:
        for sp in self.started:
            sp.__exit__()

    def kube_status(self, name: str) -> dict[str, Any]:
        result = self.speakers[name].ctl("--json", "status", check=False)
        return json.loads(result.stdout).get("kubernetes", {}) if result.returncode == 0 else {}

    def leader(self) -> str | None:
        leaders = [n for n in self.speakers if self.kube_status(n).get("allocator", {}).get("leading")]
        assert len(leaders) <= 1, f"two allocators at once: {leaders}"
        return leaders[0] if leaders else None

    # --- cluster objects -------------------------------------------------------------------------------------------
    def service(
        self, name: str, *, annotations: dict[str, str] | None = None, ports: tuple[int, ...] = (80,), **spec: Any
    ) -> dict[str, Any]:
        body = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "annotations": annotations or {}},
            "spec": {
                "type": "LoadBalancer",
                "selector": {"app": name},
                "ports": [{"name": f"p{p}", "port": p, "protocol": "TCP"} for p in ports],
                **spec,
            },
        }
        return self.core.create_namespaced_service("default", body).to_dict()

    def ingress(self, name: str) -> tuple[str, ...]:
        svc = self.core.read_namespaced_service_status(name, "default")
        return tuple(i.ip for i in (svc.status.load_balancer.ingress or ()))

    def wait_ingress(self, name: str, timeout: float = 20) -> tuple[str, ...]:
        return wait_for(lambda: self.ingress(name), timeout=timeout, what=f"an address for service {name}")

    def delete(self, *names: str) -> None:
        for name in names:
            with contextlib.suppress(client.ApiException):
                self.core.delete_namespaced_service(name, "default")
            with contextlib.suppress(client.ApiException):
                self.discovery.delete_namespaced_endpoint_slice(f"{name}-1", "default")

    def endpoints(self, service: str, nodes: dict[str, bool]) -> None:
        body = {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "addressType": "IPv4",
            "metadata": {"name": f"{service}-1", "labels": {"kubernetes.io/service-name": service}},
            "ports": [{"name": "p80", "port": 8080, "protocol": "TCP"}],
            "endpoints": [
                {"addresses": [f"10.244.{i}.5"], "nodeName": n, "conditions": {"ready": ready}}
                for i, (n, ready) in enumerate(nodes.items())
            ],
        }
        try:
            self.discovery.replace_namespaced_endpoint_slice(f"{service}-1", "default", body)
        except client.ApiException as err:
            if err.status != 404:
                raise
            self.discovery.create_namespaced_endpoint_slice("default", body)

    def events(self, name: str) -> list[tuple[str, str, str]]:
        items = self.core.list_namespaced_event("default", field_selector=f"involvedObject.name={name}").items
        return [(e.type, e.reason, e.message) for e in items]

    # --- the router ------------------------------------------------------------------------------------------------
    def announcers(self, address: str) -> set[str]:
        """The nodes FRR has a path from for the address's host prefix."""
        ip = ipaddress.ip_address(address)
        afi, length = ("ipv6", 128) if ip.version == 6 else ("ipv4", 32)
        paths = self.frr.paths(f"{ip}/{length}", afi)
        by_address = dict(zip(self.lan.node_v4 + self.lan.node_v6, NAMES + NAMES, strict=True))
        return {by_address.get(p.peer or p.next_hop, p.peer or p.next_hop) for p in paths}

    def wait_announcers(self, address: str, want: set[str], timeout: float = 15) -> None:
        wait_for(
            lambda: self.announcers(address) == want,
            timeout=timeout,
            what=f"{address} announced by exactly {sorted(want)} (now {sorted(self.announcers(address))})",
        )

    def sessions(self) -> dict[str, tuple[int, int]]:
        out = {}
        for name, address in zip(NAMES, self.lan.node_v4, strict=True):
            n = self.frr.neighbor(address)
            out[name] = (n["connectionsEstablished"], n["connectionsDropped"])
        return out


def _rbac(rig: Rig) -> None:
    rbac = client.RbacAuthorizationV1Api(rig.api)
    roles = list(yaml.safe_load_all((REPO / "speaker/deploy/clusterrole.yaml").read_text()))
    restricted = copy.deepcopy(roles[0])
    restricted["metadata"]["name"] = "bgplb-speaker-no-status"
    restricted["rules"] = [r for r in restricted["rules"] if r["resources"] != ["services/status"]]
    for role in (*roles, restricted):
        rbac.create_cluster_role(role)
    rig.core.create_namespace({"metadata": {"name": LEASE_NS}})

    def subjects(*users: str) -> list[dict[str, str]]:
        return [{"kind": "User", "name": u, "apiGroup": "rbac.authorization.k8s.io"} for u in users]

    ref = {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole"}
    rbac.create_cluster_role_binding(
        {
            "metadata": {"name": "bgplb-speaker"},
            "roleRef": {**ref, "name": "bgplb-speaker"},
            "subjects": subjects("bgplb:n1", "bgplb:n2"),
        }
    )
    rbac.create_cluster_role_binding(
        {
            "metadata": {"name": "bgplb-no-status"},
            "roleRef": {**ref, "name": "bgplb-speaker-no-status"},
            "subjects": subjects("bgplb:n3"),
        }
    )
    rbac.create_namespaced_role_binding(
        LEASE_NS,
        {
            "metadata": {"name": "bgplb-speaker-lease"},
            "roleRef": {**ref, "name": "bgplb-speaker-lease"},
            "subjects": subjects(*(f"bgplb:{n}" for n in NAMES)),
        },
    )


METALLB_KINDS = {
    "IPAddressPool": "v1beta1",
    "BGPAdvertisement": "v1beta1",
    "Community": "v1beta1",
    "BGPPeer": "v1beta2",
    "L2Advertisement": "v1beta1",
    "BFDProfile": "v1beta1",
}


def _metallb_crds(rig: Rig) -> None:
    """Minimal CRDs of MetalLB's kinds (the schema left open: the speaker, not the API server, checks the fields)."""
    ext = client.ApiextensionsV1Api(rig.api)
    for kind, version in METALLB_KINDS.items():
        plural = kind.lower() + ("ies" if kind.endswith("y") else "s")
        if kind == "Community":
            plural = "communities"
        schema = {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
        ext.create_custom_resource_definition(
            {
                "apiVersion": "apiextensions.k8s.io/v1",
                "kind": "CustomResourceDefinition",
                "metadata": {"name": f"{plural}.metallb.io"},
                "spec": {
                    "group": "metallb.io",
                    "scope": "Namespaced",
                    "names": {"kind": kind, "plural": plural, "singular": kind.lower(), "listKind": f"{kind}List"},
                    "versions": [{"name": version, "served": True, "storage": True, "schema": schema}],
                },
            }
        )
    rig.core.create_namespace({"metadata": {"name": "metallb-system"}})
    wait_for(
        lambda: (
            len(
                client.CustomObjectsApi(rig.api).list_namespaced_custom_object(
                    "metallb.io", "v1beta1", "metallb-system", "ipaddresspools"
                )["items"]
            )
            == 0
        ),
        what="the CRDs served",
    )


def _nodes(rig: Rig) -> None:
    for name in NAMES:
        rig.core.create_node({"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}}})
        rig.core.patch_node_status(
            name,
            {
                "status": {
                    "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "test"}]
                }
            },
        )


@pytest.fixture(scope="module")
def rig() -> Iterator[Rig]:
    with contextlib.ExitStack() as stack:
        lan = stack.enter_context(Lan(len(NAMES)))
        cp = ControlPlane({f"bgplb:{n}": ["bgplb-speakers"] for n in NAMES}, host=lan.host_v4)
        stack.callback(cp.close)
        cp.start()
        neighbors = [Neighbor(a, NODE_ASN) for a in lan.node_v4]
        frr = stack.enter_context(FrrRouter(lan.router, asn=ROUTER_ASN, router_id="10.255.0.1", neighbors=neighbors))
        r = Rig(lan, cp, frr)
        _rbac(r)
        _metallb_crds(r)
        _nodes(r)
        stack.callback(r.close)
        for i in range(len(NAMES)):
            r.start_speaker(i)
        for address in lan.node_v4:
            wait_for(lambda a=address: frr.established(a), timeout=20, what=f"FRR session with {address}: {r.logs()}")
        wait_for(
            lambda: all(
                r.kube_status(n).get("watches", {}).get("services", {}).get("state") == "synced" for n in NAMES
            ),
            timeout=30,
            what=f"watches synced: {r.logs()}",
        )
        wait_for(r.leader, timeout=20, what="an allocator elected")
        yield r


# --- create, announce, delete -------------------------------------------------------------------------------------
def test_create_assigns_from_the_pool_announces_from_every_node_and_delete_withdraws(rig: Rig):
    rig.service("web")
    (ip,) = rig.wait_ingress("web")
    assert ipaddress.ip_address(ip) in ipaddress.ip_network(PUBLIC4)
    rig.wait_announcers(ip, set(NAMES))  # Cluster policy: every Ready node, n3 included despite its RBAC
    wait_for(lambda: ("Normal", "IPAllocated", f"assigned {ip}") in rig.events("web"), what="the IPAllocated event")
    status = rig.kube_status("n1")
    assert "kubernetes:default/web" in status["announced"]
    routes = json.loads(rig.speakers["n1"].ctl("--json", "routes").stdout)
    (route,) = [r for r in routes["peers"]["r1"] if r["prefix"] == f"{ip}/32"]
    assert route["services"] == ["kubernetes:default/web"] and route["sent"]
    rig.delete("web")
    rig.wait_announcers(ip, set())
    # released: a service pinned to that address now gets it
    rig.service("again", loadBalancerIP=ip)
    assert rig.wait_ingress("again") == (ip,)
    rig.delete("again")


def test_pinned_annotations_sharing_and_class(rig: Rig):
    rig.service("pinned", annotations={"metallb.io/loadBalancerIPs": "203.0.113.3"})
    assert rig.wait_ingress("pinned") == ("203.0.113.3",)  # from a pool with auto_assign: false, by request
    rig.service("legacy", annotations={"metallb.universe.tf/address-pool": "reserved"})
    (legacy,) = rig.wait_ingress("legacy")
    assert ipaddress.ip_address(legacy) in ipaddress.ip_network(RESERVED)

    key = {"metallb.io/allow-shared-ip": "team-a"}
    rig.service("share-a", annotations=key, ports=(80,))
    (shared,) = rig.wait_ingress("share-a")
    rig.service("share-b", annotations=key, ports=(443,))
    assert rig.wait_ingress("share-b") == (shared,)
    rig.service("share-c", annotations=key, ports=(80,), loadBalancerIP=shared)  # port 80 clashes with share-a
    wait_for(lambda: any(r == "AddressInUse" for _, r, _ in rig.events("share-c")), what="the AddressInUse event")
    assert rig.ingress("share-c") == ()

    rig.service("outside", loadBalancerIP="192.0.2.9")
    wait_for(lambda: any(r == "AddressOutsidePools" for _, r, _ in rig.events("outside")), what="AddressOutsidePools")
    rig.service("bad", annotations={"metallb.io/loadBalancerIPs": "not-an-address"})
    wait_for(lambda: any(r == "InvalidAnnotation" for _, r, _ in rig.events("bad")), what="InvalidAnnotation")

    rig.service("foreign", loadBalancerClass="example.com/other-lb")
    rig.service("ours", loadBalancerClass="bgplb.io/bgplb")
    rig.wait_ingress("ours")
    time.sleep(1)  # the allocator handled "ours" (created later) already: "foreign" is refused by choice, not late
    assert rig.ingress("foreign") == ()
    assert rig.events("foreign") == []
    rig.wait_announcers(shared, set(NAMES))
    rig.delete("pinned", "legacy", "share-a", "share-b", "share-c", "outside", "bad", "foreign", "ours")


def test_dual_stack(rig: Rig):
    rig.service("dual", ipFamilyPolicy="RequireDualStack", ipFamilies=["IPv4", "IPv6"])
    ingress = wait_for(lambda: len(rig.ingress("dual")) == 2 and rig.ingress("dual"), what="two addresses")
    v4, v6 = sorted(ingress, key=lambda a: ":" in a)
    assert ipaddress.ip_address(v6) in ipaddress.ip_network(PUBLIC6)
    rig.wait_announcers(v4, set(NAMES))
    rig.wait_announcers(v6, set(NAMES))
    rig.delete("dual")
    rig.wait_announcers(v6, set())


# --- externalTrafficPolicy ----------------------------------------------------------------------------------------
def test_local_policy_follows_ready_endpoints(rig: Rig):
    rig.service("local", externalTrafficPolicy="Local")
    (ip,) = rig.wait_ingress("local")
    rig.endpoints("local", {"n2": True, "n1": False})
    rig.wait_announcers(ip, {"n2"})
    rig.endpoints("local", {"n3": True})
    rig.wait_announcers(ip, {"n3"})
    rig.endpoints("local", {"n3": False})
    rig.wait_announcers(ip, set())
    rig.core.patch_namespaced_service("local", "default", {"spec": {"externalTrafficPolicy": "Cluster"}})
    rig.wait_announcers(ip, set(NAMES))
    rig.core.patch_node("n1", {"metadata": {"labels": {"node.kubernetes.io/exclude-from-external-load-balancers": ""}}})
    rig.wait_announcers(ip, {"n2", "n3"})
    rig.core.patch_node(
        "n1", {"metadata": {"labels": {"node.kubernetes.io/exclude-from-external-load-balancers": None}}}
    )
    rig.wait_announcers(ip, set(NAMES))
    rig.delete("local")


# --- RBAC ---------------------------------------------------------------------------------------------------------
def test_speaker_without_status_permission_says_so_and_never_allocates(rig: Rig):
    status = rig.kube_status("n3")
    assert status["allocator"]["leading"] is False
    assert status["allocator"]["error"] == "allocation disabled: forbidden to update services/status"
    assert "forbidden to update services/status" in rig.speakers["n3"].log()
    assert rig.leader() in ("n1", "n2")


# --- the API server goes away -------------------------------------------------------------------------------------
def test_api_server_down_keeps_routes_and_sessions_then_resyncs(rig: Rig):
    rig.service("steady")
    (steady,) = rig.wait_ingress("steady")
    rig.service("doomed")
    (doomed,) = rig.wait_ingress("doomed")
    rig.wait_announcers(steady, set(NAMES))
    rig.wait_announcers(doomed, set(NAMES))
    before = rig.sessions()

    rig.cp.stop_apiserver()
    wait_for(
        lambda: all(rig.kube_status(n)["watches"]["services"]["state"] == "unreachable" for n in NAMES),
        timeout=15,
        what="every speaker noticing the API server is gone",
    )
    time.sleep(30)
    assert rig.announcers(steady) == set(NAMES) and rig.announcers(doomed) == set(NAMES)
    rig.cp.start_apiserver()
    wait_for(
        lambda: all(rig.kube_status(n)["watches"]["services"]["state"] == "synced" for n in NAMES),
        timeout=60,
        what="every speaker synced again",
    )
    assert rig.sessions() == before, "a BGP session was reset while the API server was away"

    # a partition: the speakers cannot reach the API server while the cluster changes, then they resync
    rig.lan.cut_host(True)
    try:
        rig.delete("doomed")
        rig.service("born")
        time.sleep(3)
        assert rig.announcers(doomed) == set(NAMES)  # unreachable: the last known state stays
    finally:
        rig.lan.cut_host(False)
    rig.wait_announcers(doomed, set(), timeout=120)
    (born,) = rig.wait_ingress("born", timeout=60)
    rig.wait_announcers(born, set(NAMES), timeout=30)
    for n in NAMES:
        text = rig.speakers[n].log()
        assert text.count("services: list services") + text.count("services: watch services") <= 3, text
    assert rig.sessions() == before
    rig.delete("steady", "born")


# --- failover of the allocator ------------------------------------------------------------------------------------
def test_allocator_killed_during_200_creates_every_service_one_address(rig: Rig):
    names = [f"bulk-{i:03d}" for i in range(200)]
    leader = rig.leader()
    assert leader in ("n1", "n2")
    killed = False
    for i, name in enumerate(names):
        rig.service(name)
        if i == 60:
            rig.speakers[leader].proc.send_signal(signal.SIGKILL)
            killed = True
    assert killed
    wait_for(lambda: all(rig.ingress(n) for n in names), timeout=90, interval=0.5, what="every bulk service allocated")
    first = {n: rig.ingress(n) for n in names}
    flat = [ip for ips in first.values() for ip in ips]
    assert all(len(ips) == 1 for ips in first.values())
    assert len(set(flat)) == len(flat) == 200, "an address was given twice"
    survivor = next(n for n in ("n1", "n2") if n != leader)
    assert rig.leader() == survivor
    time.sleep(3)
    assert {n: rig.ingress(n) for n in names} == first, "an address changed after the failover"

    # the killed speaker comes back: it rebuilds from the status and changes nothing
    rig.speakers[leader].stop()
    idx = NAMES.index(leader)
    rig.start_speaker(idx)
    wait_for(
        lambda: rig.kube_status(leader).get("watches", {}).get("services", {}).get("state") == "synced",
        timeout=30,
        what="the restarted speaker synced",
    )
    rig.wait_announcers(first[names[0]][0], set(NAMES), timeout=30)
    assert {n: rig.ingress(n) for n in names} == first
    rig.delete(*names)


# --- MetalLB resources, live -----------------------------------------------------------------------------------------
def test_metallb_resources_from_the_cluster_give_pools_and_advertisements(rig: Rig):
    custom = client.CustomObjectsApi(rig.api)

    def put(kind: str, name: str, spec: dict[str, Any]) -> None:
        custom.create_namespaced_custom_object(
            "metallb.io",
            METALLB_KINDS[kind],
            "metallb-system",
            kind.lower() + "s",
            {"apiVersion": f"metallb.io/{METALLB_KINDS[kind]}", "kind": kind, "metadata": {"name": name}, "spec": spec},
        )

    put("IPAddressPool", "mlb", {"addresses": ["192.0.2.0/28"], "autoAssign": False})
    put("BGPAdvertisement", "mlb-adv", {"ipAddressPools": ["mlb"], "communities": ["65000:77"]})
    wait_for(
        lambda: all(rig.kube_status(n).get("metallb", {}).get("objects") == 2 for n in NAMES),
        timeout=30,
        what="every speaker using the MetalLB pool and advertisement",
    )
    rig.service("from-metallb", annotations={"metallb.io/address-pool": "mlb"})
    (ip,) = rig.wait_ingress("from-metallb")
    assert ipaddress.ip_address(ip) in ipaddress.ip_network("192.0.2.0/28")
    rig.wait_announcers(ip, set(NAMES))
    (path, *_) = rig.frr.paths(f"{ip}/32")
    assert "65000:77" in path.communities

    put("L2Advertisement", "l2", {"ipAddressPools": ["mlb"]})
    wait_for(
        lambda: any("L2Advertisement" in e for e in rig.kube_status("n1").get("metallb", {}).get("errors", [])),
        timeout=30,
        what="the L2Advertisement refused by name",
    )
    assert rig.announcers(ip) == set(NAMES)  # the last good set stays in use
    custom.delete_namespaced_custom_object("metallb.io", "v1beta1", "metallb-system", "l2advertisements", "l2")
    wait_for(lambda: rig.kube_status("n1").get("metallb", {}).get("errors") == [], timeout=30, what="errors cleared")
    rig.delete("from-metallb")
    rig.wait_announcers(ip, set())
