"""Talking to the running speaker over its unix socket (one JSON line each way)."""

from __future__ import annotations

import json

# not `from typing import TYPE_CHECKING`: importing typing adds ~4 ms to each start (mypy knows the name)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DEFAULT_SOCKET = "/run/bgplb/api.sock"


class SpeakerUnreachable(Exception):
    """No speaker answers on the socket (not running, or no permission)."""


class SpeakerBusy(RuntimeError):
    """The speaker accepted the request but did not answer in time."""


def call(path: str, command: str, timeout: float = 30.0, **args: Any) -> Any:
    """Send one command; return its result or raise RuntimeError with the speaker's error."""
    import socket  # here, not at the top: `bgplbctl --help` does not need it (start-up time)

    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(path)
            sock.sendall(json.dumps({"command": command, **args}).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(1 << 16)
                if not chunk:
                    break
                data += chunk
    except TimeoutError:
        raise SpeakerBusy(f"the speaker at {path} did not answer {command!r} within {timeout:g} s") from None
    except (FileNotFoundError, ConnectionRefusedError, PermissionError) as err:
        raise SpeakerUnreachable(f"cannot reach the speaker at {path}: {err.strerror or err}") from None
    except OSError as err:
        raise SpeakerUnreachable(f"speaker at {path}: {err}") from None
    try:
        reply = json.loads(data)
    except ValueError:
        raise SpeakerUnreachable(f"speaker at {path} sent no valid reply") from None
    if not reply.get("ok"):
        raise RuntimeError(reply.get("error", "unknown error"))
    return reply.get("result")
