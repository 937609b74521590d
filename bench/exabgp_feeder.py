"""ExaBGP API process: announces N /32s in batches at start (unless `--withdraw-only`: the routes are in ExaBGP's
static config), then withdraws them all when TRIGGER_FILE appears.

    exabgp_feeder.py COUNT FIRST TRIGGER_FILE [--withdraw-only]
"""

from __future__ import annotations

import ipaddress
import os
import sys
import time

BATCH = 500


def emit(verb: str, count: int, first: int) -> None:
    for start in range(0, count, BATCH):
        batch = " ".join(f"{ipaddress.IPv4Address(first + i)}/32" for i in range(start, min(count, start + BATCH)))
        sys.stdout.write(f"{verb} attributes next-hop self nlri {batch}\n")
    sys.stdout.flush()


if __name__ == "__main__":
    count, first, trigger = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    if "--withdraw-only" not in sys.argv[4:]:
        emit("announce", count, first)
    while not os.path.exists(trigger):
        time.sleep(0.01)
    emit("withdraw", count, first)
    while True:
        time.sleep(60)
