"""The Kubernetes allocator and announcement rules, on plain views (no API server: tests/kube has the live ones)."""

from __future__ import annotations

from bgplb.model import Pool
from bgplb.sources.kube import allocator
from bgplb.sources.kube.announce import announced_services
from bgplb.sources.kube.objects import NodeView, ServiceView, node_view, service_view, slice_view

CLASS = "bgplb.io/bgplb"
POOLS = [
    Pool("public", ("198.51.100.0/30", "2001:db8::/126")),
    Pool("reserved", ("203.0.113.0/30",), auto_assign=False),
]


def svc(name: str, *, created: str = "2026-01-01T00:00:00Z", ingress: tuple[str, ...] = (), **kw) -> ServiceView:
    spec = {"type": kw.pop("type", "LoadBalancer"), "ports": kw.pop("ports", [{"port": 80, "protocol": "TCP"}])}
    spec.update(kw.pop("spec", {}))
    obj = {
        "metadata": {
            "namespace": "default",
            "name": name,
            "uid": f"uid-{name}",
            "resourceVersion": "1",
            "creationTimestamp": created,
            "annotations": kw.pop("annotations", {}),
        },
        "spec": spec,
        "status": {"loadBalancer": {"ingress": [{"ip": i} for i in ingress]}},
    }
    assert not kw
    return service_view(obj)


def plan(services, pools=POOLS, **kw):
    return {d.key[1]: d for d in allocator.plan(pools, services, load_balancer_class=CLASS, serve_unclassed=True, **kw)}


def test_allocates_once_and_keeps_what_status_holds():
    first = plan([svc("a")])
    assert first["a"].ingress and first["a"].reason == "IPAllocated"
    (ip,) = first["a"].ingress
    assert ip.startswith("198.51.100.")
    assert plan([svc("a", ingress=(ip,))]) == {}  # rebuilt from status: nothing to do, nothing changes


def test_no_address_twice_and_exhaustion_is_an_event():
    services = [svc(f"s{i}", created=f"2026-01-01T00:00:0{i}Z") for i in range(5)]
    decisions = plan(services)
    given = [d.ingress[0] for d in decisions.values() if d.ingress]
    assert len(given) == 4 and len(set(given)) == 4  # a /30 holds four addresses
    refused = [d for d in decisions.values() if not d.ingress]
    assert len(refused) == 1 and refused[0].warning and refused[0].reason == "PoolExhausted"


def test_pending_writes_count_as_held():
    a = svc("a")
    (ip,) = plan([a])["a"].ingress
    b = svc("b")
    decisions = plan([a, b], pending=[(a, (ip,))])
    assert "a" not in decisions and decisions["b"].ingress != (ip,)


def test_requested_address_pool_annotation_and_outside_pools():
    d = plan([svc("pinned", spec={"loadBalancerIP": "198.51.100.2"})])
    assert d["pinned"].ingress == ("198.51.100.2",)
    d = plan([svc("ann", annotations={"metallb.io/loadBalancerIPs": "203.0.113.1"})])
    assert d["ann"].ingress == ("203.0.113.1",)  # auto_assign: false pools serve explicit requests
    d = plan([svc("legacy", annotations={"metallb.universe.tf/address-pool": "reserved"})])
    assert d["legacy"].ingress[0].startswith("203.0.113.")
    d = plan([svc("out", spec={"loadBalancerIP": "192.0.2.7"})])
    assert d["out"].reason == "AddressOutsidePools" and d["out"].ingress is None
    d = plan([svc("nopool", annotations={"metallb.io/address-pool": "nope"})])
    assert d["nopool"].reason == "PoolNotFound"
    d = plan([svc("bad", annotations={"metallb.io/loadBalancerIPs": "not-an-ip"})])
    assert d["bad"].reason == "InvalidAnnotation"


