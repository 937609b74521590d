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
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from bgplb.model import Node, Pool, Service
from bgplb.model.kubernetes import KubernetesSettings
from bgplb.sources.kube import allocator, metallb_live
from bgplb.sources.kube.announce import announced_services
from bgplb.sources.kube.lease import Elector
from bgplb.sources.kube.metallb_live import MetalLBObjects, manifest_key
from bgplb.sources.kube.objects import NodeView, ServiceView, node_view, service_view, slice_view
from bgplb.sources.kube.reflector import Reflector, explain

log = logging.getLogger("bgplb.kubernetes")

COMPONENT = "bgplb-allocator"
PASS_LIMIT = 100
COALESCE = 0.02  # seconds: watch events closer than this are taken together
CREDENTIALS_CHECK = 5.0  # seconds between looks at the kubeconfig file
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
    if isinstance(view, dict):
        return manifest_key(view)
    return view.name if isinstance(view, NodeView) else (view.namespace, view.name)


class KubernetesSource:
    def __init__(
        self,
        settings: KubernetesSettings,
        node_name: str,
        pools: Callable[[], Sequence[Pool]],
        on_change: Callable[[], None],
        node: Callable[[], Node] | None = None,
    ) -> None:
        self.settings = settings
        self.node_name = settings.node_name or node_name
        self.pools, self.on_change, self.node = pools, on_change, node
        self.metallb = MetalLBObjects()
        self._metallb_dirty = False
        self.cache: dict[str, dict[Any, Any]] = {"services": {}, "endpointslices": {}, "nodes": {}}
        self.states: dict[str, tuple[str, str]] = {}
        self.leading = False
        self.allocation_error = ""
        self.writes = {"status": 0, "events": 0, "conflicts": 0}
        self._announced: tuple[Service, ...] = ()
        self._pending: dict[tuple[str, str], tuple[ServiceView, tuple[str, ...]]] = {}
        self._events_sent: set[tuple[str, str, str]] = set()
        self._fresh = False  # services listed since this speaker became the allocator
        self._pass_task: asyncio.Task[None] | None = None
        self._pass_again = False
        self._recompute_scheduled = False
        self._refused: set[tuple[str, str]] = set()  # (uid, resourceVersion) refused: retried when something frees
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reflectors: list[Reflector] = []
        self._elector: Elector | None = None
        self._credentials_task: asyncio.Task[None] | None = None
        self._writer = ThreadPoolExecutor(settings.status_writers, thread_name_prefix="k8s-write")
        self._eventer = ThreadPoolExecutor(1, thread_name_prefix="k8s-event")  # Events never delay a status write

    # --- lifecycle -------------------------------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self._start_clients()
        if self.settings.kubeconfig_path:
            self._credentials_task = self._loop.create_task(self._watch_credentials(self.settings.kubeconfig_path))

    async def _watch_credentials(self, path: str) -> None:
        """A replaced kubeconfig (a rotated credential) reconnects with it; what is known stays announced."""
        seen = _file_id(path)
        while True:
            await asyncio.sleep(CREDENTIALS_CHECK)
            now = _file_id(path)
            if now != seen:
                seen = now
                log.info("kubernetes: %s changed: reconnecting with the new credentials", path)
                await self._stop_clients()
                await self._start_clients()

    async def _start_clients(self) -> None:
        self.states.pop("client", None)
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
        if self.settings.metallb:
            custom = client.CustomObjectsApi(self.api)
            for kind, (version, plural) in metallb_live.KINDS.items():
                call = _bind_custom(custom.list_cluster_custom_object, metallb_live.GROUP, version, plural)
                calls.append((metallb_live.RESOURCE_PREFIX + kind, call, metallb_live.manifest_view))
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

    async def _stop_clients(self) -> None:
        for r in self._reflectors:
            r.stop()
        self._reflectors = []
        if self._elector:
            await asyncio.to_thread(self._elector.stop)
            self._elector = None

    async def close(self) -> None:
        if self._credentials_task:
            self._credentials_task.cancel()
        await self._stop_clients()
        self._writer.shutdown(wait=False, cancel_futures=True)
        self._eventer.shutdown(wait=False, cancel_futures=True)

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
            **(
                {"metallb": {"objects": len(self.metallb.objects), "errors": self.metallb.errors}}
                if self.settings.metallb
                else {}
            ),
            "requests": {"watch": sum(r.requests for r in self._reflectors), **self.writes},
        }

    def config_changed(self) -> None:
        self._refused.clear()
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
        self._metallb_dirty |= resource.startswith(metallb_live.RESOURCE_PREFIX)
        if resource == "services":
            self._fresh = True
            self._refused.clear()
            for key in [k for k, (svc, _) in self._pending.items() if items.get(k) != svc]:
                del self._pending[key]
        self._changed()

    def _on_event(self, resource: str, kind: str, view: Any) -> None:
        key = _view_key(view)
        if kind == "DELETED":
            self.cache.setdefault(resource, {}).pop(key, None)
        else:
            self.cache.setdefault(resource, {})[key] = view
        self._metallb_dirty |= resource.startswith(metallb_live.RESOURCE_PREFIX)
        if resource == "services":
            pending = self._pending.get(key)
            if pending and (kind == "DELETED" or view.resource_version != pending[0].resource_version):
                del self._pending[key]
            if kind == "DELETED":
                self._refused.clear()  # an address may have come free
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
        """Coalesce a burst of watch events into one recomputation (and one replan) COALESCE seconds later."""
        if not self._recompute_scheduled and self._loop is not None:
            self._recompute_scheduled = True
            self._loop.call_later(COALESCE, self._recompute)

    def _recompute(self) -> None:
        self._recompute_scheduled = False
        if self._metallb_dirty and self.node is not None:
            self._metallb_dirty = False
            manifests = [m for r, items in self.cache.items() if r.startswith(metallb_live.RESOURCE_PREFIX)
                         for m in items.values()]  # fmt: skip
            if self.metallb.update(manifests, self.node()):
                self.on_change()
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
        if not self.leading or self._loop is None:
            return
        if self._pass_task is not None:
            self._pass_again = True
            return
        self._pass_task = self._loop.create_task(self._allocation_passes())

    async def _allocation_passes(self) -> None:
        """Allocation passes until nothing is left to decide. Each pass plans in a worker thread (the event loop
        keeps the BGP sessions' timers) over a snapshot, at most PASS_LIMIT decisions, so writes start early."""
        try:
            while True:
                self._pass_again = False
                if not (self.leading and self._fresh and self._elector and self._elector.leading):
                    return
                snapshot = dict(self.cache["services"])
                decisions = await asyncio.to_thread(
                    allocator.plan,
                    self.pools(),
                    list(snapshot.values()),
                    load_balancer_class=self.settings.load_balancer_class,
                    serve_unclassed=self.settings.serve_unclassed,
                    pending=list(self._pending.values()),
                    skip=frozenset(self._refused),
                    limit=PASS_LIMIT,
                )
                for d in decisions:
                    svc: ServiceView = snapshot[d.key]
                    if self.cache["services"].get(d.key) is not svc or d.key in self._pending:
                        self._pass_again = True  # changed while we planned: decided again
                        continue
                    if d.ingress is not None:
                        self._pending[d.key] = (svc, d.ingress)
                    else:
                        self._refused.add((svc.uid, svc.resource_version))
                    self._writer.submit(self._write, svc, d)
                if len(decisions) < PASS_LIMIT and not self._pass_again:
                    return
        finally:
            self._pass_task = None

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
        self._eventer.submit(self._event, core, svc, d)

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


def _file_id(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _bind_custom(call: Callable[..., Any], group: str, version: str, plural: str) -> Callable[..., Any]:
    def bound(**kwargs: Any) -> Any:
        return call(group, version, plural, **kwargs)

    return bound


def _bind(call: Callable[..., Any], namespace: str) -> Callable[..., Any]:
    def bound(**kwargs: Any) -> Any:
        return call(namespace, **kwargs)

    return bound
