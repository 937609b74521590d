"""BFD through the daemon (`bgplb-speaker` in the left namespace) against FRR 8.4's bgpd + bfdd (right): the peer's
`bfd` settings start a BFD session beside the BGP one; BFD Down takes the BGP session down within the detection time;
a timer change is a poll sequence with no BGP reset; `bfd` removed sends AdminDown; a planned restart (SIGTERM,
graceful restart: BGP closed first, AdminDown after) keeps the routes at FRR while a cut link removes them within the
detection time. FRR is configured as the router role does it: `neighbor X bfd` (with a profile), no
`check-control-plane-failure` (with it FRR 8.4 ignores BFD Down from a graceful-restart peer whose C bit is 0).
"""

from __future__ import annotations

import signal
import time
from typing import Any

from harness import FrrRouter, Neighbor, NetnsPair, Speaker, wait_for
from harness.netns import Namespace

POOL = {"kind": "pool", "name": "public", "addresses": ["198.51.100.0/24"]}
SERVICE = {"kind": "service", "name": "web", "address": "198.51.100.10"}
ADV = {"kind": "advertisement", "name": "default"}
FAST = {"receive_interval": 100, "transmit_interval": 100, "detect_multiplier": 3}


class FrrBfd(FrrRouter):
    """FRR whose BGP neighbors use BFD with a bfdd profile `fast` (intervals in ms)."""

    def __init__(self, ns: Namespace, neighbors: list[Neighbor], *, rx: int = 100, tx: int = 100, mult: int = 3,
                 extra: str = "") -> None:  # fmt: skip
        lines = [f" neighbor {n.address} bfd profile fast" for n in neighbors]
        super().__init__(ns, asn=64500, router_id="10.255.0.1", neighbors=neighbors, bfd_peers=[],
                         extra="\n".join([*lines, extra]))  # fmt: skip
        self.profile = [" profile fast", f"  receive-interval {rx}", f"  transmit-interval {tx}",
                        f"  detect-multiplier {mult}", " exit"]  # fmt: skip

    def bfdd_config(self) -> str:
        return super().bfdd_config().replace("\nbfd\n", "\nbfd\n" + "\n".join(self.profile) + "\n", 1)


def config(net: NetnsPair) -> dict[str, Any]:
    return {"node": {"name": "n1", "router_id": net.left_v4, "asn": 64512}}


def peer(net: NetnsPair, **extra: object) -> dict[str, Any]:
    return {"kind": "peer", "name": "r1", "address": net.right_v4, "asn": 64500, "hold_time": 9, "connect_time": 1,
            **extra}  # fmt: skip


def ours(sp: Speaker) -> dict[str, Any]:
    return sp.status()["peers"][0]


def nft_drop(ns: Namespace, rule: str, *, output: bool = False) -> None:
    """Drop what matches `rule` coming in (and going out, with `output`) in the namespace."""
    ns.exec("nft", "add table inet bgplbt")
    for chain in ("input", "output") if output else ("input",):
        ns.exec("nft", f"add chain inet bgplbt {chain} {{ type filter hook {chain} priority 0 ; }}")
        ns.exec("nft", f"add rule inet bgplbt {chain} {rule} drop")


def nft_clear(ns: Namespace) -> None:
    ns.exec("nft", "delete table inet bgplbt")


def up(sp: Speaker, frr: FrrRouter, net: NetnsPair) -> None:
    wait_for(lambda: frr.established(net.left_v4) and ours(sp)["state"] == "Established", timeout=20, what="BGP up")
    wait_for(lambda: (ours(sp)["bfd"] or {}).get("state") == "Up" and frr.bfd_peer(net.left_v4).get("status") == "up",
             timeout=15, what="BFD Up both ends")  # fmt: skip


def metrics(ns: Namespace) -> dict[str, float]:
    """The speaker's `bgplb_bfd_*` series, scraped inside its namespace."""
    text = ns.exec("python3", "-c", "import urllib.request as u; print(u.urlopen('http://127.0.0.1:9473/metrics')"
                   ".read().decode())").stdout  # fmt: skip
    return {k: float(v) for k, v in (line.rsplit(" ", 1) for line in text.splitlines() if line.startswith("bgplb_bfd"))}


