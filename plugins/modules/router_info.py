#!/usr/bin/python
# Copyright: bgplb developers
# Apache License 2.0 (see LICENSE)
"""Read-only facts from an FRR router: BGP neighbors, the paths of service prefixes, and the kernel's next hops."""

from __future__ import annotations

DOCUMENTATION = r"""
module: router_info
short_description: BGP neighbors, service prefix paths and kernel next hops of an FRR router
version_added: 0.1.0
description:
  - Runs on an FRR router (the hosts of C(bgplb_routers)) and reads, never changes, its state.
  - Per BGP neighbor, from C(vtysh -c 'show bgp neighbors json') and C(show bgp summary json) - address, state,
    uptime, remote AS, prefixes received per address family; and its BFD session from bfdd (C(show bfd peers json)) -
    state, diagnostics, intervals.
  - Per prefix, from C(show bgp ipv4|ipv6 unicast json detail) (or C(show bgp <afi> unicast <prefix> json) for the
    prefixes asked for) - every BGP path with next hop, AS path, communities, best path and multipath flags; and the
    next hops the kernel actually forwards with - the table the policy rules (C(ip -N -j rule show), by priority)
    look the prefix up in first that has a route for it (table 200 when the router role's resilient agent runs,
    else main), that route (C(ip -N -j route show table T <prefix>)), its multipath C(nexthops), single C(gateway)
    or nexthop object / group C(nhid) (C(ip -N -j nexthop show)), and the group's type (resilient or not).
  - Use it to check that every node's path is installed (ECMP) after a deployment, or that a drained node's path
    is gone.
  - With O(flavour=bird), the same fields from BIRD 2 (C(birdc show protocols all), C(show status),
    C(show route <prefix> all) and C(show route <prefix> export bgplb_kernel4|6), the router role's kernel
    protocols, whose merged route tells the multipath paths). BIRD has no session counters -
    C(connections_established) and C(connections_dropped) are null - but each neighbor has C(since) (its last state
    change, which a reset session moves); C(bfd) comes from C(birdc show bfd sessions) (status, interface, times,
    transmit interval and BIRD's detection time C(detect_time); the fields BIRD does not print are null).
author: bgplb developers (@bgplb)
options:
  prefixes:
    description:
      - Only these prefixes (CIDRs; a bare address means its /32 or /128). A prefix the router does not know is
        still returned, with no paths and no kernel next hops, so its absence can be asserted.
      - When omitted, every prefix of the BGP tables of O(families).
    type: list
    elements: str
  families:
    description: Address families whose BGP tables are read when O(prefixes) is omitted; and whose summary is read.
    type: list
    elements: str
    choices: [ipv4, ipv6]
    default: [ipv4, ipv6]
  neighbors:
    description: Whether to return the neighbors.
    type: bool
    default: true
  bfd:
    description:
      - Whether to read bfdd's sessions into each neighbor's RV(neighbors[].bfd). When bfdd does not run, every
        neighbor's C(bfd) is null (not an error).
    type: bool
    default: true
  kernel:
    description: Whether to return the kernel next hops of each prefix.
    type: bool
    default: true
  flavour:
    description: The routing daemon of the router, V(frr) or V(bird) (the router role's C(bgplb_router_flavour)).
    type: str
    choices: [frr, bird]
    default: frr
  birdc_path:
    description: The birdc command (O(flavour=bird)).
    type: path
    default: birdc
  bird_socket:
    description: BIRD's control socket (O(flavour=bird)).
    type: path
    default: /run/bird/bird.ctl
  vtysh_path:
    description: The vtysh command.
    type: path
    default: vtysh
  ip_path:
    description: The iproute2 C(ip) command.
    type: path
    default: ip
notes:
  - Supports check mode; never reports a change.
  - Needs to run as root (or a member of the C(frrvty) group) on the router.
attributes:
  check_mode:
    support: full
    description: Read-only; runs the same in check mode.
  diff_mode:
    support: none
    description: Nothing changes, so there is no diff.
seealso:
  - name: FRR BGP documentation
    description: The commands this module reads.
    link: https://docs.frrouting.org/en/stable-8.4/bgp.html
"""

