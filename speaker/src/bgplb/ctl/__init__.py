"""`bgplbctl`: validate, apply, get and delete objects (works while the speaker is down), and ask the running
speaker for status, routes, drain, undrain and reload. `--json` output is documented in speaker/docs/bgplbctl.md.

Exit codes: 0 ok, 1 other failure, 2 invalid input (the message names the object and field), 3 speaker unreachable.
With `--json` the outcome is also typed: a failure carries `code` (one of ERROR_CODES), `apply` and `delete` carry
`reload` (one of RELOAD_STATES, or null when nothing was written); programs read those, never the English messages.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

from bgplb.ctl import metallb_import
from bgplb.ctl.client import DEFAULT_SOCKET, SpeakerBusy, SpeakerUnreachable, call
from bgplb.kinds import KINDS

# not `from typing import TYPE_CHECKING`: importing typing adds ~4 ms to each start (mypy knows the name)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from bgplb.store import Store

# The model, the store, YAML and the renderers are imported by the commands that use them: `status`, `drain` or
# `--help` start in about the time of the interpreter itself (speaker/docs/bgplbctl.md).

EXIT_OK, EXIT_FAILURE, EXIT_INVALID, EXIT_UNREACHABLE = 0, 1, 2, 3
# `--json` failure codes (speaker/docs/bgplbctl.md): the exit code says how bad, `code` says what.
INVALID, READ_ONLY, IN_USE, UNREACHABLE, BUSY, NOT_FOUND, FAILED = (
    "invalid", "read_only", "in_use", "unreachable", "busy", "not_found", "failed")  # fmt: skip
ERROR_CODES = (INVALID, READ_ONLY, IN_USE, UNREACHABLE, BUSY, NOT_FOUND, FAILED)
# `reload` after a write: the running speaker took it / will pick it up from the directory / kept what it had.
APPLIED, DEFERRED, REFUSED = "applied", "deferred", "refused"
RELOAD_STATES = (APPLIED, DEFERRED, REFUSED)
RELOAD_TIMEOUT = 120.0  # seconds; re-reading tens of thousands of objects takes a while


class InputError(Exception):
    """Input bgplbctl cannot use (bad YAML, unknown kind): exit 2."""


def read_documents(source: str) -> list[tuple[str, Any]]:
    """Objects from a YAML/JSON file or '-': one `{kind: ..., ...}` mapping, a list of them, or several documents."""
    from pathlib import Path

    import yaml

    from bgplb.store import yaml_problem

    stdin = getattr(sys.stdin, "buffer", sys.stdin)  # bytes from a real stdin (a StringIO in tests gives str)
    data = stdin.read() if source == "-" else Path(source).read_bytes()
    try:
        text = data if isinstance(data, str) else data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputError(f"{source}: not UTF-8 text (byte {err.start})") from None
    try:
        docs = [d for d in yaml.load_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) if d is not None]
    except yaml.YAMLError as err:
        raise InputError(f"{source}: not valid YAML or JSON: {yaml_problem(err)}") from None
    except RecursionError:
        raise InputError(f"{source}: nested too deeply") from None
    except (ValueError, TypeError, OverflowError) as err:  # e.g. an integer of more than 4,300 digits
        raise InputError(f"{source}: unusable value: {str(err)[:200]}") from None
    items = [i for d in docs for i in (d if isinstance(d, list) else [d])]
    out = []
    for n, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("kind"), str):
            raise InputError(f"{source}: document {n}: expected a mapping with a `kind` field")
        data = {k: v for k, v in item.items() if k != "kind"}
        out.append((item["kind"], data))
    return out


def _store(args: argparse.Namespace) -> Store:
    from pathlib import Path

    from bgplb.store import SPEAKER_FILE, Store

    return Store(Path(args.config_dir), SPEAKER_FILE)


def _reload(args: argparse.Namespace) -> tuple[str, str]:
    """Ask the running speaker to reload after a write: (one of RELOAD_STATES, a note for people)."""
    try:
        result = call(args.socket, "reload", timeout=RELOAD_TIMEOUT)
    except SpeakerUnreachable:
        return DEFERRED, "speaker not running: written, it takes effect when the speaker starts"
    except SpeakerBusy as err:
        return DEFERRED, f"speaker busy: written; {err}; it picks the change up from the directory"
    if not result.get("applied"):
        return REFUSED, f"speaker refused the reload: {'; '.join(result.get('errors', []))}"
    return APPLIED, "speaker reloaded"


def cmd_apply(args: argparse.Namespace) -> Any:
    from bgplb.ctl import render

    changes = _store(args).apply(read_documents(args.file), dry_run=args.dry_run)
    changed = any(c.action != "unchanged" for c in changes)
    reload, note = _reload(args) if changed and not args.dry_run else (None, None)
    if args.json:
        rendered = [render.change_dict(c) for c in changes]
        return {"ok": True, "changed": changed, "dry_run": args.dry_run, "changes": rendered, "reload": reload,
                "speaker": note}  # fmt: skip
    lines = [f"{c.kind}/{c.name} {c.action}{' (dry run)' if args.dry_run and c.action != 'unchanged' else ''}"
             for c in changes]  # fmt: skip
    if args.dry_run or args.diff:
        lines += [render.diff(c) for c in changes if c.action != "unchanged"]
    return "\n".join([*lines, *([note] if note else [])])


def cmd_delete(args: argparse.Namespace) -> Any:
    from bgplb.ctl import render

    change = _store(args).delete(args.kind, args.name, dry_run=args.dry_run)
    reload, note = _reload(args) if change.action == "deleted" and not args.dry_run else (None, None)
    if args.json:
        return {"ok": True, "changed": change.action == "deleted", "dry_run": args.dry_run,
                "changes": [render.change_dict(change)], "reload": reload, "speaker": note}  # fmt: skip
    text = f"{args.kind}/{args.name} {'absent' if change.action == 'unchanged' else 'deleted'}"
    return "\n".join([text, *([note] if note else [])])


def cmd_get(args: argparse.Namespace) -> Any:
    import yaml

    from bgplb import model

    objects = [model.to_dict(o) for o in _store(args).get(args.kind, args.name)]
    if args.name and not objects:
        raise LookupError(f"{args.kind} {args.name} not found")
    if args.json:
        return {"ok": True, "kind": args.kind, "items": objects}
    return yaml.safe_dump(objects if not args.name else objects[0], sort_keys=False).rstrip()


def cmd_validate(args: argparse.Namespace) -> Any:
    from bgplb import model

    store = _store(args)
    if args.file:
        changes = store.apply(read_documents(args.file), dry_run=True)
        summary = f"valid: {len(changes)} object(s) against the current configuration"
    else:
        config = store.load()
        counts = {k: len(getattr(config, a)) for k, a in model.KIND_FIELDS.items()}
        summary = "valid: " + ", ".join(f"{n} {k}(s)" for k, n in counts.items())
    return {"ok": True, "message": summary} if args.json else summary


def cmd_status(args: argparse.Namespace) -> Any:
    status = call(args.socket, "status")
    if args.json:
        return {"ok": True, **status}
    from bgplb.ctl import render

    rows = [[p["name"], p["address"], p["asn"], p["state"], render.uptime(p["uptime"]), p["prefixes_sent"],
             (p.get("bfd") or {}).get("state", "-"), p["last_error"] or ""] for p in status["peers"]]  # fmt: skip
    out = [f"node {status['node']}" + (f"  drain: {status['drain']['state']}" if status["drain"] else ""),
           render.table(rows, ["PEER", "ADDRESS", "ASN", "STATE", "UPTIME", "SENT", "BFD", "LAST ERROR"])]  # fmt: skip
    out += [f"config error: {e}" for e in status["config_errors"]]
    return "\n".join(out)


def cmd_routes(args: argparse.Namespace) -> Any:
    routes = call(args.socket, "routes")
    if args.json:
        return {"ok": True, "peers": routes}
    from bgplb.ctl import render

    rows = [[peer, r["prefix"], "yes" if r["sent"] else "pending", r["local_pref"],
             " ".join(r["communities"] + r["large_communities"])]
            for peer, rs in routes.items() for r in rs]  # fmt: skip
    return render.table(rows, ["PEER", "PREFIX", "SENT", "LOCAL_PREF", "COMMUNITIES"])


def cmd_drain(args: argparse.Namespace) -> Any:
    extra = {} if args.wait is None else {"wait": args.wait}
    result = call(args.socket, "drain", **extra)
    return {"ok": True, **result} if args.json else f"drain: {result['drain']['state']}"


def cmd_simple(args: argparse.Namespace) -> Any:
    result = call(args.socket, args.command)
    return {"ok": True, **result} if args.json else json.dumps(result)


MAX_DRAIN_WAIT = 7 * 86400.0


def drain_wait(text: str) -> float:
    """--wait: a finite number of seconds, 0 to a week (`nan` used to drain at once and write NaN into drain.json)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or not 0 <= value <= MAX_DRAIN_WAIT:
        raise argparse.ArgumentTypeError(f"{text!r}: expected seconds from 0 to {MAX_DRAIN_WAIT:g}")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bgplbctl", description=__doc__.splitlines()[0])
    p.add_argument("--config-dir", default=os.environ.get("BGPLB_CONFIG_DIR", "/etc/bgplb"))
    p.add_argument("--socket", default=os.environ.get("BGPLB_SOCKET", DEFAULT_SOCKET))
    p.add_argument("--json", action="store_true", help="machine-readable output (speaker/docs/bgplbctl.md)")
    sub = p.add_subparsers(dest="command", required=True)
    a = sub.add_parser("apply", help="create or update objects from a file")
    a.add_argument("-f", "--file", required=True, help="YAML or JSON file, or - for stdin")
    a.add_argument("--dry-run", action="store_true", help="show what would change, write nothing")
    a.add_argument("--diff", action="store_true", help="show the diff of what changed")
    a.set_defaults(func=cmd_apply)
    g = sub.add_parser("get", help="show objects")
    g.add_argument("kind", choices=KINDS)
    g.add_argument("name", nargs="?")
    g.set_defaults(func=cmd_get)
    d = sub.add_parser("delete", help="delete an object")
    d.add_argument("kind", choices=KINDS)
    d.add_argument("name")
    d.add_argument("--dry-run", action="store_true")
    d.set_defaults(func=cmd_delete)
    v = sub.add_parser("validate", help="check the configuration, or a file against it")
    v.add_argument("-f", "--file")
    v.set_defaults(func=cmd_validate)
    sub.add_parser("status", help="sessions of the running speaker").set_defaults(func=cmd_status)
    sub.add_parser("routes", help="routes per peer").set_defaults(func=cmd_routes)
    dr = sub.add_parser("drain", help="graceful shutdown (RFC 8326), then withdraw after --wait seconds")
    dr.add_argument("--wait", type=drain_wait)
    dr.set_defaults(func=cmd_drain)
    sub.add_parser("undrain", help="announce normally again").set_defaults(func=cmd_simple)
    sub.add_parser("reload", help="make the speaker re-read its configuration").set_defaults(func=cmd_simple)
    metallb_import.add_parser(sub)
    return p


