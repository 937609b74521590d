"""module_utils/bird.py on birdc output recorded from BIRD 2.0.12 (bookworm) running the router role's bird.conf in
network namespaces (tests/router_bird): a router and 3 nodes, each node sending 198.51.100.10/32, n3 also
198.51.100.20/32 with GRACEFUL_SHUTDOWN (LOCAL_PREF 0 on the router), 2001:db8:100::10/128 over the IPv4 sessions."""

from __future__ import annotations

from pathlib import Path

from ansible_collections.baremetal.bgplb.plugins.module_utils import bird

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "bird"
NODES = ["100.66.1.11", "100.66.1.12", "100.66.1.13"]


def text(name):
    return (FIXTURES / name).read_text()


def test_neighbors_established_with_counts_and_uptime():
    ns = bird.neighbor_facts(text("show_protocols_all.txt"), text("show_status.txt"))
    assert [n["address"] for n in ns] == NODES
    assert {n["state"] for n in ns} == {"Established"}
    assert [n["description"] for n in ns] == ["n1", "n2", "n3"]
    assert all(n["remote_as"] == 64512 and n["local_as"] == 64500 for n in ns)
    assert all(n["prefixes_received"] == {"ipv4": 3, "ipv6": 1} for n in ns)
    # server time 08:20:15.885 (show status) minus since 08:20:11.640
    assert ns[0]["since"] == "2026-12-02 08:20:11.640" and ns[0]["uptime_msec"] == 4245
    assert ns[0]["protocol"] == "bgplb_100_66_1_11" and ns[0]["last_reset"] is None


def test_kernel_and_device_protocols_are_not_neighbors():
    assert len(bird.protocols(text("show_protocols_all.txt"))) == 6
    assert len(bird.neighbor_facts(text("show_protocols_all.txt"))) == 3


def test_a_session_shut_by_the_import_limit_is_down_with_the_reason():
    ns = bird.neighbor_facts(text("show_protocols_all_limit.txt"), families=["ipv4"])
    assert {n["state"] for n in ns} == {"Down"}
    assert ns[0]["last_reset"] == "Automatic shutdown: Route limit exceeded"
    assert ns[0]["uptime_msec"] == 0 and ns[0]["prefixes_received"] == {"ipv4": 0}


def test_ecmp_paths_are_multipath_through_the_merged_kernel_export():
    peers = {f"bgplb_{a.replace('.', '_')}": a for a in NODES}
    routes = bird.route_facts(text("show_route_prefix_all.txt"), text("show_route_prefix_export.txt"), peers)
    paths = routes["198.51.100.10/32"]
    assert sorted(p["next_hop"] for p in paths) == NODES
    assert sorted(p["peer"] for p in paths) == NODES
    assert [p["bestpath"] for p in paths].count(True) == 1 and all(p["multipath"] for p in paths)
    assert paths[0]["as_path"] == [64512] and paths[0]["origin"] == "IGP" and paths[0]["local_pref"] == 100


def test_graceful_shutdown_path_is_not_merged():
    routes = bird.route_facts(text("show_route_gshut_all.txt"), text("show_route_gshut_export.txt"))
    by_hop = {p["next_hop"]: p for p in routes["198.51.100.20/32"]}
    assert by_hop["100.66.1.13"]["communities"] == ["65535:0"] and by_hop["100.66.1.13"]["local_pref"] == 0
    assert [h for h, p in sorted(by_hop.items()) if p["multipath"]] == NODES[:2]


def test_without_the_export_only_the_best_path_is_multipath():
    paths = bird.route_facts(text("show_route_prefix_all.txt"))["198.51.100.10/32"]
    assert [p["multipath"] for p in paths] == [p["bestpath"] for p in paths]


def test_ipv6_over_ipv4_sessions_and_the_whole_table():
    routes = bird.route_facts(text("show_route_v6_all.txt"), text("show_route_v6_export.txt"))
    paths = routes["2001:db8:100::10/128"]
    assert sorted(p["next_hop"] for p in paths) == ["fd00:66:1::b", "fd00:66:1::c", "fd00:66:1::d"]
    assert all(p["multipath"] for p in paths)
    table = bird.route_facts(text("show_route_all.txt"))  # every table: master4 and master6
    assert sorted(table) == ["198.51.100.10/32", "198.51.100.20/32", "198.51.100.30/32", "198.51.100.31/32",
                             "198.51.100.32/32", "2001:db8:100::10/128"]  # fmt: skip


def test_unknown_prefix_and_garbage_give_nothing():
    assert bird.route_facts(text("show_route_unknown_all.txt")) == {}
    assert bird.neighbor_facts("no protocols here\n  key: value\n") == []
    assert bird.server_time("Daemon is up") is None


def test_bfd_sessions_from_show_bfd_sessions():
    """Recorded from BIRD 2.0.12's `protocol bfd` with `timeformat protocol iso long`: one session Up with our
    speaker's BFD (100 ms x 3), one to an address that never answers."""
    sessions = bird.bfd_sessions(text("show_bfd_sessions.txt"), text("show_status_bfd.txt"))
    assert set(sessions) == {"100.65.1.1", "100.65.1.77"}
    up, down = sessions["100.65.1.1"], sessions["100.65.1.77"]
    assert up["status"] == "up" and up["transmit_interval"] == 100 and up["detect_time"] == 300, up
    assert up["interface"] == "veth-bgplbt" and up["uptime_s"] == 2 and up["downtime_s"] is None, up
    assert down["status"] == "down" and down["transmit_interval"] == 1000 and down["downtime_s"] == 2, down
    assert up["receive_interval"] is None and up["multihop"] is None  # not printed by BIRD


def test_bfd_sessions_of_garbage_or_no_bfd_protocol_are_empty():
    assert bird.bfd_sessions("") == {}
    assert bird.bfd_sessions("BIRD 2.0.12 ready.\nThere is no BFD protocol running\n") == {}
    assert bird.bfd_sessions("x Up 1 2 3\n10.0.0.1 eth0 Up 2026-12-02 10:00:00 fast 0.3\n") == {}
