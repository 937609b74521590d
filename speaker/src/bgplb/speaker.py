"""The asyncio side of the speaker: one `PeerRunner` per peer drives a sans-I/O `Session` and its `AdjRibOut`.

`Speaker.configure()` takes the wanted peers; a peer whose `PeerSettings` are unchanged keeps its session (a reload
never resets it), a changed one is restarted, a removed one is stopped with a Cease. `Speaker.set_routes()` gives a peer
its desired table; only the difference is sent.

BFD (`PeerSettings.bfd`) runs beside each session that asks for it, in `Speaker.bfd` (`bgplb.bfd.transport`): a BFD
Up -> Down takes that peer's established BGP session down at once (the TCP connection is dropped without a
NOTIFICATION, as if lost); a change of the BFD settings alone never resets the BGP session (only a poll sequence).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from bgplb import bfd
from bgplb.bfd.transport import BfdTransport
from bgplb.bgp import fsm, wire
from bgplb.bgp.ribout import AdjRibOut, AttributeEncoder, Table
from bgplb.bgp.route import Route
from bgplb.transport import GTSM_TTL, client_socket, family_of, listen_socket, set_md5, set_ttl

log = logging.getLogger("bgplb.speaker")

CONNECT_TIMEOUT = 10.0
BFD_STOP_DELAY = 0.2  # seconds between closing the BGP sessions and BFD AdminDown on a stop
BFD_RETRY = 1.0  # seconds between tries to find the local address of a BFD session (no route to the peer yet)


@dataclass(frozen=True, slots=True)
class PeerSettings:
    """Everything that defines one session; any change means a new session."""

    address: str
    session: fsm.SessionConfig
    port: int = 179
    source_address: str | None = None
    password: str | None = field(default=None, repr=False)
    ttl: int | None = None
    min_ttl: int | None = None
    next_hop_v4: str | None = None
    next_hop_v6: str | None = None
    bfd: bfd.SessionConfig | None = field(default=None, compare=False)  # changing it never resets the session


class _Protocol(asyncio.Protocol):
    """One TCP connection; the object itself is the connection id the session sees."""

    def __init__(self, runner: PeerRunner | None, speaker: Speaker, inbound: bool) -> None:
        self.runner = runner
        self.speaker = speaker
        self.inbound = inbound
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        if self.runner is None:  # inbound: find the peer by its address
            peer = transport.get_extra_info("peername")[0]
            self.runner = self.speaker.runner_for_address(peer)
            if self.runner is None:
                log.info("refusing connection from unknown peer %s", peer)
                transport.close()
                return
            s = self.runner.settings
            try:  # before our OPEN goes out: the TTL it is sent with, and GTSM on the peer's next segments
                set_ttl(transport.get_extra_info("socket"), s.ttl, s.min_ttl or 0)
            except OSError as err:
                log.warning("peer %s: cannot set TTL on the inbound connection: %s", self.runner.name, err)
                transport.close()
                return
        self.runner.connection_made(self)

    def data_received(self, data: bytes) -> None:
        if self.runner is not None:
            self.runner.data_received(self, data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.runner is not None:
            self.runner.connection_lost(self, exc)


class PeerRunner:
    """Binds a `Session` to sockets, timers and the peer's outbound table."""

    def __init__(self, name: str, settings: PeerSettings, speaker: Speaker, *, restarting: bool = False) -> None:
        self.name = name
        self.settings = settings
        self.speaker = speaker
        self.loop = asyncio.get_running_loop()
        self.session: fsm.Session[_Protocol] = fsm.Session(settings.session, restarting=restarting)
        self.ribout = AdjRibOut()
        self.established_count = 0
        self.last_down_reason: str | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._encoder: AttributeEncoder | None = None
        self._established: fsm.Established[_Protocol] | None = None
        self._closed: set[_Protocol] = set()

    @property
    def now(self) -> float:
        return self.loop.time()

    # --- control ---------------------------------------------------------------------------------------------------
    def start(self) -> None:
        self.session.start(self.now)
        self._pump()

    def stop(self, *, notify: bool = True, subcode: int = wire.CeaseSubcode.ADMIN_SHUTDOWN) -> None:
        if self._connecting:
            self._connecting.cancel()
        self.session.stop(self.now, subcode, notify=notify)
        self._pump()
        if self._timer:
            self._timer.cancel()

    def set_routes(self, table: Table) -> None:
        self.ribout.set_desired(table)
        self._flush()

    def bfd_down(self, diag: str) -> None:
        """BFD saw the path fail: drop the established connection now, without a NOTIFICATION (it cannot arrive)."""
        conn = self.session.established_conn
        if conn is None:
            return
        self._closed.add(conn)
        if conn.transport is not None:
            conn.transport.abort()
        self.session.connection_lost(conn, self.now, f"BFD down ({diag})")
        self._pump()

    def status(self) -> dict[str, object]:
        up = self.session.established_at
        return {
            "name": self.name,
            "address": self.settings.address,
            "asn": self.settings.session.peer_asn,
            "state": self.session.state.value,
            "uptime": round(self.now - up, 3) if up is not None else None,
            "prefixes_sent": len(self.ribout),
            "prefixes_desired": sum(len(t) for t in self.ribout.desired.values()),
            "established_count": self.established_count,
            "updates_sent": self.session.sent[wire.MsgType.UPDATE],
            "updates_received": self.session.received[wire.MsgType.UPDATE],
            "notifications_sent": self.session.sent[wire.MsgType.NOTIFICATION],
            "notifications_received": self.session.received[wire.MsgType.NOTIFICATION],
            "last_error": self.session.last_error or self.last_down_reason,
        }

    # --- transport callbacks ---------------------------------------------------------------------------------------
    def connection_made(self, proto: _Protocol) -> None:
        self.session.connection_made(proto, self.now, inbound=proto.inbound)
        self._pump()

    def data_received(self, proto: _Protocol, data: bytes) -> None:
        self.session.data_received(proto, data, self.now)
        self._pump()

    def connection_lost(self, proto: _Protocol, exc: Exception | None) -> None:
        if proto in self._closed:
            self._closed.discard(proto)
            return
        self.session.connection_lost(proto, self.now, str(exc) if exc else "connection closed by peer")
        self._pump()

    # --- the pump: act on what the session produced ----------------------------------------------------------------
    def _pump(self) -> None:
        for item in self.session.poll():
            match item:
                case fsm.Send(conn, data):
                    self._write(conn, data)
                case fsm.Close(conn):
                    self._closed.add(conn)
                    if conn.transport is not None:
                        conn.transport.close()
                case fsm.Connect():
                    self._connecting = self.loop.create_task(self._connect())
                case fsm.Established():
                    self._on_established(item)
                case fsm.Down(reason):
                    self._established = None
                    self._encoder = None
                    self.ribout.reset()
                    self.last_down_reason = reason
                    log.warning("peer %s: session down: %s", self.name, reason)
                case fsm.RefreshRequested(afi, safi):
                    self.ribout.refresh((afi, safi))
                    self._flush(end_of_rib=((afi, safi),))
                case fsm.UpdateIgnored(reason):
                    log.info("peer %s: inbound UPDATE ignored: %s", self.name, reason)
        self._arm_timer()

    def _write(self, conn: _Protocol, data: bytes) -> None:
        transport = conn.transport
        if transport is None or transport.is_closing():
            return
        transport.write(data)

    def _arm_timer(self) -> None:
        if self._timer:
            self._timer.cancel()
            self._timer = None
        deadline = self.session.next_deadline()
        if deadline is not None:
            self._timer = self.loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self.session.handle_timers(self.now)
        self._pump()

    async def _connect(self) -> None:
        s = self.settings
        try:
            sock = client_socket(
                s.address, source_address=s.source_address, password=s.password, ttl=s.ttl, min_ttl=s.min_ttl
            )
            try:
                await asyncio.wait_for(self.loop.sock_connect(sock, (s.address, s.port)), CONNECT_TIMEOUT)
                await self.loop.create_connection(lambda: _Protocol(self, self.speaker, False), sock=sock)
            except BaseException:
                sock.close()
                raise
        except asyncio.CancelledError:
            raise
        except (OSError, TimeoutError) as err:
            reason = f"connect to {s.address}:{s.port} failed: {err or type(err).__name__}"
            log.debug("peer %s: %s", self.name, reason)
            self.session.connect_failed(self.now, reason)
            self._pump()
        finally:
            self._connecting = None

    def _on_established(self, ev: fsm.Established[_Protocol]) -> None:
        s = self.settings
        assert ev.conn.transport is not None  # Established comes from data on this connection
        local = ev.conn.transport.get_extra_info("sockname")[0]
        local = local.split("%")[0]
        v6_local = ipaddress.ip_address(local).version == 6
        next_hop_v4 = s.next_hop_v4 or (None if v6_local else local)
        next_hop_v6 = s.next_hop_v6 or (local if v6_local else None)
        self._established = ev
        self._encoder = AttributeEncoder(
            local_asn=s.session.local_asn,
            ebgp=s.session.local_asn != s.session.peer_asn,
            next_hop_v4=next_hop_v4,
            next_hops_v6=(next_hop_v6,) if next_hop_v6 else (),
            asn4=ev.asn4,
        )
        self.established_count += 1
        log.info("peer %s: established (%s, families %s)", self.name, s.address, ev.families)
        self.speaker.bfd_local_address(self.name, local)
        self.ribout.reset()
        self._flush(end_of_rib=ev.families)

    def _flush(self, end_of_rib: tuple[tuple[int, int], ...] = ()) -> None:
        ev = self._established
        if ev is None or self._encoder is None:
            return
        messages = self.ribout.flush(self._encoder, ev.families, ev.max_length)
        messages += [wire.end_of_rib(afi, safi) for afi, safi in end_of_rib]
        if messages:
            self.session.send(messages, self.now)
            self._pump()


