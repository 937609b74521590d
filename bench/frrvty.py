"""A persistent connection to FRR bgpd's vty socket, shared by the benchmarks that poll FRR.

vtysh speaks this protocol too, but running vtysh costs a process start (~100 ms here) per poll; one socket kept
open answers a `summary json` in well under a millisecond, so a poll loop measures FRR and not the poller.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any


class Vty:
    """Each command is NUL-terminated; each answer ends in three NULs and a status byte."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(str(path))

    def run(self, command: str) -> str:
        self.sock.sendall(command.encode() + b"\0")
        buf = bytearray()
        while len(buf) < 4 or buf[-4:-1] != b"\0\0\0":
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("bgpd closed the vty socket")
            buf += chunk
        return buf[:-4].decode(errors="replace")

    def json(self, command: str) -> Any:
        return json.loads(self.run(command) or "{}")

    def peer(self, address: str, afi: str = "ipv4") -> dict[str, Any]:
        """One neighbor's row of `show bgp <afi> unicast summary json` (state, pfxRcd, ...); {} if absent."""
        return self.json(f"show bgp {afi} unicast summary json").get("peers", {}).get(address, {})

    def neighbor(self, address: str) -> dict[str, Any]:
        """`show bgp neighbors <address> json`: bgpState, connectionsEstablished/Dropped, ..."""
        return self.json(f"show bgp neighbors {address} json").get(address, {})

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Vty:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
