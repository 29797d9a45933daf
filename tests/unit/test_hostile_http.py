"""The HTTP surface against hostile clients: idle sockets, slow headers, early hang-ups."""

from __future__ import annotations

import asyncio
import logging
import socket
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from exporter.exposition import connections
from exporter.exposition.connections import CappedSite, connection_cap
from exporter.exposition.web import make_app
from exporter.runtime import Exporter, Source
from tests.conftest import REPO
from tests.fakes import FakeSnmpClient, FakeTransport
from tests.unit.test_web import make_exporter


async def _serve(
    exporter: Exporter, cap: int, keepalive: float = 30.0
) -> tuple[web.AppRunner, CappedSite]:
    runner = web.AppRunner(make_app(exporter), access_log=None, keepalive_timeout=keepalive)
    await runner.setup()
    site = CappedSite(runner, "127.0.0.1", 0, cap=cap)
    await site.start()
    return runner, site


def test_the_cap_leaves_room_for_the_exporters_own_files() -> None:
    assert connection_cap(1024) == 768
    assert connection_cap(300) == 44
    assert connection_cap(100) == 16  # never fewer than a few
    assert connection_cap(1 << 20) == connections.MAX_CONNECTIONS


def test_idle_sockets_at_the_cap_do_not_keep_a_scrape_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    exporter = make_exporter(tmp_path, FakeTransport())

    async def scenario() -> tuple[int, int, int]:
        runner, site = await _serve(exporter, cap=10)
        idle = []
        try:
            for _ in range(40):  # four times the cap, each holding its socket and sending nothing
                sock = socket.create_connection(("127.0.0.1", site.port))
                sock.setblocking(False)
                idle.append(sock)
                await asyncio.sleep(0)  # let the server accept it
            async with aiohttp.ClientSession() as session:
                for _ in range(3):
                    async with session.get(f"http://127.0.0.1:{site.port}/metrics") as response:
                        assert response.status == 200
                        assert b"tps_site_status" in await response.read()
            assert site.factory is not None
            open_now = len(runner.server.connections) if runner.server else 0
            return open_now, site.factory.closed_idle, site.factory.refused
        finally:
            for sock in idle:
                sock.close()
            await runner.cleanup()

    with caplog.at_level(logging.WARNING, "exporter.exposition.connections"):
        open_now, closed_idle, refused = asyncio.run(scenario())
    assert open_now <= 10
    assert closed_idle >= 30 and refused == 0
    # One line however many were closed: a flood cannot fill the disk with logs.
    assert [r.getMessage() for r in caplog.records].count(
        "connection cap reached: closing idle connections to admit new ones"
    ) == 1


def test_a_connection_that_never_finishes_its_headers_is_closed(tmp_path: Path) -> None:
    exporter = make_exporter(tmp_path, FakeTransport())

    async def scenario() -> bytes:
        runner, site = await _serve(exporter, cap=10, keepalive=0.2)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", site.port)
            writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # and nothing more
            await writer.drain()
            rest = await asyncio.wait_for(reader.read(), 60)  # EOF once the server closes it
            writer.close()
            return rest
        finally:
            await runner.cleanup()

    assert asyncio.run(scenario()) == b""


def test_a_scraper_hanging_up_mid_answer_is_not_an_error(caplog: pytest.LogCaptureFixture) -> None:
    source = Source(None, (REPO / "targets",))  # a scrape of several MB: the hang-up comes mid-way
    exporter = Exporter(source, *source.load(), FakeTransport(), FakeSnmpClient())

    async def scenario() -> None:
        runner, site = await _serve(exporter, cap=10)
        try:
            for _ in range(5):
                reader, writer = await asyncio.open_connection("127.0.0.1", site.port)
                writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
                await writer.drain()
                await reader.read(10)
                sock = writer.get_extra_info("socket")
                sock.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                )
                writer.close()  # a reset, as a scraper's timeout does
            await asyncio.sleep(0.1)
        finally:
            await runner.cleanup()

    with caplog.at_level(logging.DEBUG):
        asyncio.run(scenario())
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
