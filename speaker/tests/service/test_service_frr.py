"""The real speaker (`bgplb-speaker` + `bgplbctl`) against a real FRR 8.4 in network namespaces: what an operator
relies on. Objects applied with bgplbctl show up at the router with their attributes; health checks, graceful restart,
drain and object churn move routes without ever resetting a session; invalid input is refused and never disturbs what
is advertised; only a peer's own parameters reset its session."""

from __future__ import annotations

import contextlib
import io
import ipaddress
import json
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from bgplb import ctl
from harness import FrrRouter, Neighbor, NetnsPair, Speaker, wait_for

NODE_ASN = 64512
POOL = {"kind": "pool", "name": "public", "addresses": ["198.51.100.0/24", "2001:db8:100::/64"]}


def node(net: NetnsPair, asn: int = NODE_ASN, **extra: object) -> dict[str, object]:
    return {"node": {"name": "n1", "router_id": net.left_v4, "asn": asn, **extra}}


def peer(name: str, address: str, asn: int, **extra: object) -> dict[str, object]:
    return {"kind": "peer", "name": name, "address": address, "asn": asn, "hold_time": 9, "connect_time": 1, **extra}


def service(name: str, address: str | list[str], **extra: object) -> dict[str, object]:
    return {"kind": "service", "name": name, "address": address, **extra}


@contextlib.contextmanager
def rig(
    frr_asn: int = 64500, speaker_args: tuple[str, ...] = (), v6_next_hop: bool = False
) -> Iterator[tuple[NetnsPair, FrrRouter, Speaker]]:
    """Two namespaces, FRR on the right with the speaker's IPv4 address as neighbor, the speaker on the left (its
    API answering)."""
    with contextlib.ExitStack() as stack:
        net = stack.enter_context(NetnsPair())
        neighbors = [Neighbor(net.left_v4, NODE_ASN)]
        frr = stack.enter_context(FrrRouter(net.right, asn=frr_asn, router_id="10.255.0.1", neighbors=neighbors))
        extra = {"ipv6_next_hop": net.left_v6} if v6_next_hop else {}
        sp = stack.enter_context(Speaker(net.left, node(net, **extra), *speaker_args))
        api_up(sp)
        yield net, frr, sp


def api_up(sp: Speaker) -> None:
    wait_for(lambda: sp.ctl("status", check=False).returncode == 0, what="the speaker's API")


def prefixes(frr: FrrRouter, afi: str = "ipv4") -> set[str]:
    """The prefixes FRR holds (one cheap vtysh call)."""
    return set(frr.json(f"show bgp {afi} unicast json").get("routes", {}))


def session(frr: FrrRouter, address: str) -> tuple[int, int]:
    """(connections established, connections dropped) as FRR counts them for one neighbor."""
    n = frr.neighbor(address)
    return n["connectionsEstablished"], n["connectionsDropped"]


def updates_received(frr: FrrRouter, address: str) -> int:
    return int(frr.neighbor(address)["messageStats"]["updatesRecv"])


def caught_up(sp: Speaker, frr: FrrRouter, address: str) -> bool:
    """FRR has taken in every UPDATE the speaker has sent it (End-of-RIB included). Both count over the life of the
    speaker's process (the runner's counter, FRR's per-neighbor counter): for a check that something was NOT sent,
    after the action's reply (its routes are planned and written before the speaker answers), instead of a sleep."""
    (st,) = sp.status()["peers"]
    return st["updates_sent"] == updates_received(frr, address)


def end_of_rib(frr: FrrRouter, address: str, afi: str = "ipv4Unicast") -> bool:
    """FRR received End-of-RIB for `afi` on the current session (the flag is cleared when a session goes down)."""
    return bool(frr.neighbor(address).get("gracefulRestartInfo", {}).get("endOfRibRecv", {}).get(afi))


def established(sp: Speaker, frr: FrrRouter, address: str) -> None:
    wait_for(lambda: frr.established(address), timeout=15, what=f"FRR session with {address}")