def test_sharing_key_shares_when_ports_differ_and_refuses_when_they_clash():
    key = {"metallb.io/allow-shared-ip": "k"}
    a = svc("a", annotations=key, ingress=("198.51.100.1",))
    b = svc("b", annotations=key, ports=[{"port": 443, "protocol": "TCP"}])
    assert plan([a, b])["b"].ingress == ("198.51.100.1",)
    clash = svc("c", annotations=key, spec={"loadBalancerIP": "198.51.100.1"})
    assert plan([a, clash])["c"].reason == "AddressInUse"
    nokey = svc("d", spec={"loadBalancerIP": "198.51.100.1"}, ports=[{"port": 22, "protocol": "TCP"}])
    assert plan([a, nokey])["d"].reason == "AddressInUse"


def test_duplicate_in_status_stays_with_the_older_service():
    old = svc("old", created="2026-01-01T00:00:00Z", ingress=("198.51.100.1",))
    new = svc("new", created="2026-02-01T00:00:00Z", ingress=("198.51.100.1",))
    d = plan([new, old])
    assert "old" not in d
    assert d["new"].ingress and d["new"].ingress != ("198.51.100.1",)
    assert "also held by the older service default/old" in d["new"].message


def test_dual_stack_policies():
    both = svc("both", spec={"ipFamilyPolicy": "RequireDualStack", "ipFamilies": ["IPv4", "IPv6"]})
    ingress = plan([both])["both"].ingress
    assert sorted(allocator.family_of(i) for i in ingress) == ["IPv4", "IPv6"]
    v6 = svc("v6", spec={"ipFamilyPolicy": "SingleStack", "ipFamilies": ["IPv6"]})
    assert allocator.family_of(plan([v6])["v6"].ingress[0]) == "IPv6"
    need = svc("need", spec={"ipFamilyPolicy": "RequireDualStack"}, annotations={"metallb.io/address-pool": "reserved"})
    assert plan([need])["need"].reason == "PoolExhausted"  # reserved has no IPv6
    prefer = svc(
        "prefer", spec={"ipFamilyPolicy": "PreferDualStack"}, annotations={"metallb.io/address-pool": "reserved"}
    )
    assert [allocator.family_of(i) for i in plan([prefer])["prefer"].ingress] == ["IPv4"]


def test_class_selects_the_services_served():
    other = svc("other", spec={"loadBalancerClass": "example.com/lb"})
    ours = svc("ours", spec={"loadBalancerClass": CLASS})
    plain = svc("plain", type="ClusterIP")
    assert set(plan([other, ours, plain])) == {"ours"}
    d = allocator.plan(POOLS, [svc("unclassed")], load_balancer_class=CLASS, serve_unclassed=False)
    assert d == []


def test_changed_request_moves_the_address():
    s = svc("s", ingress=("198.51.100.1",), spec={"loadBalancerIP": "198.51.100.3"})
    d = plan([s])["s"]
    assert d.ingress == ("198.51.100.3",) and "requested addresses changed" in d.message


def _slice(service: str, ready: dict[str, bool]) -> dict:
    return {
        "metadata": {"namespace": "default", "name": f"{service}-x", "labels": {"kubernetes.io/service-name": service}},
        "endpoints": [{"nodeName": n, "conditions": {"ready": r}} for n, r in ready.items()],
    }


def test_announcement_cluster_local_and_node_state():
    cluster = svc("c", ingress=("198.51.100.1",))
    local = svc("l", ingress=("198.51.100.2",), spec={"externalTrafficPolicy": "Local"})
    slices = [slice_view(_slice("l", {"n2": True, "n3": False}))]
    ready = {"metadata": {"name": "n2"}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}}

    def names(node: NodeView | None) -> list[str]:
        return [
            s.name
            for s in announced_services([cluster, local], slices, node, load_balancer_class=CLASS, serve_unclassed=True)
        ]

    assert names(node_view(ready)) == ["kubernetes:default/c", "kubernetes:default/l"]
    assert names(NodeView("n3", True, False)) == ["kubernetes:default/c"]  # its endpoint is not ready
    assert names(NodeView("n2", False, False)) == []  # NotReady
    assert names(NodeView("n2", True, True)) == []  # exclude-from-external-load-balancers
    assert names(None) == []  # no Node object for this speaker


def test_views_keep_only_the_fields_they_need():
    view = svc("a", annotations={"metallb.io/allow-shared-ip": "k", "kubectl.kubernetes.io/last-applied": "x" * 9000})
    assert view.annotations == (("metallb.io/allow-shared-ip", "k"),)
