"""Run the exporter: load the inventory, poll devices continuously, reload on request."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ctypes
import datetime as dt
import gc
import logging
import multiprocessing
import time
from collections.abc import Awaitable, Callable
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from exporter import i18n
from exporter.inventory.load import load
from exporter.inventory.model import Check, Config, Device, Inventory
from exporter.inventory.nodes import ConfigLoadError
from exporter.pollers.icmp import EchoTransport, IcmpPoller
from exporter.pollers.resolver import Resolver
from exporter.pollers.results import PingResult
from exporter.pollers.scheduler import Scheduler
from exporter.pollers.snmp import SnmpPoller
from exporter.pollers.snmp_client import SnmpClient
from exporter.state.phase import Phase, phase_at
from exporter.state.stats import RuntimeStats
from exporter.state.store import Store

log = logging.getLogger(__name__)
T = TypeVar("T")
URGENT_PHASES = frozenset({Phase.VOTING, Phase.COUNTING})
# A refused reload logs one line with this many of its errors (the metric says it failed).
_LOGGED_ERRORS = 5


@dataclass(frozen=True, slots=True)
class Source:
    """Where the configuration and inventory are read from, as given on the command line."""

    config_file: Path | None
    targets: tuple[Path, ...] = ()
    shard: tuple[int, int] = (1, 1)  # this process's shard and the number of shards

    def load(self) -> tuple[Config, Inventory]:
        """Load the configuration and this shard's part of the inventory."""
        config, inventory = load(self.config_file, self.targets)
        return config, inventory.shard(*self.shard)

    def load_isolated(self) -> tuple[Config, Inventory]:
        """Load in a child process and keep only the result.

        Parsing YAML makes millions of small objects; the few that survive pin the allocator's
        arenas, so a large inventory loaded in-process leaves RSS many times what is live
        (418 MB for 27 MB of objects at 10,000 sites). A child's memory goes when it exits.
        """
        context = multiprocessing.get_context("spawn")  # no fork of a process with threads
        with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
            # A spawned child starts afresh: its errors must be in the language of this run.
            return pool.submit(_load_in, self, i18n.current()).result()


def _load_in(source: Source, language: str) -> tuple[Config, Inventory]:
    """Load `source` with messages in `language` (the child process's entry point)."""
    i18n.set_language(language)
    return source.load()


def release_memory() -> None:
    """Settle memory after a load: return what was freed, and stop rescanning what stays."""
    # What the last load froze and has since dropped in cycles is only collectable unfrozen.
    gc.unfreeze()
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        # glibc keeps freed heap for reuse; malloc_trim returns it, so RSS reflects what is live.
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    # The inventory and the states live until the next reload: moved out of the collector's
    # generations, a full collection no longer walks them (at 100,000 devices it took seconds,
    # all of it time the event loop, and every poll, waited). Objects frozen and later dropped
    # are still freed by reference counting.
    gc.freeze()
    # Full collections found nothing to collect yet grew to 300 ms at 100,000 devices (measured
    # with gc.callbacks): keep young collections cheap and frequent, full ones rare.
    gc.set_threshold(10_000, 50, 1_000)


