"""`bgplb-speaker`: the node daemon. Loads the objects, plans the routes, keeps the sessions, serves the local API.

Data flows one way: config dir -> model -> planner (pure) -> per-peer adj-RIB-out -> sessions. Every trigger (a file
change, SIGHUP, `bgplbctl reload`, a health flip, drain) recomputes the whole plan and only the difference goes on the
wire; a peer whose own settings did not change keeps its session.

Signals: SIGHUP reloads; SIGTERM/SIGINT stop according to `--on-sigterm`: `graceful-restart` (default: close the
sessions without a NOTIFICATION so routers keep our routes as stale for `restart_time` while we restart),
`drain` (announce with GRACEFUL_SHUTDOWN, wait `--drain-wait`, withdraw, then stop) or `withdraw` (Cease at once).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import ipaddress
import json
import logging
import math
import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

from bgplb import bfd, model, planner
from bgplb.api import ApiServer
from bgplb.bgp import fsm, wire
from bgplb.bgp.route import Route
from bgplb.health import HealthChecker
from bgplb.metrics import ReloadCounter, SpeakerCollector, serve
from bgplb.model.addresses import pool_usage
from bgplb.speaker import PeerSettings, Speaker
from bgplb.store import SPEAKER_FILE, Store, write_atomic
from bgplb.transport import GTSM_TTL, gtsm_min_ttl

if TYPE_CHECKING:
    from bgplb.sources.kube.source import KubernetesSource

log = logging.getLogger("bgplb")

GR_MARKER = "graceful-restart"
DRAIN_FILE = "drain.json"


def bfd_config(peer: model.Peer) -> bfd.SessionConfig | None:
    """The peer's BFD session settings; multihop (RFC 5883) for an `ebgp_multihop` peer, single hop otherwise."""
    b = peer.bfd
    if b is None:
        return None
    hops = peer.ebgp_multihop
    auth = bfd.AuthConfig(b.auth_type, b.auth_key_id, b.auth_key.encode()) if b.auth_type and b.auth_key else None
    return bfd.SessionConfig(min_rx=b.receive_interval, min_tx=b.transmit_interval, multiplier=b.detect_multiplier,
                             passive=b.passive_mode, multihop=hops is True or (hops is not False and hops > 1),
                             min_ttl=b.minimum_ttl, auth=auth)  # fmt: skip


def peer_settings(node: model.Node, peer: model.Peer) -> PeerSettings:
    """The session parameters of one configured peer, as the speaker core wants them."""
    ebgp = peer.asn != node.asn
    min_ttl = None
    if not ebgp:
        ttl = None
    elif peer.ebgp_multihop is True:
        ttl = 255
    elif peer.ttl_security:  # GTSM, directly connected: send 255, accept only what left the peer with 255
        ttl, min_ttl = GTSM_TTL, gtsm_min_ttl(1)
    else:
        ttl = peer.ebgp_multihop or 1
    families = tuple(wire.IPV6_UNICAST if f == "ipv6" else wire.IPV4_UNICAST for f in planner.peer_families(peer))
    return PeerSettings(
        address=peer.address,
        next_hop_v4=node.ipv4_next_hop,
        next_hop_v6=node.ipv6_next_hop,
        port=peer.port,
        source_address=peer.source_address,
        password=peer.password,
        ttl=ttl,
        min_ttl=min_ttl,
        bfd=bfd_config(peer),
        session=fsm.SessionConfig(
            local_asn=node.asn,
            peer_asn=peer.asn,
            router_id=node.router_id,
            hold_time=peer.hold_time,
            keepalive_time=peer.keepalive_time,
            connect_time=peer.connect_time,
            passive=peer.passive,
            families=families,
            graceful_restart=peer.graceful_restart,
            restart_time=peer.restart_time,
        ),
    )


