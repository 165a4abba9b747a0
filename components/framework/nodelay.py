"""The server's TCP sockets send each message at once (TCP_NODELAY), so no rerun waits on a delayed ACK (no Streamlit).

Streamlit 1.67.0 (Starlette and uvicorn) binds its listening socket itself with `socket.socket(family)`, whose
protocol number is 0, and asyncio only switches Nagle's algorithm off for sockets whose protocol number is
IPPROTO_TCP (`asyncio.base_events._set_nodelay`). So every learner's websocket keeps Nagle's algorithm: after the
first small message of a rerun (new_session), the next ones wait in the kernel until the browser acknowledges
it, and a receiver delays that acknowledgement by up to 40 ms. Every page visit that takes the server less than
that costs the learner about 45 ms however little the page does (benchmarks/RESULTS.md, "Page visits").

`send_without_delay` sets TCP_NODELAY once per server process on every TCP socket it has: the connections open
now and the listening socket, from which Linux copies it to every connection accepted later. It looks the
sockets up in /proc/self/fd (Linux; elsewhere it does nothing) and sets the option through a duplicate of each
descriptor, so no socket object of the server is touched.
"""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

_lock = threading.Lock()
_done = False


def send_without_delay() -> int:
    """Switch Nagle's algorithm off on this process's TCP sockets, the first time only; returns how many."""
    global _done
    with _lock:
        if _done:
            return 0
        _done = True
        return sum(_set_nodelay(descriptor) for descriptor in _socket_descriptors())


def _socket_descriptors() -> list[int]:
    folder = Path("/proc/self/fd")
    if not folder.is_dir():
        return []
    found = []
    for entry in folder.iterdir():
        try:
            if os.readlink(entry).startswith("socket:"):
                found.append(int(entry.name))
        except (OSError, ValueError):  # closed since the listing
            continue
    return found


def _set_nodelay(descriptor: int) -> bool:
    """TCP_NODELAY on this descriptor's socket if it is TCP; False for anything else (or if it went away)."""
    try:
        duplicate = socket.socket(fileno=os.dup(descriptor))  # family and type read from the socket itself
    except OSError:
        return False
    with duplicate:
        if duplicate.family not in (socket.AF_INET, socket.AF_INET6) or duplicate.type != socket.SOCK_STREAM:
            return False
        try:
            duplicate.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            return False
        return True
