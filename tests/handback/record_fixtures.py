"""Records the kernel state fixtures of test_handback_plan.py: what `bgplb.handback.kernel.read_state` reads (nft -j,
ip -j, bridge -j, /proc) in a network namespace at each step. Root needed; run from the repository root:

    .venv/bin/python tests/handback/record_fixtures.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
STEPS = {
    # name: (config, commands run before reading, through bgplb-handback unless they start with "ip"/"nft")
    "fresh": ({"service_cidrs": ["198.51.100.0/24", "2001:db8:100::/64"]}, []),
    "started": ({"service_cidrs": ["198.51.100.0/24", "2001:db8:100::/64"]}, ["start"]),
    "handing_back": (
        {"service_cidrs": ["198.51.100.0/24", "2001:db8:100::/64"]},
        ["start", "ip -6 addr add 2001:db8:1::2/64 dev d0", "ip addr add 10.0.0.2/24 dev d0",
         "to 10.0.0.5 2001:db8:1::5"],
    ),
    "tunnel": (
        {"service_cidrs": ["198.51.100.0/24"], "tunnel": "vxlan", "nodes": ["10.0.0.2", "10.0.0.5"]},
        ["start", "ip addr add 10.0.0.2/24 dev d0", "to 10.0.0.5 02:00:00:00:00:05"],
    ),
}  # fmt: skip


def record(name: str, config: dict, steps: list[str]) -> dict:
    ns = f"bgplbhbrec-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        run = ["ip", "netns", "exec", ns]
        subprocess.run([*run, "ip", "link", "set", "lo", "up"], check=True)
        subprocess.run([*run, "ip", "link", "add", "d0", "up", "type", "veth", "peer", "d1"], check=True)
        subprocess.run([*run, "ip", "link", "set", "d1", "up"], check=True)
        cfg = HERE / f".{name}.yaml"
        cfg.write_text(json.dumps(config))
        try:
            for step in steps:
                argv = step.split() if step.startswith(("ip ", "nft ")) else [
                    sys.executable, "-m", "bgplb.handback", "--config", str(cfg), *step.split()]  # fmt: skip
                subprocess.run([*run, *argv], check=True, stdout=subprocess.DEVNULL)
            code = ("import dataclasses, json, sys; from pathlib import Path;"
                    "from bgplb.handback import config, kernel;"
                    f"s = kernel.read_state(config.load(Path({str(cfg)!r})));"
                    "json.dump(dataclasses.asdict(s), sys.stdout, indent=1, sort_keys=True)")  # fmt: skip
            out = subprocess.run([*run, sys.executable, "-c", code], check=True, capture_output=True, text=True)
        finally:
            cfg.unlink()
        return {"config": config, "steps": steps, "state": json.loads(out.stdout)}
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)


def main() -> None:
    for name, (config, steps) in STEPS.items():
        (HERE / "fixtures" / f"{name}.json").write_text(json.dumps(record(name, config, steps), indent=1) + "\n")
        print(f"recorded {name}")


if __name__ == "__main__":
    main()
