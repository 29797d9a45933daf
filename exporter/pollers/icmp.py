"""Poll a device over ICMP: resolve its address, send its echoes, report what came back."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Protocol

from exporter.inventory.model import Device
from exporter.pollers.resolver import ResolveError, Resolver
from exporter.pollers.results import Failure, PingResult

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class EchoTransport(Protocol):
    """Sends echo requests and collects replies; the real one shares one socket per family."""

    async def ping(
        self, address: IPAddress, count: int, spacing: float, timeout: float
    ) -> PingResult:
        """Send `count` echoes and return the round trips of those answered in time."""
        ...

    def start(
        self,
        address: IPAddress,
        count: int,
        spacing: float,
        timeout: float,
        on_done: Callable[[PingResult], None],
    ) -> object:
        """Start the same without a task; `on_done` gets the result."""
        ...


class IcmpPoller:
    """The ICMP check of one device, with its own settings."""

    protocol = "icmp"

    def __init__(self, transport: EchoTransport, resolver: Resolver) -> None:
        self.transport = transport
        self.resolver = resolver

    def start(self, device: Device, on_done: Callable[[PingResult], None]) -> bool:
        """Start a poll without a task if the address needs no lookup; say whether it did."""
        address = self.resolver.literal(device.address)
        if address is None:
            return False
        settings = device.icmp
        self.transport.start(address, settings.count, settings.spacing, settings.timeout, on_done)
        return True

    async def poll(self, device: Device) -> PingResult:
        """Ping a device once with its settings; a failed lookup is a result, not an error."""
        try:
            address = await self.resolver.resolve(device.address, device.family)
        except ResolveError as exc:
            return PingResult.failed(Failure.RESOLVE_ERROR, str(exc))
        settings = device.icmp
        return await self.transport.ping(
            address, settings.count, settings.spacing, settings.timeout
        )
