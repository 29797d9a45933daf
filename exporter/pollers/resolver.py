"""Turn device addresses into IP addresses, caching hostnames and looking them up again."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from exporter.inventory.model import AddressFamily

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Lookup = Callable[[str, int], Awaitable[list[str]]]


class ResolveError(Exception):
    """A hostname did not resolve to a usable address."""


@dataclass(slots=True)
class _Entry:
    addresses: tuple[IPAddress, ...]
    error: str
    expires: float


class Resolver:
    """Resolve hostnames on a thread pool of its own, with a deadline and a cache."""

    def __init__(
        self, refresh_interval: float, timeout: float, lookup: Lookup | None = None
    ) -> None:
        self.refresh_interval = refresh_interval
        self.timeout = timeout
        self._cache: dict[tuple[str, AddressFamily], _Entry] = {}
        self._inflight: dict[tuple[str, AddressFamily], asyncio.Future[_Entry]] = {}
        # Its own pool, so a hung DNS server cannot starve other uses of the default executor.
        self._executor: ThreadPoolExecutor | None = None
        self._lookup = lookup or self._getaddrinfo
        # Parsed literals (None for hostnames): most devices have an IP address, every cycle.
        self._literals: dict[str, IPAddress | None] = {}

    def literal(self, address: str) -> IPAddress | None:
        """Return the address if it is an IP literal (no lookup needed), else None."""
        try:
            return self._literals[address]
        except KeyError:
            pass
        try:
            parsed: IPAddress | None = ipaddress.ip_address(address)
        except ValueError:
            parsed = None
        self._literals[address] = parsed
        return parsed

    async def resolve(self, address: str, family: AddressFamily) -> IPAddress:
        """Return the IP address to poll for a device address, or raise `ResolveError`."""
        literal = self.literal(address)
        if literal is not None:
            return literal
        key = (address, family)
        entry = self._cache.get(key)
        if entry is None or entry.expires <= time.monotonic():
            entry = await self._refresh(key)
        if not entry.addresses:
            raise ResolveError(entry.error)
        return entry.addresses[0]

    async def _refresh(self, key: tuple[str, AddressFamily]) -> _Entry:
        # Devices sharing a hostname share one lookup.
        if key in self._inflight:
            return await asyncio.shield(self._inflight[key])
        future: asyncio.Future[_Entry] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            entry = await self._look_up(*key)
            self._cache[key] = entry
            future.set_result(entry)
            return entry
        finally:
            del self._inflight[key]
            if not future.done():
                future.cancel()

    async def _look_up(self, host: str, family: AddressFamily) -> _Entry:
        families = {
            AddressFamily.AUTO: socket.AF_UNSPEC,
            AddressFamily.IPV4: socket.AF_INET,
            AddressFamily.IPV6: socket.AF_INET6,
        }
        try:
            texts = await asyncio.wait_for(self._lookup(host, families[family]), self.timeout)
        except TimeoutError:
            return self._failed(f"lookup of {host} timed out after {self.timeout:g}s")
        except OSError as exc:
            return self._failed(f"lookup of {host} failed: {exc.strerror or exc}")
        addresses = sorted({ipaddress.ip_address(t) for t in texts}, key=lambda a: a.version)
        if not addresses:
            return self._failed(f"{host} has no {family.value} address")
        return _Entry(tuple(addresses), "", time.monotonic() + self.refresh_interval)

    def _failed(self, error: str) -> _Entry:
        # Retry failures sooner than successes, but not on every poll of every device.
        retry = min(self.refresh_interval, 30.0)
        return _Entry((), error, time.monotonic() + retry)

    async def _getaddrinfo(self, host: str, family: int) -> list[str]:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="resolver")
        loop = asyncio.get_running_loop()
        infos = await loop.run_in_executor(
            self._executor,
            lambda: socket.getaddrinfo(host, None, family, socket.SOCK_RAW),
        )
        return [str(info[4][0]) for info in infos]

    def close(self) -> None:
        """Stop the lookup threads."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
