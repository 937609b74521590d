"""BFD (RFC 5880/5881) against FRR 8.4's bfdd in namespaces: our session machine and asyncio transport, run as
`python -m bgplb.bfd` in the left namespace, FRR (zebra + bgpd + bfdd) in the right one.

Session Up both ways and intervals negotiated as each side's numbers say; poll sequences on a timer change from
either side without a flap; the peer's silence (nftables drop) detected within the detection time on both sides;
packets with TTL < 255 (nftables rewrites FRR's) dropped, so the session never comes up.
"""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from harness import FrrRouter, NetnsPair, wait_for
from harness.bfd import BfdProc, nft, nft_clear
from harness.frr import BfdPeer


def frr_downs(frr: FrrRouter) -> list[float]:
    """Wall-clock times bfdd logged a peer `up -> down` (its log has ms timestamps: harness `log file ... -ms.log`)."""
    out = []
    for line in (frr.dir / "bfdd-ms.log").read_text().splitlines():
        if "state-change" in line and "up -> down" in line:
            out.append(datetime.strptime(line[:23], "%Y/%m/%d %H:%M:%S.%f").timestamp())
    return out


def addresses(net: NetnsPair, v6: bool) -> tuple[str, str]:
    return (net.left_v6, net.right_v6) if v6 else (net.left_v4, net.right_v4)


@pytest.mark.parametrize("v6", [False, True], ids=["ipv4", "ipv6"])
def test_up_with_frr_and_intervals_negotiated(v6: bool):
    with NetnsPair() as net:
        ours, theirs = addresses(net, v6)
        peer = BfdPeer(ours, theirs, receive_interval=100, transmit_interval=120, detect_multiplier=3)
        with (
            FrrRouter(net.right, asn=64500, router_id="10.255.0.1", neighbors=[], bfd_peers=[peer]) as frr,
            BfdProc(net.left, ours, theirs, min_rx=200, min_tx=150, multiplier=4) as bfd,
        ):
            wait_for(lambda: bfd.state() == "Up" and frr.bfd_peer(ours).get("status") == "up", timeout=10,
                     what="BFD Up on both ends")  # fmt: skip
            # FRR's poll after Up (its 1 s slow rate -> 120 ms) and ours (1 s -> 150 ms) have run by now
            wait_for(lambda: frr.bfd_peer(ours).get("remote-transmit-interval") == 150, timeout=5, what="our tx")
            info = frr.bfd_peer(ours)
            assert info["remote-receive-interval"] == 200 and info["remote-detect-multiplier"] == 4, info
            assert info["remote-id"] == bfd.status()["local_discr"], info
            st = bfd.status()
            assert st["remote_discr"] == info["id"], (st, info)
            assert st["remote_min_rx_ms"] == 100 and st["remote_min_tx_ms"] == 120 and st["remote_multiplier"] == 3
            assert st["tx_interval_ms"] == 150  # max(our tx 150, FRR's rx 100)
            assert st["detect_time_ms"] == 3 * 200  # FRR's multiplier x max(our rx 200, FRR's tx 120)
            assert not any(st["discarded"].values()), st
            assert not st["polling"]
            # It stays Up: a 100-200 ms cadence with jitter, several seconds, no flap either side.
            time.sleep(3)
            assert [e["new"] for e in bfd.states()] == ["Init", "Up"] or [e["new"] for e in bfd.states()] == ["Up"]
            assert frr.bfd_peer(ours).get("status") == "up"


def test_timer_changes_use_a_poll_sequence_from_either_side():
    with NetnsPair() as net:
        ours, theirs = net.left_v4, net.right_v4
        peer = BfdPeer(ours, theirs, receive_interval=100, transmit_interval=100, detect_multiplier=3)
        with (
            FrrRouter(net.right, asn=64500, router_id="10.255.0.1", neighbors=[], bfd_peers=[peer]) as frr,
            BfdProc(net.left, ours, theirs, min_rx=100, min_tx=100, multiplier=3) as bfd,
        ):
            wait_for(lambda: bfd.state() == "Up" and frr.bfd_peer(ours).get("status") == "up", timeout=10,
                     what="BFD Up")  # fmt: skip
            wait_for(lambda: frr.bfd_peer(ours).get("remote-transmit-interval") == 100, timeout=5, what="fast")
            # ours: slower tx, faster-than-FRR's-tx rx: FRR sees it after our Poll / its Final
            bfd.send(set_timers={"min_tx": 300, "min_rx": 250})
            wait_for(lambda: frr.bfd_peer(ours).get("remote-transmit-interval") == 300, timeout=5, what="FRR sees 300")
            assert frr.bfd_peer(ours)["remote-receive-interval"] == 250
            wait_for(lambda: not bfd.status()["polling"], timeout=5, what="our poll answered with a Final")
            st = bfd.status()
            assert st["tx_interval_ms"] == 300 and st["detect_time_ms"] == 3 * 250
            # FRR's: it polls us, we answer with a Final at once
            frr.vtysh("configure terminal", "bfd", f"peer {ours} local-address {theirs}", "transmit-interval 400",
                      "receive-interval 350")  # fmt: skip
            wait_for(lambda: bfd.status()["remote_min_tx_ms"] == 400, timeout=5, what="FRR's new tx")
            st = bfd.status()
            assert st["remote_min_rx_ms"] == 350 and st["tx_interval_ms"] == 350  # max(our 300, its rx 350)
            assert st["detect_time_ms"] == 3 * 400  # max(our rx 250, its tx 400)
            wait_for(lambda: frr.bfd_peer(ours).get("transmit-interval") == 400, timeout=5, what="FRR's poll done")
            time.sleep(2)
            assert st["up_count"] == 1 and bfd.status()["up_count"] == 1  # never flapped
            assert frr.bfd_peer(ours)["status"] == "up"


