"""What bgplb keeps of the Kubernetes objects it watches: small frozen views made from the API's JSON (pure).

Keeping only these fields (not the client's model objects) holds 10,000 watched Services in a few tens of MiB.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ANNOTATION_PREFIXES = ("metallb.io/", "metallb.universe.tf/", "bgplb.io/")
EXCLUDE_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"

Key = tuple[str, str]  # (namespace, name)


@dataclass(frozen=True)
class ServiceView:
    namespace: str
    name: str
    uid: str
    resource_version: str
    created: str  # creationTimestamp, RFC 3339: sorts by age
    type: str
    load_balancer_class: str | None
    load_balancer_ip: str | None
    annotations: tuple[tuple[str, str], ...]  # only metallb.io/, metallb.universe.tf/, bgplb.io/
    traffic_policy: str  # Cluster or Local
    ip_families: tuple[str, ...]
    ip_family_policy: str | None
    ports: tuple[tuple[str, int], ...]  # (protocol, port)
    ingress: tuple[str, ...]  # status.loadBalancer.ingress[].ip

    @property
    def key(self) -> Key:
        return (self.namespace, self.name)

    def annotation(self, suffix: str) -> str | None:
        """An annotation under metallb.io/ or the legacy metallb.universe.tf/ (the first wins)."""
        values = dict(self.annotations)
        return values.get(f"metallb.io/{suffix}", values.get(f"metallb.universe.tf/{suffix}"))


@dataclass(frozen=True)
class SliceView:
    namespace: str
    name: str
    service: str | None
    ready_nodes: frozenset[str]  # nodeName of every endpoint whose conditions.ready is not false


@dataclass(frozen=True)
class NodeView:
    name: str
    ready: bool
    excluded: bool  # labelled node.kubernetes.io/exclude-from-external-load-balancers


def service_view(obj: dict[str, Any]) -> ServiceView:
    meta, spec, status = obj.get("metadata", {}), obj.get("spec", {}), obj.get("status", {})
    annotations = meta.get("annotations") or {}
    ingress = (status.get("loadBalancer") or {}).get("ingress") or []
    return ServiceView(
        namespace=meta.get("namespace", ""),
        name=meta.get("name", ""),
        uid=meta.get("uid", ""),
        resource_version=meta.get("resourceVersion", ""),
        created=meta.get("creationTimestamp", ""),
        type=spec.get("type", "ClusterIP"),
        load_balancer_class=spec.get("loadBalancerClass"),
        load_balancer_ip=spec.get("loadBalancerIP") or None,
        annotations=tuple(sorted((k, str(v)) for k, v in annotations.items() if k.startswith(ANNOTATION_PREFIXES))),
        traffic_policy=spec.get("externalTrafficPolicy") or "Cluster",
        ip_families=tuple(spec.get("ipFamilies") or ()),
        ip_family_policy=spec.get("ipFamilyPolicy"),
        ports=tuple((p.get("protocol", "TCP"), int(p.get("port", 0))) for p in spec.get("ports") or ()),
        ingress=tuple(i["ip"] for i in ingress if isinstance(i, dict) and i.get("ip")),
    )


def slice_view(obj: dict[str, Any]) -> SliceView:
    meta = obj.get("metadata", {})
    ready = frozenset(
        ep["nodeName"]
        for ep in obj.get("endpoints") or ()
        if ep.get("nodeName") and (ep.get("conditions") or {}).get("ready") is not False
    )
    return SliceView(
        meta.get("namespace", ""), meta.get("name", ""), (meta.get("labels") or {}).get(SERVICE_NAME_LABEL), ready
    )


def node_view(obj: dict[str, Any]) -> NodeView:
    meta = obj.get("metadata", {})
    conditions = (obj.get("status") or {}).get("conditions") or ()
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    return NodeView(meta.get("name", ""), ready, EXCLUDE_LABEL in (meta.get("labels") or {}))