# --- 1. objects in, routes and attributes out ---------------------------------------------------------------------
def test_applied_objects_reach_frr_with_attributes_and_show_in_status_and_routes():
    with rig(v6_next_hop=True) as (net, frr, sp):  # IPv6 routes over the IPv4 session need a next hop
        result = sp.apply(
            POOL,
            {"kind": "community", "name": "tenant-a", "value": "65000:200"},
            {"kind": "advertisement", "name": "default", "communities": ["no-export", "tenant-a", "65000:100"],
             "large_communities": ["64512:7:9"]},
            peer("r1", net.right_v4, 64500, families=["ipv4", "ipv6"]),
            service("web", ["198.51.100.10", "2001:db8:100::10"]),
            {"kind": "service", "name": "api", "pool": "public"},
        )  # fmt: skip
        assert result["ok"] and result["changed"] and not result["dry_run"]
        assert result["speaker"] == "speaker reloaded"
        assert [(c["kind"], c["name"], c["action"]) for c in result["changes"]] == [
            ("pool", "public", "created"), ("community", "tenant-a", "created"),
            ("advertisement", "default", "created"), ("peer", "r1", "created"),
            ("service", "web", "created"), ("service", "api", "created"),
        ]  # fmt: skip
        assert all(c["before"] is None and c["diff"].startswith("--- a/") for c in result["changes"])
        (api_address,) = result["changes"][-1]["after"]["address"]  # assigned from the pool (either family)
        assert ipaddress.ip_address(api_address) in ipaddress.ip_network("198.51.100.0/24") or ipaddress.ip_address(
            api_address
        ) in ipaddress.ip_network("2001:db8:100::/64")
        api_prefix = f"{api_address}/{128 if ':' in api_address else 32}"
        want4 = {p for p in ("198.51.100.10/32", api_prefix) if ":" not in p}
        want6 = {p for p in ("2001:db8:100::10/128", api_prefix) if ":" in p}

        established(sp, frr, net.left_v4)
        wait_for(lambda: prefixes(frr) == want4, what="the IPv4 services at FRR")
        wait_for(lambda: prefixes(frr, "ipv6") == want6, what="the IPv6 services at FRR")
        for prefix, paths in [*frr.routes().items(), *frr.routes("ipv6").items()]:
            (p,) = paths
            assert p.as_path == (NODE_ASN,) and p.origin == "IGP", prefix
            assert p.next_hop == (net.left_v6 if ":" in prefix else net.left_v4), prefix
            assert set(p.communities) == {"no-export", "65000:100", "65000:200"}, prefix
            assert p.large_communities == ("64512:7:9",), prefix

        status = sp.status()
        assert status["ok"] is True and status["node"] == "n1"
        assert status["drain"] is None and status["config_errors"] == []
        assert status["services"] == {"web": None, "api": None}  # no health check: nothing to report
        (st,) = status["peers"]
        assert {"name": "r1", "address": net.right_v4, "asn": 64500, "state": "Established"}.items() <= st.items()
        assert st["prefixes_sent"] == 3 and st["prefixes_desired"] == 3 and st["established_count"] == 1
        assert isinstance(st["uptime"], float) and st["uptime"] >= 0 and st["last_error"] is None

        routes = json.loads(sp.ctl("--json", "routes").stdout)
        assert routes["ok"] is True and list(routes["peers"]) == ["r1"]
        shown = {r["prefix"]: r for r in routes["peers"]["r1"]}
        assert set(shown) == want4 | want6
        for r in shown.values():
            assert r == {"prefix": r["prefix"], "sent": True, "local_pref": None, "med": None,
                         "communities": ["65000:100", "65000:200", "no-export"],
                         "large_communities": ["64512:7:9"], "services": r["services"]}  # fmt: skip
            assert r["services"] == (["api"] if r["prefix"] == api_prefix else ["web"]), r
        table = sp.ctl("status").stdout
        assert "node n1" in table and "Established" in table and net.right_v4 in table

        # the same objects again: nothing changes, nothing is sent
        before = updates_received(frr, net.left_v4)
        again = sp.apply(POOL, service("web", ["198.51.100.10", "2001:db8:100::10"]))
        assert again["changed"] is False and {c["action"] for c in again["changes"]} == {"unchanged"}
        wait_for(lambda: caught_up(sp, frr, net.left_v4), what="FRR has every UPDATE the speaker sent")
        assert updates_received(frr, net.left_v4) == before


# --- 2. health checks -----------------------------------------------------------------------------------------------
LISTENER = """
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("198.51.100.10", int(sys.argv[1])))
s.listen(16)
while True:
    s.accept()[0].close()
"""


