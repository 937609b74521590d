"""BFD against BIRD 2.0's `protocol bfd` in namespaces: our session (`python -m bgplb.bfd`) left, BIRD right.

Keyed SHA1 and meticulous keyed SHA1 authentication (FRR 8.4's bfdd has none, BIRD has both): Up with the right key,
never Up with a wrong key, a wrong key id or no authentication on one side. Multihop (RFC 5883, UDP 4784): Up, and
packets below our minimum TTL are dropped. A timer change runs a poll sequence BIRD follows.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from harness import Namespace, NetnsPair, wait_for
from harness.bfd import BfdProc, nft, nft_clear


class BirdBfd:
    """BIRD with one BFD session to `peer` (no BGP: a `neighbor` line of `protocol bfd`)."""

    def __init__(self, ns: Namespace, local: str, peer: str, *, auth: str | None = None, key: str = "",
                 key_id: int = 1, multihop: bool = False) -> None:  # fmt: skip
        self.ns = ns
        self.dir = Path(tempfile.mkdtemp(prefix="bgplbt-bird-"))
        opts = "min rx interval 100 ms; min tx interval 100 ms; multiplier 3;"
        if auth:
            opts += f' authentication {auth}; password "{key}" {{ id {key_id}; }};'
        self.conf = (f"router id 10.255.0.2;\nprotocol device {{}}\nprotocol bfd {{\n  interface \"*\" {{ {opts} }};\n"
                     f"  multihop {{ {opts} }};\n  neighbor {peer} local {local}{' multihop on' if multihop else ''};\n"
                     "}\n")  # fmt: skip
        self.peer = peer

    def __enter__(self) -> BirdBfd:
        (self.dir / "bird.conf").write_text(self.conf)
        self.proc = self.ns.popen(["bird", "-f", "-c", str(self.dir / "bird.conf"), "-s", str(self.dir / "bird.ctl"),
                                   "-P", str(self.dir / "bird.pid")], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)  # fmt: skip
        wait_for(lambda: self.session() is not None, timeout=15, what="BIRD's BFD session")
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)

    def session(self) -> dict[str, str] | None:
        """`show bfd sessions` for our address: state, interval and timeout (seconds, as BIRD prints them)."""
        out = subprocess.run(["birdc", "-s", str(self.dir / "bird.ctl"), "show bfd sessions"], capture_output=True,
                             text=True, timeout=30).stdout  # fmt: skip
        for line in out.splitlines():
            fields = line.split()
            if fields and fields[0] == self.peer:
                state, interval, timeout = fields[-4], fields[-2], fields[-1]
                return {"state": state, "interval": interval, "timeout": timeout}
        return None if not re.search(r"^bfd1:", out, re.M) else {}


AUTHS = {"keyed-sha1": "keyed sha1", "meticulous-keyed-sha1": "meticulous keyed sha1"}


@pytest.mark.parametrize("auth", sorted(AUTHS))
def test_authentication_right_key_up_wrong_key_or_id_or_none_never_up(auth: str):
    with NetnsPair() as net:
        ours, theirs = net.left_v4, net.right_v4
        with BirdBfd(net.right, theirs, ours, auth=AUTHS[auth], key="s3cret-key") as bird:
            with BfdProc(net.left, ours, theirs, "--auth-type", auth, min_rx=100, min_tx=100, multiplier=3,
                         key="s3cret-key") as bfd:  # fmt: skip
                wait_for(lambda: bfd.state() == "Up" and (bird.session() or {}).get("state") == "Up", timeout=10,
                         what="BFD Up with the right key")  # fmt: skip
                wait_for(lambda: bfd.status()["detect_time_ms"] == 300, timeout=5, what="fast timers")
                time.sleep(2)  # stays up: every packet passes the digest and the sequence window, both ways
                st = bfd.status()
                assert st["up_count"] == 1 and not any(st["discarded"].values()), st
                assert bird.session() == {"state": "Up", "interval": "0.100", "timeout": "0.300"}
                # a timer change: a signed poll sequence, BIRD follows
                bfd.send(set_timers={"min_tx": 200, "min_rx": 200})
                wait_for(lambda: (bird.session() or {}).get("timeout") == "0.600", timeout=5, what="BIRD's new timers")
                assert bfd.status()["up_count"] == 1
            # BIRD gives up on the old session within its detection time before the next ones
            wait_for(lambda: (bird.session() or {}).get("state") != "Up", timeout=5, what="BIRD's session down")
            wrong = [("--auth-type", auth), ("--auth-type", auth, "--auth-key-id", "2"), ()]
            keys = ["wrong-key", "s3cret-key", None]
            reasons = ["bad digest", "auth key id 1, expected 2", "authentication present but not configured"]
            cases = list(zip(wrong, keys, reasons, strict=True))
            for args, key, reason in cases if auth == "keyed-sha1" else cases[:1]:  # the rest does not depend on it
                with BfdProc(net.left, ours, theirs, *args, min_rx=100, min_tx=100, multiplier=3, key=key) as bfd:
                    wait_for(lambda bfd=bfd: bfd.status()["discarded"]["auth"] >= 2, timeout=10, what="auth drops")
                    st = bfd.status()
                    assert bfd.states() == [] and st["packets_received"] == 0, (args, st)
                    assert (bird.session() or {}).get("state") != "Up", args
                    # (BIRD may still address a few packets to the previous session: refused by discriminator)
                    found = {e["reason"] for e in bfd.events if e["event"] == "discarded"}
                    assert reason in found and all(r == reason or "discriminator" in r for r in found), (args, found)


def test_multihop_up_and_ttl_below_the_minimum_dropped():
    with NetnsPair() as net:
        ours, theirs = net.left_v4, net.right_v4
        # BIRD sends multihop packets with the system TTL (64): dropped under our minimum 250
        with (
            BirdBfd(net.right, theirs, ours, multihop=True) as bird,
            BfdProc(net.left, ours, theirs, "--multihop", "--min-ttl", "250", min_rx=100, min_tx=100,
                    multiplier=3) as bfd,
        ):  # fmt: skip
            wait_for(lambda: bfd.status()["discarded"]["ttl"] >= 2, timeout=10, what="TTL 64 dropped")
            assert bfd.states() == [] and {e["reason"] for e in bfd.events if e["event"] == "discarded"} == {
                "ttl 64 < 250"
            }
            # as if BIRD sent 255 four hops away (TTL 251 on arrival): at or above the minimum, Up
            nft(net.right, "output udp dport 4784 ip ttl set 251")
            wait_for(lambda: bfd.state() == "Up" and (bird.session() or {}).get("state") == "Up", timeout=10,
                     what="multihop BFD Up")  # fmt: skip
            wait_for(lambda: bfd.status()["detect_time_ms"] == 300, timeout=5, what="fast timers")
            ttl_drops = bfd.status()["discarded"]["ttl"]
            nft_clear(net.right)
            # 249 on arrival: dropped, our session goes down on the silence
            nft(net.right, "output udp dport 4784 ip ttl set 249")
            wait_for(lambda: bfd.state() == "Down", timeout=5, what="Down: BIRD's packets under the minimum TTL")
            st = bfd.status()
            assert st["discarded"]["ttl"] > ttl_drops and bfd.states()[-1]["diag"] == "detect-expired", st
            assert "ttl 249 < 250" in {e["reason"] for e in bfd.events if e["event"] == "discarded"}
