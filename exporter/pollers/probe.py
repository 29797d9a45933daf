"""Poll one inventory device now and describe what came back, for the CLI and /probe."""

from __future__ import annotations

from dataclasses import dataclass

from exporter.inventory.model import Check, Device
from exporter.pollers.icmp import IcmpPoller
from exporter.pollers.results import PingResult, SnmpResult
from exporter.pollers.snmp import SnmpPoller


@dataclass(frozen=True, slots=True)
class ProbeReport:
    """One device's ICMP and SNMP answers to a poll made on request."""

    device: Device
    ping: PingResult
    snmp: SnmpResult | None

    @property
    def ok(self) -> bool:
        """Whether every check the device has answered."""
        icmp_ok = Check.ICMP not in self.device.checks or self.ping.ok
        return icmp_ok and (self.snmp is None or self.snmp.answered)

    def text(self) -> str:
        """Return the report as lines a technician reads; no secret is in them."""
        result, lines = self.ping, [describe(self.device)]
        lines.append(f"icmp     {result.address or '-'}: {result.received}/{result.sent} replies, "
                     f"loss {result.loss_ratio:.0%}")  # fmt: skip
        if result.rtts:
            rtts = " ".join(f"{r * 1000:.3f}" for r in result.rtts)
            lines.append(
                f"rtt      {rtts} ms (min {result.rtt_min:.6f}s avg {result.rtt_avg:.6f}s "
                f"max {result.rtt_max:.6f}s jitter {result.jitter or 0:.6f}s)"
            )
        if result.failure is not None:
            lines.append(f"failure  {result.failure.value} {result.detail}".rstrip())
        if self.snmp is not None:
            lines += _snmp_lines(self.device, self.snmp)
        lines.append(f"result   {'ok' if self.ok else 'failed'}")
        return "\n".join(lines) + "\n"


async def probe(device: Device, icmp: IcmpPoller, snmp: SnmpPoller) -> ProbeReport:
    """Poll a device's ICMP, then its SNMP if it has any, and report both."""
    ping = await icmp.poll(device)
    answered = await snmp.poll(device) if device.snmp is not None else None
    return ProbeReport(device, ping, answered)


def describe(device: Device) -> str:
    """Return who a device is and how it is polled."""
    s = device.icmp
    return (
        f"device   {device.id} ({device.kind.value}, {device.operator or 'no operator'}) "
        f"defined at {device.origin}\n"
        f"address  {device.address} (family {device.family.value})\n"
        f"settings {s.count} echoes {s.spacing:g}s apart, timeout {s.timeout:g}s, "
        f"every {s.interval:g}s; adequate: loss <= {s.max_loss_ratio:g}, rtt <= {s.max_rtt:g}s"
    )


def _snmp_lines(device: Device, snmp: SnmpResult) -> list[str]:
    assert device.snmp is not None
    lines = [f"snmp     auth {device.snmp.auth}, profiles {', '.join(device.snmp.profiles)}: "
             f"{'answered' if snmp.answered else 'no answer'} in {snmp.duration:.3f}s"]  # fmt: skip
    lines += [f"  error  {reason} x{count} {snmp.detail}".rstrip() for reason, count in snmp.errors]
    lines += [f"  {s.metric}{{{s.labels}}} {s.value:g}" for s in snmp.samples]
    return lines
