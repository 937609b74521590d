"""Prometheus metrics, read from the daemon's live state at scrape time (nothing is double-booked)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from prometheus_client import start_http_server
from prometheus_client.core import REGISTRY, CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bgplb.bgp.wire import MsgType

if TYPE_CHECKING:
    from bgplb.speaker import PeerRunner


@dataclass(slots=True)
class ReloadCounter:
    results: dict[str, int] = field(default_factory=lambda: {"ok": 0, "partial": 0, "failed": 0})


DRAIN_STATES = {"draining": 1, "drained": 2}


class SpeakerCollector(Collector):
    def __init__(
        self,
        runners: Callable[[], Mapping[str, PeerRunner]],
        health: Callable[[], Mapping[str, bool | None]],
        reloads: ReloadCounter,
        bfd: Callable[[], Mapping[str, object]] | None = None,
        pools: Callable[[], Mapping[str, tuple[int, int]]] | None = None,
        metallb_names: bool = False,
        drain: Callable[[], Mapping[str, Any] | None] | None = None,
    ) -> None:
        self._runners = runners
        self._health = health
        self._reloads = reloads
        self._bfd = bfd
        self._pools = pools  # pool name -> (addresses in use by services, addresses in the pool)
        self._metallb_names = metallb_names  # also MetalLB's names for the same values (metallb_metrics)
        self._drain = drain  # the daemon's drain state ({state, since, until}) or None

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("bgplb_session_up", "1 when the BGP session is Established", labels=["peer"])
        prefixes = GaugeMetricFamily("bgplb_announced_prefixes", "Prefixes announced to the peer", labels=["peer"])
        sent = CounterMetricFamily("bgplb_messages_sent", "BGP messages sent", labels=["peer", "type"])
        received = CounterMetricFamily("bgplb_messages_received", "BGP messages received", labels=["peer", "type"])
        for name, runner in self._runners().items():
            session = runner.session
            up.add_metric([name], 1.0 if session.established_at is not None else 0.0)
            prefixes.add_metric([name], float(len(runner.ribout)))
            for kind in (MsgType.UPDATE, MsgType.NOTIFICATION, MsgType.KEEPALIVE):
                sent.add_metric([name, kind.name.lower()], float(session.sent[kind]))
                received.add_metric([name, kind.name.lower()], float(session.received[kind]))
        yield from (up, prefixes, sent, received)
        health = GaugeMetricFamily(
            "bgplb_service_healthy", "Health check result per service (1 up, 0 down, -1 unknown)", labels=["service"]
        )
        for service, state in self._health().items():
            health.add_metric([service], -1.0 if state is None else float(state))
        yield health
        reloads = CounterMetricFamily("bgplb_reloads", "Configuration reloads by result", labels=["result"])
        for result, count in self._reloads.results.items():
            reloads.add_metric([result], float(count))
        yield reloads
        if self._pools is not None:
            in_use = GaugeMetricFamily("bgplb_pool_addresses_in_use", "Service addresses inside the pool (config "
                                       "and Kubernetes services, as this node sees them)", labels=["pool"])  # fmt: skip
            total = GaugeMetricFamily("bgplb_pool_addresses_total", "Addresses the pool holds", labels=["pool"])
            for pool, (used, size) in self._pools().items():
                in_use.add_metric([pool], float(used))
                total.add_metric([pool], float(size))
            yield from (in_use, total)
        if self._drain is not None:
            drain = self._drain()
            drained = GaugeMetricFamily("bgplb_drain_state", "Drain state: 0 announcing normally, 1 draining "
                                      "(GRACEFUL_SHUTDOWN), 2 drained (withdrawn)")  # fmt: skip
            drained.add_metric([], float(DRAIN_STATES.get(drain["state"], 0) if drain else 0))
            since = GaugeMetricFamily("bgplb_drain_since_timestamp_seconds", "When the drain started (Unix time; "
                                      "0 when not drained)")  # fmt: skip
            since.add_metric([], float(drain["since"]) if drain else 0.0)
            yield from (drained, since)
        if self._bfd is not None:
            yield from bfd_metrics(self._bfd())
        if self._metallb_names:
            yield from self.metallb_metrics()

    def metallb_metrics(self) -> Iterator[Metric]:
        """The same values under MetalLB's names, so dashboards and alerts written for MetalLB's speaker and
        controller read a bgplb node: `peer` is the peer's address (MetalLB labels its BGP series so), `pool` the
        pool's name."""
        up = GaugeMetricFamily("metallb_bgp_session_up", "BGP session state (1 is up, 0 is down)", labels=["peer"])
        prefixes = GaugeMetricFamily("metallb_bgp_announced_prefixes_total", "Number of prefixes currently being "
                                     "advertised on the BGP session", labels=["peer"])  # fmt: skip
        updates = CounterMetricFamily("metallb_bgp_updates", "Number of BGP UPDATE messages sent", labels=["peer"])
        for runner in self._runners().values():
            address = runner.settings.address
            up.add_metric([address], 1.0 if runner.session.established_at is not None else 0.0)
            prefixes.add_metric([address], float(len(runner.ribout)))
            updates.add_metric([address], float(runner.session.sent[MsgType.UPDATE]))
        yield from (up, prefixes, updates)
        if self._pools is not None:
            in_use = GaugeMetricFamily("metallb_allocator_addresses_in_use_total", "Number of IP addresses in use, "
                                       "per pool", labels=["pool"])  # fmt: skip
            total = GaugeMetricFamily("metallb_allocator_addresses_total", "Number of usable IP addresses, per pool",
                                      labels=["pool"])  # fmt: skip
            for pool, (used, size) in self._pools().items():
                in_use.add_metric([pool], float(used))
                total.add_metric([pool], float(size))
            yield from (in_use, total)


