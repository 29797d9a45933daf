"""Open connections under a cap below the file limit, so idle sockets cannot starve a scrape.

aiohttp has no cap of its own: about 1,000 idle sockets under the common soft limit of 1,024
open files made every accept() fail, and every scrape and reload time out. Here the soft limit
is raised to the hard one at start, and at the cap the connection idle the longest is closed
to make room (Prometheus reconnects at its next scrape); when none is idle the newcomer is
closed at once. Either way one log line a minute says so, never one per connection.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

log = logging.getLogger(__name__)
KEEPALIVE_TIMEOUT = 30.0  # an idle connection (or one that never finishes its headers) ends
FILES_RESERVED = 256  # descriptors kept for ICMP and SNMP sockets, inventory files, the resolver
MAX_CONNECTIONS = 4096
LOG_EVERY = 60.0


def raise_file_limit() -> int:
    """Raise the soft limit on open files to the hard one; return the soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = max(soft, 1 << 20)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass  # a container may forbid it: the cap below follows the soft limit
    return int(soft)


def connection_cap(file_limit: int) -> int:
    """Return how many HTTP connections may be open under a limit on open files."""
    return max(16, min(MAX_CONNECTIONS, file_limit - FILES_RESERVED))


class _Refused(asyncio.Protocol):
    """A connection over the cap with none idle to close: closed as soon as it is made."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.close()


class CappedServer:
    """aiohttp's protocol factory, with at most `cap` connections open at once."""

    def __init__(
        self, server: web.Server, cap: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.server = server
        self.cap = cap
        self.clock = clock
        self.closed_idle = 0  # connections closed to make room
        self.refused = 0  # connections closed at once: all busy
        self._logged = -LOG_EVERY

    def __call__(self) -> asyncio.Protocol:
        """Return the protocol for a new connection, making room if the cap is reached."""
        handlers = self.server.connections
        if len(handlers) < self.cap:
            return self.server()
        idle = next((h for h in handlers if _idle(h)), None)
        if idle is None:
            self.refused += 1
            self._tell(len(handlers))
            return _Refused()
        idle.force_close()
        self.closed_idle += 1
        self._tell(len(handlers))
        return self.server()

    def _tell(self, open_now: int) -> None:
        now = self.clock()
        if now - self._logged < LOG_EVERY:
            return
        self._logged = now
        log.warning(
            "connection cap reached: closing idle connections to admit new ones",
            extra={
                "open": open_now,
                "cap": self.cap,
                "closed_idle": self.closed_idle,
                "refused": self.refused,
            },
        )


def _idle(handler: RequestHandler) -> bool:
    """Whether a connection is waiting for a request (never sent one, or between requests)."""
    # aiohttp keeps no public flag; a handler waiting for its next message has a pending
    # `_waiter` (the same test its own keep-alive timer makes).
    waiter: Any = getattr(handler, "_waiter", None)
    return waiter is not None and not waiter.done()


class CappedSite(web.TCPSite):
    """A TCP site whose connections go through a CappedServer."""

    def __init__(self, runner: web.BaseRunner, *args: Any, cap: int, **kwargs: Any) -> None:
        super().__init__(runner, *args, **kwargs)
        self.cap = cap
        self.factory: CappedServer | None = None

    async def start(self) -> None:
        """Listen, as TCPSite does, with the capped factory in front of aiohttp's server."""
        await web.BaseSite.start(self)
        server = self._runner.server
        assert isinstance(server, web.Server)
        self.factory = CappedServer(server, self.cap)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self.factory,
            self._host,
            self._port,
            ssl=self._ssl_context,
            backlog=self._backlog,
            reuse_address=self._reuse_address,
            reuse_port=self._reuse_port,
        )
        sockets = self._server.sockets
        self._bound_port = sockets[0].getsockname()[1] if sockets else self._port
