"""The HTTP surface and the running exporter: scrape, health, readiness, reload."""

from __future__ import annotations

import asyncio
import gzip
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from exporter.exposition.web import make_app
from exporter.inventory.load import load
from exporter.runtime import Exporter, Source
from exporter.state.store import DeviceStatus, SiteStatus
from tests.conftest import device_yaml, samples_in, site_yaml
from tests.fakes import FakeSnmpClient, FakeTransport

# The messages are checked in English (the catalogue's keys); test_config_messages.py reads
# them in Bahasa Indonesia, as they are shown by default.
pytestmark = pytest.mark.usefixtures("english")

FAST = "icmp: {interval: 200ms, count: 2, spacing: 10ms, timeout: 50ms}\ndown_after: 2"


def write(targets: Path, devices: str, sites: str) -> None:
    (targets / "i.yaml").write_text(f"devices:\n{devices}sites:\n{sites}")


def make_exporter(tmp_path: Path, transport: FakeTransport) -> Exporter:
    targets = tmp_path / "targets"
    targets.mkdir(exist_ok=True)
    write(
        targets,
        device_yaml("rtr-up", "127.0.0.1", FAST) + device_yaml("rtr-dead", "127.0.0.2", FAST),
        site_yaml("tps-1", ["rtr-up"]) + site_yaml("tps-2", ["rtr-dead"]) + site_yaml("tps-3", []),
    )
    source = Source(None, (targets,))
    return Exporter(source, *load(None, source.targets), transport, FakeSnmpClient())


def test_scrape_health_ready_and_reload(tmp_path: Path) -> None:
    transport = FakeTransport(replies={"127.0.0.1": [0.002, 0.003]})
    exporter = make_exporter(tmp_path, transport)

    async def scenario() -> None:
        async with TestClient(TestServer(make_app(exporter))) as client:
            assert (await client.get("/-/ready")).status == 503  # not polling yet
            assert (await client.get("/-/healthy")).status == 200
            exporter.start()
            await asyncio.sleep(0.7)
            assert (await client.get("/-/ready")).status == 200
            response = await client.get("/metrics")
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            text = await response.text()
            status = samples_in(text, "tps_site_status")
            assert (
                status[(("device", ""), ("reason", "none"), ("site", "tps-1"), ("status", "up"))]
                == 1
            )
            down = (
                ("device", "rtr-dead"),
                ("reason", "device_down"),
                ("site", "tps-2"),
                ("status", "down"),
            )
            assert status[down] == 1
            assert samples_in(text, "tps_config_last_reload_successful") == {(): 1}

            # A broken inventory is refused; the old one keeps polling.
            targets = tmp_path / "targets"
            (targets / "broken.yaml").write_text(
                "devices:\n  - {id: rtr-x, kind: router}\n"
                "  - {id: rtr-up, kind: router, address: 127.0.0.9}\n"
            )
            response = await client.post("/-/reload")
            assert response.status == 500
            body = await response.text()
            assert "broken.yaml:2:5: devices[0].address: required key is missing" in body
            # Files load in name order, so i.yaml's rtr-up is the one flagged.
            assert (
                "i.yaml:2:5: devices[0].id: duplicate id 'rtr-up' "
                f"(first at {targets}/broken.yaml:3)" in body
            )
            calls = len(transport.calls)
            await asyncio.sleep(0.45)
            assert len(transport.calls) > calls  # still polling the old inventory
            text = await (await client.get("/metrics")).text()
            assert samples_in(text, "tps_config_last_reload_successful") == {(): 0}
            assert samples_in(text, "tps_config_reloads_total")[(("result", "failure"),)] == 1
            assert set(exporter.inventory.devices) == {"rtr-up", "rtr-dead"}

            # Fixed: the new inventory is polled, state of kept devices carries over.
            (targets / "broken.yaml").write_text(
                "devices:\n" + device_yaml("rtr-new", "127.0.0.3", FAST)
                + "sites:\n" + site_yaml("tps-9", ["rtr-new"])
            )  # fmt: skip
            since = exporter.store.sites["tps-1"].since
            response = await client.post("/-/reload")
            assert response.status == 200, await response.text()
            assert exporter.store.sites["tps-1"].since == since
            assert exporter.store.sites["tps-1"].status is SiteStatus.UP
            await asyncio.sleep(0.6)
            assert any(host == "127.0.0.3" for host, _ in transport.calls)
            assert exporter.store.devices["rtr-new"].status is DeviceStatus.DOWN
            text = await (await client.get("/metrics")).text()
            assert samples_in(text, "tps_config_last_reload_successful") == {(): 1}

            assert (await client.get("/-/reload")).status == 405
            assert (await client.get("/nope")).status == 404
            status = await (await client.get("/status.json")).json()  # the page's data
            assert status["total"] == 4 and status["counts"]["up"] >= 1
            await exporter.stop()

    asyncio.run(scenario())


def test_large_scrapes_are_gzipped_on_request(tmp_path: Path) -> None:
    exporter = make_exporter(tmp_path, FakeTransport())

    async def scenario() -> None:
        async with TestClient(TestServer(make_app(exporter))) as client:
            response = await client.get("/metrics", headers={"Accept-Encoding": "gzip"},
                                        auto_decompress=False)  # fmt: skip
            assert response.headers.get("Content-Encoding") == "gzip"
            text = gzip.decompress(await response.read()).decode()
            assert "tps_site_info{" in text
            plain = await client.get("/metrics", headers={"Accept-Encoding": "identity"})
            assert "Content-Encoding" not in plain.headers

    asyncio.run(scenario())


def test_probe_takes_only_inventory_ids_never_an_address(tmp_path: Path) -> None:
    transport = FakeTransport(replies={"127.0.0.1": [0.002, 0.003]}, real_timeouts=True)
    exporter = make_exporter(tmp_path, transport)

    async def scenario() -> None:
        async with TestClient(TestServer(make_app(exporter))) as client:
            response = await client.get("/probe", params={"device": "rtr-up"})
            text = await response.text()
            assert response.status == 200, text
            assert "device   rtr-up" in text and "2/2 replies" in text
            assert text.endswith("result   ok\n")
            dead = await (await client.get("/probe", params={"device": "rtr-dead"})).text()
            assert "failure  timeout" in dead and dead.endswith("result   failed\n")
            polled = len(transport.calls)
            for params, status in [
                ({"target": "192.0.2.7"}, 400),  # the blackbox_exporter way: refused
                ({"device": "rtr-up", "target": "192.0.2.7"}, 400),
                ({"device": "192.0.2.7"}, 404),  # an address is no inventory id
                ({"device": "127.0.0.1"}, 404),  # not even one the inventory polls
                ({}, 400),
            ]:
                response = await client.get("/probe", params=params)
                assert response.status == status, (params, await response.text())
            both = await client.get("/probe?device=rtr-up&device=rtr-dead")
            assert both.status == 400
            assert len(transport.calls) == polled  # none of those sent anything
            # People probe; a loop sweeping the inventory is turned away, not queued.
            many = [client.get("/probe", params={"device": "rtr-dead"}) for _ in range(12)]
            statuses = sorted([r.status for r in await asyncio.gather(*many)])
            assert statuses.count(200) == 4 and statuses.count(429) == 8, statuses

    asyncio.run(scenario())
