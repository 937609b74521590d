"""1,000 rounds of two concurrent conflicting applies (audit item 2): exactly one wins, the directory always validates.

Each round forks two writers that wait on one pipe and start together: two overlapping pools, or two services
auto-assigned from a one-address pool. Without the store's lock about 1 round in 10 let both through.
"""

from __future__ import annotations

import os

import yaml

from bgplb import model
from bgplb.store import Store

from .conftest import NODE, fork, reap

ROUNDS = 1000
STOP = 0xFFFFFFFF


def _documents(i: int, worker: int) -> list[tuple[str, dict]]:
    if i % 2 == 0:  # two overlapping pools
        return [("pool", {"name": "ab"[worker], "addresses": [["198.51.100.0/24"], ["198.51.100.128/25"]][worker]})]
    return [("service", {"name": f"s{'ab'[worker]}", "pool": "one"})]  # two services, a one-address pool


def _worker(root, worker: int, gate: int, results: int) -> int:
    """Long-lived writer (forking two per round would dominate the run time): per round, wait, apply, report."""
    while True:
        i = int.from_bytes(os.read(gate, 4), "big")
        if i == STOP:
            return 0
        try:
            Store(root / str(i)).apply(_documents(i, worker))
            code = 0
        except model.ValidationError:
            code = 2
        except Exception:
            code = 1
        os.write(results, bytes((code,)))


def test_two_concurrent_conflicting_applies_one_wins(tmpfs):
    pipes = [(os.pipe(), os.pipe()) for _ in range(2)]
    pids = [fork(_worker, tmpfs, w, gate[0], res[1]) for w, (gate, res) in enumerate(pipes)]
    wins = {"pools": [0, 0], "services": [0, 0]}
    try:
        for i in range(ROUNDS):
            root = tmpfs / str(i)
            root.mkdir()
            (root / "speaker.yaml").write_text(yaml.safe_dump({"node": NODE}))
            if i % 2:
                Store(root).apply([("pool", {"name": "one", "addresses": ["198.51.100.7/32"]})])
            for gate, _ in pipes:
                os.write(gate[1], i.to_bytes(4, "big"))
            codes = [os.read(res[0], 1)[0] for _, res in pipes]
            assert sorted(codes) == [0, 2], f"round {i}: exit codes {codes}"
            config = Store(root).load()  # validates
            if i % 2 == 0:
                assert len(config.pools) == 1
                wins["pools"][codes.index(0)] += 1
            else:
                assert [s.address for s in config.services] == [("198.51.100.7",)]
                wins["services"][codes.index(0)] += 1
    finally:
        for gate, _ in pipes:
            os.write(gate[1], STOP.to_bytes(4, "big"))
        for pid in pids:
            reap(pid)
    # both writers won some rounds: they really raced
    assert all(min(v) > 0 for v in wins.values()), wins
