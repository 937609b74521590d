#!/usr/bin/python3
"""bgplb-resilient: mirror FRR's BGP multipath routes into kernel *resilient* next-hop groups.

Why: zebra (FRR 8.4) installs BGP multipath routes with hash-threshold next-hop groups; when one of N next hops
leaves or joins, about half of all flows change next hop. A kernel resilient group (``ip nexthop ... type
resilient``) keeps a table of buckets; a change only moves the buckets of the next hop that left (or the share the
joining one takes). FRR 8.4 has no way to make BGP routes use such groups, so this agent does it next to zebra:

    main table (zebra, proto bgp, N paths)  --read-->  plan()  --ip -batch-->  table T: prefix nhid G
                                                                               G = resilient group of N nexthops
    ip rule: to <pool> lookup T priority P   (a lookup finding nothing in T falls through to main)

- One resilient group **per prefix** (services' node sets change independently: per-node health checks), updated in
  place with ``ip nexthop replace`` so the buckets of the members that stay are kept. One nexthop object per
  (gateway, device), shared by the groups. Every object the agent creates has an id in its reserved range
  (``--id-base``/``--id-count``) and protocol ``--proto``; it never touches anything else.
- Stateless between runs: on start it reads the kernel (table T, its nexthops, its rules) and reconciles.
- When the agent is down the kernel keeps the last state (no blackhole). See the role README for the limits.
- Debounce (FRR/bgpd restart removes and re-adds every BGP route): a prefix that disappears from main is kept for
  ``--hold-time`` seconds; when it comes back within that time, for ``--settle`` seconds next hops are only added,
  never removed, so a restart that brings the sessions back one by one does not reshuffle buckets. A next hop that
  leaves a route that is still in main is removed at once (a node failure must move only that node's flows, now).

The core is sans-I/O: ``plan()`` and ``debounce()`` are pure functions of parsed state; ``main()`` runs ``ip``.
Python 3.11 standard library only.
"""

from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import json
import logging
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping

log = logging.getLogger("bgplb-resilient")

RTPROT_BGP = 186  # zebra installs BGP routes with this protocol
DEFAULT_PROTO = 250  # ours: nexthops, table routes and rules (rt_protos has no name for it)
# Above zebra's own and per-daemon NHG id spaces (< 250,000,000) and below the EVPN (top 4 bits) space (2**28).
DEFAULT_ID_BASE = 260_000_000
DEFAULT_ID_COUNT = 1_000_000

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


# ---------------------------------------------------------------------------------------------------- model


@dataclasses.dataclass(frozen=True, order=True)
class Gateway:
    """One path of a route: gateway address (None for a device route), device, onlink flag."""

    address: str | None
    dev: str | None
    onlink: bool = False

    def __str__(self) -> str:
        text = f"via {self.address}" if self.address else "direct"
        text += f" dev {self.dev}" if self.dev else ""
        return text + (" onlink" if self.onlink else "")


Paths = Mapping[Gateway, int]  # gateway -> weight (1..256)


@dataclasses.dataclass(frozen=True)
class Nexthop:
    id: int
    gateway: Gateway
    proto: int = 0


@dataclasses.dataclass(frozen=True)
class Group:
    id: int
    members: tuple[tuple[int, int], ...]  # sorted (nexthop id, weight)
    resilient: bool = True
    buckets: int | None = None
    idle_timer: int | None = None
    unbalanced_timer: int | None = None
    proto: int = 0


@dataclasses.dataclass(frozen=True, order=True)
class Rule:
    dst: str  # network, e.g. 198.51.100.0/24
    table: int
    priority: int


@dataclasses.dataclass
class KernelState:
    nexthops: dict[int, Nexthop] = dataclasses.field(default_factory=dict)  # all single nexthop objects
    groups: dict[int, Group] = dataclasses.field(default_factory=dict)  # all groups
    routes: dict[str, int | None] = dataclasses.field(default_factory=dict)  # table T, our proto: prefix -> nhid
    rules: set[Rule] = dataclasses.field(default_factory=set)  # rules with our proto
    other_ids: set[int] = dataclasses.field(default_factory=set)  # ids taken by objects we do not understand