EXAMPLES = r"""
# Before: two nodes (10.89.77.3, 10.89.77.4) advertise 198.51.100.10/32 to router r1.
- name: Read the router's view of a service
  baremetal.bgplb.router_info:
    prefixes:
      - 198.51.100.10/32
      - 2001:db8:100::10
  register: r1

# After: r1.neighbors and r1.routes look like this
#   neighbors:
#     - {address: 10.89.77.3, state: Established, uptime_msec: 182000, remote_as: 64512,
#        prefixes_received: {ipv4: 1, ipv6: 1}, description: n1, peer_group: BGPLB_NODES, ...}
#   routes:
#     198.51.100.10/32:
#       family: ipv4
#       paths:
#         - {next_hop: 10.89.77.3, as_path: [64512], communities: ['65000:100'], bestpath: true, multipath: true, ...}
#         - {next_hop: 10.89.77.4, as_path: [64512], communities: ['65000:100'], bestpath: false, multipath: true, ...}
#       kernel: [{gateway: 10.89.77.3, dev: eth0, weight: 1}, {gateway: 10.89.77.4, dev: eth0, weight: 1}]

- name: Every node must be an installed next hop of the service
  ansible.builtin.assert:
    that:
      - r1.routes['198.51.100.10/32'].kernel | map(attribute='gateway') | sort
        == groups['bgplb_nodes'] | map('extract', hostvars, 'bgplb_bgp_address') | sort

- name: All sessions up
  ansible.builtin.assert:
    that: r1.neighbors | rejectattr('state', 'equalto', 'Established') | list | length == 0

- name: BFD Up with every node (bgplb_bfd)
  ansible.builtin.assert:
    that: r1.neighbors | selectattr('bfd') | map(attribute='bfd.status') | select('equalto', 'up') | list | length
      == r1.neighbors | length

- name: Only the neighbors, no routes
  baremetal.bgplb.router_info:
    prefixes: []
    kernel: false
"""

RETURN = r"""
neighbors:
  description: One entry per BGP neighbor (not for peer-groups), sorted by address. Empty when O(neighbors=false).
  returned: always
  type: list
  elements: dict
  contains:
    address:
      description: Neighbor address.
      type: str
      sample: 10.89.77.3
    state:
      description: BGP FSM state (C(Idle), C(Connect), C(Active), C(OpenSent), C(OpenConfirm), C(Established)).
      type: str
      sample: Established
    uptime_msec:
      description: Milliseconds since the session was established (or since it went down, when not established).
      type: int
      sample: 182000
    remote_as:
      description: The neighbor's AS.
      type: int
      sample: 64512
    local_as:
      description: The router's AS on this session.
      type: int
      sample: 64500
    description:
      description: The neighbor's description (the role sets the inventory hostname).
      type: str
      sample: n1
    peer_group:
      description: The peer-group the neighbor belongs to.
      type: str
      sample: BGPLB_NODES
    prefixes_received:
      description: Prefixes accepted (after the inbound policy) per address family that is active for the neighbor.
      type: dict
      sample: {ipv4: 1, ipv6: 1}
    connections_established:
      description: How many times the session was established since FRR started.
      type: int
      sample: 1
    connections_dropped:
      description: How many times the session went down since FRR started.
      type: int
      sample: 0
    last_reset:
      description: FRR's reason for the last reset, if any.
      type: str
      sample: Peer closed the session
    since:
      description: BIRD only - when the protocol last changed state (ISO time of the router); a reset moves it.
      type: str
      sample: "2026-12-02 08:20:11.640"
    protocol:
      description: BIRD only - the name of the BGP protocol of the neighbor.
      type: str
      sample: bgplb_10_89_10_21
    bfd:
      description:
        - bfdd's session with the neighbor (default VRF), or null when there is none (no C(neighbor ... bfd), bfdd
          not running, or O(bfd=false)).
        - C(status) is bfdd's V(up), V(down), V(init) or V(shutdown); C(diagnostic) / C(remote_diagnostic) bfdd's
          text (V(ok), V(control detection time expired), V(neighbor signaled session down), ...); C(uptime_s) while up,
          C(downtime_s) while down (else null); C(multihop), C(local) address, C(interface); the local
          C(receive_interval), C(transmit_interval) (ms) and C(detect_multiplier) and the peer's
          C(remote_receive_interval), C(remote_transmit_interval), C(remote_detect_multiplier).
      type: dict
      sample: {status: up, diagnostic: ok, remote_diagnostic: ok, multihop: false, local: 10.89.10.11,
               interface: eth0, uptime_s: 95, downtime_s: null, receive_interval: 300, transmit_interval: 300,
               detect_multiplier: 3, remote_receive_interval: 300, remote_transmit_interval: 300,
               remote_detect_multiplier: 3}
routes:
  description:
    - Per prefix (CIDR), the BGP paths and the kernel next hops. Keys are canonical CIDRs.
  returned: always
  type: dict
  sample:
    198.51.100.10/32:
      family: ipv4
      paths:
        - next_hop: 10.89.77.3
          next_hops: [10.89.77.3]
          peer: 10.89.77.3
          as_path: [64512]
          as_path_string: "64512"
          origin: IGP
          communities: ["65000:100"]
          large_communities: []
          local_pref: null
          med: null
          valid: true
          bestpath: true
          multipath: true
          stale: false
      kernel:
        - {gateway: 10.89.77.3, dev: eth0, weight: 1}
  contains:
    family:
      description: C(ipv4) or C(ipv6).
      type: str
    paths:
      description: The BGP paths FRR holds for the prefix (accepted by the inbound policy).
      type: list
      elements: dict
    kernel:
      description:
        - The next hops of the route the kernel forwards the prefix with (C(gateway), C(dev), C(weight)); empty
          when no table has a route for it. Not returned with O(kernel=false).
      type: list
      elements: dict
    kernel_protocol:
      description:
        - The protocol number of the kernel route (V(186) when FRR installed it, V(250) for the resilient agent), or
          null.
      type: str
    kernel_table:
      description: The routing table that route is in (V(254) is main, V(200) the resilient agent's), or null.
      type: int
    kernel_group:
      description:
        - The nexthop group the route goes through, C({id, type, buckets, members}) (C(type) V(resilient) for the
          agent's groups, C(buckets) null for other types), or null for a route without a group.
      type: dict
"""

