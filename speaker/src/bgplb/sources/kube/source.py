"""The Kubernetes source: watched Services, EndpointSlices and Nodes become this node's announced services; the
elected allocator writes addresses into `status.loadBalancer.ingress` and raises Events on the Services.

Runs on the daemon's asyncio loop; the watches, the election and the API writes run in worker threads and hand
their results back to the loop. `services()` is what the planner adds to the config directory's `service` objects.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from bgplb.model import Pool, Service
from bgplb.model.kubernetes import KubernetesSettings
from bgplb.sources.kube import allocator
from bgplb.sources.kube.announce import announced_services
from bgplb.sources.kube.lease import Elector
from bgplb.sources.kube.objects import NodeView, ServiceView, node_view, service_view, slice_view
from bgplb.sources.kube.reflector import Reflector, explain

log = logging.getLogger("bgplb.kubernetes")

COMPONENT = "bgplb-allocator"
# What the allocator needs beyond watching; checked with SelfSubjectAccessReview before it stands for election.
ALLOCATOR_VERBS = (
    ("update", "", "services", "status"),
    ("create", "", "events", ""),
    ("update", "coordination.k8s.io", "leases", ""),
    ("create", "coordination.k8s.io", "leases", ""),
)


def api_client(settings: KubernetesSettings) -> client.ApiClient:
    if settings.in_cluster:
        cfg = client.Configuration()
        config.load_incluster_config(client_configuration=cfg)
        return client.ApiClient(cfg)
    return config.new_client_from_config(settings.kubeconfig_path)


def _view_key(view: Any) -> Any:
    return view.name if isinstance(view, NodeView) else (view.namespace, view.name)


class KubernetesSource:
    def __init__(
        self,
        settings: KubernetesSettings,
        node_name: str,
        pools: Callable[[], Sequence[Pool]],
        on_change: Callable[[], None],
    ) -> None:
        self.settings = settings
        self.node_name = settings.node_name or node_name
        self.pools, self.on_change = pools, on_change
        self.cache: dict[str, dict[Any, Any]] = {"services": {}, "endpointslices": {}, "nodes": {}}
        self.states: dict[str, tuple[str, str]] = {}
        self.leading = False
        self.allocation_error = ""
        self.writes = {"status": 0, "events": 0, "conflicts": 0}
        self._announced: tuple[Service, ...] = ()
        self._pending: dict[tuple[str, str], tuple[ServiceView, tuple[str, ...]]] = {}
        self._events_sent: set[tuple[str, str, str]] = set()
        self._fresh = False  # services listed since this speaker became the allocator
        self._pass_scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reflectors: list[Reflector] = []
        self._elector: Elector | None = None
        self._writer = ThreadPoolExecutor(settings.status_writers, thread_name_prefix="k8s-write")

    # --- lifecycle -------------------------------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        try:
            self.api = api_client(self.settings)
        except Exception as err:
            self.states["client"] = ("error", f"cannot load the credentials: {err}")
            log.error("kubernetes: cannot load the credentials (%s): %s", self.settings.kubeconfig_path, err)
            return
        core, discovery = client.CoreV1Api(self.api), client.DiscoveryV1Api(self.api)
        namespaces = self.settings.namespaces
        calls: list[tuple[str, Callable[..., Any], Callable[[dict[str, Any]], Any]]] = [
            ("nodes", core.list_node, node_view)
        ]
        if namespaces:
            for ns in namespaces:
                calls.append(("services", _bind(core.list_namespaced_service, ns), service_view))
                calls.append(("endpointslices", _bind(discovery.list_namespaced_endpoint_slice, ns), slice_view))
        else:
            calls.append(("services", core.list_service_for_all_namespaces, service_view))
            calls.append(("endpointslices", discovery.list_endpoint_slice_for_all_namespaces, slice_view))
        for resource, call, view in calls:
            self._reflectors.append(
                Reflector(
                    resource,
                    call,
                    view,
                    deliver=self._deliver,
                    on_sync=self._on_sync,
                    on_event=self._on_event,
                    on_state=self._on_state,
                    key=_view_key,
                )
            )
        for r in self._reflectors:
            r.start()
        if self.settings.allocate:
            denied = await asyncio.to_thread(self._denied)
            if denied:
                self.allocation_error = f"allocation disabled: forbidden to {denied}"
                log.error("kubernetes: %s (the other speakers allocate)", self.allocation_error)
            else:
                self._elector = Elector(
                    client.CoordinationV1Api(self.api),
                    self.settings,
                    self.node_name,
                    lambda leading, _holder: self._deliver(self._on_leading, (leading,)),
                )
                self._elector.start()

    async def close(self) -> None:
        for r in self._reflectors:
            r.stop()
        if self._elector:
            await asyncio.to_thread(self._elector.stop)
        self._writer.shutdown(wait=False, cancel_futures=True)

    def _denied(self) -> str:
        auth = client.AuthorizationV1Api(self.api)
        for verb, group, resource, sub in ALLOCATOR_VERBS:
            attrs = {"verb": verb, "group": group, "resource": resource, "subresource": sub}
            if resource == "leases":
                attrs["namespace"] = self.settings.lease_namespace
            body = {
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SelfSubjectAccessReview",
                "spec": {"resourceAttributes": attrs},
            }
            try:
                review = json.loads(auth.create_self_subject_access_review(body, _preload_content=False).data)
            except (ApiException, OSError) as err:
                log.warning("kubernetes: cannot check the allocator's permissions: %s", err)
                return ""
            if not (review.get("status") or {}).get("allowed"):
                return f"{verb} {resource}{'/' + sub if sub else ''}"
        return ""

    # --- what the planner sees -------------------------------------------------------------------------------------
    def services(self) -> tuple[Service, ...]:
        return self._announced

    def status(self) -> dict[str, Any]:
        services = self.cache["services"].values()
        holder = self._elector.holder if self._elector else None
        return {
            "node": self.node_name,
            "watches": {r: {"state": s, "message": m} for r, (s, m) in sorted(self.states.items())},
            "allocator": {"leading": self.leading, "holder": holder, "error": self.allocation_error},
            "services": sum(1 for s in services if s.type == "LoadBalancer"),
            "announced": [s.name for s in self._announced],
            "requests": {"watch": sum(r.requests for r in self._reflectors), **self.writes},
        }

    def config_changed(self) -> None:
        self._schedule_pass()

    # --- from the worker threads -----------------------------------------------------------------------------------
    def _deliver(self, fn: Callable[..., None], args: Any) -> None:
        assert self._loop is not None
        with contextlib.suppress(RuntimeError):  # the loop closed during shutdown
            self._loop.call_soon_threadsafe(fn, *args)

    def _on_state(self, resource: str, state: str, message: str) -> None:
        if self.states.get(resource) != (state, message):
            if state == "synced":
                log.info("kubernetes: %s synced", resource)
            else:
                log.error("kubernetes: %s: %s (keeping the last known state)", resource, message)
        self.states[resource] = (state, message)

    def _on_sync(self, resource: str, items: dict[Any, Any]) -> None:
        self.cache[resource] = items
        if resource == "services":
            self._fresh = True
            for key in [k for k, (svc, _) in self._pending.items() if items.get(k) != svc]:
                del self._pending[key]
        self._changed()

    def _on_event(self, resource: str, kind: str, view: Any) -> None:
        key = _view_key(view)
        if kind == "DELETED":
            self.cache[resource].pop(key, None)
        else:
            self.cache[resource][key] = view
        if resource == "services":
            pending = self._pending.get(key)
            if pending and (kind == "DELETED" or view.resource_version != pending[0].resource_version):
                del self._pending[key]
            if kind == "DELETED":
                self._events_sent = {e for e in self._events_sent if e[0] != view.uid}
        self._changed()

    def _on_leading(self, leading: bool) -> None:
        self.leading = leading
        self._fresh = False
        self._pending.clear()
        if leading:  # rebuild from a fresh list of every Service's status before giving out anything
            for r in self._reflectors:
                if r.resource == "services":
                    r.relist()

    # --- on the loop -----------------------------------------------------------------------------------------------
    def _changed(self) -> None:
        s = self.settings
        announced = announced_services(
            self.cache["services"].values(),
            self.cache["endpointslices"].values(),
            self.cache["nodes"].get(self.node_name),
            load_balancer_class=s.load_balancer_class,
            serve_unclassed=s.serve_unclassed,
        )
        if announced != self._announced:
            self._announced = announced
            self.on_change()
        self._schedule_pass()

    def _schedule_pass(self) -> None:
        if self.leading and not self._pass_scheduled and self._loop is not None:
            self._pass_scheduled = True
            self._loop.call_later(0.005, self._allocation_pass)

    def _allocation_pass(self) -> None:
        self._pass_scheduled = False
        if not (self.leading and self._fresh and self._elector and self._elector.leading):
            return
        decisions = allocator.plan(
            self.pools(),
            self.cache["services"].values(),
            load_balancer_class=self.settings.load_balancer_class,
            serve_unclassed=self.settings.serve_unclassed,
            pending=self._pending.values(),
        )
        for d in decisions:
            svc = self.cache["services"].get(d.key)
            if svc is None:
                continue
            if d.ingress is not None:
                self._pending[d.key] = (svc, d.ingress)
            self._writer.submit(self._write, svc, d)

    def _write(self, svc: ServiceView, d: allocator.Decision) -> None:
        """In a writer thread: the status (guarded by the resourceVersion it was decided on), then the Event."""
        core = client.CoreV1Api(self.api)
        if d.ingress is not None:
            if not (self._elector and self._elector.leading):
                self._deliver(self._write_failed, (d.key,))
                return
            body = {
                "metadata": {"resourceVersion": d.resource_version},
                "status": {"loadBalancer": {"ingress": [{"ip": ip, "ipMode": "VIP"} for ip in d.ingress]}},
            }
            try:
                core.patch_namespaced_service_status(svc.name, svc.namespace, body, _preload_content=False)
                self.writes["status"] += 1
            except Exception as err:
                if isinstance(err, ApiException) and err.status == 409:
                    self.writes["conflicts"] += 1
                else:
                    log.warning(
                        "kubernetes: %s", explain(err, "update", f"services/status {svc.namespace}/{svc.name}")[1]
                    )
                self._deliver(self._write_failed, (d.key,))
                return
        mark = (d.uid, d.reason, d.message)
        if mark in self._events_sent:
            return
        self._events_sent.add(mark)
        self._event(core, svc, d)

    def _write_failed(self, key: tuple[str, str]) -> None:
        self._pending.pop(key, None)
        self._schedule_pass()

    def _event(self, core: Any, svc: ServiceView, d: allocator.Decision) -> None:
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {
            "metadata": {"generateName": f"{svc.name}.", "namespace": svc.namespace},
            "involvedObject": {
                "apiVersion": "v1",
                "kind": "Service",
                "namespace": svc.namespace,
                "name": svc.name,
                "uid": svc.uid,
            },
            "reason": d.reason,
            "message": d.message,
            "type": "Warning" if d.warning else "Normal",
            "source": {"component": COMPONENT, "host": self.node_name},
            "reportingComponent": COMPONENT,
            "reportingInstance": self.node_name,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            core.create_namespaced_event(svc.namespace, body, _preload_content=False)
            self.writes["events"] += 1
        except Exception as err:
            log.warning("kubernetes: %s", explain(err, "create", "events")[1])
        if d.warning:
            log.warning("kubernetes: service %s/%s: %s: %s", svc.namespace, svc.name, d.reason, d.message)


def _bind(call: Callable[..., Any], namespace: str) -> Callable[..., Any]:
    def bound(**kwargs: Any) -> Any:
        return call(namespace, **kwargs)

    return bound
