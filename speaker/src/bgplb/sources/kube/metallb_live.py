"""MetalLB's resources read live from the cluster (speaker.yaml `kubernetes.metallb: true`): the `metallb.io`
objects of every namespace, converted by `bgplb.sources.metallb` into pools, advertisements, communities and peers
that join the config directory's. A set that does not convert (an L2Advertisement, an unsupported field, pools that
overlap) is refused as a whole with bgplb's messages, and the last good set stays in use.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from bgplb.model import Node
from bgplb.sources.metallb import MetalLBError, convert

log = logging.getLogger("bgplb.kubernetes")

GROUP = "metallb.io"
# kind -> (version, plural); L2Advertisement and BFDProfile are watched to be refused by name, not ignored
KINDS = {
    "IPAddressPool": ("v1beta1", "ipaddresspools"),
    "BGPAdvertisement": ("v1beta1", "bgpadvertisements"),
    "Community": ("v1beta1", "communities"),
    "BGPPeer": ("v1beta2", "bgppeers"),
    "L2Advertisement": ("v1beta1", "l2advertisements"),
    "BFDProfile": ("v1beta1", "bfdprofiles"),
}
RESOURCE_PREFIX = "metallb:"


def manifest_view(obj: dict[str, Any]) -> dict[str, Any]:
    """The manifest as the converter takes it: configuration only (no status, no server-side metadata)."""
    meta = obj.get("metadata") or {}
    return {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"),
            "metadata": {k: meta[k] for k in ("name", "namespace", "labels") if k in meta},
            "spec": obj.get("spec") or {}}  # fmt: skip


def manifest_key(view: dict[str, Any]) -> tuple[str, str, str]:
    meta = view["metadata"]
    return (view["kind"], meta.get("namespace", ""), meta.get("name", ""))


class MetalLBObjects:
    """The bgplb objects from the cluster's MetalLB resources: the last set that converted."""

    def __init__(self) -> None:
        self.objects: tuple[Any, ...] = ()
        self.errors: list[str] = []

    def update(self, manifests: Iterable[dict[str, Any]], node: Node) -> bool:
        """Convert again; whether the objects in use changed."""
        ordered = sorted(manifests, key=manifest_key)
        try:
            objects = convert(ordered, node=node).objects if ordered else ()
        except MetalLBError as err:
            if err.errors != self.errors:
                for message in err.errors:
                    log.error("kubernetes: MetalLB resources refused, keeping the last good set: %s", message)
            self.errors = list(err.errors)
            return False
        self.errors = []
        if objects == self.objects:
            return False
        self.objects = objects
        log.info("kubernetes: MetalLB resources: %d objects in use", len(objects))
        return True