def bfd_metrics(sessions: Mapping[str, object]) -> Iterator[Metric]:
    """Per peer with BFD running: Up or not, state changes, packets sent / received / discarded by reason."""
    from bgplb.bfd.session import DISCARD_KINDS

    up = GaugeMetricFamily("bgplb_bfd_session_up", "1 when the peer's BFD session is Up", labels=["peer"])
    changes = CounterMetricFamily("bgplb_bfd_state_changes", "BFD state changes, by the state entered",
                                  labels=["peer", "state"])  # fmt: skip
    detect = GaugeMetricFamily("bgplb_bfd_detect_time_seconds", "Negotiated BFD detection time (0 before the peer "
                               "was heard)", labels=["peer"])  # fmt: skip
    sent = CounterMetricFamily("bgplb_bfd_packets_sent", "BFD control packets sent", labels=["peer"])
    received = CounterMetricFamily("bgplb_bfd_packets_received", "BFD control packets accepted", labels=["peer"])
    discarded = CounterMetricFamily("bgplb_bfd_packets_discarded", "BFD packets discarded, by reason",
                                    labels=["peer", "reason"])  # fmt: skip
    for name, session in sessions.items():
        s: Any = session
        up.add_metric([name], 1.0 if str(s.state) == "Up" else 0.0)
        for state in ("AdminDown", "Down", "Init", "Up"):
            changes.add_metric([name, state], float(s.transitions[state]))
        detect.add_metric([name], s.detect_time)
        sent.add_metric([name], float(s.sent))
        received.add_metric([name], float(s.received))
        for reason in DISCARD_KINDS:
            discarded.add_metric([name, reason], float(s.discarded[reason]))
    yield from (up, changes, detect, sent, received, discarded)


def serve(address: str, collector: SpeakerCollector) -> None:
    """Expose /metrics on `host:port` (IPv6 as `[::1]:9473`)."""
    host, _, port = address.rpartition(":")
    REGISTRY.register(collector)
    start_http_server(int(port), addr=host.strip("[]") or "0.0.0.0")