def test_health_check_withdraws_and_reannounces_without_touching_the_session():
    with rig() as (net, frr, sp):
        net.left.exec("ip", "addr", "add", "198.51.100.10/32", "dev", "lo")  # the VIP lives on the node
        port = 8080

        def listen() -> subprocess.Popen[bytes]:
            proc = net.left.popen([sys.executable, "-c", LISTENER, str(port)])
            wait_for(lambda: net.left.exec("ss", "-Htln", f"sport = :{port}").stdout.strip(), what="listener")
            return proc

        listener = listen()
        check = {"type": "tcp", "port": port, "interval": 0.2, "timeout": 0.2, "rise": 2, "fall": 2}
        sp.apply(POOL, {"kind": "advertisement", "name": "default"}, peer("r1", net.right_v4, 64500),
                 service("web", "198.51.100.10", health_check=check), service("static", "198.51.100.20"))  # fmt: skip
        established(sp, frr, net.left_v4)
        both = {"198.51.100.10/32", "198.51.100.20/32"}
        wait_for(lambda: prefixes(frr) == both, what="healthy service announced")
        assert sp.status()["services"] == {"web": True, "static": None}
        counters = session(frr, net.left_v4)
        uptime = frr.uptime_ms(net.left_v4)

        for _ in range(2):
            listener.kill()
            listener.wait()
            wait_for(lambda: prefixes(frr) == {"198.51.100.20/32"}, what="failing service withdrawn at FRR")
            assert sp.status()["services"]["web"] is False
            listener = listen()
            wait_for(lambda: prefixes(frr) == both, what="service announced again once healthy")
            assert sp.status()["services"]["web"] is True
        assert session(frr, net.left_v4) == counters, "a health flip must never reset the session"
        assert frr.uptime_ms(net.left_v4) > uptime
        assert "service web: health check failing" in sp.log() and "health check passing" in sp.log()
        listener.kill()
        listener.wait()


# --- 3. graceful restart --------------------------------------------------------------------------------------------
def test_graceful_restart_routes_stay_stale_and_are_never_withdrawn_across_a_restart():
    with rig() as (net, frr, sp):
        sp.apply(POOL, {"kind": "advertisement", "name": "default", "communities": ["65000:100"]},
                 peer("r1", net.right_v4, 64500, graceful_restart=True, restart_time=30),
                 service("web", "198.51.100.10"), service("api", "198.51.100.11"))  # fmt: skip
        want = {"198.51.100.10/32", "198.51.100.11/32"}
        established(sp, frr, net.left_v4)
        wait_for(lambda: prefixes(frr) == want, what="routes")

        for sig in (signal.SIGTERM, signal.SIGKILL):
            notifications = frr.neighbor(net.left_v4)["messageStats"]["notificationsRecv"]
            connections = session(frr, net.left_v4)[0]
            code = sp.stop(sig)
            assert code == (0 if sig == signal.SIGTERM else -signal.SIGKILL)
            wait_for(lambda: not frr.established(net.left_v4), what=f"FRR to notice the {sig.name}")
            assert frr.neighbor(net.left_v4)["messageStats"]["notificationsRecv"] == notifications, (
                "a graceful-restart stop must not send a NOTIFICATION"
            )
            deadline = time.monotonic() + 1.5
            while time.monotonic() < deadline:  # speaker down: FRR keeps every route, stale
                routes = frr.routes()
                assert set(routes) == want, f"routes withdrawn while the speaker is down ({sig.name})"
                assert all(p.stale for (p,) in routes.values()), routes
                time.sleep(0.1)
            sp.start()
            fresh = False
            deadline = time.monotonic() + 15
            while not fresh:  # restarting: still there all the time, fresh after End-of-RIB
                assert time.monotonic() < deadline, "routes still stale 15 s after the restart"
                routes = frr.routes()
                assert set(routes) == want, f"routes withdrawn during the restart ({sig.name})"
                fresh = frr.established(net.left_v4) and not any(p.stale for (p,) in routes.values())
                time.sleep(0.05)
            assert session(frr, net.left_v4)[0] == connections + 1
            assert all(p.communities == ("65000:100",) for (p,) in frr.routes().values())
            assert sp.status()["peers"][0]["state"] == "Established"


