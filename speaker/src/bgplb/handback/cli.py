"""``bgplb-handback``: the command the unit, the drain module and the playbooks run on a node.

    bgplb-handback [--config FILE] [--json] [--dry-run] COMMAND
      start | reload   make the tables, rules, sysctls (and the tunnel device) what the config says; keeps the
                       hand-back route a drain has set (the unit's ExecStart and ExecReload)
      stop             remove them all, hand-back routes included
      to ADDRESS... [MAC]
                       hand mid-stream packets of unknown connections to a node: its IPv4 and (with IPv6 pools) IPv6
                       address; in tunnel mode its IPv4 underlay address and the MAC its `endpoint` prints
      drop             drop them silently instead (the last node of an undrain chain)
      clear            stop handing back
      endpoint         "direct", or the MAC of this node's VXLAN device (tunnel mode)
      show             the hand-back routes
      flows            flows this node handed on in the last `idle` seconds
      conns            live established connections on the service IPs (a packet in the last `idle` seconds)
      status           all of the above at once (JSON)
      check            only read and check the config (the role validates a new one with it)
`to`, `drop`, `clear`, `start` and `stop` print "changed" when they changed something (with --json:
{"changed": ..., "actions": [...]}). Exit codes: 0 ok, 1 a command failed, 2 bad config or arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bgplb.handback import kernel, plan
from bgplb.handback.config import DEFAULT_PATH, Config, ConfigError, load

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def status(config: Config, state: plan.State) -> dict[str, Any]:
    return {
        "routes": plan.routes(config, state),
        "flows": kernel.handed_back_flows(config),
        "conns": plan.live_connections(kernel.established(), config.service_cidrs, config.idle * 1000),
        "endpoint": _endpoint(config, state),
        "installed": all(state.family(v).table is not None for v in config.families),
    }


def _endpoint(config: Config, state: plan.State) -> str:
    if config.tunnel != "vxlan":
        return "direct"
    if state.link is None:
        raise kernel.KernelError(f"tunnel mode: no device {config.device}: run `bgplb-handback start` first")
    return str(state.link["address"])


def actions_for(args: argparse.Namespace, config: Config, state: plan.State) -> list[plan.Action]:
    if args.command in ("start", "reload"):
        return plan.plan_start(config, state)
    if args.command == "stop":
        return plan.plan_stop(config, state)
    if args.command == "drop":
        return plan.plan_route(config, state, plan.Target(blackhole=True))
    if args.command == "clear":
        return plan.plan_route(config, state, plan.Target())
    macs = [a for a in args.targets if plan._is_mac(a)]
    if len(macs) > 1:
        raise plan.PlanError(f"to: two MAC addresses ({', '.join(macs)})")
    addresses = [a for a in args.targets if a not in macs]
    if not addresses:
        raise plan.PlanError("to: give the node's address(es)")
    return plan.plan_route(config, state, plan.target(config, addresses, macs[0] if macs else None))


def query(args: argparse.Namespace, config: Config, state: plan.State) -> str:
    """The output of a read-only command."""
    if args.command == "status":
        return json.dumps(status(config, state))
    if args.command == "show":
        shown = plan.routes(config, state)
        return json.dumps(shown) if args.json else "\n".join(r for rs in shown.values() for r in rs)
    if args.command == "endpoint":
        out: Any = _endpoint(config, state)
    elif args.command == "flows":
        out = kernel.handed_back_flows(config)
    else:
        out = plan.live_connections(kernel.established(), config.service_cidrs, config.idle * 1000)
    return json.dumps(out) if args.json else str(out)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="bgplb-handback", description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)  # fmt: skip
    ap.add_argument("--config", type=Path, default=DEFAULT_PATH, help=f"default {DEFAULT_PATH}")
    ap.add_argument("--json", action="store_true", help="JSON output")
    ap.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    sub = ap.add_subparsers(dest="command", required=True)
    for name in ("start", "reload", "stop", "drop", "clear", "endpoint", "show", "flows", "conns", "status", "check"):
        sub.add_parser(name)
    sub.add_parser("to").add_argument("targets", nargs="+", metavar="ADDRESS|MAC")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config = load(args.config)
        if args.command == "check":
            print("ok")
            return EXIT_OK
        state = kernel.read_state(config)
        if args.command in ("endpoint", "show", "flows", "conns", "status"):
            print(query(args, config, state))
            return EXIT_OK
        actions = actions_for(args, config, state)
        warnings = [] if args.dry_run else kernel.apply(actions)
    except (ConfigError, plan.PlanError) as err:
        print(f"bgplb-handback: {err}", file=sys.stderr)
        return EXIT_USAGE
    except kernel.KernelError as err:
        print(f"bgplb-handback: {err}", file=sys.stderr)
        return EXIT_FAILED
    for w in warnings:
        print(f"bgplb-handback: warning: {w}", file=sys.stderr)
    if args.json:
        print(json.dumps({"changed": bool(actions), "actions": [str(a) for a in actions], "dry_run": args.dry_run}))
    elif args.dry_run:
        print("\n".join(str(a) for a in actions))
    elif actions:
        print("changed")
    return EXIT_OK