def _wait_up(bfd: BfdProc, frr: FrrRouter, ours: str) -> None:
    wait_for(lambda: bfd.state() == "Up" and frr.bfd_peer(ours).get("status") == "up", timeout=15, what="BFD Up")


@pytest.mark.parametrize("v6", [False, True], ids=["ipv4", "ipv6"])
def test_peer_silence_is_detected_within_the_detection_time(v6: bool):
    trials = 5
    with NetnsPair() as net:
        ours, theirs = addresses(net, v6)
        peer = BfdPeer(ours, theirs, receive_interval=100, transmit_interval=100, detect_multiplier=3)
        with (
            FrrRouter(net.right, asn=64500, router_id="10.255.0.1", neighbors=[], bfd_peers=[peer]) as frr,
            BfdProc(net.left, ours, theirs, min_rx=100, min_tx=100, multiplier=3) as bfd,
        ):
            ours_ms, frr_ms, nft_ms = [], [], []
            for _ in range(trials):
                _wait_up(bfd, frr, ours)
                wait_for(lambda: bfd.status()["detect_time_ms"] == 300, timeout=5, what="fast timers")
                time.sleep(0.5)
                # FRR goes silent for us: our kernel drops what it sends
                n = len(bfd.states())
                before = time.monotonic()
                nft(net.left, "input udp dport 3784 drop")
                after = time.monotonic()
                wait_for(lambda n=n: len(bfd.states()) > n, timeout=5, what="our Down")
                down = bfd.states()[n]
                assert down["new"] == "Down" and down["diag"] == "detect-expired", down
                elapsed = down["t"] - after
                # the last packet came at most one FRR interval (100 ms) before the drop: Down 200-300 ms after it
                assert down["t"] - before >= 0.3 - 0.1 - 0.02 and elapsed <= 0.3 + 0.05, (before, after, down)
                ours_ms.append(round((down["t"] - before) * 1000))
                nft_ms.append(round((after - before) * 1000))
                nft_clear(net.left)
                _wait_up(bfd, frr, ours)
                time.sleep(0.5)
                # we go silent for FRR: its kernel drops what we send (FRR's Down time from its ms-stamped log)
                n = len(frr_downs(frr))
                before = time.time()
                nft(net.right, "input udp dport 3784 drop")
                after = time.time()
                wait_for(lambda: frr.bfd_peer(ours).get("status") == "down", timeout=5, what="FRR's Down")
                assert frr.bfd_peer(ours).get("diagnostic") == "control detection time expired"
                wait_for(lambda n=n: len(frr_downs(frr)) > n, timeout=5, what="FRR's Down logged")
                down_at = frr_downs(frr)[n]
                assert down_at - before >= 0.3 - 0.1 - 0.02 and down_at - after <= 0.3 + 0.05, (before, after, down_at)
                frr_ms.append(round((down_at - before) * 1000))
                nft_clear(net.right)
            # times from just before nft ran; minus nft's own run time they are from just after the drop was in place
            print(f"\nBFD 100 ms x 3 ({'ipv6' if v6 else 'ipv4'}), detection time 300 ms: Down after silence, ours"
                  f" {ours_ms} ms, FRR's {frr_ms} ms; nft took {nft_ms} ms")  # fmt: skip


@pytest.mark.parametrize("v6", [False, True], ids=["ipv4", "ipv6"])
def test_ttl_below_255_is_dropped(v6: bool):
    with NetnsPair() as net:
        ours, theirs = addresses(net, v6)
        # FRR's packets leave its namespace with TTL / hop limit 254 (as if one router away)
        nft(net.right, "output udp dport 3784 " + ("ip6 hoplimit set 254" if v6 else "ip ttl set 254"))
        peer = BfdPeer(ours, theirs, receive_interval=100, transmit_interval=100, detect_multiplier=3)
        with (
            FrrRouter(net.right, asn=64500, router_id="10.255.0.1", neighbors=[], bfd_peers=[peer]) as frr,
            BfdProc(net.left, ours, theirs, min_rx=100, min_tx=100, multiplier=3) as bfd,
        ):
            wait_for(lambda: bfd.status()["discarded"].get("ttl", 0) >= 3, timeout=10, what="TTL drops")
            dropped = [e for e in bfd.events if e["event"] == "discarded"]
            assert {e["reason"] for e in dropped} == {"ttl 254 != 255"}, dropped
            time.sleep(3)
            st = bfd.status()
            assert bfd.states() == [] and st["state"] == "Down" and st["packets_received"] == 0, st
            assert frr.bfd_peer(ours).get("status") != "up"
            # without the rewrite the same two come up: it was the TTL
            nft_clear(net.right)
            wait_for(lambda: bfd.state() == "Up", timeout=10, what="BFD Up once TTL is 255")
