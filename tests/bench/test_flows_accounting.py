"""bench/flows.py: what the continuity benches count as moved, alive and broken (no sockets: fake transports)."""

import argparse
import asyncio
import time

import flows
import pytest


@pytest.mark.parametrize(
    ("before", "after", "moved"),
    [
        ([1, 2, 3, 4], [1, 2, 3], 0.5),  # the last of 4 leaves: half the hash space changes owner
        ([1, 2, 3, 4], [2, 3, 4], 0.5),  # the first
        ([1, 2, 3, 4], [1, 3, 4], 1 / 3),  # a middle one
        ([1, 2, 3, 4], [1, 2, 3, 4, 5], 0.5),  # a 5th joins at the end
        ([1, 2, 3, 4], [1, 2, 3, 4], 0.0),
    ],
)
def test_hash_threshold_moved(before, after, moved):
    assert flows.hash_threshold_moved(before, after) == pytest.approx(moved)


class Transport:
    def __init__(self):
        self.sent = []
        self.closed = False

    def write(self, data):
        self.sent.append(data)

    def close(self):
        self.closed = True

    def abort(self):
        self.closed = True

    def is_closing(self):
        return self.closed


@pytest.fixture
def client():
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    args = argparse.Namespace(interval=0.3, stall=2.0, lifetime=None, sources=["192.0.2.1"], vip="x", port=1)
    c = flows.Client.__new__(flows.Client)  # the fields the accounting reads, without a running loop
    c.loop, c.args, c.interval, c.stall, c.lifetime, c.closing = loop, args, 0.3, 2.0, None, False
    yield c
    loop.close()


def conn(client, opened):
    c = flows.Conn(client)
    c.connection_made(Transport())
    c.opened_at = opened
    return c


def test_break_kinds_and_window(client):
    reset = conn(client, 0.0)
    reset.err, reset.err_at = "reset", 12.0
    assert reset.break_in(10.0, 20.0, 25.0) == "reset"
    assert reset.break_in(0.0, 10.0, 25.0) is None, "a reset after the window is not counted in it"

    stalled = conn(client, 0.0)
    stalled.stalls = [11.0]  # a message sent at 11 s was answered more than 2 s later
    assert stalled.break_in(10.0, 20.0, 25.0) == "stall"
    assert stalled.break_in(0.0, 5.0, 25.0) is None

    pending = conn(client, 0.0)
    pending.expect, pending.sent_at = b"0000001\n", 15.0  # never answered: a stall if the end is > 2 s later
    assert pending.break_in(10.0, 20.0, 25.0) == "stall"
    assert pending.break_in(10.0, 20.0, 16.0) is None

    # closed cleanly by its lifetime: close() only follows an answer, so nothing is pending
    now = time.monotonic()
    closed = conn(client, now - 5.0)
    closed.node, closed.due = "n1", now - 1.0
    closed.expect, closed.sent_at = b"0000001\n", now - 0.1
    closed.data_received(b"0000001\n")  # the answer, then the lifetime is over: close()
    assert closed.closed_at is not None and closed.expect == b"" and closed.t.closed
    assert closed.break_in(now - 2.0, now + 8.0, now + 10.0) is None


def test_hang_in_window_reset_after_it(client):
    """A message sent at 11 s hangs; the connection is reset at 20.5 s, after the window [10, 20) but before the
    report at 22.3 s: it broke in the window (a stall at 11 s), whatever ended it later."""
    hung = conn(client, 0.0)
    hung.expect, hung.sent_at = b"0000001\n", 11.0
    hung.fail(20.5, "reset")
    assert hung.break_in(10.0, 20.0, 22.3) == "stall"
    assert hung.break_in(0.0, 10.0, 22.3) is None
    assert hung.break_in(20.0, 30.0, 22.3) == "reset", "in a window that holds the reset, the reset"

    quick = conn(client, 0.0)  # sent at 19 s, reset 0.5 s later: the reset, not a stall, and after the window
    quick.expect, quick.sent_at = b"0000001\n", 19.0
    quick.fail(19.5, "reset")
    assert quick.break_in(10.0, 20.0, 22.3) == "reset"
    quick2 = conn(client, 0.0)
    quick2.expect, quick2.sent_at = b"0000001\n", 19.9
    quick2.fail(20.4, "reset")
    assert quick2.break_in(10.0, 20.0, 22.3) is None, "waited 0.5 s: no stall, and the reset is after the window"


def test_alive_at(client):
    c = conn(client, 5.0)
    assert not c.alive_at(4.0) and c.alive_at(5.0)
    c.closed_at = 8.0
    assert c.alive_at(8.0) and not c.alive_at(9.0)
    f = conn(client, 0.0)
    f.err, f.err_at = "eof", 3.0
    assert f.alive_at(2.0) and not f.alive_at(3.5)


def test_summarise_resilient_failure():
    res = {
        "alive_at_event": 100,
        "per_node": {"n1": 30, "n2": 25, "n3": 25, "n4": 20},
        "broken": {"n4": {"reset": 20}},
        "window_s": 10.0,
        "opened_in_window": 5,
        "opened_in_window_broken": {},
        "closed_cleanly_in_window": 0,
        "baseline_broken": {},
        "baseline_seconds": 3.0,
        "new_conns_before": {"n": 1, "failed": 0},
        "new_conns_after": {"n": 10, "failed": 2},
    }
    ready = {"ready": 100, "open_p50_s": 0.1, "open_max_s": 0.2, "failed_open": 0}
    case = {"name": "x", "hash_policy": 1, "ecmp": "resilient", "event": "failure", "handback": False, "node": "n4"}
    row = flows.summarise(case, ready, res, ["n1", "n2", "n3", "n4"], ["n1", "n2", "n3"])
    assert row["broken"] == 0.2 and row["unavoidable"] == 0.2 and row["expected_uniform"] == 0.25
    assert row["broken_from_node"] == 20 and row["broken_from_others"] == 0
    assert row["spread_max_over_mean"] == 1.2
    assert row["new_conns_failed_after"] == "2/10"
    hb = flows.summarise({**case, "event": "drain", "handback": True}, ready, res, ["n1", "n2", "n3", "n4"], ["n1"])
    assert hb["event"] == "drain-handback" and hb["expected_uniform"] == 0.0 and hb["unavoidable"] == 0.0


def test_lifetime_option():
    assert flows.lifetime("0") is None
    assert flows.lifetime("10:40") == (10.0, 40.0)
    for bad in ("40:10", "x", "-1:2"):
        with pytest.raises(argparse.ArgumentTypeError):
            flows.lifetime(bad)
