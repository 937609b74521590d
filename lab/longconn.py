#!/usr/bin/python3
"""Long-lived connections for drain tests in the lab (copied into the client and run there).

    longconn.py VIP PORT N LMIN LMAX

N connections to VIP:PORT (the lab echo server, whose first line is the node name); each sends a line every 300 ms
and expects its echo, lives LMIN..LMAX seconds, closes cleanly and is replaced. Broken = error, RST or EOF, or an
echo later than 2 s. Runs until /tmp/stop exists; prints a JSON status line every 5 s and a summary at the end.
"""

import asyncio
import json
import os
import random
import sys
import time

VIP, PORT, N = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
LMIN, LMAX = float(sys.argv[4]), float(sys.argv[5])
stats = {"ok_closed": 0, "broken": 0, "broken_by_node": {}, "broken_why": {}, "opened": 0, "connect_fail": 0}
live: dict[int, str] = {}


def broken(node: str, why: str) -> None:
    stats["broken"] += 1
    stats["broken_by_node"][node] = stats["broken_by_node"].get(node, 0) + 1
    stats["broken_why"][why] = stats["broken_why"].get(why, 0) + 1


async def one(i: int) -> None:
    await asyncio.sleep(random.random() * 3)
    while not os.path.exists("/tmp/stop"):
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(VIP, PORT), 5)
            node = (await asyncio.wait_for(reader.readline(), 5)).decode().strip()
        except (TimeoutError, OSError):
            stats["connect_fail"] += 1
            await asyncio.sleep(1)
            continue
        stats["opened"] += 1
        live[i] = node
        end = time.monotonic() + random.uniform(LMIN, LMAX)
        seq = 0
        try:
            while time.monotonic() < end and not os.path.exists("/tmp/stop"):
                msg = b"%d-%d\n" % (i, seq)
                seq += 1
                writer.write(msg)
                await writer.drain()
                if await asyncio.wait_for(reader.readexactly(len(msg)), 2) != msg:
                    raise ValueError("garbled echo")
                await asyncio.sleep(0.3)
            stats["ok_closed"] += 1
        except TimeoutError:
            broken(node, "stall")
        except asyncio.IncompleteReadError:
            broken(node, "eof")
        except (OSError, ValueError) as err:
            broken(node, type(err).__name__)
        writer.close()
        live.pop(i, None)


async def report() -> None:
    while True:
        per: dict[str, int] = {}
        for node in live.values():
            per[node] = per.get(node, 0) + 1
        print(json.dumps({"t": time.strftime("%H:%M:%S"), "live": per, **stats}), flush=True)
        await asyncio.sleep(5)


async def main() -> None:
    reporter = asyncio.create_task(report())
    await asyncio.gather(*(one(i) for i in range(N)))
    reporter.cancel()
    print(json.dumps({"final": True, **stats}), flush=True)


asyncio.run(main())