# --- 4. drain -------------------------------------------------------------------------------------------------------
def test_drain_graceful_shutdown_then_withdraw_undrain_and_drain_survives_restart():
    with rig(frr_asn=NODE_ASN, speaker_args=("--drain-wait", "1.5")) as (net, frr, sp):  # iBGP: local_pref matters
        sp.apply(POOL, {"kind": "advertisement", "name": "default", "communities": ["65000:100"], "local_pref": 200},
                 peer("r1", net.right_v4, NODE_ASN), service("web", "198.51.100.10"))  # fmt: skip
        established(sp, frr, net.left_v4)
        wait_for(lambda: prefixes(frr) == {"198.51.100.10/32"}, what="route")

        def attrs() -> tuple[int | None, set[str]] | None:
            paths = frr.paths("198.51.100.10/32")
            return (paths[0].local_pref, set(paths[0].communities)) if paths else None

        normal = (200, {"65000:100"})
        drained = (0, {"65000:100", "graceful-shutdown"})
        assert attrs() == normal
        counters = session(frr, net.left_v4)

        start = time.monotonic()
        out = json.loads(sp.ctl("--json", "drain").stdout)
        assert out["ok"] and out["drain"]["state"] == "draining"
        assert abs(out["drain"]["until"] - out["drain"]["since"] - 1.5) < 0.01  # --drain-wait is the default
        wait_for(lambda: attrs() == drained, what="GRACEFUL_SHUTDOWN and local_pref 0 at FRR")
        assert time.monotonic() - start < 1.4, "graceful-shutdown must arrive before the withdrawal"
        wait_for(lambda: prefixes(frr) == set(), timeout=5, what="withdrawal after the drain wait")
        assert time.monotonic() - start >= 1.4
        assert sp.status()["drain"]["state"] == "drained"
        assert sp.status()["peers"][0]["prefixes_sent"] == 0

        assert json.loads(sp.ctl("undrain").stdout) == {"drain": None}
        wait_for(lambda: attrs() == normal, what="announced normally after undrain")
        assert sp.status()["drain"] is None
        assert session(frr, net.left_v4) == counters, "drain/undrain must not reset the session"

        # draining survives a restart: still GRACEFUL_SHUTDOWN after it, withdrawn when the original wait is over
        sp.ctl("drain", "--wait", "4")
        wait_for(lambda: attrs() == drained, what="draining again")
        sp.stop()
        api_up(sp.start())
        assert sp.status()["drain"]["state"] == "draining"
        wait_for(lambda: session(frr, net.left_v4)[0] == counters[0] + 1 and frr.established(net.left_v4),
                 what="session back")  # fmt: skip
        wait_for(lambda: frr.paths("198.51.100.10/32") and not frr.paths("198.51.100.10/32")[0].stale,
                 what="refreshed after restart")  # fmt: skip
        assert attrs() == drained
        wait_for(lambda: prefixes(frr) == set(), timeout=8, what="withdrawal at the end of the persisted wait")
        assert sp.status()["drain"]["state"] == "drained"

        # drained survives a restart: the route does not come back
        sp.stop()
        sp.start()
        wait_for(lambda: session(frr, net.left_v4)[0] == counters[0] + 2 and frr.established(net.left_v4),
                 what="session back")  # fmt: skip
        wait_for(lambda: end_of_rib(frr, net.left_v4), what="End-of-RIB after the restart: the table is complete")
        assert prefixes(frr) == set() and sp.status()["drain"]["state"] == "drained"
        sp.ctl("undrain")
        wait_for(lambda: attrs() == normal, what="undrain after restart")


