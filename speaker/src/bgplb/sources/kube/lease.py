"""Election of the one allocator among the speakers: a `coordination.k8s.io/v1` Lease, as client-go's leader election.

A candidate takes the Lease when it is absent, released, or unchanged for `lease_duration` as seen on the
candidate's own monotonic clock (no clock synchronisation needed). Every write carries the resourceVersion it read,
so two candidates can never both succeed. The leader renews every `retry_period`; it counts itself leader only
until `renew_deadline` after its last successful renewal, which is shorter than `lease_duration`: an old leader has
stopped allocating before anyone else may start. Stepping down (shutdown) releases the Lease at once.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from kubernetes.client.exceptions import ApiException

from bgplb.model.kubernetes import KubernetesSettings
from bgplb.sources.kube.reflector import explain

log = logging.getLogger("bgplb.kubernetes")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Elector:
    def __init__(
        self,
        coordination: Any,  # kubernetes.client.CoordinationV1Api
        settings: KubernetesSettings,
        identity: str,
        on_change: Callable[[bool, str | None], None],
    ) -> None:
        self.api, self.settings, self.identity = coordination, settings, identity
        self.on_change = on_change  # (leading, holder): called from the election thread
        self.holder: str | None = None
        self.error = ""
        self._leading_until = 0.0
        self._observed: tuple[str, float] = ("", 0.0)  # (resourceVersion, monotonic time first seen)
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="lease", daemon=True)

    @property
    def leading(self) -> bool:
        return time.monotonic() < self._leading_until

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(timeout=5)
        if self.leading:
            self._release()

    def _run(self) -> None:
        was = False
        while not self._stop.is_set():
            try:
                self._try()
                self.error = ""
            except Exception as err:
                _, message = explain(
                    err, "update", f"leases {self.settings.lease_namespace}/{self.settings.lease_name}"
                )
                if message != self.error:
                    log.warning("kubernetes: allocator election: %s", message)
                self.error = message
            now = self.leading
            if now != was:
                log.info("kubernetes: %s the allocator", "became" if now else "is no longer")
                self.on_change(now, self.holder)
                was = now
            self._stop.wait(self.settings.retry_period)
        if was:
            self._leading_until = 0.0
            self.on_change(False, None)

    def _body(self, version: str | None, acquired: str | None, transitions: int) -> dict[str, Any]:
        now = _now()
        meta: dict[str, Any] = {"name": self.settings.lease_name, "namespace": self.settings.lease_namespace}
        if version:
            meta["resourceVersion"] = version
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": meta,
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": max(1, round(self.settings.lease_duration)),
                "acquireTime": acquired or now,
                "renewTime": now,
                "leaseTransitions": transitions,
            },
        }

    def _try(self) -> None:
        ns, name = self.settings.lease_namespace, self.settings.lease_name
        started = time.monotonic()
        try:
            lease = json.loads(
                self.api.read_namespaced_lease(name, ns, _preload_content=False, _request_timeout=5).data
            )
        except ApiException as err:
            if err.status != 404:
                raise
            self.api.create_namespaced_lease(ns, self._body(None, None, 0), _request_timeout=5)
            self._won(started)
            return
        spec, version = lease.get("spec") or {}, lease["metadata"]["resourceVersion"]
        self.holder = spec.get("holderIdentity") or None
        if version != self._observed[0]:
            self._observed = (version, started)
        transitions = spec.get("leaseTransitions") or 0
        if self.holder == self.identity:
            self.api.replace_namespaced_lease(
                name, ns, self._body(version, spec.get("acquireTime"), transitions), _request_timeout=5
            )
            self._won(started)
            return
        expired = started - self._observed[1] >= self.settings.lease_duration
        if self.holder is None or expired:
            self.api.replace_namespaced_lease(name, ns, self._body(version, None, transitions + 1), _request_timeout=5)
            self._won(started)

    def _won(self, started: float) -> None:
        # measured from before the read: the others' lease_duration runs from a later observation than that
        self._leading_until = started + self.settings.renew_deadline
        self.holder = self.identity

    def _release(self) -> None:
        ns, name = self.settings.lease_namespace, self.settings.lease_name
        try:
            lease = json.loads(
                self.api.read_namespaced_lease(name, ns, _preload_content=False, _request_timeout=3).data
            )
            if (lease.get("spec") or {}).get("holderIdentity") != self.identity:
                return
            body = self._body(lease["metadata"]["resourceVersion"], None, lease["spec"].get("leaseTransitions") or 0)
            body["spec"]["holderIdentity"] = None
            body["spec"]["leaseDurationSeconds"] = 1
            self.api.replace_namespaced_lease(name, ns, body, _request_timeout=3)
            log.info("kubernetes: released the allocator lease")
        except Exception as err:
            log.warning("kubernetes: could not release the allocator lease: %s", err)