import json  # noqa: E402 - after the documentation, as Ansible modules do

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible_collections.baremetal.bgplb.plugins.module_utils import bird, iproute  # noqa: E402
from ansible_collections.baremetal.bgplb.plugins.module_utils.frr import (  # noqa: E402
    bfd_sessions,
    canonical,
    decode_all,
    is_path,
    neighbor_facts,
    path_facts,
)


class Router:
    """Runs vtysh and ip on the router; the parsing is in module_utils (frr, iproute)."""

    def __init__(self, module):
        self.module = module
        self.vtysh = module.params["vtysh_path"]
        self.ip = module.params["ip_path"]

    def run(self, args, what, ok=()):
        rc, out, err = self.module.run_command(args, check_rc=False)
        if rc != 0:
            if any(text in (err or "") for text in ok):
                return ""
            self.module.fail_json(
                msg=f"{what} failed (rc={rc}): {(err or out).strip()}", cmd=args, rc=rc, stdout=out, stderr=err
            )
        return out

    def show(self, *commands):
        """Run vtysh show commands, one JSON document per command."""
        args = [self.vtysh]
        for command in commands:
            args += ["-c", command]
        text = self.run(args, "vtysh " + "; ".join(commands))
        try:
            docs = decode_all(text)
        except ValueError as err:
            self.module.fail_json(msg=f"vtysh did not return JSON for {commands}: {err}", stdout=text)
        if len(docs) != len(commands):
            self.module.fail_json(
                msg=f"vtysh returned {len(docs)} JSON documents for {len(commands)} commands", stdout=text
            )
        return docs

    def bfd_peers(self):
        """bfdd's sessions; [] when bfdd does not run (vtysh then exits 1 with `bfdd is not running`)."""
        text = self.run([self.vtysh, "-c", "show bfd peers json"], "vtysh show bfd peers json",
                        ok=("bfdd is not running",))  # fmt: skip
        try:
            return json.loads(text) if text.strip() else []
        except ValueError as err:
            self.module.fail_json(msg=f"vtysh did not return JSON for show bfd peers json: {err}", stdout=text)

    def birdc(self, command):
        """One birdc command's text; "" for a prefix BIRD does not have or a protocol it does not run."""
        args = [self.module.params["birdc_path"], "-s", self.module.params["bird_socket"], *command.split()]
        rc, out, err = self.module.run_command(args, check_rc=False)
        if rc != 0:
            if any(text in (out or "") for text in ("Network not found", "No such protocol",
                                                     "There is no BFD protocol running")):  # fmt: skip
                return ""
            self.module.fail_json(msg=f"birdc {command} failed (rc={rc}): {(err or out).strip()}", cmd=args, rc=rc)
        return out

    def ip_json(self, *args):
        # a table that holds no route yet "does not exist": it forwards nothing
        text = self.run([self.ip, "-N", "-j", *args], "ip -N -j " + " ".join(args), ok=("table does not exist",))
        try:
            return json.loads(text) if text.strip() else []
        except ValueError as err:
            self.module.fail_json(msg=f"ip did not return JSON for {args}: {err}", stdout=text)


def neighbors(router, families, bfd=True):
    detail, summary = router.show("show bgp neighbors json", "show bgp summary json")
    out = neighbor_facts(detail, summary, families)
    sessions = bfd_sessions(router.bfd_peers()) if bfd else {}
    for n in out:
        n["bfd"] = sessions.get(n["address"])
    return out


