"""Loopback helpers shared by the lab, the demo, the benchmarks and the tests."""

from __future__ import annotations

import contextlib
import http.server
import socket
import threading
import time
import urllib.request


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, seconds: float = 20, headers: dict[str, str] | None = None) -> None:
    """Block until a URL answers with a 2xx status, or raise TimeoutError after `seconds`."""
    deadline = time.monotonic() + seconds
    request = urllib.request.Request(url, headers=headers or {})
    while time.monotonic() < deadline:
        # urlopen raises for 4xx and 5xx (HTTPError is an OSError) and for no server at all.
        with contextlib.suppress(OSError), urllib.request.urlopen(request, timeout=2):
            return
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not become ready")


def serve_http(
    handler: type[http.server.BaseHTTPRequestHandler],
) -> tuple[http.server.HTTPServer, str]:
    """Serve `handler` on a free loopback port in a thread of its own; return it and its URL.
    Stop it with shutdown() and server_close()."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"
