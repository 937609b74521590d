"""`bgplbctl import-metallb -f FILE`: MetalLB manifests (IPAddressPool, BGPAdvertisement, Community, BGPPeer) to bgplb
objects, printed as YAML (or `--json`) for `bgplbctl apply -f` or the inventory. Anything that cannot be converted:
exit 2 with every message, nothing printed. Mapping: speaker/docs/metallb.md; conversion: bgplb.sources.metallb.
"""

from __future__ import annotations

import argparse
import sys

# not `from typing import TYPE_CHECKING`: importing typing adds ~4 ms to each start (mypy knows the name)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _node(args: argparse.Namespace) -> dict[str, Any]:
    """convert()'s node or asn: --asn (and --router-id), else the node of --config-dir's speaker.yaml."""
    from pathlib import Path

    from bgplb import model
    from bgplb.store import SPEAKER_FILE, parse_yaml

    if args.asn is not None:
        if args.router_id is None:
            return {"asn": args.asn}
        return {"node": model.parse_node({"name": "metallb-import", "router_id": args.router_id, "asn": args.asn,
                                          "ipv4_next_hop": "192.0.2.1", "ipv6_next_hop": "2001:db8::1"})}  # fmt: skip
    path = Path(args.config_dir) / SPEAKER_FILE
    if not path.is_file():
        raise model.ValidationError([f"the node's AS is needed to check BGPPeer myASN: give --asn, or a --config-dir "
                                     f"whose {SPEAKER_FILE} defines the node ({path} does not exist)"])  # fmt: skip
    data = parse_yaml(path.read_bytes(), str(path))
    try:
        return {"node": model.parse_node(data.get("node") if isinstance(data, dict) else None)}
    except model.ObjectError as err:
        raise model.ValidationError([f"{path}: {err}"]) from None


def cmd_import_metallb(args: argparse.Namespace) -> Any:
    from pathlib import Path

    import yaml  # the model, YAML and the converter only for this command (bgplbctl start-up time)

    from bgplb import model
    from bgplb.sources.metallb import convert
    from bgplb.store import parse_yaml

    stdin = getattr(sys.stdin, "buffer", sys.stdin)
    data = stdin.read() if args.file == "-" else Path(args.file).read_bytes()
    source = "-" if args.file == "-" else args.file
    manifests = parse_yaml(data.encode() if isinstance(data, str) else data, source, many=True)
    node = _node(args)
    try:
        documents = list(convert(manifests, **node).documents)
    except model.ValidationError as err:
        raise model.ValidationError([f"{source}: {e}" for e in err.errors]) from None
    if args.json:
        return {"ok": True, "items": documents}
    return yaml.safe_dump(documents, sort_keys=False).rstrip()


def asn(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an AS number") from None
    if not 1 <= value <= 4294967295:
        raise argparse.ArgumentTypeError(f"{text!r}: expected an AS number from 1 to 4294967295")
    return value


def add_parser(sub: Any) -> None:
    m = sub.add_parser("import-metallb", help="convert MetalLB manifests to bgplb objects (printed, not applied)")
    m.add_argument("-f", "--file", required=True, help="YAML (several documents, or kubectl's List), - for stdin")
    m.add_argument("--asn", type=asn, help="the node's AS (default: node.asn of --config-dir's speaker.yaml)")
    m.add_argument("--router-id", help="with --asn: the node's router id, which a BGPPeer's routerID may repeat")
    m.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="same as the global --json")
    m.set_defaults(func=cmd_import_metallb)