def bgp_routes(router, module):
    wanted = module.params["prefixes"]
    routes = {}
    if wanted is None:
        for family in module.params["families"]:
            (table,) = router.show(f"show bgp {family} unicast json detail")
            for prefix, entries in (table.get("routes") or {}).items():
                routes[canonical(prefix)] = {"family": family, "paths": [path_facts(e) for e in entries if is_path(e)]}
        return routes
    prefixes = []
    for text in wanted:
        try:
            prefixes.append(canonical(text))
        except ValueError:
            module.fail_json(msg=f"prefixes: {text!r} is not a CIDR or an IP address")
    prefixes = list(dict.fromkeys(prefixes))
    if not prefixes:
        return routes
    commands = [f"show bgp {'ipv6' if ':' in p else 'ipv4'} unicast {p} json" for p in prefixes]
    for prefix, detail in zip(prefixes, router.show(*commands), strict=True):
        paths = detail.get("paths", [])  # {} for a prefix FRR does not have
        routes[prefix] = {
            "family": "ipv6" if ":" in prefix else "ipv4",
            "paths": [path_facts(p) for p in paths if is_path(p)],
        }
    return routes


def bird_neighbors(router, families, bfd=True):
    status = router.birdc("show status")
    out = bird.neighbor_facts(router.birdc("show protocols all"), status, families)
    sessions = bird.bfd_sessions(router.birdc("show bfd sessions"), status) if bfd else {}
    for n in out:
        n["bfd"] = sessions.get(n["address"])
    return out


def bird_routes(router, module):
    """The same {prefix: {family, paths}} as bgp_routes, from BIRD's tables and its kernel protocols' merged routes."""
    peers = {n["protocol"]: n["address"] for n in bird.neighbor_facts(router.birdc("show protocols all"))}
    wanted = module.params["prefixes"]
    if wanted is None:
        routes = {}
        for family in module.params["families"]:
            table, kernel = ("master4", "bgplb_kernel4") if family == "ipv4" else ("master6", "bgplb_kernel6")
            paths = bird.route_facts(router.birdc(f"show route all table {table}"),
                                     router.birdc(f"show route table {table} export {kernel}"), peers)  # fmt: skip
            routes.update({p: {"family": family, "paths": v} for p, v in paths.items()})
        return routes
    routes = {}
    for text in wanted:
        try:
            prefix = canonical(text)
        except ValueError:
            module.fail_json(msg=f"prefixes: {text!r} is not a CIDR or an IP address")
        kernel = "bgplb_kernel6" if ":" in prefix else "bgplb_kernel4"
        paths = bird.route_facts(router.birdc(f"show route {prefix} all"),
                                 router.birdc(f"show route {prefix} export {kernel}"), peers)  # fmt: skip
        routes[prefix] = {"family": "ipv6" if ":" in prefix else "ipv4", "paths": paths.get(prefix, [])}
    return routes


def kernel_routes(router, prefixes):
    """{prefix: how the kernel forwards it} - the rules pick the table (table 200 with the resilient agent)."""
    if not prefixes:
        return {}
    nexthops = iproute.index_nexthops(router.ip_json("nexthop", "show"))
    rules = {}
    out = {}
    for prefix in prefixes:
        fam = "-6" if ":" in prefix else "-4"
        if fam not in rules:
            rules[fam] = router.ip_json(fam, "rule", "show")

        def table_routes(table, p=prefix, f=fam):
            return router.ip_json(f, "route", "show", "table", str(table), p)

        out[prefix] = iproute.forwarding(prefix, rules[fam], table_routes, nexthops)
    return out


def main():
    module = AnsibleModule(
        argument_spec={
            "prefixes": {"type": "list", "elements": "str"},
            "families": {"type": "list", "elements": "str", "choices": ["ipv4", "ipv6"], "default": ["ipv4", "ipv6"]},
            "neighbors": {"type": "bool", "default": True},
            "bfd": {"type": "bool", "default": True},
            "kernel": {"type": "bool", "default": True},
            "flavour": {"type": "str", "choices": ["frr", "bird"], "default": "frr"},
            "birdc_path": {"type": "path", "default": "birdc"},
            "bird_socket": {"type": "path", "default": "/run/bird/bird.ctl"},
            "vtysh_path": {"type": "path", "default": "vtysh"},
            "ip_path": {"type": "path", "default": "ip"},
        },
        supports_check_mode=True,
    )
    router = Router(module)
    result = {"changed": False, "neighbors": [], "routes": {}}
    is_bird = module.params["flavour"] == "bird"
    if module.params["neighbors"]:
        families = module.params["families"]
        read = bird_neighbors if is_bird else neighbors
        result["neighbors"] = read(router, families, module.params["bfd"])
    routes = bird_routes(router, module) if is_bird else bgp_routes(router, module)
    if module.params["kernel"]:
        for prefix, fwd in kernel_routes(router, list(routes)).items():
            fwd = fwd or {}
            routes[prefix]["kernel"] = fwd.get("next_hops", [])
            routes[prefix]["kernel_protocol"] = fwd.get("protocol")
            routes[prefix]["kernel_table"] = fwd.get("table")
            routes[prefix]["kernel_group"] = fwd.get("group")
    result["routes"] = routes
    module.exit_json(**result)


if __name__ == "__main__":
    main()