class Speaker:
    """All peers of this node, and the listening sockets that accept their connections."""

    def __init__(self, *, listen: tuple[str, ...] = ("0.0.0.0", "::"), port: int = 179, restarting: bool = False):
        self.listen = listen
        self.port = port
        self.restarting = restarting
        self.runners: dict[str, PeerRunner] = {}
        self.bfd: BfdTransport | None = None
        self._bfd: dict[str, _BfdLink] = {}  # by peer name
        self._servers: list[asyncio.Server] = []
        self._listen_socks: list[socket.socket] = []
        self.on_change: Callable[[], None] | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.bfd = BfdTransport(self._on_bfd, loop=loop)
        for address in self.listen:
            sock = listen_socket(address, self.port)
            self._listen_socks.append(sock)
            server = await loop.create_server(lambda: _Protocol(None, self, True), sock=sock)
            self._servers.append(server)

    def runner_for_address(self, address: str) -> PeerRunner | None:
        address = address.split("%")[0]
        ip = ipaddress.ip_address(address)
        if ip.version == 6 and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        for runner in self.runners.values():
            if ipaddress.ip_address(runner.settings.address) == ip:
                return runner
        return None

    def configure(self, peers: Mapping[str, PeerSettings]) -> None:
        """Make the running peers match `peers`; unchanged peers keep their session."""
        for name in [n for n in self.runners if n not in peers]:
            log.info("peer %s: removed", name)
            self._remove(name, wire.CeaseSubcode.PEER_DECONFIGURED)
        for name, settings in peers.items():
            runner = self.runners.get(name)
            if runner is not None and runner.settings == settings:
                runner.settings = settings  # the BFD settings may differ
                self._configure_bfd(name, settings)
                continue
            if runner is not None:
                log.info("peer %s: settings changed, restarting its session", name)
                self._remove(name, wire.CeaseSubcode.OTHER_CONFIG_CHANGE, keep_bfd=True)
            self._set_password(settings.address, settings.password)
            runner = PeerRunner(name, settings, self, restarting=self.restarting)
            self.runners[name] = runner
            self._configure_bfd(name, settings)
            runner.start()
        self._set_listen_min_ttl()

    def set_routes(self, name: str, table: Mapping[tuple[int, int], Mapping[bytes, Route]]) -> None:
        self.runners[name].set_routes(table)

    def status(self) -> list[dict[str, object]]:
        return [{**r.status(), "bfd": self.bfd_status(n)} for n, r in self.runners.items()]

    async def stop(self, *, graceful_restart: bool = False) -> None:
        """Stop every peer: with a Cease, or for a graceful restart by closing TCP so the routers keep our routes.

        BFD is ended after the BGP sessions, `BFD_STOP_DELAY` later: a router that sees BFD fail while it already
        holds our routes for a graceful restart keeps them when it checks for control plane failure (FRR's `neighbor
        X bfd check-control-plane-failure`; our C bit is 0), while a dead node's BFD fails with BGP still up, and the
        router drops its routes (speaker/docs/bfd.md)."""
        for server in self._servers:
            server.close()
        for runner in self.runners.values():
            runner.stop(notify=not graceful_restart)
        await asyncio.sleep(0)  # let the transports flush the NOTIFICATIONs
        if self._bfd:
            await asyncio.sleep(BFD_STOP_DELAY)
            for name in list(self._bfd):
                self._stop_bfd(name)
        for server in self._servers:
            with contextlib.suppress(Exception):
                await server.wait_closed()

    def _remove(self, name: str, subcode: int, *, keep_bfd: bool = False) -> None:
        runner = self.runners.pop(name)
        if not keep_bfd:
            self._stop_bfd(name)
        runner.stop(subcode=subcode)
        if runner.settings.password and self.runner_for_address(runner.settings.address) is None:
            self._set_password(runner.settings.address, "")

    def _set_listen_min_ttl(self) -> None:
        """GTSM on the listening sockets, which answer a peer's SYN before its connection is ours to configure.

        With any GTSM peer in a family, the SYN-ACK goes out with TTL 255 (a GTSM router drops it otherwise); when
        every peer of the family wants a minimum TTL, SYNs below it are dropped by the kernel. The accepted
        connection then gets its own peer's TTL and minimum in `_Protocol.connection_made`.
        """
        for sock in self._listen_socks:
            runners = [r for r in self.runners.values() if family_of(r.settings.address) == sock.family]
            wanted = [r.settings.min_ttl or 0 for r in runners]
            set_ttl(sock, GTSM_TTL if any(wanted) else -1, min(wanted) if wanted else 0)  # -1: the system default

    def _set_password(self, address: str, password: str | None) -> None:
        """Keep the MD5 key of `address` on the listening sockets of its family."""
        if password is None:
            return
        family = family_of(address)
        for sock in self._listen_socks:
            if sock.family == family:
                set_md5(sock, address, password)

    # --- BFD -------------------------------------------------------------------------------------------------------
    def bfd_sessions(self) -> dict[str, bfd.Session]:
        """Peer name -> its running BFD session."""
        assert self.bfd is not None
        out = {}
        for name, link in self._bfd.items():
            session = self.bfd.session(link.local, link.address) if link.local else None
            if session is not None:
                out[name] = session
        return out

    def bfd_status(self, name: str) -> dict[str, object] | None:
        """The peer's BFD as `bgplbctl status` shows it; None without BFD (speaker/docs/bfd.md)."""
        link = self._bfd.get(name)
        if link is None:
            return None
        session = self.bfd_sessions().get(name)
        cfg = link.config
        base: dict[str, object] = {
            "local_address": link.local, "multihop": cfg.multihop,
            "receive_interval": cfg.min_rx, "transmit_interval": cfg.min_tx, "detect_multiplier": cfg.multiplier,
            "passive_mode": cfg.passive, "auth_type": cfg.auth.type if cfg.auth else None, "error": link.error,
        }  # fmt: skip
        if session is None:
            return {**_idle_status(), **base}
        return {**session.status(asyncio.get_running_loop().time()), **base}

    def bfd_local_address(self, name: str, local: str) -> None:
        """The BGP session came up from `local`: BFD runs from the same address (unless `source_address` says)."""
        link = self._bfd.get(name)
        runner = self.runners.get(name)
        if link is None or runner is None or runner.settings.source_address or link.local == local:
            return
        log.info("peer %s: BFD moves to the BGP session's local address %s", name, local)
        self._stop_bfd(name)
        self._bfd[name] = _BfdLink(link.address, link.config)
        self._start_bfd(name, local)

    def _configure_bfd(self, name: str, settings: PeerSettings) -> None:
        link = self._bfd.get(name)
        want = settings.bfd
        if link is not None and (
            want is None or link.address != settings.address or _restart_needed(link.config, want)
        ):
            self._stop_bfd(name)
            link = None
        if want is None:
            return
        if link is not None:
            if link.config != want and link.local is not None:
                assert self.bfd is not None
                self.bfd.set_timers(link.local, link.address, min_rx=want.min_rx, min_tx=want.min_tx,
                                    multiplier=want.multiplier)  # fmt: skip
                log.info("peer %s: BFD timers now rx %d ms, tx %d ms, x%d", name, want.min_rx, want.min_tx,
                         want.multiplier)  # fmt: skip
            link.config = want
            return
        self._bfd[name] = _BfdLink(settings.address, want)
        self._start_bfd(name, settings.source_address)

    def _start_bfd(self, name: str, local: str | None) -> None:
        link = self._bfd[name]
        link.retry = None
        try:
            local = local or _route_source(link.address)
            assert self.bfd is not None
            self.bfd.add(local, link.address, link.config)
        except OSError as err:
            link.error = f"BFD not started: {err.strerror or err}"
            if link.retries in (0, 10) or link.retries % 60 == 0:
                log.warning("peer %s: %s (retrying every %gs)", name, link.error, BFD_RETRY)
            link.retries += 1
            link.retry = asyncio.get_running_loop().call_later(BFD_RETRY, self._start_bfd, name, None)
            return
        link.local, link.error = local, None
        log.info("peer %s: BFD %s -> %s started (%s, rx %d ms, tx %d ms, x%d%s%s)", name, local, link.address,
                 "multihop" if link.config.multihop else "single hop", link.config.min_rx, link.config.min_tx,
                 link.config.multiplier, ", passive" if link.config.passive else "",
                 f", {link.config.auth.type}" if link.config.auth else "")  # fmt: skip

    def _stop_bfd(self, name: str) -> None:
        """AdminDown to the peer, then the session is gone."""
        link = self._bfd.pop(name, None)
        if link is None:
            return
        if link.retry:
            link.retry.cancel()
        if link.local is not None and self.bfd is not None:
            self.bfd.remove(link.local, link.address)
            log.info("peer %s: BFD %s -> %s stopped (AdminDown sent)", name, link.local, link.address)

    def _on_bfd(self, key: tuple[str, str], session: bfd.Session, event: bfd.Event) -> None:
        name = next((n for n, link in self._bfd.items() if (link.local, _norm(link.address)) == key), None)
        if name is None:
            return
        if isinstance(event, bfd.Discarded):
            log.debug("peer %s: BFD packet discarded (%s): %s", name, event.kind, event.reason)
            return
        failed = event.old is bfd.State.UP and event.new is bfd.State.DOWN and not event.remote_admin_down
        level = logging.WARNING if failed else logging.INFO
        log.log(level, "peer %s: BFD %s -> %s (diag %s%s)", name, event.old, event.new, event.diag,
                ", the peer is administratively down" if event.remote_admin_down else "")  # fmt: skip
        runner = self.runners.get(name)
        if failed and runner is not None:
            runner.bfd_down(str(event.diag))


