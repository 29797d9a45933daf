"""The SnmpClient for SNMPv1/v2c on the project's own codec, and the client that picks an engine.

One UDP socket per address family carries every request; replies are matched by request-id and
by the agent's address, so a stray or forged datagram cannot answer someone else's request.
SNMPv3 goes to pysnmp, loaded only when an inventory uses it.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from exporter.inventory.model import SnmpVersion
from exporter.pollers.snmp_ber import (
    GET,
    GETBULK,
    GETNEXT,
    BerError,
    Response,
    decode_response,
    encode_oid,
    encode_request,
    oid_after,
    peek_request_id,
)
from exporter.pollers.snmp_client import (
    SnmpBadResponseError,
    SnmpClient,
    SnmpTarget,
    SnmpTimeoutError,
    SnmpType,
    VarBind,
    WalkBudget,
)
from exporter.pollers.sockets import enlarge

if TYPE_CHECKING:
    from exporter.pollers.snmp_pysnmp import PysnmpClient

_MAX_COLUMNS = 24  # columns in one GETBULK
_MAX_VARBINDS = 600  # values asked for in one GETBULK, about 20 KB of reply
_ROW_HINTS = 200_000  # devices whose table sizes are remembered
_NO_SUCH_NAME = 2  # SNMPv1's way of saying "missing" (GET) or "end of the MIB" (GETNEXT)
_ERROR_STATUS = ("noError", "tooBig", "noSuchName", "badValue", "readOnly", "genErr",
                 "noAccess", "wrongType", "wrongLength", "wrongEncoding", "wrongValue",
                 "noCreation", "inconsistentValue", "resourceUnavailable", "commitFailed",
                 "undoFailed", "authorizationError", "notWritable", "inconsistentName")  # fmt: skip


@dataclass(slots=True)
class _Pending:
    """A request waiting for its reply: who must answer, and the attempt's future."""

    peer: tuple[str, int]
    version: int
    community: bytes
    waiter: asyncio.Future[Response | None]


@dataclass(slots=True)
class _Column:
    """One column of a side-by-side walk: its prefix, where it got to, what it found."""

    oid: str
    prefix: bytes
    rows: list[VarBind] = field(default_factory=list)
    done: bool = False
    last: bytes = b""  # the last OID taken, as BER

    def __post_init__(self) -> None:
        self.last = self.prefix

    @property
    def current(self) -> str:
        """The OID to continue from."""
        return self.rows[-1].oid if self.rows else self.oid


def _take(batch: list[_Column], response: Response, budget: WalkBudget) -> None:
    """Share a GETBULK's values out to their columns (row by row), ending columns that end;
    charge them to the poll's budget, which stops a table that never ends."""
    width = len(batch)
    taken = 0
    varbinds = response.varbinds
    for i, raw in enumerate(response.oids):
        column = batch[i % width]
        if column.done:
            continue  # the rest of the repetitions, past this column's end
        vb = varbinds[i]
        # A prefix of whole arcs: its last byte ends an arc, so this is a subtree test.
        if not raw.startswith(column.prefix) or vb.type is SnmpType.END_OF_MIB_VIEW:
            column.done = True
            continue
        if not oid_after(raw, column.last):
            raise SnmpBadResponseError(f"OID not increasing after {column.current}")
        column.rows.append(vb)
        column.last = raw
        taken += 1
    budget.charge(taken, response.size, max(len(c.rows) for c in batch))


class _Receiver(asyncio.DatagramProtocol):
    """Hands every datagram of one socket to the client."""

    def __init__(self, client: CommunityClient) -> None:
        self.client = client

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.client.received(data, (str(addr[0]), int(addr[1])))

    def error_received(self, exc: Exception) -> None:
        # An unreachable agent is a timeout like any other silence; nothing to do here.
        pass


