"""Render the store and runtime figures as the Prometheus text format, reading only memory."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import gc
import itertools
import os
import platform
import resource
from collections import Counter
from collections.abc import AsyncGenerator, Iterable, Iterator, Sequence
from dataclasses import dataclass

from exporter import __version__
from exporter.i18n import zone_name
from exporter.inventory.areas import INDONESIAN_ZONES
from exporter.inventory.model import ElectionCalendar, Inventory
from exporter.metrics import catalogue as c
from exporter.metrics.histogram import Histogram
from exporter.metrics.text import escape
from exporter.state.phase import phase_at
from exporter.state.stats import RuntimeStats
from exporter.state.store import REACHABLE, DeviceStatus, SiteStatus, Store

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Rows per step of a scrape: a few milliseconds of work between turns of the event loop.
_STEP = 5000
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def _labels(pairs: Iterable[tuple[str, object]]) -> str:
    return ",".join(f'{k}="{escape("" if v is None else str(v))}"' for k, v in pairs)


def _header(out: list[str], metric: c.Metric) -> None:
    help_text = metric.help.replace("\\", "\\\\").replace("\n", "\\n")
    out.append(f"# HELP {metric.name} {help_text}\n# TYPE {metric.name} {metric.type}\n")


@dataclass(frozen=True, slots=True)
class _Static:
    """Text that only changes with the inventory: info families and each id's label text."""

    # Text in chunks of _STEP rows, written one chunk per step of a scrape.
    site_info: tuple[str, ...]
    site_devices: tuple[str, ...]
    site_power: tuple[str, ...]
    device_info: tuple[str, ...]
    dependent_sites: tuple[str, ...]
    zones: tuple[str, ...]
    site_keys: _LabelText
    device_keys: _LabelText


class _LabelText:
    """`name="id"` label text, made when written rather than stored for every id.

    Ids match ID_PATTERN (letters, digits and `._:@/-`), so they never need escaping; a stored
    copy for each of 100,000 sites and devices cost 20 MB.
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __getitem__(self, identifier: str) -> str:
        return f'{self.name}="{identifier}"'


# One: after a reload the old inventory and its text (250 MB at 100,000 TPS) must go; a
# scrape still streaming from it holds its own reference until it ends.
@functools.lru_cache(maxsize=1)
def _static(inventory: Inventory) -> _Static:
    """Render what only changes with the inventory: info metrics and each id's label text."""
    site_keys, device_keys = _LabelText("site"), _LabelText("device")
    site_info: list[str] = []
    site_devices: list[str] = []
    site_power: list[str] = []
    for site in inventory.sites.values():
        p = site.place
        labels = _labels((
            ("site", site.id), ("name", site.name),
            ("province", p.province.name), ("province_code", p.province.code),
            ("regency", p.regency.name), ("regency_code", p.regency.code),
            ("district", p.district.name), ("district_code", p.district.code),
            ("village", p.village.name), ("village_code", p.village.code),
            ("timezone", site.timezone), ("zone", zone_name(site.timezone)),
            ("latitude", "" if site.latitude is None else site.latitude),
            ("longitude", "" if site.longitude is None else site.longitude),
        ))  # fmt: skip
        site_info.append(f"tps_site_info{{{labels}}} 1\n")
        for device_id in site.devices:
            site_devices.append(
                f"tps_site_device_info{{{site_keys[site.id]},{device_keys[device_id]}}} 1\n"
            )
        for device_id in site.power:
            site_power.append(
                f"tps_site_power_device_info{{{site_keys[site.id]},{device_keys[device_id]}}} 1\n"
            )
    device_info = []
    behind = inventory.sites_behind()
    for d in inventory.devices.values():
        place = _usual_place(inventory, behind.get(d.id, ()))
        labels = _labels((
            ("device", d.id), ("name", d.name), ("kind", d.kind.value), ("operator", d.operator),
            ("address", d.address), ("family", d.family.value), ("parent", d.parent or ""),
            ("province", place[0]), ("regency", place[1]), ("district", place[2]),
            ("village", place[3]), ("timezone", place[4]),
        ))  # fmt: skip
        device_info.append(f"tps_device_info{{{labels}}} 1\n")
    dependents = [
        f"tps_device_dependent_sites{{{device_keys[d]}}} {len(behind.get(d, ()))}\n"
        for d in inventory.devices
    ]
    zones = {site.timezone for site in inventory.sites.values()} | set(INDONESIAN_ZONES)
    return _Static(
        site_info=_chunks(site_info),
        site_devices=_chunks(site_devices),
        site_power=_chunks(site_power),
        device_info=_chunks(device_info),
        dependent_sites=_chunks(dependents),
        zones=tuple(sorted(zones)),
        site_keys=site_keys,
        device_keys=device_keys,
    )


