"""Which Kubernetes LoadBalancer Services this node announces, as bgplb `Service` objects for the planner (pure).

- `externalTrafficPolicy: Cluster`: every node whose Node is Ready and not labelled
  `node.kubernetes.io/exclude-from-external-load-balancers` announces (kube-proxy forwards to any endpoint).
- `Local`: only nodes that also hold a ready endpoint of the service (EndpointSlices, `conditions.ready` not false),
  so traffic never crosses nodes and the client address is kept.
The planner then applies pools, advertisements, communities and peers to them exactly as to `service` objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from bgplb.model import Service
from bgplb.sources.kube.objects import Key, NodeView, ServiceView, SliceView

SOURCE_PREFIX = "kubernetes:"


def served(svc: ServiceView, load_balancer_class: str, serve_unclassed: bool) -> bool:
    """Whether bgplb is this service's load balancer."""
    if svc.type != "LoadBalancer":
        return False
    if svc.load_balancer_class is None:
        return serve_unclassed
    return svc.load_balancer_class == load_balancer_class


def ready_nodes(slices: Iterable[SliceView]) -> dict[Key, frozenset[str]]:
    """Service -> the nodes with a ready endpoint of it."""
    out: dict[Key, set[str]] = {}
    for sl in slices:
        if sl.service:
            out.setdefault((sl.namespace, sl.service), set()).update(sl.ready_nodes)
    return {k: frozenset(v) for k, v in out.items()}


def announced_services(
    services: Iterable[ServiceView],
    slices: Iterable[SliceView],
    node: NodeView | None,
    *,
    load_balancer_class: str,
    serve_unclassed: bool,
) -> tuple[Service, ...]:
    """The services this node announces now, named `kubernetes:<namespace>/<name>`."""
    if node is None or not node.ready or node.excluded:
        return ()
    endpoints: Mapping[Key, frozenset[str]] = ready_nodes(slices)
    out = []
    for svc in services:
        if not svc.ingress or not served(svc, load_balancer_class, serve_unclassed):
            continue
        if svc.traffic_policy == "Local" and node.name not in endpoints.get(svc.key, frozenset()):
            continue
        out.append(Service(name=f"{SOURCE_PREFIX}{svc.namespace}/{svc.name}", address=svc.ingress[:2]))
    return tuple(sorted(out, key=lambda s: s.name))
