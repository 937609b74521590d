"""The collection's tests: `@pytest.mark.needs(root=..., tools=[...], files=[...])` fails a test whose
prerequisites are missing, naming them. The project's rule is that nothing skips: a missing tool is a broken
machine, and a skipped test would let the run pass without having tested anything."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest


def missing(root: bool = False, tools: tuple[str, ...] = (), files: tuple[str | Path, ...] = ()) -> list[str]:
    out = []
    if root and os.geteuid() != 0:
        out.append("root (network namespaces, nftables)")
    out += [f"the command {t!r}" for t in tools if shutil.which(str(t)) is None]
    out += [f"{f} (run scripts/setup-deps.sh)" for f in files if not Path(f).exists()]
    return out


def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers("needs"):
        lacking = missing(**mark.kwargs)
        if lacking:
            pytest.fail(f"{item.nodeid} needs {', '.join(lacking)}", pytrace=False)
