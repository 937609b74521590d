"""max_announcers: rendezvous hashing picks the same top k everywhere, spreads addresses evenly and moves only the
addresses a node change must move; the planner announces an address only from its top k."""

from __future__ import annotations

from collections import Counter

from bgplb import model, planner
from bgplb.rendezvous import announcers

NODES = [f"n{i}" for i in range(20)]
KEYS = [f"198.18.{i // 256}.{i % 256}" for i in range(5000)]
K = 3


def test_top_k_is_deterministic_and_order_free():
    assert announcers("198.18.0.1", NODES, K) == announcers("198.18.0.1", list(reversed(NODES)), K)
    assert len(announcers("198.18.0.1", NODES, K)) == K
    assert announcers("198.18.0.1", ["a", "b"], K) == {"a", "b"}  # fewer nodes than k: all of them


def test_addresses_spread_evenly_over_the_nodes():
    load = Counter(n for key in KEYS for n in announcers(key, NODES, K))
    expected = len(KEYS) * K / len(NODES)  # 750
    assert set(load) == set(NODES)
    assert max(abs(v - expected) for v in load.values()) < 0.12 * expected, load  # measured: within 7%


def test_a_join_moves_only_the_addresses_the_new_node_takes():
    before = {key: announcers(key, NODES, K) for key in KEYS}
    after = {key: announcers(key, [*NODES, "new"], K) for key in KEYS}
    moved = [key for key in KEYS if before[key] != after[key]]
    assert all("new" in after[key] and len(after[key] - before[key]) == 1 for key in moved)
    assert abs(len(moved) / len(KEYS) - K / (len(NODES) + 1)) < 0.03  # k/(N+1) = 14.3%


def test_a_leave_moves_only_the_addresses_the_node_had():
    before = {key: announcers(key, NODES, K) for key in KEYS}
    after = {key: announcers(key, [n for n in NODES if n != "n7"], K) for key in KEYS}
    moved = [key for key in KEYS if before[key] != after[key]]
    assert moved and all("n7" in before[key] and len(before[key] - after[key]) == 1 for key in moved)
    assert len(moved) == sum(1 for key in KEYS if "n7" in before[key])


def config(node: str, max_announcers: int | None):
    adv = {"name": "top", "max_announcers": max_announcers} if max_announcers else {"name": "all"}
    return model.Config(
        model.parse_node({"name": node, "router_id": "10.0.0.1", "asn": 64512}),
        peers=(model.parse_object("peer", {"name": "r", "address": "10.0.0.254", "asn": 65000}),),
        pools=(model.parse_object("pool", {"name": "p", "addresses": ["198.18.0.0/24"]}),),
        advertisements=(model.parse_object("advertisement", adv),),
        services=tuple(model.parse_object("service", {"name": f"s{i}", "address": f"198.18.0.{i}"})
                       for i in range(1, 41)),
    )  # fmt: skip


def test_planner_announces_each_address_from_its_top_k_only():
    members = {f"s{i}": NODES for i in range(1, 41)}
    announced = Counter()
    for node in NODES:
        for prefix in planner.plan(config(node, K), {}, members=members)["r"]:
            announced[prefix] += 1
            assert node in announcers(prefix.split("/")[0], NODES, K)
    assert set(announced.values()) == {K} and len(announced) == 40


def test_without_members_or_max_announcers_every_node_announces():
    assert len(planner.plan(config("n1", K), {})["r"]) == 40  # the eligible set is unknown
    assert len(planner.plan(config("n1", None), {}, members={"s1": ["n2"]})["r"]) == 40
