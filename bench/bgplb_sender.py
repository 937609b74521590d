"""The bgplb speaker core announcing N generated /32s to one peer (run by advertise.py inside a namespace).

Uses the same code as the daemon below the planner (Speaker, PeerRunner, AdjRibOut, codec). SIGUSR1 withdraws
everything; SIGTERM stops. Prints one JSON line on stdout when the table has been handed to the transport.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import time

from bgplb.bgp import fsm, wire
from bgplb.bgp.route import Route
from bgplb.speaker import PeerSettings, Speaker


def prefixes(count: int, first: int = (100 << 24) | (80 << 16)) -> dict[bytes, Route]:
    """count consecutive /32s as NLRI bytes, starting at 100.80.0.0."""
    route = Route()
    return {b"\x20" + (first + i).to_bytes(4, "big"): route for i in range(count)}


async def main(args: argparse.Namespace) -> None:
    speaker = Speaker(listen=())
    await speaker.start()
    session = fsm.SessionConfig(local_asn=args.asn, peer_asn=args.peer_asn, router_id=args.router_id, hold_time=90)
    speaker.configure({"r": PeerSettings(address=args.peer, session=session, ttl=1, source_address=args.source)})
    speaker.set_routes("r", {wire.IPV4_UNICAST: prefixes(args.count)})
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGUSR1, lambda: speaker.set_routes("r", {}))
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    runner = speaker.runners["r"]
    while runner.session.established_at is None:
        await asyncio.sleep(0.001)
    print(json.dumps({"established": time.time(), "sent": len(runner.ribout)}), flush=True)
    await stop.wait()
    await speaker.stop()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--peer", required=True)
    p.add_argument("--router-id", required=True)
    p.add_argument("--asn", type=int, default=64512)
    p.add_argument("--peer-asn", type=int, default=64500)
    p.add_argument("--source", help="source address of the session (default: chosen by the kernel)")
    p.add_argument("--count", type=int, required=True)
    asyncio.run(main(p.parse_args()))