class Exporter:
    """Owns the current inventory, its store, and the pollers that fill it."""

    def __init__(
        self,
        source: Source,
        config: Config,
        inventory: Inventory,
        transport: EchoTransport,
        snmp_client: SnmpClient,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.source = source
        self.clock = clock
        # The time zones now voting or counting: their devices are polled on voting_interval.
        self.urgent_zones: frozenset[str] = frozenset()
        self.transport = transport
        self.stats = RuntimeStats()
        self.config = config
        self.store = Store(inventory, clock)
        release_memory()
        self.stats.reloaded(True)
        self.resolver = Resolver(
            self.config.resolver.refresh_interval, self.config.resolver.timeout
        )
        self.icmp = IcmpPoller(transport, self.resolver)
        self.scheduler = Scheduler(
            self._poll_icmp,
            self._icmp_interval,
            self.stats.poll_lag["icmp"],
            on_skip=lambda: self.stats.polls_skipped.update(["icmp"]),
            begin=self._begin_icmp,
        )
        self.stats.overdue["icmp"] = self.scheduler.overdue
        self.snmp = SnmpPoller(snmp_client, self.resolver, config.snmp_auths, config.profiles)
        self.snmp_scheduler = Scheduler(
            self._poll_snmp,
            lambda device: device.snmp.settings.interval if device.snmp else 60.0,
            self.stats.poll_lag["snmp"],
            on_skip=lambda: self.stats.polls_skipped.update(["snmp"]),
        )
        self.stats.overdue["snmp"] = self.snmp_scheduler.overdue
        discarded = getattr(snmp_client, "discarded", None)
        if discarded is not None:
            self.stats.snmp_discarded = discarded
        self._tasks: list[asyncio.Task[None]] = []
        self._reload_lock = asyncio.Lock()
        self._next_reload: asyncio.Task[list[str]] | None = None
        self._force_next = False
        self._candidate: tuple[Config, Inventory] | None = None
        self.ready = False

    @property
    def inventory(self) -> Inventory:
        """Return the inventory being polled now."""
        return self.store.inventory

    def start(self) -> None:
        """Start polling every device of the inventory."""
        self.urgent_zones = self._zones_in_urgent_phase()
        self._schedule(self.inventory)
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self.scheduler.run()),
                       loop.create_task(self.snmp_scheduler.run()),
                       loop.create_task(self._watch_loop()),
                       loop.create_task(self._phase_loop())]  # fmt: skip
        self.ready = True
        log.info(
            "polling started",
            extra={"sites": len(self.inventory.sites), "devices": len(self.inventory.devices)},
        )

    async def stop(self) -> None:
        """Stop polling and wait for polls in flight to be cancelled."""
        self.ready = False
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.resolver.close()

    async def reload(self, force: bool = False) -> list[str]:
        """Load the configuration again; on any error keep the running one and return the errors.

        Requests that arrive while a reload waits to start share it (100 in a row are one or
        two loads, not 100), and a client that gives up does not cancel it for the others.
        `force` accepts an inventory that drops more TPS than `reload.max_drop_ratio`.
        """
        self._force_next = self._force_next or force
        if self._next_reload is None:
            self._next_reload = asyncio.get_running_loop().create_task(self._reload_when_free())
        return await asyncio.shield(self._next_reload)

    async def _reload_when_free(self) -> list[str]:
        async with self._reload_lock:
            self._next_reload = None  # who asks from now on gets the next load
            force, self._force_next = self._force_next, False
            errors = await self._load_new()
            if not errors:
                errors = self._refuse_drop(force)
            if errors:
                self.stats.reloaded(False)
                self._candidate = None
                shown = errors[:_LOGGED_ERRORS]
                more = f"; and {len(errors) - len(shown)} more" if len(errors) > len(shown) else ""
                log.error("reload refused, keeping the running inventory: %s%s",
                          "; ".join(shown), more)  # fmt: skip
                return errors
            assert self._candidate is not None
            config, inventory = self._candidate
            self._candidate = None
            self._apply(config, inventory)
            self.stats.reloaded(True)
            log.info(
                "reloaded",
                extra={"sites": len(inventory.sites), "devices": len(inventory.devices)},
            )
            return []

    async def _load_new(self) -> list[str]:
        """Load in a child process into `_candidate`; return the errors, whatever went wrong."""
        try:
            # Parsing a large inventory takes a while: keep the event loop polling meanwhile.
            self._candidate = await asyncio.to_thread(self.source.load_isolated)
        except ConfigLoadError as exc:
            return [str(e) for e in exc.errors]
        except BrokenProcessPool:
            return ["the process that reads the files stopped (killed, or out of memory)"]
        except Exception as exc:  # any failure keeps the running inventory
            # The type only: an exception's text may quote what it read (a password).
            return [f"the files could not be read ({type(exc).__name__})"]
        return []

    def _refuse_drop(self, force: bool) -> list[str]:
        """Refuse a new inventory that loses more than the allowed share of the TPS."""
        assert self._candidate is not None
        config, inventory = self._candidate
        before, after = len(self.inventory.sites), len(inventory.sites)
        allowed = config.reload_max_drop_ratio
        if force or before == 0 or (before - after) <= allowed * before:
            return []
        return [
            f"the new inventory has {after:,} TPS, {before - after:,} fewer than the "
            f"{before:,} running ({(before - after) / before:.0%}; at most {allowed:.0%} may go "
            "at once): check that no file or directory is missing, or reload with force=true"
        ]

    def _follow_up(self, scheduler: Scheduler, device: Device, failures: int, down: bool) -> None:
        """After a missed poll, ask again soon; after the first, look at the parent now too, so
        an outage is confirmed in seconds and blamed on the right device."""
        if failures == 0 or down:
            return
        scheduler.expedite(device.id, device.state.confirm_interval)
        if failures == 1 and device.parent is not None:
            parent = self.store.devices.get(device.parent)
            if parent is None or Check.ICMP not in parent.device.checks:
                return
            last = parent.last_poll
            if last is None or self.clock() - last > parent.device.state.confirm_interval:
                self.scheduler.expedite(parent.device.id, 0.0)

    def _apply(self, config: Config, inventory: Inventory) -> None:
        store = Store(inventory, self.clock)
        store.adopt(self.store)
        self.config, self.store = config, store
        self.resolver.refresh_interval = config.resolver.refresh_interval
        self.resolver.timeout = config.resolver.timeout
        self.snmp.auths, self.snmp.profiles = config.snmp_auths, config.profiles
        self._schedule(inventory)
        # After the swap, so the old inventory is gone before the collection and not frozen.
        release_memory()

    def _icmp_interval(self, device: Device) -> float:
        """Poll faster while a TPS behind the device votes or counts in its own zone."""
        zones = self.store.zones.get(device.id)
        if zones is not None and not zones.isdisjoint(self.urgent_zones):
            return device.icmp.urgent_interval
        return device.icmp.interval

    def _zones_in_urgent_phase(self) -> frozenset[str]:
        now = dt.datetime.fromtimestamp(self.clock(), dt.UTC)
        calendar = self.config.election
        return frozenset(
            z for z in self.store.site_zones if phase_at(calendar, now, z).phase in URGENT_PHASES
        )

    def update_phases(self) -> bool:
        """Reschedule the polls when a zone enters or leaves voting and counting; return
        whether it did."""
        urgent = self._zones_in_urgent_phase()
        if urgent == self.urgent_zones:
            return False
        log.info("polling interval follows the election phase", extra={"zones": sorted(urgent)})
        self.urgent_zones = urgent
        self._schedule(self.inventory)
        return True

    async def _phase_loop(self, period: float = 15.0) -> None:
        """Look at the election phase of each zone every `period` seconds."""
        while True:
            await asyncio.sleep(period)
            self.update_phases()

    def _schedule(self, inventory: Inventory) -> None:
        devices = inventory.devices.values()
        self.scheduler.set_devices(d for d in devices if Check.ICMP in d.checks)
        self.snmp_scheduler.set_devices(d for d in devices if Check.SNMP in d.checks)

    async def _watch_loop(self, period: float = 0.1) -> None:
        """Measure how late the loop wakes a task due every `period` seconds."""
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + period
            await asyncio.sleep(period)
            self.stats.loop_lag.observe(max(0.0, loop.time() - due))

    async def _timed(self, protocol: str, poll: Awaitable[T]) -> T:
        loop = asyncio.get_running_loop()
        started = loop.time()
        result = await poll
        self.stats.poll_duration[protocol].observe(loop.time() - started)
        return result

    async def _poll_snmp(self, device: Device) -> None:
        result = await self._timed("snmp", self.snmp.poll(device))
        self.store.record_snmp(device.id, result)
        if (
            state := self.store.devices.get(device.id)
        ) is not None and Check.ICMP not in device.checks:
            self._follow_up(self.snmp_scheduler, device, state.snmp_failures, state.snmp_down())
        if not result.answered:
            log.debug(
                "no SNMP answer",
                extra={"device": device.id, "reason": result.failure, "detail": result.detail},
            )

    async def _poll_icmp(self, device: Device) -> None:
        result = await self._timed("icmp", self.icmp.poll(device))
        self._record_ping(device, result)

    def _begin_icmp(self, device: Device, finished: Callable[[], None]) -> bool:
        """Start an ICMP poll without a task; the store gets its result when it ends."""
        started = time.monotonic()

        def done(result: PingResult) -> None:
            self.stats.poll_duration["icmp"].observe(time.monotonic() - started)
            finished()
            self._record_ping(device, result)

        return self.icmp.start(device, done)

    def _record_ping(self, device: Device, result: PingResult) -> None:
        self.store.record_ping(device.id, result)
        if (state := self.store.devices.get(device.id)) is not None:
            self._follow_up(self.scheduler, device, state.consecutive_failures, state.icmp_down())
        if not result.ok:
            log.debug(
                "no answer",
                extra={"device": device.id, "reason": result.failure, "detail": result.detail},
            )