@dataclasses.dataclass(frozen=True)
class Config:
    pools: tuple[Network, ...] = ()
    table: int = 200
    priority: int = 90
    buckets: int = 128
    idle_timer: int = 0
    unbalanced_timer: int = 0
    proto: int = DEFAULT_PROTO
    source_proto: int = RTPROT_BGP
    id_base: int = DEFAULT_ID_BASE
    id_count: int = DEFAULT_ID_COUNT
    hold_time: float = 60.0
    settle: float = 15.0

    def owns(self, obj_id: int, proto: int) -> bool:
        return self.id_base <= obj_id < self.id_base + self.id_count and proto == self.proto

    def in_pools(self, prefix: str) -> bool:
        net = ipaddress.ip_network(prefix)
        return any(net.version == p.version and net.subnet_of(p) for p in self.pools)


@dataclasses.dataclass(frozen=True)
class Action:
    """One ``ip`` command. ``op`` and ``target`` are for tests and logs; ``argv`` goes to ``ip -batch``."""

    op: str  # nexthop-add, group-add, group-replace, route-replace, rule-add, rule-del, route-del, group-del, ...
    target: str
    argv: tuple[str, ...]
    family_opt: str = ""  # "-4"/"-6" when ip cannot infer the family (rules)

    def __str__(self) -> str:
        return " ".join(("ip", self.family_opt, *self.argv) if self.family_opt else ("ip", *self.argv))


# ---------------------------------------------------------------------------------------------------- planning


def _norm_prefix(dst: str) -> str:
    return str(ipaddress.ip_network(dst, strict=False))


def select(routes: Mapping[str, Paths], config: Config) -> dict[str, dict[Gateway, int]]:
    """The routes inside the configured pools (normalised prefixes)."""
    return {_norm_prefix(p): dict(paths) for p, paths in routes.items() if paths and config.in_pools(p)}


def installed_paths(kernel: KernelState, config: Config) -> dict[str, dict[Gateway, int]]:
    """What table T forwards to now, per prefix, as gateways (through our groups and nexthops)."""
    out: dict[str, dict[Gateway, int]] = {}
    for prefix, nhid in kernel.routes.items():
        group = kernel.groups.get(nhid) if nhid is not None else None
        if group is None:
            continue
        paths = {kernel.nexthops[i].gateway: w for i, w in group.members if i in kernel.nexthops}
        if paths:
            out[prefix] = paths
    return out


@dataclasses.dataclass(frozen=True)
class Timers:
    absent_since: Mapping[str, float] = dataclasses.field(default_factory=dict)  # gone from main, still held
    returned_at: Mapping[str, float] = dataclasses.field(default_factory=dict)  # came back while held: settling


def debounce(
    bgp: Mapping[str, Paths], installed: Mapping[str, Paths], timers: Timers, now: float, config: Config
) -> tuple[dict[str, dict[Gateway, int]], Timers, float | None]:
    """Effective routes to mirror, new timers, and the next time something expires (None: nothing pending).

    - prefix in main, not recently returned: exactly main's paths (a leaving next hop is removed at once);
    - prefix gone from main: the installed paths are kept for ``hold_time`` seconds, then removed;
    - prefix back in main while held: for ``settle`` seconds, union of installed and main paths (grow only).
    """
    effective: dict[str, dict[Gateway, int]] = {}
    absent: dict[str, float] = {}
    returned: dict[str, float] = {}
    deadlines: list[float] = []
    for prefix, paths in bgp.items():
        since = None
        if prefix in timers.absent_since and prefix in installed:
            since = now
        elif prefix in timers.returned_at:
            since = timers.returned_at[prefix]
        if since is not None and now < since + config.settle and prefix in installed:
            returned[prefix] = since
            deadlines.append(since + config.settle)
            merged = dict(installed[prefix])
            merged.update(paths)
            effective[prefix] = merged
        else:
            effective[prefix] = dict(paths)
    for prefix, paths in installed.items():
        if prefix in bgp:
            continue
        since = timers.absent_since.get(prefix, now)
        if now < since + config.hold_time:
            absent[prefix] = since
            deadlines.append(since + config.hold_time)
            effective[prefix] = dict(paths)
    return effective, Timers(absent, returned), min(deadlines, default=None)


def _nexthop_argv(nh_id: int, gw: Gateway, proto: int) -> tuple[str, ...]:
    argv = ["nexthop", "add", "id", str(nh_id)]
    if gw.address:
        argv += ["via", gw.address]
    if gw.dev:
        argv += ["dev", gw.dev]
    if gw.onlink:
        argv.append("onlink")
    return (*argv, "proto", str(proto))