@dataclass(eq=False)
class _BfdLink:
    """One peer's BFD: its settings and where it runs (`local` None until the local address is known)."""

    address: str
    config: bfd.SessionConfig
    local: str | None = None
    error: str | None = None
    retry: asyncio.TimerHandle | None = None
    retries: int = 0


def _norm(address: str) -> str:
    return str(ipaddress.ip_address(address.split("%", 1)[0]))


def _restart_needed(old: bfd.SessionConfig, new: bfd.SessionConfig) -> bool:
    """Only the intervals and the multiplier change on a running BFD session (poll sequence); the rest restarts it."""
    return (old.passive, old.multihop, old.min_ttl, old.auth) != (new.passive, new.multihop, new.min_ttl, new.auth)


def _route_source(address: str) -> str:
    """The local address the kernel would send to `address` from (a UDP connect sends nothing)."""
    with socket.socket(family_of(address), socket.SOCK_DGRAM) as sock:
        sock.connect((address, bfd.packet.PORT))
        return str(sock.getsockname()[0])


def _idle_status() -> dict[str, object]:
    """The status of a BFD session that could not start yet."""
    return {"state": "Down", "diag": "none", "remote_state": "Down", "remote_diag": "none", "local_discr": 0,
            "remote_discr": 0, "tx_interval_ms": 0.0, "rx_interval_ms": 0.0, "detect_time_ms": 0.0,
            "remote_min_rx_ms": 0.0, "remote_min_tx_ms": 0.0, "remote_multiplier": 0, "polling": False, "up_count": 0,
            "since": None, "packets_sent": 0, "packets_received": 0,
            "discarded": dict.fromkeys(bfd.session.DISCARD_KINDS, 0)}  # fmt: skip
