"""The in-memory state of every device and site: pollers write into it, the scrape reads it."""

from __future__ import annotations

import array
import enum
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from exporter.inventory.model import Check, Device, Inventory, Site
from exporter.pollers.results import Failure, PingResult, SnmpResult


class DeviceStatus(enum.StrEnum):
    """What the NOC should believe about a device now."""

    UP = "up"
    DEGRADED = "degraded"  # answers, but loss or latency is over the adequate thresholds
    DOWN = "down"
    UNREACHABLE = "unreachable"  # not answering because a parent device is down
    UNKNOWN = "unknown"  # not polled yet, or failing but not yet for `down_after` cycles


class SiteStatus(enum.StrEnum):
    """Whether a TPS can send its results now."""

    UP = "up"
    DEGRADED = "degraded"
    DOWN = "down"
    BLANK_SPOT = "blank_spot"  # no device connects this TPS
    NO_DATA = "no_data"


REACHABLE = frozenset({DeviceStatus.UP, DeviceStatus.DEGRADED})
_FAILED = frozenset({DeviceStatus.DOWN, DeviceStatus.UNREACHABLE})


# One reachable poll in the adequacy window: (echoes sent, echoes received, sum of RTTs).
# A plain tuple of numbers, which the garbage collector stops tracking: at 100,000 devices the
# window holds a million of them, and tracked objects would make every full collection slow.
Cycle = tuple[int, int, float]
Echoes = tuple[int, float | None, float | None, float | None, float | None, float]


@dataclass(slots=True)
class DeviceState:
    """What is known about one device, updated after every poll."""

    device: Device
    since: float
    status: DeviceStatus = DeviceStatus.UNKNOWN
    reason: str = "no_data"
    consecutive_failures: int = 0
    failing_since: float | None = None
    last_failure: Failure | None = None
    last_success: float | None = None
    last_poll: float | None = None
    # The last ICMP poll as plain numbers: (sent, rtt min, avg, max, jitter, loss ratio). A
    # tuple of numbers is not tracked by the garbage collector; an object per device would be,
    # and full collections walking 100,000 of them stalled the event loop for a quarter second.
    last: Echoes | None = None
    echo_requests: int = 0
    echo_replies: int = 0
    # The adequacy window as a ring of (sent, received, rtt sum) triples in one array of
    # doubles: ~300 bytes a device instead of a deque of tuples (~1.5 KB), untracked by the GC.
    window: array.array[float] | None = None
    window_next: int = 0
    window_len: int = 0
    # Running totals of the window, so a verdict does not re-add it on every poll.
    window_sent: int = 0
    window_received: int = 0
    window_rtt_sum: float = 0.0
    snmp_failures: int = 0
    snmp_failing_since: float | None = None
    snmp_last_failure: str | None = None
    snmp_last_success: float | None = None
    snmp: SnmpResult | None = None
    snmp_errors: Counter[str] = field(default_factory=Counter)
    uptime: float | None = None
    reboots: int = 0

    def icmp_down(self) -> bool:
        """Return whether ICMP is checked and has failed `down_after` polls in a row."""
        checked = Check.ICMP in self.device.checks
        return checked and self.consecutive_failures >= self.device.state.down_after

    def snmp_down(self) -> bool:
        """Return whether SNMP is checked and has failed `down_after` polls in a row."""
        checked = Check.SNMP in self.device.checks
        return checked and self.snmp_failures >= self.device.state.down_after

    def failing(self) -> bool:
        """Return whether the device missed its last poll and is not yet confirmed down: its
        children's outages may be its own."""
        if Check.ICMP in self.device.checks:
            return 0 < self.consecutive_failures < self.device.state.down_after
        return 0 < self.snmp_failures < self.device.state.down_after

    def answers_ping(self) -> bool:
        """Return whether the device's last ICMP verdict is that it answers."""
        return (
            Check.ICMP in self.device.checks
            and self.last_success is not None
            and (not self.icmp_down())
        )

    def window_loss(self) -> float | None:
        """Return the echo loss ratio over recent reachable polls."""
        sent = self.window_sent
        return None if sent == 0 else 1 - self.window_received / sent

    def window_rtt(self) -> float | None:
        """Return the mean round trip over recent reachable polls, in seconds."""
        received = self.window_received
        return None if received == 0 else self.window_rtt_sum / received

    def restart_window(self) -> None:
        """Forget the adequacy window's polls; the ring itself is kept for reuse."""
        self.window_next = self.window_len = self.window_sent = self.window_received = 0
        self.window_rtt_sum = 0.0

    def add_to_window(self, cycle: Cycle) -> None:
        """Add a reachable poll to the adequacy window, dropping the oldest beyond its size."""
        size = self.device.state.window
        if self.window is None or len(self.window) != 3 * size:  # first poll, or resized
            self.window = array.array("d", bytes(8 * 3 * size))
            self.window_next = self.window_len = self.window_sent = self.window_received = 0
            self.window_rtt_sum = 0.0
        ring, at = self.window, 3 * self.window_next
        if self.window_len == size:  # full: the oldest poll leaves
            self.window_sent -= int(ring[at])
            self.window_received -= int(ring[at + 1])
            self.window_rtt_sum -= ring[at + 2]
        else:
            self.window_len += 1
        sent, received, rtt_sum = cycle
        ring[at], ring[at + 1], ring[at + 2] = sent, received, rtt_sum
        self.window_sent += sent
        self.window_received += received
        self.window_rtt_sum += rtt_sum
        self.window_next = (self.window_next + 1) % size


