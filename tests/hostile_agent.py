"""A hostile SNMP agent on loopback for tests: tables without end, huge OIDs, garbage replies.

It answers on a real UDP socket, so what it tests is the exporter's own client and decoder as
they run, not a fake of them.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import cast

from exporter.pollers.snmp_ber import (
    _SEQUENCE,
    RESPONSE,
    _expect,
    _header,
    _int_at,
    _length,
    _tlv,
    _varbind_at,
    encode_oid,
    oid_text,
)


class Mode(enum.Enum):
    """What the agent sends back."""

    ENDLESS = "endless"  # every column has one more row, always
    HUGE_ARC = "huge_arc"  # one varbind whose name is a 64 KB arc
    GARBAGE = "garbage"  # bytes that are no SNMP message


@dataclass(frozen=True, slots=True)
class Request:
    """The fields of a request the agent needs to answer it."""

    version: int
    community: bytes
    request_id: int
    repetitions: int
    oids: list[str]


def parse_request(data: bytes) -> Request:
    """Read a GET/GETNEXT/GETBULK request with the exporter's own BER readers."""
    _, start, stop = _header(data, 0, len(data))
    version, pos = _int_at(data, start, stop, "version")
    c_start, pos = _expect(data, pos, stop, 0x04, "community")
    community = data[c_start:pos]
    _, pos, pdu_stop = _header(data, pos, stop)
    request_id, pos = _int_at(data, pos, pdu_stop, "request-id")
    _, pos = _int_at(data, pos, pdu_stop, "non-repeaters")
    repetitions, pos = _int_at(data, pos, pdu_stop, "max-repetitions")
    pos, list_stop = _expect(data, pos, pdu_stop, _SEQUENCE, "varbinds")
    oids = []
    while pos < list_stop:
        o_start, o_stop, _, _, pos = _varbind_at(data, pos, list_stop)
        oids.append(oid_text(data[o_start:o_stop]))
    return Request(version, community, request_id, repetitions, oids)


def response(request: Request, names: list[bytes], value: bytes = b"\x04\x04abcd") -> bytes:
    """Encode a Response-PDU whose varbinds have these names (BER contents), one value each."""
    varbinds = b"".join(_tlv(_SEQUENCE, _tlv(0x06, n) + value) for n in names)
    rid = request.request_id.to_bytes(4, "big", signed=True)
    pdu = _tlv(RESPONSE, _tlv(0x02, rid) + b"\x02\x01\x00\x02\x01\x00" + _tlv(_SEQUENCE, varbinds))
    body = _tlv(0x02, bytes((request.version,))) + _tlv(0x04, request.community) + pdu
    return b"\x30" + _length(len(body)) + body


class HostileAgent(asyncio.DatagramProtocol):
    """Answers every request as its mode says; `columns` are the tables that never end."""

    def __init__(self, mode: Mode, columns: tuple[str, ...] = ()) -> None:
        self.mode = mode
        self.columns = columns
        self.requests = 0
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.requests += 1
        request = parse_request(data)
        assert self.transport is not None
        self.transport.sendto(self.answer(request), addr)

    def answer(self, request: Request) -> bytes:
        """The reply this agent's mode gives to one request."""
        if self.mode is Mode.GARBAGE:
            return b"\x30\x82\xff\xff" + b"\xa2" * 100
        if self.mode is Mode.HUGE_ARC:
            arc = b"\xff" * 65_000 + b"\x7f"
            return response(request, [b"\x2b\x06" + arc])
        return response(request, self._next_rows(request))

    def _next_rows(self, request: Request) -> list[bytes]:
        rows = []
        for step in range(max(1, request.repetitions)):
            for asked in request.oids:
                column = next((c for c in self.columns if f"{asked}.".startswith(f"{c}.")), None)
                if column is None:
                    rows.append(encode_oid(f"{asked}.1"))
                    continue
                last = int(asked[len(column) + 1 :].split(".")[0] or 0) if asked != column else 0
                rows.append(encode_oid(f"{column}.{last + 1 + step}"))
        return rows


@asynccontextmanager
async def hostile_agent(
    mode: Mode, columns: tuple[str, ...] = ()
) -> AsyncIterator[tuple[HostileAgent, int]]:
    """Run a hostile agent on a free loopback port; yield it and its port."""
    loop = asyncio.get_running_loop()
    agent = HostileAgent(mode, columns)
    transport, _ = await loop.create_datagram_endpoint(lambda: agent, local_addr=("127.0.0.1", 0))
    try:
        yield agent, int(transport.get_extra_info("sockname")[1])
    finally:
        transport.close()
