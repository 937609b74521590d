"""Human output of bgplbctl: short tables and unified diffs."""

from __future__ import annotations

import difflib
from typing import Any

import yaml

from bgplb.store import Change


def table(rows: list[list[Any]], header: list[str]) -> str:
    cells = [header] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells)


def diff(change: Change) -> str:
    """A unified diff of one object's YAML, before -> after."""

    def lines(obj: dict[str, Any] | None) -> list[str]:
        return yaml.safe_dump(obj, sort_keys=False).splitlines(keepends=True) if obj is not None else []

    label = f"{change.kind}/{change.name}"
    return "".join(difflib.unified_diff(lines(change.before), lines(change.after), f"a/{label}", f"b/{label}"))


def change_dict(change: Change) -> dict[str, Any]:
    return {"kind": change.kind, "name": change.name, "action": change.action, "before": change.before,
            "after": change.after, "diff": diff(change)}  # fmt: skip


def uptime(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    return (
        f"{s // 86400}d{s % 86400 // 3600:02d}h" if s >= 86400 else f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"
    )