def _group_argv(verb: str, gid: int, members: Iterable[tuple[int, int]], config: Config) -> tuple[str, ...]:
    group = "/".join(str(i) if w == 1 else f"{i},{w}" for i, w in members)
    return (
        "nexthop", verb, "id", str(gid), "group", group, "type", "resilient",
        "buckets", str(config.buckets), "idle_timer", str(config.idle_timer),
        "unbalanced_timer", str(config.unbalanced_timer), "proto", str(config.proto),
    )  # fmt: skip


def plan(bgp_routes: Mapping[str, Paths], kernel: KernelState, config: Config) -> list[Action]:
    """The ``ip`` commands that make table ``config.table`` mirror ``bgp_routes`` with resilient groups.

    ``bgp_routes``: prefix -> {Gateway: weight}, as read from main (or as debounced); prefixes outside the pools are
    ignored. ``kernel``: what is there now. Idempotent: no action when the kernel already matches.
    Order: create nexthops, create/replace groups, point routes, add rules; then remove rules, routes, groups and
    nexthops nobody uses any more (make before break: a route never points to a missing object).
    """
    desired = select(bgp_routes, config)
    our_nh = {i: nh for i, nh in kernel.nexthops.items() if config.owns(i, nh.proto)}
    our_groups = {i: g for i, g in kernel.groups.items() if config.owns(i, g.proto)}
    taken = set(kernel.nexthops) | set(kernel.groups) | set(kernel.other_ids)
    cursor = config.id_base

    def allocate() -> int:
        nonlocal cursor
        while cursor in taken:
            cursor += 1
        if cursor >= config.id_base + config.id_count:
            raise RuntimeError(f"no free nexthop id left in [{config.id_base}, {config.id_base + config.id_count})")
        taken.add(cursor)
        return cursor

    creates: list[Action] = []
    groups_out: list[Action] = []
    routes_out: list[Action] = []
    deletes: list[Action] = []

    # Nexthop objects: one per (gateway, dev, onlink); reuse ours, lowest id first.
    by_gw: dict[Gateway, int] = {}
    for i in sorted(our_nh):
        by_gw.setdefault(our_nh[i].gateway, i)
    for prefix in sorted(desired, key=_sort_key):
        for gw in sorted(desired[prefix]):
            if gw not in by_gw:
                by_gw[gw] = allocate()
                creates.append(Action("nexthop-add", str(by_gw[gw]), _nexthop_argv(by_gw[gw], gw, config.proto)))

    # One resilient group per prefix, replaced in place while its bucket count is the configured one.
    kept_groups: set[int] = set()
    for prefix in sorted(desired, key=_sort_key):
        members = tuple(sorted((by_gw[gw], max(1, min(256, int(w)))) for gw, w in desired[prefix].items()))
        current = kernel.routes.get(prefix)
        group = our_groups.get(current) if current is not None else None
        if group is not None and group.id not in kept_groups and group.resilient and group.buckets == config.buckets:
            kept_groups.add(group.id)
            if (group.members, group.idle_timer, group.unbalanced_timer) != (
                members,
                config.idle_timer,
                config.unbalanced_timer,
            ):
                groups_out.append(
                    Action("group-replace", f"{group.id} ({prefix})", _group_argv("replace", group.id, members, config))
                )
            continue
        gid = allocate()
        kept_groups.add(gid)
        groups_out.append(Action("group-add", f"{gid} ({prefix})", _group_argv("add", gid, members, config)))
        routes_out.append(
            Action(
                "route-replace",
                prefix,
                ("route", "replace", prefix, "nhid", str(gid), "table", str(config.table), "proto", str(config.proto)),
            )
        )

    # Rules: one per pool.
    want_rules = {Rule(str(p), config.table, config.priority) for p in config.pools}
    rule_adds = [_rule_action("add", r, config) for r in sorted(want_rules - kernel.rules)]
    rule_dels = [_rule_action("del", r, config) for r in sorted(kernel.rules - want_rules)]

    for prefix in sorted(set(kernel.routes) - set(desired), key=_sort_key):
        deletes.append(
            Action(
                "route-del",
                prefix,
                ("route", "del", prefix, "table", str(config.table), "proto", str(config.proto)),
            )
        )
    for gid in sorted(set(our_groups) - kept_groups):
        deletes.append(Action("group-del", str(gid), ("nexthop", "del", "id", str(gid))))
    used = {by_gw[gw] for paths in desired.values() for gw in paths}
    for nh_id in sorted(set(our_nh) - used):
        deletes.append(Action("nexthop-del", str(nh_id), ("nexthop", "del", "id", str(nh_id))))

    return creates + groups_out + routes_out + rule_adds + rule_dels + deletes