class CommunityClient:
    """GET and walk over SNMPv1/v2c, with a bound on requests in flight."""

    def __init__(self, max_concurrent: int = 64) -> None:
        self._limit = asyncio.Semaphore(max_concurrent)
        self._transports: dict[int, asyncio.DatagramTransport] = {}
        self._opening = asyncio.Lock()  # the first requests arrive together: open one socket
        self._pending: dict[int, _Pending] = {}
        self._next_id = random.randrange(1, 2**31 - 1)
        # (address, port, first column, columns) -> (rows last walk, values per reply)
        self._rows: dict[tuple[str, int, str, int], tuple[int, int]] = {}
        self._closed = False
        # Agents with a request in flight, by how many: a datagram from any other address is
        # dropped before it costs a decode (anyone on the network can send to this port).
        self._asked: Counter[tuple[str, int]] = Counter()
        self.unsolicited = 0  # datagrams from an address no request is waiting on
        self.sent = 0  # request datagrams, retries included
        self.stray = 0  # replies nobody waits for (late, duplicated, or from the wrong address)
        self.malformed = 0  # datagrams that do not decode as a response

    async def get(self, target: SnmpTarget, oids: Sequence[str]) -> list[VarBind]:
        """Return the values of scalar OIDs, missing ones typed as no-such."""
        wanted = list(oids)
        missing: dict[str, VarBind] = {}
        while wanted:
            response = await self._request(target, GET, wanted)
            if response.error_status == _NO_SUCH_NAME and target.auth.version is SnmpVersion.V1:
                # SNMPv1 refuses the whole GET for one missing OID: ask again without it.
                gone = wanted.pop(_error_position(response, len(wanted)))
                missing[gone] = VarBind(gone, SnmpType.NO_SUCH_OBJECT, None)
                continue
            _check_status(response)
            if len(response.varbinds) != len(wanted):
                raise SnmpBadResponseError(
                    f"{len(response.varbinds)} values for {len(wanted)} OIDs requested"
                )
            found = dict(zip(wanted, response.varbinds, strict=True))
            return [found.get(oid) or missing[oid] for oid in oids]
        return [missing[oid] for oid in oids]

    async def walk(self, target: SnmpTarget, oid: str) -> list[VarBind]:
        """Return every value under `oid`, with GETBULK (GETNEXT for SNMPv1)."""
        column = _Column(oid, encode_oid(oid))
        v1 = target.auth.version is SnmpVersion.V1
        while not column.done:
            response = await self._request(
                target, GETNEXT if v1 else GETBULK, [column.current], target.max_repetitions
            )
            if v1 and response.error_status == _NO_SUCH_NAME:
                break  # v1's end of the MIB
            _check_status(response)
            if not response.varbinds:
                break
            _take([column], response, target.budget)
        return column.rows

    async def walk_columns(
        self, target: SnmpTarget, oids: Sequence[str]
    ) -> dict[str, list[VarBind]]:
        """Return every value under each column; with v2c, one GETBULK asks for all of them."""
        if target.auth.version is SnmpVersion.V1 or len(oids) < 2:
            return {oid: await self.walk(target, oid) for oid in oids}
        columns = [_Column(oid, encode_oid(oid)) for oid in dict.fromkeys(oids)]
        hint_key = (target.address, target.port, columns[0].oid, len(columns))
        # Rows the table had last time, and the most values this agent puts in one reply.
        rows_before, agent_cap = self._rows.get(hint_key, (target.max_repetitions, _MAX_VARBINDS))
        open_ = columns
        while open_:
            batch = open_[:_MAX_COLUMNS]
            width = len(batch)
            # One row past the rows still expected shows each column's end: no overfetch.
            expected = rows_before - min(len(c.rows) for c in batch) + 1
            if expected < 1:  # the table grew since last time
                expected = target.max_repetitions
            repetitions = max(1, min(expected, target.max_repetitions, agent_cap // width))
            response = await self._request(target, GETBULK, [c.current for c in batch],
                                           repetitions)  # fmt: skip
            _check_status(response)
            got = len(response.varbinds)
            if got == 0:
                break
            if got < repetitions * width:
                agent_cap = max(got, width)  # it cut the reply short (net-snmp: 100 values)
            _take(batch, response, target.budget)
            open_ = [c for c in open_ if not c.done]
        self._remember_rows(hint_key, (max(len(c.rows) for c in columns), agent_cap))
        return {c.oid: c.rows for c in columns}

    def _remember_rows(self, key: tuple[str, int, str, int], hint: tuple[int, int]) -> None:
        if len(self._rows) >= _ROW_HINTS and key not in self._rows:
            self._rows.clear()  # bounded; a fleet of alike devices refills it at once
        self._rows[key] = hint

    def receive_buffer_bytes(self) -> int | None:
        """Return the IPv4 socket's receive buffer size, once a request has opened it."""
        transport = self._transports.get(socket.AF_INET)
        sock = transport.get_extra_info("socket") if transport else None
        return None if sock is None else int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))

    def close(self) -> None:
        """Close the sockets; requests still waiting end as timeouts."""
        self._closed = True
        for transport in self._transports.values():
            transport.close()
        self._transports.clear()
        for pending in self._pending.values():
            if not pending.waiter.done():
                pending.waiter.set_result(None)

    def received(self, data: bytes, peer: tuple[str, int]) -> None:
        """Match a datagram to its request; count what matches nothing."""
        if peer not in self._asked:
            self.unsolicited += 1
            return
        try:
            response = decode_response(data)
        except BerError as exc:
            self.malformed += 1
            pending = self._pending.get(peek_request_id(data) or 0)
            if pending is not None and pending.peer == peer and not pending.waiter.done():
                pending.waiter.set_exception(SnmpBadResponseError(f"malformed reply: {exc}"))
            return
        pending = self._pending.get(response.request_id)
        if (
            pending is None
            or pending.peer != peer
            or pending.waiter.done()
            or response.version != pending.version
            or response.community != pending.community
        ):
            self.stray += 1
            return
        pending.waiter.set_result(response)

    async def _request(
        self, target: SnmpTarget, pdu_type: int, oids: Sequence[str], max_repetitions: int = 0
    ) -> Response:
        auth = target.auth
        assert auth.community is not None, "SNMPv3 goes to pysnmp"
        version = 0 if auth.version is SnmpVersion.V1 else 1
        community = auth.community.reveal().encode()
        peer = (target.address, target.port)
        async with self._limit:
            transport = await self._transport(socket.AF_INET6 if ":" in peer[0] else socket.AF_INET)
            request_id = self._new_id()
            try:
                message = encode_request(version, community, pdu_type, request_id, oids,
                                         max_repetitions)  # fmt: skip
            except BerError as exc:
                raise SnmpBadResponseError(str(exc)) from None
            loop = asyncio.get_running_loop()
            self._asked[peer] += 1
            try:
                for _ in range(target.retries + 1):
                    waiter: asyncio.Future[Response | None] = loop.create_future()
                    # Same request-id on a retry: a late answer to the first try still counts.
                    self._pending[request_id] = _Pending(peer, version, community, waiter)
                    transport.sendto(message, peer)
                    self.sent += 1
                    timer = loop.call_later(target.timeout, _settle, waiter)
                    try:
                        response = await waiter
                    finally:
                        timer.cancel()
                    if response is not None:
                        return response
                    if self._closed:
                        break  # no retries into a closed socket
            finally:
                self._pending.pop(request_id, None)
                self._asked[peer] -= 1
                if not self._asked[peer]:
                    del self._asked[peer]
        raise SnmpTimeoutError(f"no answer from {peer[0]}:{peer[1]} in {target.timeout:g}s "
                               f"x{target.retries + 1}")  # fmt: skip

    def _new_id(self) -> int:
        while True:
            self._next_id = self._next_id % (2**31 - 2) + 1
            if self._next_id not in self._pending:
                return self._next_id

    async def _transport(self, family: int) -> asyncio.DatagramTransport:
        transport = self._transports.get(family)
        if transport is not None and not transport.is_closing():
            return transport
        async with self._opening:
            transport = self._transports.get(family)
            if transport is not None and not transport.is_closing():
                return transport
            sock = socket.socket(family, socket.SOCK_DGRAM)
            # Many agents answering at once overflow the default ~208 KB, and a lost reply
            # costs a whole timeout.
            with contextlib.suppress(OSError):
                enlarge(sock)
            sock.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", 0))
            sock.setblocking(False)
            loop = asyncio.get_running_loop()
            transport, _ = await loop.create_datagram_endpoint(lambda: _Receiver(self), sock=sock)
            self._transports[family] = transport
        return transport


