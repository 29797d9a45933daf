"""Basic auth for every path, at a cost that tells an attacker nothing and takes one core at most.

bcrypt is slow by design (a cost-10 hash takes ~60 ms, cost 12 ~240 ms). So:
- a proven (user, password) is remembered by its digest, and Prometheus's scrapes cost nothing;
- every failure takes as long as the slowest check there is (an unknown user is checked against
  a dummy hash of the highest cost configured, and a cheaper user's failure waits the rest), so
  timing says neither which users exist nor what cost their hashes have;
- one check runs at a time in all, one at a time per client address, and each address may start
  FAILURE_BURST unproven checks, then FAILURE_RATE a second (429 with Retry-After beyond);
- a password longer than bcrypt reads (72 bytes) is wrong, never truncated and never a 500.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping

import bcrypt
from aiohttp import web

from exporter.exposition.limits import RateLimit

MAX_PASSWORD_BYTES = 72  # bcrypt reads no more
FAILURE_RATE = 1.0  # unproven checks a second per client, after the burst
FAILURE_BURST = 10
_CACHE_LIMIT = 1024
_REALM = 'Basic realm="tps-exporter", charset="UTF-8"'
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Checker = Callable[[bytes, bytes], bool]


class BasicAuth:
    """Checks the Authorization header of every request against the configured users."""

    def __init__(
        self,
        users: Mapping[str, bytes],
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        checker: Checker = bcrypt.checkpw,
    ) -> None:
        self.users = dict(users)
        self._clock, self._sleep, self._checker = clock, sleep, checker
        self._proven: dict[bytes, bool] = {}
        self._checks = asyncio.Semaphore(1)
        self._per_client: dict[str, asyncio.Lock] = {}
        self._waiting: Counter[str] = Counter()
        self.attempts = RateLimit(FAILURE_RATE, FAILURE_BURST, clock)
        cost = max((_cost(h) for h in self.users.values()), default=10)
        self._dummy = bcrypt.hashpw(b"not a password", bcrypt.gensalt(cost))
        began = clock()
        checker(b"", self._dummy)
        self.slowest = clock() - began  # the cost every failure is made to take

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Serve the request only with a valid user and password."""
        credentials = _credentials(request.headers.get("Authorization", ""))
        if credentials is not None and self._is_proven(*credentials):
            return await handler(request)
        if credentials is None:
            return _unauthorized()
        client = request.remote or ""
        if not self.attempts.allow(client):
            wait = self.attempts.retry_after(client)
            return web.Response(status=429, text="too many wrong passwords; try again later\n",
                                headers={"Retry-After": wait})  # fmt: skip
        if not await self.check(client, *credentials):
            return _unauthorized()
        return await handler(request)

    def _is_proven(self, user: str, password: bytes) -> bool:
        return _digest(user, password, self.users.get(user)) in self._proven

    async def check(self, client: str, user: str, password: bytes) -> bool:
        """Check a password with bcrypt, one check per client at a time; a failure takes as
        long as the slowest check."""
        lock = self._per_client.setdefault(client, asyncio.Lock())
        self._waiting[client] += 1
        try:
            async with lock:
                return await self._check(user, password)
        finally:
            self._waiting[client] -= 1
            if not self._waiting[client]:
                del self._waiting[client], self._per_client[client]

    async def _check(self, user: str, password: bytes) -> bool:
        stored = self.users.get(user)
        usable = stored is not None and len(password) <= MAX_PASSWORD_BYTES
        async with self._checks:
            began = self._clock()
            ok = await asyncio.to_thread(self._checker, password[:MAX_PASSWORD_BYTES],
                                         stored if usable and stored else self._dummy)  # fmt: skip
            spent = self._clock() - began
        self.slowest = max(self.slowest, spent)
        if not (ok and usable):
            await self._sleep(self.slowest - spent)
            return False
        if len(self._proven) >= _CACHE_LIMIT:
            self._proven.clear()
        self._proven[_digest(user, password, stored)] = True
        return True


def _unauthorized() -> web.Response:
    return web.Response(status=401, text="Unauthorized\n", headers={"WWW-Authenticate": _REALM})


def _digest(user: str, password: bytes, stored: bytes | None) -> bytes:
    return hashlib.sha256(user.encode() + b"\0" + password + b"\0" + (stored or b"")).digest()


def _cost(stored: bytes) -> int:
    """Return a bcrypt hash's cost: `$2y$12$...` is 12."""
    return int(stored[4:6])


def _credentials(header: str) -> tuple[str, bytes] | None:
    """Return (user, password) from a Basic Authorization header, or None."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value or len(value) > 4096:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, sep, password = decoded.partition(b":")
    if not sep:
        return None
    try:
        return user.decode("utf-8"), password
    except UnicodeDecodeError:
        return None
