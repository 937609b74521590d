"""The `kubernetes` section of speaker.yaml: where the cluster is and which LoadBalancer Services this speaker serves.

Docs: speaker/docs/kubernetes.md. Absent section: the Kubernetes source is off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bgplb.model.parse import FieldError, ObjectError, _build, boolean, integer, listof, name, seconds, string

DEFAULT_CLASS = "bgplb.io/bgplb"


@dataclass(frozen=True)
class KubernetesSettings:
    kubeconfig: str | None = None  # default: in_cluster, else /etc/bgplb/kubeconfig
    in_cluster: bool = False  # the pod's service-account token and CA
    node_name: str | None = None  # the Node object of this speaker; default node.name
    load_balancer_class: str = DEFAULT_CLASS  # spec.loadBalancerClass values served
    serve_unclassed: bool = True  # also serve services without spec.loadBalancerClass
    namespaces: tuple[str, ...] = ()  # empty: every namespace
    allocate: bool = True  # take part in the election of the one allocator
    lease_namespace: str = "bgplb-system"
    lease_name: str = "bgplb-allocator"
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    status_writers: int = 8  # parallel status updates of the allocator
    metallb: bool = False  # also read MetalLB's metallb.io resources from the cluster

    @property
    def kubeconfig_path(self) -> str | None:
        if self.in_cluster:
            return None
        return self.kubeconfig or "/etc/bgplb/kubeconfig"


SPEC = {
    "kubeconfig": (string, False),
    "in_cluster": (boolean, False),
    "node_name": (string, False),
    "load_balancer_class": (string, False),
    "serve_unclassed": (boolean, False),
    "namespaces": (listof(name), False),
    "allocate": (boolean, False),
    "lease_namespace": (name, False),
    "lease_name": (name, False),
    "lease_duration": (seconds(1, 3600), False),
    "renew_deadline": (seconds(0.5, 3600), False),
    "retry_period": (seconds(0.1, 600), False),
    "status_writers": (integer(1, 64), False),
    "metallb": (boolean, False),
}


def parse_kubernetes(data: Any) -> KubernetesSettings:
    try:
        settings = _build(KubernetesSettings, SPEC, data if data is not None else {}, "")
        if settings.kubeconfig and settings.in_cluster:
            raise FieldError("kubeconfig", "give a kubeconfig or in_cluster: true, not both")
        if not settings.retry_period < settings.renew_deadline < settings.lease_duration:
            raise FieldError("renew_deadline", "must be between retry_period and lease_duration")
    except FieldError as err:
        raise ObjectError(f"kubernetes: {err}") from None
    return settings
