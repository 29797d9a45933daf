"""The whole exporter against real devices: a namespace host stops answering, then returns."""

from __future__ import annotations

import asyncio
from pathlib import Path

from exporter.inventory.load import load
from exporter.pollers.icmp_socket import IcmpTransport
from exporter.pollers.results import PingResult
from exporter.pollers.snmp_udp import EngineClient
from exporter.runtime import Exporter, Source
from exporter.state.store import DeviceStatus, SiteStatus
from lab.netns import lab_host
from tests.conftest import device_yaml, require_binary, require_root, site_yaml

FAST = "icmp: {interval: 300ms, count: 2, spacing: 20ms, timeout: 150ms}\ndown_after: 3"


async def _until(condition, seconds: float) -> bool:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.05)
    return bool(condition())


def test_device_goes_down_after_n_failed_cycles_and_comes_back(tmp_path: Path) -> None:
    require_root()
    require_binary("nft")
    with lab_host() as host:
        (tmp_path / "i.yaml").write_text(
            "devices:\n"
            + device_yaml("lo-rtr", "127.0.0.1", FAST)
            + device_yaml("site-rtr", host.address, FAST)
            + device_yaml("silent-rtr", host.silent, FAST)
            + "sites:\n"
            + site_yaml("tps-lo", ["lo-rtr"])
            + site_yaml("tps-ns", ["site-rtr"])
            + site_yaml("tps-silent", ["silent-rtr"])
        )
        source = Source(None, (tmp_path,))
        history: list[tuple[bool, DeviceStatus]] = []

        async def scenario() -> None:
            transport = IcmpTransport("raw")
            transport.open()
            exporter = Exporter(source, *load(None, source.targets), transport, EngineClient())
            store = exporter.store
            record = store.record_ping

            def recording(device_id: str, result: PingResult) -> None:
                record(device_id, result)
                if device_id == "site-rtr":
                    history.append((result.ok, store.devices[device_id].status))

            store.record_ping = recording  # type: ignore[method-assign]
            exporter.start()
            try:
                assert await _until(lambda: store.sites["tps-ns"].status is SiteStatus.UP, 3)
                assert await _until(lambda: store.sites["tps-silent"].status is SiteStatus.DOWN, 3)
                assert store.devices["silent-rtr"].reason == "timeout"
                assert store.sites["tps-silent"].reason == "device_down"

                host.answer_pings(False)
                assert await _until(lambda: store.sites["tps-ns"].status is SiteStatus.DOWN, 4)
                failed = [status for ok, status in history if not ok]
                # Damping: the first two missed polls leave it up; the third declares it down.
                assert failed[:3] == [DeviceStatus.UP, DeviceStatus.UP, DeviceStatus.DOWN]

                host.answer_pings(True)
                assert await _until(lambda: store.sites["tps-ns"].status is SiteStatus.UP, 3)
                assert history[-1] == (True, DeviceStatus.UP)
                # Loopback polling never stalled behind the silent devices.
                lag = exporter.stats.poll_lag["icmp"]
                # Every cycle was polled; how late each started is a wall-clock figure, for the
                # benchmark (and test_polling in virtual time), not for a test on a busy machine.
                assert lag.count >= 12
                assert store.sites["tps-lo"].status is SiteStatus.UP
            finally:
                await exporter.stop()
                transport.close()

        asyncio.run(scenario())