def _rule_action(verb: str, rule: Rule, config: Config) -> Action:
    family = "-6" if ipaddress.ip_network(rule.dst).version == 6 else "-4"
    argv = ("rule", verb, "to", rule.dst, "lookup", str(rule.table), "priority", str(rule.priority))
    return Action(f"rule-{verb}", rule.dst, (*argv, "protocol", str(config.proto)), family)


def _sort_key(prefix: str) -> tuple[int, int, int]:
    net = ipaddress.ip_network(prefix)
    return (net.version, int(net.network_address), net.prefixlen)


# ---------------------------------------------------------------------------------------------------- parsing


def _gateway(obj: Mapping) -> Gateway:
    address = obj.get("gateway")
    if address is None and isinstance(obj.get("via"), dict):
        address = obj["via"].get("host")
    if address is not None:
        address = str(ipaddress.ip_address(address))
    return Gateway(address, obj.get("dev"), "onlink" in (obj.get("flags") or []))


def _int(value, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def parse_nexthops(data: list[dict], kernel: KernelState) -> None:
    """``ip -N -j nexthop show`` into ``kernel.nexthops`` / ``kernel.groups``."""
    for obj in data:
        nh_id = _int(obj.get("id"), -1)
        if nh_id < 0:
            continue
        proto = _int(obj.get("protocol"))
        if "group" in obj:
            args = obj.get("resilient_args") or {}
            members = tuple(sorted((_int(m["id"]), _int(m.get("weight"), 1)) for m in obj["group"]))
            kernel.groups[nh_id] = Group(
                nh_id,
                members,
                resilient=obj.get("type") == "resilient",
                buckets=_int(args["buckets"]) if "buckets" in args else None,
                idle_timer=round(float(args["idle_timer"])) if "idle_timer" in args else None,
                unbalanced_timer=round(float(args["unbalanced_timer"])) if "unbalanced_timer" in args else None,
                proto=proto,
            )
        elif obj.get("blackhole") or obj.get("fdb") or obj.get("encap"):
            kernel.other_ids.add(nh_id)
        else:
            kernel.nexthops[nh_id] = Nexthop(nh_id, _gateway(obj), proto)


def _resolve_nhid(nhid: int, kernel: KernelState) -> dict[Gateway, int]:
    if nhid in kernel.nexthops:
        return {kernel.nexthops[nhid].gateway: 1}
    group = kernel.groups.get(nhid)
    if group is None:
        return {}
    return {kernel.nexthops[i].gateway: w for i, w in group.members if i in kernel.nexthops}


def parse_bgp_routes(
    data: list[dict], kernel: KernelState | None = None, source_proto: int = RTPROT_BGP
) -> dict[str, dict[Gateway, int]]:
    """``ip -N -j route show table main proto 186`` (or ``source_proto``) into prefix -> {Gateway: weight} (lowest
    metric wins)."""
    best: dict[str, tuple[int, dict[Gateway, int]]] = {}
    for obj in data:
        if obj.get("type", "unicast") != "unicast" or _int(obj.get("protocol"), source_proto) != source_proto:
            continue
        try:
            prefix = _norm_prefix(obj["dst"])
        except (KeyError, ValueError):
            continue  # "default" and the like: never inside a pool
        if "nexthops" in obj:
            paths = {_gateway(n): _int(n.get("weight"), 1) for n in obj["nexthops"]}
        elif "gateway" in obj or "via" in obj or "dev" in obj:
            paths = {_gateway(obj): 1}
        elif "nhid" in obj and kernel is not None:  # net.ipv4.nexthop_compat_mode=0: only the id is reported
            paths = _resolve_nhid(_int(obj["nhid"]), kernel)
        else:
            paths = {}
        metric = _int(obj.get("metric"))
        if paths and (prefix not in best or metric < best[prefix][0]):
            best[prefix] = (metric, paths)
    return {p: paths for p, (_, paths) in best.items()}


def parse_table_routes(data: list[dict], config: Config) -> dict[str, int | None]:
    """``ip -N -j route show table T``: our routes (our proto) -> nhid (None when not through a nexthop object)."""
    out: dict[str, int | None] = {}
    for obj in data:
        if _int(obj.get("protocol"), -1) != config.proto:
            continue
        try:
            prefix = _norm_prefix(obj["dst"])
        except (KeyError, ValueError):
            continue
        out[prefix] = _int(obj["nhid"]) if "nhid" in obj else None
    return out


def parse_rules(data: list[dict], config: Config) -> set[Rule]:
    """``ip -N -j rule show``: our rules (our proto)."""
    out: set[Rule] = set()
    for obj in data:
        if _int(obj.get("protocol"), -1) != config.proto or "dst" not in obj:
            continue
        dst = _norm_prefix(f"{obj['dst']}/{obj.get('dstlen', 128 if ':' in obj['dst'] else 32)}")
        out.add(Rule(dst, _int(obj.get("table")), _int(obj.get("priority"))))
    return out


# ---------------------------------------------------------------------------------------------------- I/O


class IpError(RuntimeError):
    pass


def _ip_json(*args: str) -> list[dict]:
    proc = subprocess.run(["ip", "-N", "-j", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        if "table does not exist" in proc.stderr:  # table T before its first route
            return []
        raise IpError(f"ip {' '.join(args)}: {proc.stderr.strip()}")
    return json.loads(proc.stdout) if proc.stdout.strip() else []


def read_state(config: Config) -> tuple[dict[str, dict[Gateway, int]], KernelState]:
    kernel = KernelState()
    parse_nexthops(_ip_json("nexthop", "show"), kernel)
    bgp: dict[str, dict[Gateway, int]] = {}
    for fam in ("-4", "-6"):
        main = _ip_json(fam, "route", "show", "table", "main", "proto", str(config.source_proto))
        bgp.update(parse_bgp_routes(main, kernel, config.source_proto))
        kernel.routes.update(parse_table_routes(_ip_json(fam, "route", "show", "table", str(config.table)), config))
        kernel.rules |= parse_rules(_ip_json(fam, "rule", "show"), config)
    return bgp, kernel


def apply(actions: list[Action]) -> bool:
    """Run the actions with ``ip -force -batch`` (consecutive commands with the same family option together).

    Each action is logged. Returns False when ``ip`` reported an error (the next pass re-reads and retries)."""
    ok = True
    start = 0
    while start < len(actions):
        end = start
        while end < len(actions) and actions[end].family_opt == actions[start].family_opt:
            end += 1
        chunk = actions[start:end]
        for action in chunk:
            log.info("%s %s: %s", action.op, action.target, action)
        argv = ["ip", *([chunk[0].family_opt] if chunk[0].family_opt else []), "-force", "-batch", "-"]
        script = "".join(" ".join(a.argv) + "\n" for a in chunk)
        proc = subprocess.run(argv, input=script, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            ok = False
            log.error("ip -batch failed (rc %d): %s", proc.returncode, proc.stderr.strip().replace("\n", "; "))
        start = end
    return ok


class Monitor:
    """``ip monitor route nexthop rule`` in a thread: any line wakes the main loop (changes are coalesced)."""

    def __init__(self, wake: threading.Event) -> None:
        self.wake = wake
        self.proc: subprocess.Popen | None = None
        self.stopped = False
        threading.Thread(target=self._run, name="ip-monitor", daemon=True).start()

    def _run(self) -> None:
        while not self.stopped:
            try:
                self.proc = subprocess.Popen(
                    ["ip", "monitor", "route", "nexthop", "rule"],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    text=True,
                )
                assert self.proc.stdout is not None
                for _ in self.proc.stdout:
                    self.wake.set()
                self.proc.wait()
            except OSError as exc:
                log.warning("ip monitor: %s", exc)
            if not self.stopped:
                time.sleep(1.0)  # periodic resync covers the gap

    def stop(self) -> None:
        self.stopped = True
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()


def run_once(config: Config, timers: Timers, now: float, dry_run: bool = False) -> tuple[Timers, float | None, bool]:
    bgp, kernel = read_state(config)
    chosen = select(bgp, config)
    effective, timers, deadline = debounce(chosen, installed_paths(kernel, config), timers, now, config)
    actions = plan(effective, kernel, config)
    if dry_run:
        for action in actions:
            print(action)
        return timers, deadline, True
    ok = apply(actions) if actions else True
    return timers, deadline, ok


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="bgplb-resilient",
        description="Mirror FRR's BGP multipath routes (main table) into a table of kernel resilient next-hop groups.",
    )
    p.add_argument("--pool", action="append", default=[], metavar="CIDR", help="service pool (repeatable)")
    p.add_argument("--table", type=int, default=200, help="routing table of the resilient routes (default 200)")
    p.add_argument("--rule-priority", type=int, default=90, help="priority of the 'to <pool> lookup' rules")
    p.add_argument("--buckets", type=int, default=128, help="buckets per resilient group (default 128)")
    p.add_argument("--idle-timer", type=int, default=0, help="seconds a bucket must be idle to migrate (0: always)")
    p.add_argument("--unbalanced-timer", type=int, default=0, help="force migration after that long (0: never)")
    p.add_argument("--hold-time", type=float, default=60.0, help="keep a route gone from main this long (seconds)")
    p.add_argument("--settle", type=float, default=15.0, help="after it returns, only add next hops this long")
    p.add_argument("--interval", type=float, default=0.5, help="minimum seconds between two passes")
    p.add_argument("--resync", type=float, default=10.0, help="full pass at least this often (seconds)")
    p.add_argument("--proto", type=int, default=DEFAULT_PROTO, help="protocol number of our objects")
    p.add_argument("--source-proto", type=int, default=RTPROT_BGP,
                   help="protocol of the BGP routes to mirror from main (186 zebra, 12 BIRD)")  # fmt: skip
    p.add_argument("--id-base", type=int, default=DEFAULT_ID_BASE, help="first nexthop id of our reserved range")
    p.add_argument("--id-count", type=int, default=DEFAULT_ID_COUNT, help="size of our nexthop id range")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true", help="one pass, then exit (non-zero if ip failed)")
    mode.add_argument("--dry-run", action="store_true", help="print the commands of one pass, change nothing")
    mode.add_argument("--flush", action="store_true", help="remove every route, group, nexthop and rule of ours")
    args = p.parse_args(argv)
    try:
        args.pools = tuple(ipaddress.ip_network(x, strict=False) for x in args.pool)
    except ValueError as exc:
        p.error(f"--pool: {exc}")
    if not 1 <= args.buckets <= 65535:
        p.error("--buckets must be 1..65535")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="bgplb-resilient: %(levelname)s %(message)s")
    config = Config(
        pools=args.pools,
        table=args.table,
        priority=args.rule_priority,
        buckets=args.buckets,
        idle_timer=args.idle_timer,
        unbalanced_timer=args.unbalanced_timer,
        proto=args.proto,
        source_proto=args.source_proto,
        id_base=args.id_base,
        id_count=args.id_count,
        hold_time=args.hold_time,
        settle=args.settle,
    )
    try:
        if args.flush:
            _, kernel = read_state(config)
            return 0 if apply(plan({}, kernel, dataclasses.replace(config, pools=()))) else 1
        if args.once or args.dry_run:
            _, _, ok = run_once(config, Timers(), time.monotonic(), dry_run=args.dry_run)
            return 0 if ok else 1
    except (IpError, RuntimeError, ValueError, KeyError) as exc:
        log.error("%s", exc)
        return 1

    wake = threading.Event()
    stop = threading.Event()

    def on_signal(signum, _frame) -> None:
        log.info("signal %d: exiting, the kernel keeps the last state", signum)
        stop.set()
        wake.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    monitor = Monitor(wake)
    log.info(
        "started: pools %s, table %d, rule priority %d, %d buckets, idle %ds, unbalanced %ds",
        ", ".join(map(str, config.pools)) or "(none)",
        config.table,
        config.priority,
        config.buckets,
        config.idle_timer,
        config.unbalanced_timer,
    )
    timers = Timers()
    while not stop.is_set():
        started = time.monotonic()
        wake.clear()
        deadline = None
        try:
            timers, deadline, _ = run_once(config, timers, started)
        except (IpError, RuntimeError, ValueError, KeyError) as exc:
            log.error("pass failed: %s", exc)
        timeout = args.resync
        if deadline is not None:
            timeout = min(timeout, max(0.0, deadline - time.monotonic()) + 0.05)
        wake.wait(timeout)
        # Coalesce bursts (zebra installs routes in batches) and bound the pass rate.
        stop.wait(max(0.0, args.interval - (time.monotonic() - started)))
    monitor.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
