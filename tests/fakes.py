"""Fakes for the network seams: an echo transport, an SNMP client, and pysnmp-made replies."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyasn1.codec.ber import encoder as ber_encoder
from pysnmp.proto import api, rfc1902, rfc1905

from exporter.inventory.model import Inventory
from exporter.pollers.results import Failure, PingResult
from exporter.pollers.snmp_client import (
    SnmpAuthError,
    SnmpTarget,
    SnmpTimeoutError,
    SnmpType,
    VarBind,
)
from exporter.state.store import Store

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

    def start(
        self,
        address: IPAddress,
        count: int,
        spacing: float,
        timeout: float,
        on_done: Callable[[PingResult], None],
    ) -> asyncio.Task[None]:
        """Run `ping` in a task and hand its result to `on_done`, as the real one does."""

        async def run() -> None:
            on_done(await self.ping(address, count, spacing, timeout))

        return asyncio.get_running_loop().create_task(run())

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


# snmprec type codes -> SMI types (see ../shared/snmprec/README.md).
SNMPREC_TYPES = {
    "2": SnmpType.INTEGER, "4": SnmpType.OCTETS, "4x": SnmpType.OCTETS, "6": SnmpType.OID,
    "64": SnmpType.IP_ADDRESS, "65": SnmpType.COUNTER32, "66": SnmpType.GAUGE32,
    "67": SnmpType.TIMETICKS, "70": SnmpType.COUNTER64,
}  # fmt: skip


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now

    def tick(self, seconds: float = 30.0) -> None:
        self.now += seconds


def polled_store(
    inventory: Inventory,
    down: Iterable[str],
    clock: Clock,
    lossy: Iterable[str] = (),
) -> Store:
    """A store where every device answered once; then `down` ones failed, one a minute, and
    `lossy` ones lost two of three echoes."""
    store = Store(inventory, clock)
    for device_id in inventory.devices:
        store.record_ping(device_id, ok())
    for device_id in sorted(down):
        clock.tick(60)
        for _ in range(3):
            store.record_ping(device_id, lost())
    for device_id in sorted(lossy):
        store.record_ping(device_id, partial(received=1))
    return store


def parse_snmprec(text: str) -> dict[str, VarBind]:
    """Return the variables of an snmpsim recording, by OID."""
    out: dict[str, VarBind] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        oid, kind, raw = line.split("|", 2)
        smi = SNMPREC_TYPES[kind]
        value: int | bytes | str
        if kind == "4x":
            value = bytes.fromhex(raw)
        elif smi is SnmpType.OCTETS:
            value = raw.encode()
        elif smi in (SnmpType.OID, SnmpType.IP_ADDRESS):
            value = raw
        else:
            value = int(raw)
        out[oid] = VarBind(oid, smi, value)
    return out


def _oid_key(oid: str) -> tuple[int, ...]:
    return tuple(int(p) for p in oid.split("."))


@dataclass
class FakeSnmpClient:
    """An agent per community, answering from a table of variables; records every request."""

    agents: dict[str, dict[str, VarBind]] = field(default_factory=dict)
    timeouts: set[str] = field(default_factory=set)  # communities/users that get no answer
    refused: set[str] = field(default_factory=set)  # that get an auth error
    calls: list[tuple[str, str]] = field(default_factory=list)

    def _agent(self, target: SnmpTarget) -> dict[str, VarBind]:
        key = target.auth.community.reveal() if target.auth.community else target.auth.username
        if key in self.timeouts:
            raise SnmpTimeoutError("No SNMP response received before timeout")
        if key in self.refused:
            raise SnmpAuthError("wrongDigest")
        return self.agents[key]

    async def get(self, target: SnmpTarget, oids: Sequence[str]) -> list[VarBind]:
        """Return each OID's value, or no-such-instance."""
        self.calls.append(("get", ",".join(oids)))
        agent = self._agent(target)
        missing = SnmpType.NO_SUCH_INSTANCE
        return [agent.get(o, VarBind(o, missing, None)) for o in oids]

    async def walk(self, target: SnmpTarget, oid: str) -> list[VarBind]:
        """Return every variable under `oid`, in OID order."""
        self.calls.append(("walk", oid))
        agent = self._agent(target)
        under = [vb for o, vb in agent.items() if o.startswith(oid + ".")]
        return sorted(under, key=lambda vb: _oid_key(vb.oid))

    async def walk_columns(
        self, target: SnmpTarget, oids: Sequence[str]
    ) -> dict[str, list[VarBind]]:
        """Return every variable under each column."""
        return {oid: await self.walk(target, oid) for oid in oids}

    def close(self) -> None:
        """Nothing to release."""


_PYSNMP_VALUES: dict[SnmpType, Any] = {
    SnmpType.INTEGER: rfc1902.Integer32,
    SnmpType.OCTETS: rfc1902.OctetString,
    SnmpType.OID: rfc1902.ObjectName,
    SnmpType.IP_ADDRESS: rfc1902.IpAddress,
    SnmpType.COUNTER32: rfc1902.Counter32,
    SnmpType.GAUGE32: rfc1902.Gauge32,
    SnmpType.TIMETICKS: rfc1902.TimeTicks,
    SnmpType.COUNTER64: rfc1902.Counter64,
    SnmpType.OPAQUE: rfc1902.Opaque,
}


def pysnmp_response(
    varbinds: list[VarBind],
    request_id: int = 4242,
    version: int = 1,
    status: int = 0,
    community: bytes = b"tps-lab",
) -> bytes:
    """Encode a Response-PDU with pysnmp, the reference this codec must agree with."""
    module = api.v1 if version == 0 else api.v2c
    pdu = module.GetResponsePDU()
    module.apiPDU.set_defaults(pdu)
    module.apiPDU.set_request_id(pdu, request_id)
    module.apiPDU.set_error_status(pdu, status)
    pairs = []
    for vb in varbinds:
        if vb.type is SnmpType.NO_SUCH_OBJECT:
            value: Any = rfc1905.noSuchObject
        elif vb.type is SnmpType.NO_SUCH_INSTANCE:
            value = rfc1905.noSuchInstance
        elif vb.type is SnmpType.END_OF_MIB_VIEW:
            value = rfc1905.endOfMibView
        else:
            value = _PYSNMP_VALUES[vb.type](vb.value)
        pairs.append((rfc1902.ObjectName(vb.oid), value))
    module.apiPDU.set_varbinds(pdu, pairs)
    message = module.Message()
    module.apiMessage.set_defaults(message)
    module.apiMessage.set_community(message, community)
    module.apiMessage.set_pdu(message, pdu)
    return bytes(ber_encoder.encode(message))