def _chunks(lines: list[str]) -> tuple[str, ...]:
    return tuple("".join(lines[i : i + _STEP]) for i in range(0, len(lines), _STEP))


def _static_family(out: list[str], metric: c.Metric, chunks: tuple[str, ...]) -> Iterator[None]:
    """Write a family whose text only changes with the inventory, a chunk per step."""
    _header(out, metric)
    for chunk in chunks:
        out.append(chunk)
        yield


def render(
    store: Store,
    stats: RuntimeStats,
    extra: Sequence[c.Metric] = (),
    *,
    calendar: ElectionCalendar | None = None,
    now: dt.datetime | None = None,
) -> bytes:
    """Return every metric in the catalogue, and operators' profile metrics, as text exposition."""
    out: list[str] = []
    with _no_gc():
        for _ in _families(out, store, stats, extra, calendar=calendar, now=now):
            pass
    return "".join(out).encode()


async def render_stream(
    store: Store,
    stats: RuntimeStats,
    extra: Sequence[c.Metric] = (),
    *,
    calendar: ElectionCalendar | None = None,
) -> AsyncGenerator[bytes, None]:
    """Yield the exposition family by family, giving the event loop a turn between them.

    Each row is still written at one instant, so a TPS's status and reason always agree. At
    100,000 sites the whole text is 150 MB: streaming it keeps neither the loop (and every
    poll) waiting for seconds, nor two more copies of it in memory for a join and an encode.
    """
    out: list[str] = []
    with _no_gc():
        for _ in _families(out, store, stats, extra, calendar=calendar, now=None):
            if out:
                chunk = "".join(out).encode()
                out.clear()
                yield chunk
            await asyncio.sleep(0)


def _families(
    out: list[str],
    store: Store,
    stats: RuntimeStats,
    extra: Sequence[c.Metric],
    *,
    calendar: ElectionCalendar | None,
    now: dt.datetime | None,
) -> Iterator[None]:
    """Write every family into `out`, pausing (yielding) after each."""
    yield from _sites(out, store)
    yield from _devices(out, store)
    when = now or dt.datetime.now(dt.UTC)
    yield from _election(out, store, calendar or ElectionCalendar(), when)
    yield from _icmp(out, store)
    yield from _snmp(out, store, extra)
    yield from _exporter(out, store, stats)
    yield from _process(out, stats)


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector: a render makes millions of strings and no cycles."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _rows(
    out: list[str], metric: c.Metric, rows: Iterable[tuple[str, float | None]]
) -> Iterator[None]:
    """Write a family: its header, then one sample per (label text, value); None is skipped.

    Pauses (yields) every _STEP rows, so no step of a scrape holds the event loop for long.
    """
    _header(out, metric)
    name = metric.name
    rows = iter(rows)
    while chunk := list(itertools.islice(rows, _STEP)):
        # repr() is the text format's number form for ints and floats alike (NaN reads as nan).
        out.extend(
            f"{name}{{{labels}}} {value!r}\n" for labels, value in chunk if value is not None
        )
        yield


def _status_counts(
    out: list[str], metric: c.Metric, statuses: Iterable[str], every: Iterable[str]
) -> Iterator[None]:
    """Write how many sites or devices are in each status, zero included."""
    counts: dict[str, int] = dict.fromkeys(every, 0)
    for status in statuses:
        counts[status] += 1
    yield from _rows(out, metric, ((f'status="{k}"', v) for k, v in counts.items()))


def _sites(out: list[str], store: Store) -> Iterator[None]:
    static = _static(store.inventory)
    keys = static.site_keys
    yield from _static_family(out, c.SITE_INFO, static.site_info)
    yield from _static_family(out, c.SITE_DEVICE_INFO, static.site_devices)
    yield from _static_family(out, c.SITE_POWER_INFO, static.site_power)
    states = [(keys[s.site.id], s) for s in store.sites.values()]
    reachable = (SiteStatus.UP, SiteStatus.DEGRADED)
    yield from _rows(out, c.SITE_UP, ((k, int(s.status in reachable)) for k, s in states))
    yield from _rows(out, c.SITE_STATUS, (
        (f'{k},status="{s.status}",reason="{s.reason}",device="{escape(s.device)}"', 1)
        for k, s in states
    ))  # fmt: skip
    yield from _rows(out, c.SITE_STATUS_SINCE, ((k, s.since) for k, s in states))
    yield from _status_counts(out, c.SITES, (s.status for _, s in states), SiteStatus)