def classify(err: BaseException) -> tuple[int, str | None, list[str]]:
    """(exit code, `--json` code, messages) of a command's exception; kind None: not one of bgplbctl's failures.
    The store's and the model's errors can only come from commands that loaded them: they are not imported here."""
    store, model = sys.modules.get("bgplb.store"), sys.modules.get("bgplb.model")
    if store is not None and isinstance(err, store.ReadOnlyError):
        return EXIT_INVALID, READ_ONLY, err.errors
    if store is not None and isinstance(err, store.InUseError):
        return EXIT_INVALID, IN_USE, err.errors
    invalid = (InputError, model.ValidationError, model.ObjectError) if model is not None else (InputError,)
    if isinstance(err, invalid):
        return EXIT_INVALID, INVALID, getattr(err, "errors", [str(err)])
    if isinstance(err, SpeakerUnreachable):
        return EXIT_UNREACHABLE, UNREACHABLE, [str(err)]
    if isinstance(err, SpeakerBusy):
        return EXIT_FAILURE, BUSY, [str(err)]
    if isinstance(err, LookupError):
        return EXIT_FAILURE, NOT_FOUND, [str(err.args[0] if err.args else err)]
    if isinstance(err, (RuntimeError, OSError)):
        return EXIT_FAILURE, FAILED, [str(err)]
    return EXIT_FAILURE, None, [str(err)]


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    code, kind, errors = EXIT_OK, None, list[str]()
    try:
        result = args.func(args)
    except (InputError, SpeakerUnreachable, LookupError, RuntimeError, OSError) as err:
        code, kind, errors = classify(err)
    except Exception as err:  # the model's and the store's errors: their modules are loaded by now
        code, kind, errors = classify(err)
        if kind is None:
            raise
    if code == EXIT_OK:
        print(json.dumps(result, indent=2) if args.json else result)
    elif args.json:
        print(json.dumps({"ok": False, "code": kind, "errors": errors}, indent=2))
    else:
        for e in errors:
            print(f"bgplbctl: {e}", file=sys.stderr)
    return code
