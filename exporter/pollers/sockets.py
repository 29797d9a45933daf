"""Socket buffers large enough for many devices answering at once, shared by every poller."""

from __future__ import annotations

import socket

BUFFER_BYTES = 4 * 1024 * 1024
# SO_RCVBUFFORCE and SO_SNDBUFFORCE pass the net.core sysctl caps when privileged.
_FORCED = {socket.SO_RCVBUF: 33, socket.SO_SNDBUF: 32}


def enlarge(sock: socket.socket, option: int = socket.SO_RCVBUF) -> None:
    """Give a socket a 4 MB buffer: forced when privileged, else as much as the cap allows."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, _FORCED[option], BUFFER_BYTES)
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, option, BUFFER_BYTES)