class Daemon:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        config_file = Path(args.config) if args.config else Path(args.config_dir) / SPEAKER_FILE
        self.store = Store(config_file.parent, config_file.name)
        self.state_dir = Path(args.state_dir)
        self.config: model.Config | None = None
        self.config_errors: list[str] = []
        self.drain: dict[str, Any] | None = self._load_drain()
        self.reloads = ReloadCounter()
        self.speaker: Speaker | None = None
        self.health = HealthChecker(self._on_health)
        self._nlri: dict[str, tuple[tuple[int, int], bytes]] = {}
        self._fingerprint: object = None
        self._reload_lock = asyncio.Lock()
        self._stop = asyncio.Event()
        self._drain_task: asyncio.Task[None] | None = None
        self._plan_task: asyncio.Task[None] | None = None  # a plan in a worker thread (large configurations)
        self._plan_wanted = False
        self.kube: KubernetesSource | None = None
        self._merged: model.Config | None = None
        self._merged_from: tuple[model.Config, tuple[Any, ...]] | None = None

    # --- lifecycle -------------------------------------------------------------------------------------------------
    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        marker = self.state_dir / GR_MARKER
        restarting = marker.exists()
        marker.unlink(missing_ok=True)
        config, errors = self.store.load_lenient()
        self._fingerprint = self.store.fingerprint()
        for error in errors:
            log.error("config: %s (ignored)", error)
        self.speaker = speaker = Speaker(listen=tuple(self.args.listen), port=self.args.port, restarting=restarting)
        await speaker.start()
        api = ApiServer(
            Path(self.args.socket),
            {
                "status": self._api_status,
                "routes": self._api_routes,
                "drain": self._api_drain,
                "undrain": self._api_undrain,
                "reload": self._api_reload,
            },
        )
        await api.start()
        if self.args.metrics:
            collector = SpeakerCollector(lambda: dict(speaker.runners), self._health_state, self.reloads,
                                         bfd=speaker.bfd_sessions, pools=self._pool_usage,
                                         metallb_names=self.args.metrics_metallb_names,
                                         drain=lambda: self.drain)  # fmt: skip
            serve(self.args.metrics, collector)
        self._apply(config, errors)
        if self.drain and self.drain["state"] == "draining":
            self._drain_task = loop.create_task(self._finish_drain())
        loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(self.reload()))
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop.set)
        log.info("bgplb-speaker started (node %s, %d peers)", config.node.name, len(self.speaker.runners))
        watcher = loop.create_task(self._watch())
        await self._stop.wait()
        watcher.cancel()
        await self._shutdown()
        if self.kube:
            await self.kube.close()
        await api.close()
        await self.health.close()
        return 0

    async def _shutdown(self) -> None:
        assert self.speaker is not None
        mode = self.args.on_sigterm
        if mode == "drain" and not (self.drain and self.drain["state"] == "drained"):
            await self._api_drain({"wait": self.args.drain_wait})
            if self._drain_task:
                await self._drain_task
        graceful = mode == "graceful-restart"
        if graceful:
            (self.state_dir / GR_MARKER).touch()
        log.info("stopping (%s)", mode)
        await self._planned()  # a withdrawal being planned is sent before the sessions close
        await self.speaker.stop(graceful_restart=graceful)

    async def _watch(self) -> None:
        """Reload when the directory changed and then stayed unchanged for one interval, so a writer in the middle
        of many files (a bulk `bgplbctl apply`, which asks for its own reload at the end) is not read half-done."""
        seen = self._fingerprint
        while True:
            await asyncio.sleep(self.args.watch_interval)
            try:
                now = await asyncio.to_thread(self.store.fingerprint)
                if now != self._fingerprint and now == seen:
                    await self.reload()
            except Exception:  # the watcher must outlive any one bad reload, or no later change is picked up
                log.exception("config watch: reload failed, keeping the running config")
                now = None
            seen = now

    # --- configuration ---------------------------------------------------------------------------------------------
    async def reload(self) -> dict[str, Any]:
        """Re-read the directory in a worker thread (the event loop keeps the sessions' keepalives going even when
        thousands of files are parsed), then apply the difference on the loop. Reloads run one at a time."""
        async with self._reload_lock:
            return await self._reload()

    async def _reload(self) -> dict[str, Any]:
        self._fingerprint = await asyncio.to_thread(self.store.fingerprint)
        try:
            config, errors = await asyncio.to_thread(self.store.load_lenient)
        except model.ValidationError as err:
            self.reloads.results["failed"] += 1
            for error in err.errors:
                log.error("reload refused, keeping the running config: %s", error)
            return {"applied": False, "errors": err.errors}
        for error in errors:
            log.error("config: %s (ignored)", error)
        self._apply(config, errors)
        self.reloads.results["partial" if errors else "ok"] += 1
        return {"applied": True, "errors": errors}

    def _apply(self, config: model.Config, errors: list[str]) -> None:
        assert self.speaker is not None
        self.config, self.config_errors = config, errors
        self._configure_peers(config)
        self.health.update([s for s in config.services if planner.serves(config, s)])
        self._configure_kubernetes(config)
        self._replan()

    def _configure_peers(self, config: model.Config) -> None:
        assert self.speaker is not None
        merged = self._with_objects(config)
        peers = model.peers_for_node(merged)
        self.speaker.configure({name: peer_settings(merged.node, peer) for name, peer in peers.items()})

    def _on_kubernetes(self) -> None:
        """The Kubernetes source changed what it announces or which MetalLB objects are in use."""
        if self.config is not None:
            self._configure_peers(self.config)
        self._replan()

    def _configure_kubernetes(self, config: model.Config) -> None:
        """Start, restart or stop the Kubernetes source when speaker.yaml's `kubernetes` section changes."""
        if self.kube is not None and self.kube.settings == config.kubernetes:
            self.kube.config_changed()
            return
        if self.kube is not None:
            asyncio.get_running_loop().create_task(self.kube.close())
            self.kube = None
        if config.kubernetes is not None:
            from bgplb.sources.kube.source import KubernetesSource  # the kubernetes client only when configured

            self.kube = KubernetesSource(config.kubernetes, config.node.name, self._pools, self._on_kubernetes,
                                         node=lambda: (self.config or config).node)  # fmt: skip
            asyncio.get_running_loop().create_task(self.kube.start())

    def _pool_usage(self) -> dict[str, tuple[int, int]]:
        """Per pool: (service addresses in it, its size), for the metrics."""
        if self.config is None:
            return {}
        config = self._with_sources(self.config)
        return pool_usage(config.pools, (a for s in config.services for a in s.address))

    def _pools(self) -> tuple[model.Pool, ...]:
        return self._with_objects(self.config).pools if self.config else ()

    def _replan(self) -> None:
        """Recompute every peer's routes. Up to THREADED_PLAN services this happens at once, on the loop; a larger
        configuration is planned in a worker thread (100k services take seconds, and a loop blocked that long misses
        keepalives: the routers' hold timers expire), one plan at a time, the last request winning."""
        if self.config is None or self.speaker is None:
            return
        inputs = self._plan_inputs()
        if len(inputs[0].services) <= THREADED_PLAN and (self._plan_task is None or self._plan_task.done()):
            self._set_tables(self._tables(*inputs))
            return
        self._plan_wanted = True
        if self._plan_task is None or self._plan_task.done():
            self._plan_task = asyncio.get_running_loop().create_task(self._plan_in_thread())

    async def _plan_in_thread(self) -> None:
        while self._plan_wanted:
            self._plan_wanted = False
            if self.config is None:
                return
            try:
                tables = await asyncio.to_thread(self._tables, *self._plan_inputs())
            except Exception:
                log.exception("planning failed: the routes stay as they are")
                return
            if not self._plan_wanted:  # else a newer request is already waiting: plan again before sending
                self._set_tables(tables)

    async def _planned(self) -> None:
        """Wait until the routes of the last replan request are handed to the sessions."""
        while self._plan_task is not None and not self._plan_task.done():
            await asyncio.shield(self._plan_task)

    def _plan_inputs(self) -> tuple[model.Config, dict[str, bool | None], bool, bool]:
        assert self.config is not None
        drained = self.drain is not None
        withdrawn = bool(self.drain and self.drain["state"] == "drained")
        return self._with_sources(self.config), dict(self.health.state), drained, withdrawn

    def _tables(self, config: model.Config, healthy: dict[str, bool | None], drained: bool,
                withdrawn: bool) -> dict[str, dict[tuple[int, int], dict[bytes, Route]]]:  # fmt: skip
        """Each peer's routes by address family and NLRI (pure but for the NLRI cache: one planner at a time)."""
        plan = {} if withdrawn else planner.plan(config, healthy, drained=drained)
        tables: dict[str, dict[tuple[int, int], dict[bytes, Route]]] = {}
        for name, routes in plan.items():
            table = tables[name] = {}
            for prefix, route in routes.items():
                family, nlri = self._to_nlri(prefix)
                table.setdefault(family, {})[nlri] = route
        return tables

    def _set_tables(self, tables: dict[str, dict[tuple[int, int], dict[bytes, Route]]]) -> None:
        assert self.speaker is not None
        for name in self.speaker.runners:
            self.speaker.set_routes(name, tables.get(name, {}))

    def _with_sources(self, config: model.Config) -> model.Config:
        """The config directory's objects plus the Kubernetes source's MetalLB objects and services."""
        if self.kube is None:
            return config
        base = self._with_objects(config)
        return dataclasses.replace(base, services=base.services + self.kube.services())

    def _with_objects(self, config: model.Config) -> model.Config:
        """The config directory's objects plus the MetalLB objects of the Kubernetes source (merged and validated
        once per pair). MetalLB objects that clash with the directory's (a name twice, overlapping pools) are left
        out and reported."""
        if self.kube is None:
            return config
        metallb = self.kube.metallb.objects
        if metallb and (self._merged_from is None or self._merged_from[0] is not config
                        or self._merged_from[1] is not metallb):  # fmt: skip
            self._merged_from = (config, metallb)
            merged = dataclasses.replace(config, **{
                model.KIND_FIELDS[k]: getattr(config, model.KIND_FIELDS[k])
                + tuple(o for o in metallb if model.kind_of(o) == k) for k in model.KINDS})  # fmt: skip
            try:
                model.validate_config(merged)
                self._merged = merged
            except model.ValidationError as err:
                self._merged = config
                self.kube.metallb.errors = [f"with the config directory: {e}" for e in err.errors]
                for e in err.errors:
                    log.error("kubernetes: MetalLB resources left out: %s", e)
        return self._merged if metallb and self._merged is not None else config

    def _to_nlri(self, prefix: str) -> tuple[tuple[int, int], bytes]:
        cached = self._nlri.get(prefix)
        if cached is None:
            family = wire.IPV6_UNICAST if ":" in prefix else wire.IPV4_UNICAST
            cached = self._nlri[prefix] = (family, wire.prefix_to_nlri(prefix))
        return cached

    def _on_health(self, service: str, healthy: bool) -> None:
        log.info("service %s: health check %s", service, "passing" if healthy else "failing")
        self._replan()

    def _health_state(self) -> dict[str, bool | None]:
        return dict(self.health.state)

    # --- drain -----------------------------------------------------------------------------------------------------
    def _load_drain(self) -> dict[str, Any] | None:
        """The saved drain state; an empty, partial or otherwise invalid file is logged and ignored."""
        path = self.state_dir / DRAIN_FILE
        try:
            drain = json.loads(path.read_bytes(), parse_constant=lambda c: None)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, RecursionError) as err:
            log.error("drain: ignoring unreadable %s: %s", path, err)
            return None
        if not valid_drain(drain):
            log.error("drain: ignoring invalid %s", path)
            return None
        return drain

    def _save_drain(self) -> None:
        path = self.state_dir / DRAIN_FILE
        if self.drain is None:
            path.unlink(missing_ok=True)
            return
        write_atomic(path, json.dumps(self.drain, allow_nan=False))

    async def _finish_drain(self) -> None:
        assert self.drain is not None
        remaining = self.drain["until"] - time.time()
        if remaining > 0:
            await asyncio.sleep(remaining)
        self.drain["state"] = "drained"
        self._save_drain()
        log.info("drain: wait over, routes withdrawn")
        self._replan()
        await self._planned()

    # --- API handlers ----------------------------------------------------------------------------------------------
    async def _api_status(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.speaker is not None and self.config is not None
        return {
            "node": self.config.node.name,
            "drain": self.drain,
            "config_errors": self.config_errors,
            "peers": self.speaker.status(),
            "services": {s.name: self.health.state.get(s.name) for s in self.config.services},
            **({"kubernetes": self.kube.status()} if self.kube else {}),
        }

    async def _api_routes(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.speaker is not None
        origins = self._origins()
        result: dict[str, Any] = {}
        for name, runner in self.speaker.runners.items():
            routes = []
            for (afi, _safi), table in runner.ribout.desired.items():
                for nlri, route in table.items():
                    sent = runner.ribout.sent.get((afi, _safi), {}).get(nlri) == route
                    prefix = wire.nlri_to_prefix(afi, nlri)
                    routes.append({"prefix": prefix, "sent": sent, **_route_dict(route),
                                   "services": _services_in(prefix, origins)})  # fmt: skip
            result[name] = sorted(routes, key=lambda r: (":" in r["prefix"], r["prefix"]))
        return result

    def _origins(self) -> dict[str, list[str]]:
        """Service address -> the services (config `service` objects, `kubernetes:<ns>/<name>`) with it."""
        out: dict[str, list[str]] = {}
        if self.config is not None:
            for service in self._with_sources(self.config).services:
                for address in service.address:
                    out.setdefault(address, []).append(service.name)
        return out

    async def _api_drain(self, request: dict[str, Any]) -> dict[str, Any]:
        wait = request.get("wait", self.args.drain_wait)
        if isinstance(wait, bool) or not isinstance(wait, int | float) or not 0 <= wait <= MAX_DRAIN_WAIT:
            raise ValueError(f"drain: wait must be a number of seconds from 0 to {MAX_DRAIN_WAIT:g}")
        if self.drain is None:
            self.drain = {"state": "draining", "since": time.time(), "until": time.time() + wait}
            self._save_drain()
            log.info("drain: announcing with GRACEFUL_SHUTDOWN, withdrawing in %ss", wait)
            self._replan()
            self._drain_task = asyncio.get_running_loop().create_task(self._finish_drain())
        return {"drain": self.drain}

    async def _api_undrain(self, request: dict[str, Any]) -> dict[str, Any]:
        if self._drain_task:
            self._drain_task.cancel()
            self._drain_task = None
        self.drain = None
        self._save_drain()
        log.info("undrain: announcing normally")
        self._replan()
        return {"drain": None}

    async def _api_reload(self, request: dict[str, Any]) -> dict[str, Any]:
        return await self.reload()


MAX_DRAIN_WAIT = 7 * 86400.0
THREADED_PLAN = 5000  # services above which the planner runs in a worker thread (Daemon._replan)


def valid_drain(drain: Any) -> TypeGuard[dict[str, Any]]:
    """drain.json as _save_drain writes it: a state and finite times."""
    return (
        isinstance(drain, dict)
        and drain.get("state") in ("draining", "drained")
        and all(isinstance(drain.get(k), int | float) and math.isfinite(drain[k]) for k in ("since", "until"))
    )


def _route_dict(route: Route) -> dict[str, Any]:
    return {
        "local_pref": route.local_pref,
        "med": route.med,
        "communities": [wire.format_community(c) for c in route.communities],
        "large_communities": [wire.format_large_community(c) for c in route.large_communities],
    }


def _services_in(prefix: str, origins: dict[str, list[str]]) -> list[str]:
    net = ipaddress.ip_network(prefix)
    if net.num_addresses == 1:
        return sorted(origins.get(str(net.network_address), ()))
    return sorted(n for a, names in origins.items() if ipaddress.ip_address(a) in net for n in names)


def _listen_address(text: str) -> str:
    ipaddress.ip_address(text)
    return text


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bgplb-speaker", description=__doc__.splitlines()[0])
    p.add_argument(
        "--config-dir",
        default=os.environ.get("BGPLB_CONFIG_DIR", "/etc/bgplb"),
        help="holds speaker.yaml and objects/<kind>/<name>.yaml",
    )
    p.add_argument(
        "--config",
        metavar="FILE",
        help="the speaker file, instead of CONFIG_DIR/speaker.yaml (objects are then read from objects/ beside it)",
    )
    p.add_argument("--state-dir", default=os.environ.get("BGPLB_STATE_DIR", "/var/lib/bgplb"))
    p.add_argument("--socket", default="/run/bgplb/api.sock", help="local API socket (created mode 0600)")
    p.add_argument(
        "--listen",
        action="append",
        type=_listen_address,
        help="address to accept BGP connections on (repeatable; default 0.0.0.0 and ::)",
    )
    p.add_argument("--no-listen", action="store_true", help="only connect out, never accept connections")
    p.add_argument("--port", type=int, default=179, help="BGP listening port")
    p.add_argument("--metrics", metavar="HOST:PORT", help="serve Prometheus metrics here (default: off)")
    p.add_argument("--metrics-metallb-names", action="store_true",
                   help="also serve MetalLB's metric names (speaker/docs/metrics.md)")  # fmt: skip
    p.add_argument("--on-sigterm", choices=("graceful-restart", "drain", "withdraw"), default="graceful-restart")
    p.add_argument("--drain-wait", type=float, default=30.0, help="seconds between GRACEFUL_SHUTDOWN and withdraw")
    p.add_argument("--watch-interval", type=float, default=1.0, help="seconds between config directory checks")
    p.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    args = p.parse_args(argv)
    args.listen = [] if args.no_listen else (args.listen or ["0.0.0.0", "::"])
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    daemon = Daemon(args)
    try:
        return asyncio.run(daemon.run())
    except model.ValidationError as err:
        for error in err.errors:
            log.error("invalid configuration: %s", error)
        return 2
    except OSError as err:
        log.error("cannot start: %s", err)
        return 1


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
