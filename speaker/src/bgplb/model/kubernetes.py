"""The `kubernetes` section of speaker.yaml: where the cluster is and which LoadBalancer Services this speaker serves.

Docs: speaker/docs/kubernetes.md. Absent section: the Kubernetes source is off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bgplb.model.fields import FieldError, attr, boolean, build, integer, listof, name, seconds, string
from bgplb.model.parse import ObjectError

DEFAULT_CLASS = "bgplb.io/bgplb"


@dataclass(frozen=True)
class KubernetesSettings:
    kubeconfig: str | None = attr(string, "kubeconfig file", None,
                                  default_doc="in_cluster, else /etc/bgplb/kubeconfig")  # fmt: skip
    in_cluster: bool = attr(boolean, "the pod's service-account token and CA", False)
    node_name: str | None = attr(string, "the Node object of this speaker", None, default_doc="node.name")
    load_balancer_class: str = attr(string, "spec.loadBalancerClass values served", DEFAULT_CLASS)
    serve_unclassed: bool = attr(boolean, "also serve services without spec.loadBalancerClass", True)
    namespaces: tuple[str, ...] = attr(listof(name), "namespaces watched", (), default_doc="every namespace")
    allocate: bool = attr(boolean, "take part in the election of the one allocator", True)
    lease_namespace: str = attr(name, "namespace of the allocator's Lease", "bgplb-system")
    lease_name: str = attr(name, "name of the allocator's Lease", "bgplb-allocator")
    lease_duration: float = attr(seconds(1, 3600), "Lease duration", 15.0)
    renew_deadline: float = attr(seconds(0.5, 3600), "Lease renew deadline", 10.0)
    retry_period: float = attr(seconds(0.1, 600), "Lease retry period", 2.0)
    status_writers: int = attr(integer(1, 64), "parallel status updates of the allocator", 8)
    metallb: bool = attr(boolean, "also read MetalLB's metallb.io resources from the cluster", False)

    @property
    def kubeconfig_path(self) -> str | None:
        if self.in_cluster:
            return None
        return self.kubeconfig or "/etc/bgplb/kubeconfig"


def parse_kubernetes(data: Any) -> KubernetesSettings:
    try:
        settings = build(KubernetesSettings, data if data is not None else {}, "")
        if settings.kubeconfig and settings.in_cluster:
            raise FieldError("kubeconfig", "give a kubeconfig or in_cluster: true, not both")
        if not settings.retry_period < settings.renew_deadline < settings.lease_duration:
            raise FieldError("renew_deadline", "must be between retry_period and lease_duration")
    except FieldError as err:
        raise ObjectError(f"kubernetes: {err}") from None
    return settings
