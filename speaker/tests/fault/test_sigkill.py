"""SIGKILL at random points: of 100 `bgplbctl apply` runs (each several objects that are only valid together) and of
the daemon during 100 reloads. The config directory always validates, every apply is all or nothing, and the
restarted daemon announces the last committed state.

Found by this test (fixed in store.py): an apply of several files, killed between two renames, left a directory
where a service's address lay outside every pool: every later `bgplbctl apply` exited 2 and the daemon refused it.
"""

from __future__ import annotations

import os
import random
import signal
import time

from bgplb import daemon as daemon_mod
from bgplb.ctl.client import call
from bgplb.store import Store

from .conftest import ADVERTISEMENT, PEER, fork, reap

ROUNDS = 100


def expected_routes(root) -> set[str]:
    config = Store(root).load()
    return {f"{a}/{'128' if ':' in a else '32'}" for s in config.services for a in s.address}


def batch(i: int) -> list[tuple[str, dict]]:
    """A pool and two services in it, the services first: any strict prefix of it written alone is invalid."""
    net = f"10.{i // 250}.{i % 250}"
    return [
        ("service", {"name": f"s{i}a", "address": f"{net}.1"}),
        ("service", {"name": f"s{i}b", "pool": f"p{i}"}),
        ("pool", {"name": f"p{i}", "addresses": [f"{net}.0/24"]}),
    ]


def _apply(root, docs) -> int:
    Store(root).apply(docs)
    return 0


def test_sigkill_during_applies(speaker):
    speaker.write_speaker(peers=[PEER], advertisements=[ADVERTISEMENT])
    root = speaker.config_dir
    rng = random.Random(1)
    # how long one apply takes here, to spread the kills over all of it
    start = time.monotonic()
    reap(fork(_apply, root, batch(10_000)))
    span = max(time.monotonic() - start, 0.005) * 1.3
    committed: set[int] = {10_000}
    outcomes = {"all": 0, "none": 0}
    for i in range(ROUNDS):
        pid = fork(_apply, root, batch(i))
        time.sleep(rng.uniform(0, span))
        os.kill(pid, signal.SIGKILL)
        reap_code = reap(pid)
        config = Store(root).load()  # always validates (a journal left behind is read through)
        names = {s.name for s in config.services} | {p.name for p in config.pools}
        mine = {f"s{i}a", f"s{i}b", f"p{i}"} & names
        assert mine in (set(), {f"s{i}a", f"s{i}b", f"p{i}"}), f"round {i} half applied: {mine}"
        outcomes["all" if mine else "none"] += 1
        if mine:
            committed.add(i)
        assert {p.name for p in config.pools} == {f"p{n}" for n in committed}, f"round {i} (exit {reap_code})"
        if i % 20 == 19:  # the daemon, restarted now, announces exactly what is committed
            speaker.start()
            speaker.wait_ready()
            assert speaker.routes() == expected_routes(root)
            speaker.kill()
    assert outcomes["all"] and outcomes["none"], outcomes  # the kills landed before and after the commit point


def test_sigkill_of_the_daemon_during_reloads(speaker):
    speaker.write_speaker(peers=[PEER], advertisements=[ADVERTISEMENT],
                          pools=[{"name": "p", "addresses": ["198.51.100.0/24"]}])  # fmt: skip
    root = speaker.config_dir
    rng = random.Random(2)
    store = Store(root)
    speaker.start()
    speaker.wait_ready()
    helpers: list[int] = []
    for i in range(ROUNDS):
        # a committed change, then a reload (SIGHUP, the API, or a drain toggle), killed at a random point
        if i % 3 == 2 and store.get("service"):
            store.delete("service", store.get("service")[0].name)
        else:
            store.apply([("service", {"name": f"s{i}", "pool": "p"})])
        if i % 3 == 0:
            os.kill(speaker.pid, signal.SIGHUP)
        elif i % 3 == 1:
            helpers.append(fork(lambda: call(speaker.socket, "reload", timeout=5) and 0))
        else:
            command = "drain" if i % 2 else "undrain"
            helpers.append(fork(lambda c=command: call(speaker.socket, c, wait=3600) and 0))
        time.sleep(rng.uniform(0, 0.05))
        speaker.kill()
        speaker.start()
        status = speaker.wait_ready()
        drain = status["drain"]
        assert drain is None or daemon_mod.valid_drain(drain)
        want = expected_routes(root) if not (drain and drain["state"] == "drained") else set()
        deadline = time.monotonic() + 5
        while speaker.routes() != want:
            assert time.monotonic() < deadline, f"round {i}: {speaker.routes() ^ want}"
            time.sleep(0.05)
    for pid in helpers:
        reap(pid)