def test_bfd_down_takes_the_bgp_session_down_within_the_detection_time():
    with (
        NetnsPair() as net,
        FrrBfd(net.right, [Neighbor(net.left_v4, asn=64512)]) as frr,
        Speaker(net.left, config(net), "--metrics", "127.0.0.1:9473") as sp,
    ):
        sp.apply(POOL, ADV, SERVICE, peer(net, bfd=FAST))
        up(sp, frr, net)
        wait_for(lambda: ours(sp)["bfd"]["detect_time_ms"] == 300, timeout=5, what="fast timers negotiated")
        b = ours(sp)["bfd"]
        assert b["local_address"] == net.left_v4 and not b["multihop"] and b["remote_state"] == "Up", b
        assert b["tx_interval_ms"] == 100 and b["rx_interval_ms"] == 100 and b["auth_type"] is None, b
        info = frr.bfd_peer(net.left_v4)
        assert info["remote-receive-interval"] == 100 and info["remote-detect-multiplier"] == 3, info
        # only BFD is cut (BGP's TCP still flows): the session goes down because of BFD alone
        before = time.monotonic()
        nft_drop(net.left, "udp dport 3784")
        wait_for(lambda: ours(sp)["state"] != "Established", timeout=5, interval=0.02, what="BGP down on BFD")
        took = time.monotonic() - before
        p = ours(sp)
        assert p["last_error"] == "BFD down (detect-expired)", p
        assert p["bfd"]["state"] == "Down" and p["bfd"]["diag"] == "detect-expired", p["bfd"]
        assert took < 0.3 + 0.25, took  # detection time 300 ms; the rest is nft, bgplbctl and polling
        assert "BFD Up -> Down (diag detect-expired" in sp.log()
        m = metrics(net.left)
        assert m['bgplb_bfd_session_up{peer="r1"}'] == 0, m
        assert m['bgplb_bfd_state_changes_total{peer="r1",state="Up"}'] == 1
        assert m['bgplb_bfd_state_changes_total{peer="r1",state="Down"}'] == 1
        assert m['bgplb_bfd_packets_received_total{peer="r1"}'] >= 3
        assert m['bgplb_bfd_detect_time_seconds{peer="r1"}'] == 0  # the peer is forgotten on detection
        assert m['bgplb_bfd_packets_discarded_total{peer="r1",reason="ttl"}'] == 0
        # BFD back: BGP comes back too (it was not held down), BFD and BGP both Up again
        nft_clear(net.left)
        up(sp, frr, net)
        assert ours(sp)["bfd"]["up_count"] == 2
        assert metrics(net.left)['bgplb_bfd_session_up{peer="r1"}'] == 1


def test_timer_change_is_a_poll_sequence_without_a_bgp_reset_and_removing_bfd_sends_admin_down():
    with (
        NetnsPair() as net,
        FrrBfd(net.right, [Neighbor(net.left_v4, asn=64512)]) as frr,
        Speaker(net.left, config(net)) as sp,
    ):
        sp.apply(POOL, ADV, SERVICE, peer(net, bfd=FAST))
        up(sp, frr, net)
        count = ours(sp)["established_count"]
        sp.apply(peer(net, bfd={**FAST, "receive_interval": 250, "transmit_interval": 200}))
        wait_for(lambda: frr.bfd_peer(net.left_v4).get("remote-receive-interval") == 250, timeout=5,
                 what="FRR sees our new receive interval")  # fmt: skip
        wait_for(lambda: not ours(sp)["bfd"]["polling"], timeout=5, what="our poll sequence answered")
        p = ours(sp)
        assert p["bfd"]["tx_interval_ms"] == 200 and p["bfd"]["detect_time_ms"] == 3 * 250, p["bfd"]
        assert p["bfd"]["up_count"] == 1 and p["established_count"] == count, p
        # bfd unset: AdminDown. FRR 8.4 takes it as a failure (RFC 5882 §3.2 says not to) and resets BGP once;
        # the session then comes back and stays up without BFD
        sp.apply(peer(net, bfd=False))
        wait_for(lambda: frr.bfd_peer(net.left_v4).get("status") == "down", timeout=5, what="FRR's BFD down")
        assert frr.bfd_peer(net.left_v4).get("remote-diagnostic") == "administratively down"
        assert ours(sp)["bfd"] is None
        wait_for(lambda: ours(sp)["established_count"] == count + 1 and frr.established(net.left_v4), timeout=10,
                 what="BGP back without BFD")  # fmt: skip
        time.sleep(1.5)
        assert frr.established(net.left_v4) and ours(sp)["established_count"] == count + 1


def routes(frr: FrrRouter) -> set[str]:
    return set(frr.json("show ip route json"))


def test_planned_restart_keeps_the_routes_and_a_dead_link_removes_them():
    with NetnsPair() as net, FrrBfd(net.right, [Neighbor(net.left_v4, asn=64512)]) as frr:
        sp = Speaker(net.left, config(net)).start()
        try:
            sp.apply(POOL, ADV, SERVICE, peer(net, bfd=FAST))
            up(sp, frr, net)
            wait_for(lambda: "198.51.100.10/32" in routes(frr), timeout=10, what="route in FRR's table")
            # planned: SIGTERM (graceful restart): AdminDown, TCP closed without NOTIFICATION
            assert sp.stop(signal.SIGTERM) == 0
            wait_for(lambda: frr.bfd_peer(net.left_v4).get("status") == "down", timeout=5, what="BFD down at FRR")
            time.sleep(1.0)  # well past the detection time
            assert "198.51.100.10/32" in routes(frr), frr.json("show ip route json")
            sp.start()
            up(sp, frr, net)
            assert "198.51.100.10/32" in routes(frr)
            # dead: everything in and out of the speaker's namespace is dropped (the router's link stays up, as behind
            # a switch: only BFD can tell)
            time.sleep(0.5)
            before = time.monotonic()
            nft_drop(net.left, "meta l4proto { tcp, udp }", output=True)
            wait_for(lambda: "198.51.100.10/32" not in routes(frr), timeout=5, interval=0.02, what="route removed")
            took = time.monotonic() - before
            assert took < 0.3 + 0.3, took
        finally:
            sp.stop(signal.SIGKILL)
