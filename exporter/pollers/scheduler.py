"""Start each device's polls on its own interval, spread evenly over the interval."""

from __future__ import annotations

import asyncio
import heapq
import logging
import math
import zlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from exporter.inventory.model import Device
from exporter.metrics.histogram import Histogram

log = logging.getLogger(__name__)

Poll = Callable[[Device], Awaitable[None]]


# Starts a poll without a task, calling the given function when it ends; False if it cannot.
Begin = Callable[[Device, Callable[[], None]], bool]


@dataclass(slots=True)
class _Job:
    device: Device
    interval: float
    token: int
    task: asyncio.Task[None] | None = None
    running: bool = False  # a poll started without a task is in flight
    next_due: float = 0.0  # the next regular poll
    extra_due: float | None = None  # an extra poll asked for by expedite()

    def finished(self) -> None:
        """Mark the task-less poll in flight as ended."""
        self.running = False

    def busy(self) -> bool:
        """Whether the last poll is still running."""
        return self.running or (self.task is not None and not self.task.done())


def phase(device_id: str, interval: float) -> float:
    """Return a device's fixed offset within its interval, so polls do not fire all at once."""
    return zlib.crc32(device_id.encode()) / 2**32 * interval


class Scheduler:
    """A heap of due times; a device's next poll never starts while its last one runs."""

    def __init__(
        self,
        poll: Poll,
        interval_of: Callable[[Device], float],
        lag: Histogram,
        on_skip: Callable[[], None] = lambda: None,
        begin: Begin | None = None,
    ) -> None:
        self._poll = poll
        self._begin = begin
        self._interval_of = interval_of
        self._lag = lag
        self._on_skip = on_skip
        self._jobs: dict[str, _Job] = {}
        # (due, token, device, extra): an extra poll is a one-off; a regular one schedules the next.
        self._heap: list[tuple[float, int, str, bool]] = []
        self._tokens = 0
        self._wakeup: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._start: float | None = None

    def set_devices(self, devices: Iterable[Device]) -> None:
        """Poll exactly these devices from now on, keeping the schedule of unchanged ones."""
        loop = asyncio.get_running_loop()
        self._loop = loop
        if self._start is None:
            self._start = loop.time()
        now = loop.time()
        wanted = {d.id: d for d in devices}
        for device_id in self._jobs.keys() - wanted.keys():
            removed = self._jobs.pop(device_id)
            if removed.task is not None:
                removed.task.cancel()
        for device in wanted.values():
            interval = self._interval_of(device)
            current = self._jobs.get(device.id)
            if current is not None and current.interval == interval:
                current.device = device
                continue
            self._tokens += 1
            if current is not None and current.task is not None:
                current.task.cancel()
            job = _Job(device, interval, self._tokens)
            job.next_due = self._first_due(device.id, interval, now)
            self._jobs[device.id] = job
            heapq.heappush(self._heap, (job.next_due, job.token, device.id, False))
        self._wake()

    def interval(self, device_id: str) -> float | None:
        """Return the interval a device is polled on now (None if it is not polled)."""
        job = self._jobs.get(device_id)
        return None if job is None else job.interval

    def expedite(self, device_id: str, delay: float) -> bool:
        """Poll a device once `delay` seconds from now, unless a poll comes by then anyway;
        return whether an extra poll was scheduled."""
        job = self._jobs.get(device_id)
        if job is None or self._loop is None:
            return False
        due = self._loop.time() + delay
        if job.next_due <= due or (job.extra_due is not None and job.extra_due <= due):
            return False
        job.extra_due = due
        heapq.heappush(self._heap, (due, job.token, device_id, True))
        self._wake()
        return True

    def overdue(self) -> float:
        """Return how long the most overdue poll has waited past its due time."""
        if not self._heap or self._loop is None:
            return 0.0
        return max(0.0, self._loop.time() - self._heap[0][0])

    async def run(self) -> None:
        """Start polls as they fall due, until cancelled."""
        loop = asyncio.get_running_loop()
        try:
            while True:
                now = loop.time()
                while self._heap and self._heap[0][0] <= now:
                    self._start_due(*heapq.heappop(self._heap), now)
                delay = self._heap[0][0] - now if self._heap else None
                await self._sleep(loop, delay)
        finally:
            for job in self._jobs.values():
                if job.task is not None:
                    job.task.cancel()
            tasks = [j.task for j in self._jobs.values() if j.task is not None]
            await asyncio.gather(*tasks, return_exceptions=True)

    def _first_due(self, device_id: str, interval: float, now: float) -> float:
        assert self._start is not None
        due = self._start + phase(device_id, interval)
        if due < now:  # added after start: take the next slot of its phase
            due += math.ceil((now - due) / interval) * interval
        return due

    def _start_due(self, due: float, token: int, device_id: str, extra: bool, now: float) -> None:
        job = self._jobs.get(device_id)
        if job is None or job.token != token:
            return  # the device was removed or rescheduled
        if extra:
            if job.extra_due == due:
                job.extra_due = None
                if not job.busy():  # a poll in flight answers the question already
                    self._launch(job)
            return
        self._lag.observe(now - due)
        if job.busy():
            self._on_skip()
        else:
            self._launch(job)
        next_due = due + job.interval
        if next_due <= now:  # far behind: skip the missed slots rather than burst
            next_due += math.ceil((now - next_due) / job.interval) * job.interval
        job.next_due = next_due
        heapq.heappush(self._heap, (next_due, token, device_id, False))

    def _launch(self, job: _Job) -> None:
        if not self._began(job):
            job.task = asyncio.get_running_loop().create_task(self._guarded(job.device))

    def _began(self, job: _Job) -> bool:
        """Start the poll without a task where the poller can: at 100,000 devices a task per
        poll was a tenth of the CPU."""
        if self._begin is None:
            return False
        job.running = True
        try:
            began = self._begin(job.device, job.finished)
        except Exception:
            log.exception("poll of device %s failed", job.device.id)
            began = False
        if not began:
            job.running = False
        return began

    async def _guarded(self, device: Device) -> None:
        try:
            await self._poll(device)
        except asyncio.CancelledError:
            raise
        except Exception:
            # One device's bug must not stop the others being polled.
            log.exception("poll of device %s failed", device.id)

    async def _sleep(self, loop: asyncio.AbstractEventLoop, delay: float | None) -> None:
        self._wakeup = loop.create_future()
        timer = loop.call_later(delay, _resolve, self._wakeup) if delay is not None else None
        try:
            await self._wakeup
        finally:
            if timer is not None:
                timer.cancel()
            self._wakeup = None

    def _wake(self) -> None:
        if self._wakeup is not None:
            _resolve(self._wakeup)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