def _settle(waiter: asyncio.Future[Response | None]) -> None:
    """End one attempt's wait without an answer."""
    if not waiter.done():
        waiter.set_result(None)


def _error_position(response: Response, count: int) -> int:
    """Return the 0-based position the agent blamed, or raise if it blamed none it was asked."""
    if not 1 <= response.error_index <= count:
        raise SnmpBadResponseError(f"noSuchName at index {response.error_index} of {count}")
    return response.error_index - 1


def _check_status(response: Response) -> None:
    """Raise the error a response carries, naming the OID it blamed."""
    status = response.error_status
    if status == 0:
        return
    name = _ERROR_STATUS[status] if 0 < status < len(_ERROR_STATUS) else f"errorStatus {status}"
    index = response.error_index
    where = f" at {response.varbinds[index - 1].oid}" if 0 < index <= len(response.varbinds) else ""
    raise SnmpBadResponseError(f"{name}{where}")


class EngineClient:
    """The client the exporter uses: v1/v2c on the own codec, SNMPv3 on pysnmp."""

    def __init__(self, max_concurrent: int = 64) -> None:
        self.community = CommunityClient(max_concurrent)
        self._max_concurrent = max_concurrent
        self._v3: PysnmpClient | None = None

    async def get(self, target: SnmpTarget, oids: Sequence[str]) -> list[VarBind]:
        """Return the values of scalar OIDs, missing ones typed as no-such."""
        return await self._engine(target).get(target, oids)

    async def walk(self, target: SnmpTarget, oid: str) -> list[VarBind]:
        """Return every value under a table column, in OID order."""
        return await self._engine(target).walk(target, oid)

    async def walk_columns(
        self, target: SnmpTarget, oids: Sequence[str]
    ) -> dict[str, list[VarBind]]:
        """Return every value under each column."""
        return await self._engine(target).walk_columns(target, oids)

    def receive_buffer_bytes(self) -> int | None:
        """Return the v1/v2c socket's receive buffer size, once a request has opened it."""
        return self.community.receive_buffer_bytes()

    def discarded(self) -> dict[str, int]:
        """Return how many v1/v2c datagrams were thrown away, by reason."""
        c = self.community
        return {"malformed": c.malformed, "unmatched": c.stray, "unsolicited": c.unsolicited}

    def close(self) -> None:
        """Close both engines."""
        self.community.close()
        if self._v3 is not None:
            self._v3.close()

    def _engine(self, target: SnmpTarget) -> SnmpClient:
        if target.auth.version is not SnmpVersion.V3:
            return self.community
        if self._v3 is None:
            # pysnmp costs ~40 MB and a second to import: only when some device uses SNMPv3.
            from exporter.pollers.snmp_pysnmp import PysnmpClient  # noqa: PLC0415

            self._v3 = PysnmpClient(self._max_concurrent)
        return self._v3
