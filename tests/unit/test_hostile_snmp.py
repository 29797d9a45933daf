"""The SNMP wire against a hostile agent and a hostile network: every case ends, bounded."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import replace

import pytest

from exporter.inventory.model import Secret, SnmpAuth, SnmpSettings, SnmpVersion
from exporter.inventory.profiles import load_profiles
from exporter.pollers.resolver import Resolver
from exporter.pollers.results import SnmpResult
from exporter.pollers.snmp import SnmpPoller
from exporter.pollers.snmp_ber import BerError, decode_response, oid_after, oid_text
from exporter.pollers.snmp_client import (
    SnmpBadResponseError,
    SnmpTarget,
    SnmpWalkTooLongError,
    VarBind,
    WalkBudget,
    WalkLimits,
)
from exporter.pollers.snmp_udp import CommunityClient
from tests.hostile_agent import Mode, Request, hostile_agent, response
from tests.unit.test_snmp import device

IF_DESCR, IF_OPER = "1.3.6.1.2.1.2.2.1.2", "1.3.6.1.2.1.2.2.1.8"
AUTH = SnmpAuth("lab", SnmpVersion.V2C, community=Secret("public"))


def target(port: int, limits: WalkLimits | None = None) -> SnmpTarget:
    budget = WalkBudget(limits or WalkLimits())
    return SnmpTarget("127.0.0.1", port, AUTH, timeout=2.0, retries=1, max_repetitions=25,
                      budget=budget)  # fmt: skip


def test_an_endless_table_stops_at_the_row_limit() -> None:
    async def walk() -> tuple[BaseException, int]:
        async with hostile_agent(Mode.ENDLESS, (IF_DESCR,)) as (agent, port):
            client = CommunityClient()
            try:
                with pytest.raises(SnmpWalkTooLongError) as caught:
                    await client.walk(target(port, WalkLimits(rows=300)), IF_DESCR)
            finally:
                client.close()
            return caught.value, agent.requests

    error, requests = asyncio.run(walk())
    assert "300 rows" in str(error)
    assert requests == 13  # 25 rows a request: the 13th passes 300, and nothing more is asked


def test_side_by_side_walks_stop_at_the_value_and_byte_limits() -> None:
    async def walk(limits: WalkLimits) -> str:
        async with hostile_agent(Mode.ENDLESS, (IF_DESCR, IF_OPER)) as (_, port):
            client = CommunityClient()
            try:
                with pytest.raises(SnmpWalkTooLongError) as caught:
                    await client.walk_columns(target(port, limits), [IF_DESCR, IF_OPER])
            finally:
                client.close()
            return str(caught.value)

    assert "1000 values" in asyncio.run(walk(WalkLimits(values=1000)))
    assert "65536 bytes" in asyncio.run(walk(WalkLimits(bytes=65536)))


def test_the_time_limit_counts_from_the_first_request() -> None:
    now = [100.0]
    budget = WalkBudget(WalkLimits(seconds=30), clock=lambda: now[0])
    budget.charge(25, 1000, 25)
    now[0] = 130.5
    with pytest.raises(SnmpWalkTooLongError, match="30 s"):
        budget.charge(25, 1000, 50)


def test_a_device_whose_table_never_ends_is_a_bad_response_and_keeps_no_rows() -> None:
    profiles = load_profiles([], []).profiles

    async def poll() -> SnmpResult:
        async with hostile_agent(Mode.ENDLESS, (IF_DESCR, IF_OPER, "1.3.6.1.2.1.31.1.1.1")) as (
            _,
            port,
        ):
            client = CommunityClient()
            poller = SnmpPoller(client, Resolver(60, 1), {"lab": AUTH}, profiles)
            settings = replace(SnmpSettings(), port=port, walk_max_rows=500)
            dev = device("lab", ("interfaces",))
            assert dev.snmp is not None
            dev = replace(dev, snmp=replace(dev.snmp, settings=settings))
            try:
                return await poller.poll(dev)
            finally:
                client.close()

    result = asyncio.run(poll())
    assert result.failure == "bad_response"
    assert not result.answered
    assert dict(result.errors)["walk_too_long"] == 1
    assert "500 rows" in result.detail
    assert not [s for s in result.samples if s.metric.startswith("tps_interface")]


@pytest.mark.parametrize(
    "raw",
    [
        b"\x2b\x06" + b"\xff" * 65_000 + b"\x7f",  # one arc of 455,000 bits
        b"\x2b" + b"\x90\x80\x80\x80\x00",  # an arc of 2**32: one bit too wide
        b"\x2b" + b"\x01" * 127,  # 129 sub-identifiers
        b"\x2b" + b"\x81\x01" * 127,  # 128 arcs of two bytes each, plus the first two
    ],
)
def test_oversized_oids_are_a_ber_error_and_nothing_else(raw: bytes) -> None:
    with pytest.raises(BerError):
        oid_text(raw)
    with pytest.raises(BerError):
        oid_after(raw, b"\x2b\x06\x81\x01")


def test_the_largest_lawful_oid_still_decodes() -> None:
    raw = b"\x2b" + b"\x8f\xff\xff\xff\x7f" * 126  # 128 sub-identifiers of 4294967295
    text = oid_text(raw)
    assert text.count(".") == 127 and text.endswith(".4294967295")


def test_a_reply_with_a_huge_arc_is_malformed_not_a_traceback() -> None:
    request = Request(1, b"public", 7, 0, [IF_DESCR])
    message = response(request, [b"\x2b\x06" + b"\xff" * 65_000 + b"\x7f"])
    with pytest.raises(BerError):
        decode_response(message)

    async def ask() -> tuple[int, BaseException]:
        async with hostile_agent(Mode.HUGE_ARC) as (_, port):
            client = CommunityClient()
            try:
                with pytest.raises(SnmpBadResponseError) as caught:
                    await client.get(target(port), ["1.3.6.1.2.1.1.3.0"])
            finally:
                client.close()
            return client.malformed, caught.value

    malformed, error = asyncio.run(ask())
    assert malformed == 1 and "malformed reply" in str(error)


def test_datagrams_from_addresses_never_asked_are_dropped_before_decoding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    decoded: list[int] = []
    real = decode_response

    def counting(data: bytes) -> object:
        decoded.append(len(data))
        return real(data)

    monkeypatch.setattr("exporter.pollers.snmp_udp.decode_response", counting)

    async def flood() -> tuple[int, int, list[VarBind]]:
        async with hostile_agent(Mode.ENDLESS) as (_, port):
            client = CommunityClient()
            values = await client.get(target(port), [f"{IF_DESCR}.1"])  # opens the socket
            local = client._transports[socket.AF_INET].get_extra_info("sockname")
            attacker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            huge = response(Request(1, b"public", 1, 0, []), [b"\x2b" + b"\xff" * 4000 + b"\x7f"])
            for _ in range(50):
                attacker.sendto(huge, local)
            attacker.close()
            # An answer still in flight to a real request gets through beside the flood.
            values += await client.get(target(port), [f"{IF_DESCR}.2"])
            client.close()
            return client.unsolicited, len(decoded), values

    unsolicited, decodes, values = asyncio.run(flood())
    assert unsolicited == 50
    assert decodes == 2  # the two real answers only
    assert [v.oid for v in values] == [f"{IF_DESCR}.1.1", f"{IF_DESCR}.2.1"]
