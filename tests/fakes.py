"""Fakes for the network seams: an echo transport and a DNS lookup that tests script."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field

from exporter.pollers.results import Failure, PingResult

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass
class FakeTransport:
    """Answers pings from a script: per address, the RTTs to return or a failure."""

    # address -> round trips (None = that echo lost); missing address = no reply at all
    replies: dict[str, Sequence[float | None]] = field(default_factory=dict)
    failures: dict[str, Failure] = field(default_factory=dict)
    # Wait out the timeout when nothing answers, like the real transport does.
    real_timeouts: bool = False
    calls: list[tuple[str, float]] = field(default_factory=list)

    async def ping(
        self, address: IPAddress, count: int, spacing: float, timeout: float
    ) -> PingResult:
        """Return the scripted result for an address."""
        host = str(address)
        self.calls.append((host, asyncio.get_running_loop().time()))
        if host in self.failures:
            return PingResult.failed(self.failures[host], address=host)
        script = self.replies.get(host)
        if script is None:
            if self.real_timeouts:
                await asyncio.sleep((count - 1) * spacing + timeout)
            return PingResult(sent=count, rtts=(), failure=Failure.TIMEOUT, address=host)
        rtts = tuple(r for r in list(script)[:count] if r is not None)
        failure = None if rtts else Failure.TIMEOUT
        return PingResult(sent=count, rtts=rtts, failure=failure, address=host)


def ok(rtt: float = 0.05, count: int = 3) -> PingResult:
    """Return a poll where every echo came back in `rtt` seconds."""
    return PingResult(sent=count, rtts=(rtt,) * count, address="127.0.0.1")


def lost(count: int = 3, failure: Failure = Failure.TIMEOUT) -> PingResult:
    """Return a poll where no echo came back."""
    return PingResult(sent=count, rtts=(), failure=failure, address="127.0.0.1")


def partial(received: int, count: int = 3, rtt: float = 0.05) -> PingResult:
    """Return a poll where only some echoes came back."""
    return PingResult(sent=count, rtts=(rtt,) * received, address="127.0.0.1")
