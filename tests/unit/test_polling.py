"""Scheduling, resolving and polling against a fake transport: continuous, spread, bounded.

Schedules run in virtual time (tests/virtual_time.py): a loaded machine cannot make a slot late.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import statistics
from pathlib import Path

import pytest

from exporter.inventory.load import load
from exporter.inventory.model import AddressFamily, Device
from exporter.metrics.histogram import Histogram
from exporter.pollers.icmp import IcmpPoller
from exporter.pollers.resolver import ResolveError, Resolver
from exporter.pollers.results import Failure
from exporter.pollers.scheduler import Scheduler, phase
from tests.conftest import device_yaml
from tests.fakes import FakeTransport
from tests.virtual_time import run_virtual

FAST = "icmp: {interval: 300ms, count: 1, spacing: 10ms, timeout: 200ms}"


def devices(tmp_path: Path, *specs: tuple[str, str]) -> list[Device]:
    text = "".join(device_yaml(i, address, FAST) for i, address in specs)
    (tmp_path / "d.yaml").write_text("devices:\n" + text)
    return list(load(None, [tmp_path])[1].devices.values())


def test_phases_spread_devices_over_the_interval() -> None:
    offsets = [phase(f"rtr-21.71.01.{n:04d}", 30.0) for n in range(3000)]
    assert all(0 <= o < 30 for o in offsets)
    per_second = [0] * 30
    for o in offsets:
        per_second[int(o)] += 1
    # 100 expected per second; a burst at any moment would show as a crowded second.
    assert max(per_second) < 150 and min(per_second) > 50
    assert phase("bts-1", 30.0) == phase("bts-1", 30.0)  # stable across restarts


async def _run_for(scheduler: Scheduler, seconds: float) -> None:
    task = asyncio.create_task(scheduler.run())
    await asyncio.sleep(seconds)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def test_each_device_is_polled_on_its_interval(tmp_path: Path) -> None:
    polled: dict[str, list[float]] = {}

    async def poll(device: Device) -> None:
        polled.setdefault(device.id, []).append(asyncio.get_running_loop().time())

    async def scenario() -> None:
        scheduler = Scheduler(poll, lambda d: d.icmp.interval, Histogram((0.01, 0.1)))
        scheduler.set_devices(devices(tmp_path, ("a", "127.0.0.1"), ("b", "127.0.0.2")))
        await _run_for(scheduler, 1.55)

    run_virtual(scenario())
    for times in polled.values():
        assert len(times) in (5, 6)
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert statistics.fmean(gaps) == pytest.approx(0.3, abs=0.03)


def test_a_device_that_never_answers_delays_no_other(tmp_path: Path) -> None:
    transport = FakeTransport(replies={"127.0.0.2": [0.001]}, real_timeouts=True)
    poller = IcmpPoller(transport, Resolver(60, 1))
    lag = Histogram((0.005, 0.05))
    skipped: list[int] = []

    async def poll(device: Device) -> None:
        await poller.poll(device)

    async def scenario() -> None:
        scheduler = Scheduler(poll, lambda d: d.icmp.interval, lag, lambda: skipped.append(1))
        # The dead device's poll takes its full 200 ms timeout; the live one must not wait.
        scheduler.set_devices(devices(tmp_path, ("dead", "127.0.0.1"), ("live", "127.0.0.2")))
        await _run_for(scheduler, 1.25)

    run_virtual(scenario())
    live = [t for host, t in transport.calls if host == "127.0.0.2"]
    dead = [t for host, t in transport.calls if host == "127.0.0.1"]
    assert len(live) >= 4 and len(dead) >= 4
    assert lag.counts[0] == lag.count  # every poll started within 5 ms of its slot (virtual)
    assert skipped == []


def test_set_devices_adds_and_removes_while_running(tmp_path: Path) -> None:
    polled: list[str] = []

    async def poll(device: Device) -> None:
        polled.append(device.id)

    async def scenario() -> None:
        scheduler = Scheduler(poll, lambda d: d.icmp.interval, Histogram((1.0,)))
        (tmp_path / "1").mkdir()
        (tmp_path / "2").mkdir()
        first = devices(tmp_path / "1", ("old", "127.0.0.1"))
        second = devices(tmp_path / "2", ("new", "127.0.0.2"))
        scheduler.set_devices(first)
        task = asyncio.create_task(scheduler.run())
        await asyncio.sleep(0.65)
        scheduler.set_devices(second)
        cut = len(polled)
        await asyncio.sleep(0.65)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert set(polled[:cut]) == {"old"}
        assert set(polled[cut:]) == {"new"}
        assert polled[cut:].count("new") >= 2

    run_virtual(scenario())


def test_polls_started_without_a_task_are_skipped_while_running_and_fall_back(
    tmp_path: Path,
) -> None:
    began: list[str] = []
    tasked: list[str] = []
    skipped: list[int] = []
    in_flight: list[object] = []

    async def poll(device: Device) -> None:
        tasked.append(device.id)

    def begin(device: Device, finished: object) -> bool:
        if device.address != "127.0.0.1":
            return False  # like a hostname that needs a lookup: the scheduler makes a task
        began.append(device.id)
        if len(began) == 1:
            in_flight.append(finished)  # the first poll of "slow" hangs: the next is skipped
        else:
            finished()  # type: ignore[operator]
        return True

    async def scenario() -> None:
        scheduler = Scheduler(poll, lambda d: d.icmp.interval, Histogram((1.0,)),
                              lambda: skipped.append(1), begin=begin)  # fmt: skip
        scheduler.set_devices(devices(tmp_path, ("slow", "127.0.0.1"), ("named", "127.0.0.2")))
        await _run_for(scheduler, 0.65)  # two or three slots: later ones find it still running
        assert began == ["slow"] and len(skipped) >= 1
        in_flight.pop()()  # type: ignore[operator]
        await _run_for(scheduler, 0.65)
        assert began.count("slow") >= 2

    run_virtual(scenario())
    assert set(tasked) == {"named"} and len(tasked) >= 3


def test_resolver_caches_refreshes_and_reports_failures() -> None:
    calls: list[str] = []
    answers: dict[str, list[str] | Exception] = {"rtr.example": ["127.0.0.7"]}

    async def lookup(host: str, family: int) -> list[str]:
        calls.append(host)
        answer = answers[host]
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def scenario() -> None:
        resolver = Resolver(refresh_interval=0.2, timeout=1, lookup=lookup)
        assert str(await resolver.resolve("127.0.0.5", AddressFamily.AUTO)) == "127.0.0.5"
        assert calls == []  # literals are not looked up
        for _ in range(3):
            assert str(await resolver.resolve("rtr.example", AddressFamily.AUTO)) == "127.0.0.7"
        assert calls == ["rtr.example"]  # cached
        answers["rtr.example"] = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        await asyncio.sleep(0.25)
        with pytest.raises(ResolveError, match=r"lookup of rtr\.example failed"):
            await resolver.resolve("rtr.example", AddressFamily.AUTO)
        assert calls == ["rtr.example", "rtr.example"]  # looked up again after expiry

    asyncio.run(scenario())  # the cache runs on the monotonic clock; 0.25 s is at least 0.25 s


def test_a_hanging_lookup_has_a_deadline_and_fails_only_its_device(tmp_path: Path) -> None:
    async def lookup(host: str, family: int) -> list[str]:
        await asyncio.sleep(10)
        return []

    async def scenario() -> None:
        transport = FakeTransport(replies={"127.0.0.2": [0.001]})
        poller = IcmpPoller(transport, Resolver(60, timeout=0.2, lookup=lookup))
        (tmp_path / "d.yaml").write_text(
            "devices:\n" + device_yaml("hung", "dns-hangs.example") + device_yaml("ok", "127.0.0.2")
        )
        inventory = load(None, [tmp_path])[1]
        loop = asyncio.get_running_loop()
        started = loop.time()
        hung, fine = await asyncio.gather(
            poller.poll(inventory.devices["hung"]), poller.poll(inventory.devices["ok"])
        )
        assert hung.failure is Failure.RESOLVE_ERROR and "timed out" in hung.detail
        assert fine.ok
        assert loop.time() - started < 0.5

    run_virtual(scenario())