def _devices(out: list[str], store: Store) -> Iterator[None]:
    static = _static(store.inventory)
    keys = static.device_keys
    yield from _static_family(out, c.DEVICE_INFO, static.device_info)
    states = [(keys[d.device.id], d) for d in store.devices.values()]
    yield from _rows(out, c.DEVICE_UP, ((k, int(d.status in REACHABLE)) for k, d in states))
    yield from _rows(out, c.DEVICE_STATUS,
          ((f'{k},status="{d.status}",reason="{d.reason}"', 1) for k, d in states))  # fmt: skip
    yield from _rows(out, c.DEVICE_STATUS_SINCE, ((k, d.since) for k, d in states))
    yield from _rows(out, c.DEVICE_FAILURES, ((k, d.consecutive_failures) for k, d in states))
    yield from _rows(out, c.DEVICE_LAST_SUCCESS, ((k, d.last_success) for k, d in states))
    yield from _rows(out, c.DEVICE_LAST_POLL, ((k, d.last_poll) for k, d in states))
    yield from _static_family(out, c.DEVICE_DEPENDENT_SITES, static.dependent_sites)
    yield from _status_counts(out, c.DEVICES, (d.status for _, d in states), DeviceStatus)


def _election(
    out: list[str], store: Store, calendar: ElectionCalendar, now: dt.datetime
) -> Iterator[None]:
    """Write the phase of every time zone the sites are in, for rules to join on timezone."""
    rows = []
    for zone in _static(store.inventory).zones:
        p = phase_at(calendar, now, zone)
        labels = (
            f'timezone="{zone}",zone="{zone_name(zone)}",phase="{p.phase}",'
            f'election="{escape(p.election)}",rehearsal="{str(p.rehearsal).lower()}"'
        )
        rows.append((labels, 1))
    yield from _rows(out, c.ELECTION_PHASE, rows)


def _usual_place(inventory: Inventory, sites: Iterable[str]) -> tuple[str, ...]:
    """Return the province, regency, district, village and time zone most of these sites share
    ("" each if none)."""
    places = Counter(
        (p.province.name, p.regency.name, p.district.name, p.village.name, s.timezone)
        for s in (inventory.sites[i] for i in sites)
        for p in (s.place,)
    )
    return places.most_common(1)[0][0] if places else ("",) * 5


def _icmp(out: list[str], store: Store) -> Iterator[None]:
    keys = _static(store.inventory).device_keys
    polled = [(keys[d.device.id], d, d.last) for d in store.devices.values() if d.last is not None]
    # last: (sent, rtt min, avg, max, jitter, loss ratio)
    yield from _rows(out, c.ICMP_RTT, (
        (f'{k},stat="{stat}"', last[i])
        for k, _, last in polled
        for stat, i in (("min", 1), ("avg", 2), ("max", 3))
    ))  # fmt: skip
    yield from _rows(out, c.ICMP_LOSS, ((k, last[5]) for k, _, last in polled if last[0]))
    yield from _rows(out, c.ICMP_JITTER, ((k, last[4]) for k, _, last in polled))
    yield from _rows(out, c.ICMP_REQUESTS, ((k, d.echo_requests) for k, d, _ in polled))
    yield from _rows(out, c.ICMP_REPLIES, ((k, d.echo_replies) for k, d, _ in polled))


def _snmp(out: list[str], store: Store, extra: Sequence[c.Metric]) -> Iterator[None]:
    keys = _static(store.inventory).device_keys
    polled = [(keys[d.device.id], d, d.snmp) for d in store.devices.values() if d.snmp is not None]
    yield from _rows(out, c.SNMP_UP, ((k, int(result.answered)) for k, _, result in polled))
    yield from _rows(out, c.SNMP_DURATION, ((k, result.duration) for k, _, result in polled))
    errors = ((k, sorted(d.snmp_errors.items())) for k, d, _ in polled)
    yield from _rows(
        out, c.SNMP_ERRORS, ((f'{k},reason="{r}"', n) for k, pairs in errors for r, n in pairs)
    )
    yield from _rows(out, c.SNMP_LAST_SUCCESS, ((k, d.snmp_last_success) for k, d, _ in polled))
    yield from _rows(out, c.DEVICE_REBOOTS, ((k, d.reboots) for k, d, _ in polled))
    yield from _rows(out, c.DEVICE_WAN_UP, (
        (k, None if result.wan_up is None else int(result.wan_up)) for k, _, result in polled
    ))  # fmt: skip
    # Profile values: one pass over the devices, then each family written whole.
    lines: dict[str, list[str]] = {}
    for k, _, result in polled:
        for sample in result.samples:
            labels = f"{k},{sample.labels}" if sample.labels else k
            line = f"{sample.metric}{{{labels}}} {sample.value!r}\n"
            lines.setdefault(sample.metric, []).append(line)
    for metric in (*c.PROFILE_METRICS, *extra):
        _header(out, metric)
        out.extend(lines.get(metric.name, ()))
        yield


