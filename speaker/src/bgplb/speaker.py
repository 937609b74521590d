"""The asyncio side of the speaker: one `PeerRunner` per peer drives a sans-I/O `Session` and its `AdjRibOut`.

`Speaker.configure()` takes the wanted peers; a peer whose `PeerSettings` are unchanged keeps its session (a reload
never resets it), a changed one is restarted, a removed one is stopped with a Cease. `Speaker.set_routes()` gives a peer
its desired table; only the difference is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from bgplb.bgp import fsm, wire
from bgplb.bgp.ribout import AdjRibOut, AttributeEncoder, Table
from bgplb.bgp.route import Route
from bgplb.transport import GTSM_TTL, client_socket, family_of, listen_socket, set_md5, set_ttl

log = logging.getLogger("bgplb.speaker")

CONNECT_TIMEOUT = 10.0


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
        self.session = fsm.Session(settings.session, restarting=restarting)
        self.ribout = AdjRibOut()
        self.established_count = 0
        self.last_down_reason: str | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._encoder: AttributeEncoder | None = None
        self._established: fsm.Established | None = None
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
                    self._closed.add(conn)  # type: ignore[arg-type]
                    if conn.transport is not None:  # type: ignore[attr-defined]
                        conn.transport.close()  # type: ignore[attr-defined]
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

    def _write(self, conn: object, data: bytes) -> None:
        transport = conn.transport  # type: ignore[attr-defined]
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

    def _on_established(self, ev: fsm.Established) -> None:
        s = self.settings
        local = ev.conn.transport.get_extra_info("sockname")[0]  # type: ignore[attr-defined]
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
        self._servers: list[asyncio.Server] = []
        self._listen_socks: list[socket.socket] = []
        self.on_change: Callable[[], None] | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
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
                continue
            if runner is not None:
                log.info("peer %s: settings changed, restarting its session", name)
                self._remove(name, wire.CeaseSubcode.OTHER_CONFIG_CHANGE)
            self._set_password(settings.address, settings.password)
            runner = PeerRunner(name, settings, self, restarting=self.restarting)
            self.runners[name] = runner
            runner.start()
        self._set_listen_min_ttl()

    def set_routes(self, name: str, table: Mapping[tuple[int, int], Mapping[bytes, Route]]) -> None:
        self.runners[name].set_routes(table)

    def status(self) -> list[dict[str, object]]:
        return [r.status() for r in self.runners.values()]

    async def stop(self, *, graceful_restart: bool = False) -> None:
        """Stop every peer: with a Cease, or for a graceful restart by closing TCP so the routers keep our routes."""
        for server in self._servers:
            server.close()
        for runner in self.runners.values():
            runner.stop(notify=not graceful_restart)
        await asyncio.sleep(0)  # let the transports flush the NOTIFICATIONs
        for server in self._servers:
            with contextlib.suppress(Exception):
                await server.wait_closed()

    def _remove(self, name: str, subcode: int) -> None:
        runner = self.runners.pop(name)
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
