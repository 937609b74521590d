"""Benchmark: bgplbctl's start-up, against the interpreter's own (`python3 -c pass`) in the same run.

Each round runs, in turn, `python3 -c pass`, `bgplbctl --help`, `bgplbctl --json status` against a socket nobody
listens on (argument parsing, the client, the JSON error: what every module call pays before the speaker answers)
and `bgplbctl validate` on an empty configuration directory (the model, the store and YAML loaded). Wall time of
each whole process; medians over the rounds and each command's ratio to the interpreter, round by round. Prints one
JSON document.

    python3 bench/cli_startup.py [--rounds 30]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def timed(argv: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - t0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=30)
    args = p.parse_args()
    ctl = str(BIN / "bgplbctl")
    with tempfile.TemporaryDirectory(prefix="bgplb-bench-cli-") as tmp:
        commands = {
            "python3 -c pass": [sys.executable, "-c", "pass"],
            "bgplbctl --help": [ctl, "--help"],
            "bgplbctl --json status (no speaker)": [ctl, "--socket", f"{tmp}/none.sock", "--json", "status"],
            "bgplbctl validate (empty config)": [ctl, "--config-dir", tmp, "validate"],
        }
        for argv in commands.values():  # warm the page cache and the .pyc files
            timed(argv)
        runs: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.rounds):
            for name, argv in commands.items():
                runs[name].append(timed(argv))
    base = runs["python3 -c pass"]
    doc = {
        "benchmark": "cli_startup",
        "rounds": args.rounds,
        "machine": {"cpus": os.cpu_count(), "loadavg": [round(x, 2) for x in os.getloadavg()]},
        "median_ms": {name: round(statistics.median(v) * 1000, 1) for name, v in runs.items()},
        "ratio_to_python_median": {
            name: round(statistics.median(a / b for a, b in zip(v, base, strict=True)), 2)
            for name, v in runs.items()
            if name != "python3 -c pass"
        },
    }
    print(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