# --- 5. churn without flaps -----------------------------------------------------------------------------------------
def _ctl(sp: Speaker, *args: str) -> Any:
    """`bgplbctl --json ARGS` run in this process: the same code path (store, atomic write, reload over the API
    socket) without 0.3 s of interpreter start per call, which would make 1000 calls take over 5 minutes."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = ctl.main(["--config-dir", str(sp.config_dir), "--socket", str(sp.socket), "--json", *args])
    assert code == 0, out.getvalue()
    return json.loads(out.getvalue())


def test_thousand_service_changes_each_reach_frr_and_never_flap_the_session(tmp_path: Path):
    with rig() as (net, frr, sp):
        sp.apply(POOL, {"kind": "advertisement", "name": "default"}, peer("r1", net.right_v4, 64500))
        established(sp, frr, net.left_v4)
        counters = session(frr, net.left_v4)
        uptime = frr.uptime_ms(net.left_v4)
        updates = updates_received(frr, net.left_v4)
        rng = random.Random(20240611)
        services: dict[str, str] = {}  # name -> address
        free = [f"198.51.100.{i}" for i in range(1, 255)]
        obj = tmp_path / "svc.json"
        start = time.monotonic()
        checks = 0
        for n in range(1000):
            roll = rng.random()
            if services and (roll < 0.35 or len(services) >= 12):
                name = rng.choice(sorted(services))
                out = _ctl(sp, "delete", "service", name)
                free.append(services.pop(name))
            elif services and roll < 0.55:  # move a service to another address
                name = rng.choice(sorted(services))
                address = free.pop(rng.randrange(len(free)))
                obj.write_text(json.dumps(service(name, address)))
                out = _ctl(sp, "apply", "-f", str(obj))
                free.append(services[name])
                services[name] = address
            else:
                name, address = f"svc{n}", free.pop(rng.randrange(len(free)))
                obj.write_text(json.dumps(service(name, address)))
                out = _ctl(sp, "apply", "-f", str(obj))
                services[name] = address
            assert out["changed"] and out["speaker"] == "speaker reloaded", out
            if n % 20 == 19:
                want = {f"{a}/32" for a in services.values()}
                wait_for(lambda w=want: prefixes(frr) == w, timeout=5, what=f"FRR's routes after change {n + 1}")
                checks += 1
        elapsed = time.monotonic() - start
        print(f"1000 changes in {elapsed:.1f}s with {checks} route-set checks at FRR")
        assert checks == 50
        assert session(frr, net.left_v4) == counters, "the session went down during the churn"
        assert frr.uptime_ms(net.left_v4) >= uptime + (elapsed - 1) * 1000
        assert updates_received(frr, net.left_v4) - updates >= 1000, "some changes never went on the wire"
        (st,) = sp.status()["peers"]
        assert st["established_count"] == 1 and st["prefixes_sent"] == len(services)


# --- 6. invalid input -----------------------------------------------------------------------------------------------
def test_invalid_objects_are_refused_and_never_disturb_what_is_advertised():
    with rig() as (net, frr, sp):
        sp.apply(POOL, {"kind": "advertisement", "name": "default"}, peer("r1", net.right_v4, 64500),
                 service("web", "198.51.100.10"))  # fmt: skip
        established(sp, frr, net.left_v4)
        wait_for(lambda: prefixes(frr) == {"198.51.100.10/32"}, what="route")
        counters = session(frr, net.left_v4)
        objects = sp.config_dir / "objects"
        before = sorted(p.relative_to(objects) for p in objects.rglob("*.yaml"))

        bad = sp.ctl("--json", "apply", "-f", "-", check=False,
                     input=json.dumps({"kind": "pool", "name": "bad", "addresses": ["198.51.100.0/33"]}))  # fmt: skip
        assert bad.returncode == 2
        reply = json.loads(bad.stdout)
        assert reply["ok"] is False and any("pool bad: addresses[0]" in e for e in reply["errors"]), reply
        typo = sp.ctl("apply", "-f", "-", check=False, input=yaml.safe_dump(
            {"kind": "service", "name": "web2", "adress": "198.51.100.12"}))  # fmt: skip
        assert typo.returncode == 2 and "service web2: adress: unknown field" in typo.stderr
        outside = sp.ctl("apply", "-f", "-", check=False, input=json.dumps(service("web3", "203.0.113.5")))
        assert (
            outside.returncode == 2 and "service web3: address[0]: 203.0.113.5 is outside every pool" in outside.stderr
        )
        assert sorted(p.relative_to(objects) for p in objects.rglob("*.yaml")) == before, "nothing may be written"

        # a broken file dropped by hand: reported, ignored; the rest of the directory still applies
        (objects / "service" / "broken.yaml").write_text("name: broken\naddress: 198.51.100.300\n")
        (objects / "service" / "garbage.yaml").write_text("name: [unclosed\n")
        (objects / "service" / "extra.yaml").write_text("name: extra\naddress: 198.51.100.11\n")
        wait_for(lambda: prefixes(frr) == {"198.51.100.10/32", "198.51.100.11/32"}, what="valid file next to bad")
        errors = wait_for(lambda: len(sp.status()["config_errors"]) == 2 and sp.status()["config_errors"])
        assert any("broken.yaml" in e and "address[0]" in e and "198.51.100.300" in e for e in errors), errors
        assert any("garbage.yaml" in e and "not valid YAML" in e for e in errors), errors
        assert "broken.yaml" in sp.log() and "(ignored)" in sp.log()

        # a file that breaks the whole configuration (an address outside every pool): the running state stays
        (objects / "service" / "garbage.yaml").unlink()
        (objects / "service" / "broken.yaml").unlink()
        sent = sp.status()["peers"][0]["updates_sent"]
        (objects / "service" / "outside.yaml").write_text("name: outside\naddress: 203.0.113.9\n")
        wait_for(lambda: "reload refused, keeping the running config" in sp.log(), what="refused reload in the log")
        wait_for(lambda: caught_up(sp, frr, net.left_v4), what="FRR has every UPDATE the speaker sent")
        assert sp.status()["peers"][0]["updates_sent"] == sent, "a refused reload sends nothing"
        assert prefixes(frr) == {"198.51.100.10/32", "198.51.100.11/32"}
        assert sp.status()["services"] == {"web": None, "extra": None}
        refused = json.loads(sp.ctl("--json", "reload").stdout)
        assert refused["applied"] is False and any("203.0.113.9 is outside every pool" in e for e in refused["errors"])
        invalid = sp.ctl("validate", check=False)
        assert invalid.returncode == 2 and "service outside: address[0]: 203.0.113.9" in invalid.stderr
        (objects / "service" / "outside.yaml").unlink()
        wait_for(lambda: sp.status()["config_errors"] == [], what="errors cleared once the files are gone")
        assert prefixes(frr) == {"198.51.100.10/32", "198.51.100.11/32"}
        assert session(frr, net.left_v4) == counters, "invalid input must never reset the session"


# --- 7. which changes reset which session ---------------------------------------------------------------------------
def test_peer_change_resets_only_that_peer_and_object_changes_reset_none():
    with (
        NetnsPair() as net,
        FrrRouter(net.right, asn=64500, router_id="10.255.0.1", neighbors=[
            Neighbor(net.left_v4, NODE_ASN, families=("ipv4",)),
            Neighbor(net.left_v6, NODE_ASN, families=("ipv6",))]) as frr,
        Speaker(net.left, node(net)) as sp,
    ):  # fmt: skip
        api_up(sp)
        v4, v6 = peer("r4", net.right_v4, 64500), peer("r6", net.right_v6, 64500)
        sp.apply(POOL, {"kind": "advertisement", "name": "default"}, v4, v6,
                 service("web", ["198.51.100.10", "2001:db8:100::10"]))  # fmt: skip
        for address in (net.left_v4, net.left_v6):
            established(sp, frr, address)
        wait_for(lambda: prefixes(frr) == {"198.51.100.10/32"}, what="IPv4 route over r4")
        wait_for(lambda: prefixes(frr, "ipv6") == {"2001:db8:100::10/128"}, what="IPv6 route over r6")
        c4, c6 = session(frr, net.left_v4), session(frr, net.left_v6)

        # unrelated changes: a service, an advertisement's communities, a pool's addresses
        sp.apply(service("api", ["198.51.100.11", "2001:db8:100::11"]))
        sp.apply({"kind": "advertisement", "name": "default", "communities": ["65000:7"]})
        sp.apply({**POOL, "addresses": [*POOL["addresses"], "203.0.113.0/28"]}, service("edge", "203.0.113.1"))
        wait_for(lambda: prefixes(frr) == {"198.51.100.10/32", "198.51.100.11/32", "203.0.113.1/32"}, what="v4")
        wait_for(lambda: all(p.communities == ("65000:7",) for ps in frr.routes("ipv6").values() for p in ps)
                 and len(prefixes(frr, "ipv6")) == 2, what="new communities on IPv6")  # fmt: skip
        assert session(frr, net.left_v4) == c4 and session(frr, net.left_v6) == c6

        # r4's hold time: r4's session is reset and comes back with the new hold time; r6 is untouched
        sp.apply({**v4, "hold_time": 6})
        wait_for(lambda: session(frr, net.left_v4)[0] == c4[0] + 1 and frr.established(net.left_v4),
                 timeout=15, what="r4 re-established")  # fmt: skip
        assert frr.neighbor(net.left_v4)["bgpTimerHoldTimeMsecs"] == 6000
        wait_for(lambda: len(prefixes(frr)) == 3, what="r4's routes back")
        assert session(frr, net.left_v6) == c6, "changing r4 reset r6"
        assert frr.neighbor(net.left_v6)["bgpTimerHoldTimeMsecs"] == 9000
        assert "peer r4: settings changed" in sp.log() and "peer r6: settings changed" not in sp.log()
