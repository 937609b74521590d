"""The I/O side: read the state ``plan`` needs from the kernel, run the actions it returns."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bgplb.handback import nft
from bgplb.handback.config import Config
from bgplb.handback.plan import FAMILY_OPT, FORWARDING, SYSCTLS, Action, FamilyState, State

PROC_CONF = Path("/proc/sys/net/ipv4/conf")


class KernelError(RuntimeError):
    """A command failed; the message names it and carries its error output."""


def _run(argv: Iterable[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    argv = list(argv)
    try:
        return subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False, timeout=60)
    except FileNotFoundError:
        raise KernelError(f"{argv[0]} not found: install it (iproute2, nftables)") from None


def _json(argv: list[str], missing_ok: bool = True) -> Any:
    """The JSON a command prints; None when it fails and ``missing_ok`` (no such table, device, FIB table)."""
    proc = _run(argv)
    if proc.returncode != 0:
        if missing_ok:
            return None
        raise KernelError(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.strip()}")
    try:
        return json.loads(proc.stdout or "null")
    except ValueError:
        raise KernelError(f"{' '.join(argv)}: output is not JSON: {proc.stdout[:200]!r}") from None


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def read_state(config: Config) -> State:
    link = _json(["ip", "-j", "-d", "link", "show", "dev", config.device])
    state = State(link=link[0] if link else None)
    for version, opt in FAMILY_OPT.items():
        state.families[version] = FamilyState(
            table=_json(["nft", "-j", "list", "table", nft.FAMILIES[version], nft.TABLE]),
            rules=_json(["ip", "-j", opt, "rule", "show"]) or [],
            routes=_json(["ip", "-j", opt, "route", "show", "table", str(config.table)]) or [],
            neighbors=(_json(["ip", "-j", opt, "neigh", "show", "dev", config.device]) or []) if link else [],
        )
    if link:
        state.fdb = _json(["bridge", "-j", "fdb", "show", "dev", config.device]) or []
    paths = [*SYSCTLS, *FORWARDING.values()]
    paths += [str(d / k) for d in sorted(PROC_CONF.iterdir()) for k in ("rp_filter", "send_redirects")]
    state.proc = {p: v for p in paths if (v := _read(Path(p))) is not None}
    return state


def apply(actions: Iterable[Action]) -> list[str]:
    """Runs the actions in order; returns the warnings of the ones allowed to fail. Raises on any other failure."""
    warnings = []
    for action in actions:
        if action.path is not None:
            try:
                Path(action.path).write_text(action.value + "\n")
                continue
            except OSError as err:
                error = err.strerror or str(err)
        else:
            proc = _run(action.argv, action.stdin)
            if proc.returncode == 0:
                continue
            error = proc.stderr.strip() or f"exit {proc.returncode}"
        if action.check:
            raise KernelError(f"{action}: {error}")
        warnings.append(f"{action}: {error}")
    return warnings


def handed_back_flows(config: Config) -> int:
    fams = [nft.FAMILIES[v] for v in config.families]
    return sum(nft.set_size(_json(["nft", "-j", "list", "set", f, nft.TABLE, "handed_back"])) for f in fams)


def handed_back_packets(config: Config) -> int:
    fams = [nft.FAMILIES[v] for v in config.families]
    return sum(nft.handed_back_packets(_json(["nft", "-j", "list", "chain", f, nft.TABLE, "service"])) for f in fams)


def established() -> str:
    proc = _run(["ss", "-Htni", "state", "established"])
    if proc.returncode != 0:
        raise KernelError(f"ss -Htni state established exited {proc.returncode}: {proc.stderr.strip()}")
    return proc.stdout