@dataclass(slots=True)
class SiteState:
    """Whether one TPS is connected, why not, and since when."""

    site: Site
    since: float
    status: SiteStatus = SiteStatus.NO_DATA
    reason: str = "no_data"
    device: str = ""  # the device at fault, for the field technician and for inhibition


class Store:
    """Device and site states for one inventory, kept consistent after every poll."""

    def __init__(self, inventory: Inventory, clock: Callable[[], float] = time.time) -> None:
        self.inventory = inventory
        self.clock = clock
        now = clock()
        self.devices = {d.id: DeviceState(d, since=now) for d in inventory.topological_devices()}
        self.sites = {s.id: SiteState(s, since=now) for s in inventory.sites.values()}
        self._children = inventory.children()
        self._behind = inventory.sites_behind()
        self.zones = self._zones_of_devices()
        # The time zones the sites are in, once per inventory: the phase check reads it often.
        self.site_zones = frozenset(s.timezone for s in inventory.sites.values())
        self.polls: Counter[tuple[str, str]] = Counter()
        self.poll_errors: Counter[tuple[str, str]] = Counter()
        for state in self.sites.values():
            self._settle_site(state, now)

    def _zones_of_devices(self) -> dict[str, frozenset[str]]:
        """Return the time zones of the TPS behind each device (one shared set per combination)."""
        shared: dict[frozenset[str], frozenset[str]] = {}
        out = {}
        for device_id, site_ids in self._behind.items():
            zones = frozenset(self.sites[s].site.timezone for s in site_ids)
            out[device_id] = shared.setdefault(zones, zones)
        return out

    def record_ping(self, device_id: str, result: PingResult) -> None:
        """Fold one ICMP poll into a device's state and everything that depends on it."""
        state = self.devices.get(device_id)
        if state is None:  # removed by a reload while its poll was in flight
            return
        was_failing = state.failing()
        now = self.clock()
        state.last_poll = now
        state.last = (result.sent, result.rtt_min, result.rtt_avg, result.rtt_max,
                      result.jitter, result.loss_ratio)  # fmt: skip
        state.echo_requests += result.sent
        state.echo_replies += result.received
        if result.ok:
            self.polls["icmp", "success"] += 1
            if state.icmp_down():
                # Back from an outage: the polls at its start and end lost echoes to the outage,
                # not to the link. The window restarts, so the link is judged as it is now and a
                # repaired site shows up rather than degraded for a window's length.
                state.restart_window()
            else:
                state.add_to_window((result.sent, len(result.rtts), sum(result.rtts)))
            state.consecutive_failures = 0
            state.failing_since = None
            state.last_success = now
        else:
            self.polls["icmp", "failure"] += 1
            failure = result.failure or Failure.TIMEOUT
            self.poll_errors["icmp", failure.value] += 1
            state.consecutive_failures += 1
            state.last_failure = failure
            if state.failing_since is None:
                state.failing_since = now
        # A parent that starts or stops failing changes what its children's outages mean.
        self._settle_device(state, now, force=was_failing != state.failing())

    def record_snmp(self, device_id: str, result: SnmpResult) -> None:
        """Fold one SNMP poll into a device's state and everything that depends on it."""
        state = self.devices.get(device_id)
        if state is None:
            return
        was_failing = state.failing()
        now = self.clock()
        state.snmp = result
        state.snmp_errors.update(dict(result.errors))
        for reason, count in result.errors:
            self.poll_errors["snmp", reason] += count
        if result.answered:
            self.polls["snmp", "success"] += 1
            # Uptime going backwards is a reboot (or the agent restarting, which NOCs treat alike).
            if result.uptime is not None:
                if state.uptime is not None and result.uptime < state.uptime:
                    state.reboots += 1
                state.uptime = result.uptime
            state.snmp_failures = 0
            state.snmp_failing_since = None
            state.snmp_last_success = now
        else:
            self.polls["snmp", "failure"] += 1
            state.snmp_failures += 1
            state.snmp_last_failure = result.failure or "timeout"
            if state.snmp_failing_since is None:
                state.snmp_failing_since = now
        self._settle_device(state, now, force=was_failing != state.failing())

    def adopt(self, old: Store) -> None:
        """Carry states and counters over from the store of the previous inventory."""
        self.polls = old.polls
        self.poll_errors = old.poll_errors
        for device_id, state in self.devices.items():
            previous = old.devices.get(device_id)
            if previous is None or (previous.device.address, previous.device.family) != (
                state.device.address,
                state.device.family,
            ):
                continue  # a new device, or one that now points elsewhere: start afresh
            device = state.device
            for name in DeviceState.__slots__:
                setattr(state, name, getattr(previous, name))
            state.device = device
        now = self.clock()
        for state in self.devices.values():  # topological: parents settle first
            self._settle_device(state, now, propagate=False)
        for site_id, site_state in self.sites.items():
            if (prev_site := old.sites.get(site_id)) is not None:
                site_state.status, site_state.reason = prev_site.status, prev_site.reason
                site_state.since = prev_site.since
            self._settle_site(site_state, now)

    def _evaluate(self, state: DeviceState) -> tuple[DeviceStatus, str]:
        device = state.device
        icmp_down, snmp_down = state.icmp_down(), state.snmp_down()
        if icmp_down or snmp_down:
            parent = self.devices.get(device.parent) if device.parent else None
            # A parent still confirming its own outage is blamed from the start: when a BTS and
            # the routers behind it die together, the routers may be confirmed first.
            if parent is not None and (parent.status in _FAILED or parent.failing()):
                return DeviceStatus.UNREACHABLE, "parent_down"
            # As LibreNMS does: the reason says which check failed, ICMP first.
            if icmp_down:
                return DeviceStatus.DOWN, (state.last_failure or Failure.TIMEOUT).value
            reason = state.snmp_last_failure or "timeout"
            return DeviceStatus.DOWN, reason if reason == "resolve_error" else f"snmp_{reason}"
        if state.last_success is None and state.snmp_last_success is None:
            return DeviceStatus.UNKNOWN, "no_data"
        loss, rtt = state.window_loss(), state.window_rtt()
        if loss is not None and loss > device.icmp.max_loss_ratio:
            return DeviceStatus.DEGRADED, "high_loss"
        if rtt is not None and rtt > device.icmp.max_rtt:
            return DeviceStatus.DEGRADED, "high_latency"
        if state.snmp is not None and state.snmp.wan_up is False:
            return DeviceStatus.DEGRADED, "wan_down"
        return DeviceStatus.UP, "none"

    def _settle_device(
        self, state: DeviceState, now: float, propagate: bool = True, force: bool = False
    ) -> None:
        changed = self._update_device(state, now)
        if not propagate or not (changed or (force and state.device.id in self._children)):
            return
        self._update_descendants(state, now)
        # Every site behind it, even one whose own device did not change: which device is the
        # one really down on its path may have.
        for site_id in self._behind.get(state.device.id, ()):
            self._settle_site(self.sites[site_id], state.since)

    def _update_descendants(self, state: DeviceState, now: float) -> None:
        for child_id in self._children.get(state.device.id, ()):
            child = self.devices[child_id]
            if self._update_device(child, now):
                self._update_descendants(child, now)

    def _update_device(self, state: DeviceState, now: float) -> bool:
        """Re-evaluate one device; return whether its status or reason changed."""
        status, reason = self._evaluate(state)
        if (status, reason) == (state.status, state.reason):
            return False
        if status != state.status:
            # A device is down from its first missed poll, not from when damping let it show.
            first_miss = min(
                (t for t in (state.failing_since, state.snmp_failing_since) if t is not None),
                default=now,
            )
            state.since = first_miss if status in _FAILED else now
        state.status, state.reason = status, reason
        return True

    def _settle_site(self, state: SiteState, at: float) -> None:
        status, reason, device = self._evaluate_site(state.site)
        if status != state.status:
            state.since = at
        state.status, state.reason, state.device = status, reason, device

    def _evaluate_site(self, site: Site) -> tuple[SiteStatus, str, str]:
        if site.is_blank_spot:
            return SiteStatus.BLANK_SPOT, "blank_spot", ""
        devices = [self.devices[d] for d in site.devices]
        if any(d.status is DeviceStatus.UP for d in devices):
            return SiteStatus.UP, "none", ""
        for d in devices:
            if d.status is DeviceStatus.DEGRADED:
                return SiteStatus.DEGRADED, d.reason, d.device.id
        for d in devices:
            # Ping answers but the agent does not: the TPS can likely still send, the NOC is blind.
            if d.status is DeviceStatus.DOWN and d.reason.startswith("snmp_") and d.answers_ping():
                return SiteStatus.DEGRADED, d.reason, d.device.id
        if any(d.status is DeviceStatus.UNKNOWN for d in devices):
            return SiteStatus.NO_DATA, "no_data", ""
        culprit = self._culprit(devices[0])
        if all(d.status is DeviceStatus.UNREACHABLE for d in devices):
            return SiteStatus.DOWN, "upstream_down", culprit
        return SiteStatus.DOWN, "device_down", culprit

    def _culprit(self, state: DeviceState) -> str:
        """Return the device really down on a path: the first one up the chain that is not merely
        unreachable behind its parent."""
        while state.status is DeviceStatus.UNREACHABLE and state.device.parent is not None:
            state = self.devices[state.device.parent]
        return state.device.id