def _exporter(out: list[str], store: Store, stats: RuntimeStats) -> Iterator[None]:
    _header(out, c.POLLS)
    for protocol in stats.protocols:
        for result in ("success", "failure"):
            n = store.polls[protocol, result]
            out.append(f'tps_polls_total{{protocol="{protocol}",result="{result}"}} {n}\n')
    _header(out, c.POLL_ERRORS)
    out.extend(
        f'tps_poll_errors_total{{protocol="{p}",reason="{r}"}} {n}\n'
        for (p, r), n in sorted(store.poll_errors.items())
    )
    _header(out, c.POLL_DURATION)
    for protocol, histogram in stats.poll_duration.items():
        _histogram(out, c.POLL_DURATION.name, f'protocol="{protocol}"', histogram)
    _header(out, c.POLL_LAG)
    for protocol, histogram in stats.poll_lag.items():
        _histogram(out, c.POLL_LAG.name, f'protocol="{protocol}"', histogram)
    _header(out, c.POLL_OVERDUE)
    for protocol, overdue in stats.overdue.items():
        out.append(f'tps_poll_overdue_seconds{{protocol="{protocol}"}} {overdue()!r}\n')
    _header(out, c.LOOP_LAG)
    _histogram(out, c.LOOP_LAG.name, "", stats.loop_lag)
    _header(out, c.POLLS_SKIPPED)
    for protocol in stats.protocols:
        n = stats.polls_skipped[protocol]
        out.append(f'tps_polls_skipped_total{{protocol="{protocol}"}} {n}\n')
    _header(out, c.SNMP_DISCARDED)
    out.extend(
        f'tps_snmp_replies_discarded_total{{reason="{reason}"}} {n}\n'
        for reason, n in stats.snmp_discarded().items()
    )
    _header(out, c.ICMP_SOCKET_INFO)
    out.extend(
        f'tps_icmp_socket_info{{family="{f}",kind="{k}"}} 1\n'
        for f, k in sorted(stats.socket_kinds.items())
    )
    _header(out, c.CONFIG_RELOAD_OK)
    out.append(f"tps_config_last_reload_successful {int(stats.reload_ok)}\n")
    _header(out, c.CONFIG_RELOAD_TIME)
    out.append(f"tps_config_last_reload_success_timestamp_seconds {stats.reload_time!r}\n")
    _header(out, c.CONFIG_RELOADS)
    for result in ("success", "failure"):
        out.append(f'tps_config_reloads_total{{result="{result}"}} {stats.reloads[result]}\n')
    _header(out, c.INVENTORY_SITES)
    out.append(f"tps_inventory_sites {len(store.inventory.sites)}\n")
    _header(out, c.INVENTORY_DEVICES)
    out.append(f"tps_inventory_devices {len(store.inventory.devices)}\n")
    _header(out, c.BUILD_INFO)
    python = escape(platform.python_version())
    out.append(f'tps_build_info{{version="{__version__}",python_version="{python}"}} 1\n')
    yield


def _histogram(out: list[str], name: str, labels: str, histogram: Histogram) -> None:
    sep = "," if labels else ""
    for le, count in histogram.cumulative():
        out.append(f'{name}_bucket{{{labels}{sep}le="{le}"}} {count}\n')
    tail = f"{{{labels}}}" if labels else ""
    out.append(f"{name}_sum{tail} {histogram.sum!r}\n")
    out.append(f"{name}_count{tail} {histogram.count}\n")


def _process(out: list[str], stats: RuntimeStats) -> Iterator[None]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    _header(out, c.PROCESS_CPU)
    out.append(f"process_cpu_seconds_total {usage.ru_utime + usage.ru_stime!r}\n")
    _header(out, c.PROCESS_RSS)
    out.append(f"process_resident_memory_bytes {_resident_bytes()}\n")
    _header(out, c.PROCESS_START)
    out.append(f"process_start_time_seconds {stats.started!r}\n")
    _header(out, c.PROCESS_FDS)
    out.append(f"process_open_fds {len(os.listdir('/proc/self/fd'))}\n")
    yield


def _resident_bytes() -> int:
    # /proc is memory, not disk: reading it here keeps the scrape free of real I/O.
    with open("/proc/self/statm", "rb") as statm:
        return int(statm.read().split()[1]) * _PAGE_SIZE
