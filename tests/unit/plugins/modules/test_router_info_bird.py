"""router_info with flavour=bird: the birdc commands it runs and the facts it returns, on recorded BIRD 2.0.12
output (tests/fixtures/bird, see tests/unit/plugins/module_utils/test_bgplb_bird.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from ansible_collections.baremetal.bgplb.plugins.modules import router_info as ri

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "bird"
NODES = ["100.66.1.11", "100.66.1.12", "100.66.1.13"]
OUTPUTS = {
    "show protocols all": "show_protocols_all.txt",
    "show status": "show_status.txt",
    "show route 198.51.100.10/32 all": "show_route_prefix_all.txt",
    "show route 198.51.100.10/32 export bgplb_kernel4": "show_route_prefix_export.txt",
    "show route 2001:db8:100::10/128 all": "show_route_v6_all.txt",
    "show route 2001:db8:100::10/128 export bgplb_kernel6": "show_route_v6_export.txt",
    "show route all table master4": "show_route_all.txt",
    "show route table master4 export bgplb_kernel4": "show_route_prefix_export.txt",
}


class FakeModule:
    def __init__(self, **params):
        self.params = {"birdc_path": "birdc", "bird_socket": "/run/bird/bird.ctl", "vtysh_path": "vtysh",
                       "ip_path": "ip", "prefixes": None, "families": ["ipv4", "ipv6"], **params}  # fmt: skip
        self.calls = []

    def run_command(self, args, check_rc=False):
        assert args[:3] == ["birdc", "-s", "/run/bird/bird.ctl"]
        command = " ".join(args[3:])
        self.calls.append(command)
        if command in OUTPUTS:
            return 0, (FIXTURES / OUTPUTS[command]).read_text(), ""
        return 1, "BIRD 2.0.12 ready.\nNetwork not found\n", ""

    def fail_json(self, **kw):
        raise AssertionError(kw)


def test_neighbors_from_birdc():
    router = ri.Router(FakeModule())
    ns = ri.bird_neighbors(router, ["ipv4", "ipv6"])
    assert [n["address"] for n in ns] == NODES and {n["state"] for n in ns} == {"Established"}
    assert all(n["bfd"] is None and n["since"] for n in ns)
    assert "show bfd sessions" in router.module.calls


def test_bfd_sessions_join_the_neighbors_and_no_bfd_protocol_is_not_an_error(monkeypatch):
    module = FakeModule()
    bfd = (FIXTURES / "show_bfd_sessions.txt").read_text().replace("100.65.1.1 ", NODES[0] + "  ")
    monkeypatch.setattr(module, "run_command", lambda args, check_rc=False: (0, bfd, "") if args[3:] == [
        "show", "bfd", "sessions"] else FakeModule.run_command(module, args))  # fmt: skip
    ns = ri.bird_neighbors(ri.Router(module), ["ipv4"])
    assert ns[0]["bfd"]["status"] == "up" and ns[0]["bfd"]["detect_time"] == 300, ns[0]
    assert ns[1]["bfd"] is None and ns[2]["bfd"] is None
    assert ri.bird_neighbors(ri.Router(module), ["ipv4"], bfd=False)[0]["bfd"] is None
    gone = FakeModule()
    gone.run_command = lambda args, check_rc=False: (1, "BIRD 2.0.12 ready.\nThere is no BFD protocol running\n", "") \
        if args[3:] == ["show", "bfd", "sessions"] else FakeModule.run_command(gone, args)  # fmt: skip
    assert all(n["bfd"] is None for n in ri.bird_neighbors(ri.Router(gone), ["ipv4"]))


def test_prefixes_asked_for_with_multipath_from_the_kernel_export():
    module = FakeModule(prefixes=["198.51.100.10", "2001:db8:100::10/128", "198.51.100.99"])
    routes = ri.bird_routes(ri.Router(module), module)
    assert sorted(p["peer"] for p in routes["198.51.100.10/32"]["paths"]) == NODES
    assert all(p["multipath"] for p in routes["198.51.100.10/32"]["paths"])
    assert routes["2001:db8:100::10/128"]["family"] == "ipv6" and len(routes["2001:db8:100::10/128"]["paths"]) == 3
    assert routes["198.51.100.99/32"] == {"family": "ipv4", "paths": []}  # unknown: present, no paths


def test_whole_table_of_a_family():
    module = FakeModule(families=["ipv4"])
    routes = ri.bird_routes(ri.Router(module), module)
    assert "show route all table master4" in module.calls
    assert routes["198.51.100.10/32"]["family"] == "ipv4"
    assert [p["multipath"] for p in routes["198.51.100.10/32"]["paths"]] == [True, True, True]


def test_a_birdc_failure_names_the_command():
    module = FakeModule(prefixes=["198.51.100.10"])
    module.run_command = lambda args, check_rc=False: (1, "", "Unable to connect to server control socket")
    with pytest.raises(AssertionError, match=r"birdc show protocols all failed.*control socket"):
        ri.bird_routes(ri.Router(module), module)
