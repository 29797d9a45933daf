"""Render the store and runtime figures as the Prometheus text format, reading only memory."""

from __future__ import annotations

import functools
import math
import os
import platform
import resource
from collections.abc import Iterable

from exporter import __version__
from exporter.exposition import catalogue as c
from exporter.inventory.areas import zone_abbreviation
from exporter.inventory.model import Inventory
from exporter.state.stats import Histogram, RuntimeStats
from exporter.state.store import REACHABLE, DeviceStatus, SiteStatus, Store

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def escape(value: str) -> str:
    """Escape a label value for the text format."""
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return value


def _labels(pairs: Iterable[tuple[str, object]]) -> str:
    return ",".join(f'{k}="{escape("" if v is None else str(v))}"' for k, v in pairs)


def _num(value: float) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    return "NaN" if math.isnan(value) else repr(value)


def _header(out: list[str], metric: c.Metric) -> None:
    help_text = metric.help.replace("\\", "\\\\").replace("\n", "\\n")
    out.append(f"# HELP {metric.name} {help_text}\n# TYPE {metric.name} {metric.type}\n")


@functools.lru_cache(maxsize=4)
def _static(inventory: Inventory) -> tuple[str, str, str, dict[str, str], dict[str, str]]:
    """Render what only changes with the inventory: info metrics and each id's label text."""
    site_keys = {s: f'site="{escape(s)}"' for s in inventory.sites}
    device_keys = {d: f'device="{escape(d)}"' for d in inventory.devices}
    site_info: list[str] = []
    site_devices: list[str] = []
    for site in inventory.sites.values():
        p = site.place
        labels = _labels((
            ("site", site.id), ("name", site.name),
            ("province", p.province.name), ("province_code", p.province.code),
            ("regency", p.regency.name), ("regency_code", p.regency.code),
            ("district", p.district.name), ("district_code", p.district.code),
            ("village", p.village.name), ("village_code", p.village.code),
            ("timezone", site.timezone), ("zone", zone_abbreviation(site.timezone)),
            ("latitude", "" if site.latitude is None else site.latitude),
            ("longitude", "" if site.longitude is None else site.longitude),
        ))  # fmt: skip
        site_info.append(f"tps_site_info{{{labels}}} 1\n")
        for device_id in site.devices:
            site_devices.append(
                f"tps_site_device_info{{{site_keys[site.id]},{device_keys[device_id]}}} 1\n"
            )
    device_info = []
    for d in inventory.devices.values():
        labels = _labels((
            ("device", d.id), ("name", d.name), ("kind", d.kind.value), ("operator", d.operator),
            ("address", d.address), ("family", d.family.value), ("parent", d.parent or ""),
        ))  # fmt: skip
        device_info.append(f"tps_device_info{{{labels}}} 1\n")
    return "".join(site_info), "".join(site_devices), "".join(device_info), site_keys, device_keys


def render(store: Store, stats: RuntimeStats) -> bytes:
    """Return every metric in the catalogue as Prometheus text exposition."""
    out: list[str] = []
    _sites(out, store)
    _devices(out, store)
    _icmp(out, store)
    _exporter(out, store, stats)
    _process(out, stats)
    return "".join(out).encode()


def _sites(out: list[str], store: Store) -> None:
    site_info, site_devices, _, keys, _ = _static(store.inventory)
    _header(out, c.SITE_INFO)
    out.append(site_info)
    _header(out, c.SITE_DEVICE_INFO)
    out.append(site_devices)
    states = store.sites.values()
    _header(out, c.SITE_UP)
    reachable = (SiteStatus.UP, SiteStatus.DEGRADED)
    out.extend(f"tps_site_up{{{keys[s.site.id]}}} {int(s.status in reachable)}\n" for s in states)
    _header(out, c.SITE_STATUS)
    out.extend(
        f'tps_site_status{{{keys[s.site.id]},status="{s.status}",reason="{s.reason}"}} 1\n'
        for s in states
    )
    _header(out, c.SITE_STATUS_SINCE)
    out.extend(
        f"tps_site_status_since_timestamp_seconds{{{keys[s.site.id]}}} {_num(s.since)}\n"
        for s in states
    )
    counts = {status: 0 for status in SiteStatus}
    for s in states:
        counts[s.status] += 1
    _header(out, c.SITES)
    out.extend(f'tps_sites{{status="{k}"}} {v}\n' for k, v in counts.items())


def _devices(out: list[str], store: Store) -> None:
    _, _, device_info, _, keys = _static(store.inventory)
    states = store.devices.values()
    _header(out, c.DEVICE_INFO)
    out.append(device_info)
    _header(out, c.DEVICE_UP)
    out.extend(
        f"tps_device_up{{{keys[d.device.id]}}} {int(d.status in REACHABLE)}\n" for d in states
    )
    _header(out, c.DEVICE_STATUS)
    out.extend(
        f'tps_device_status{{{keys[d.device.id]},status="{d.status}",reason="{d.reason}"}} 1\n'
        for d in states
    )
    _header(out, c.DEVICE_STATUS_SINCE)
    out.extend(
        f"tps_device_status_since_timestamp_seconds{{{keys[d.device.id]}}} {_num(d.since)}\n"
        for d in states
    )
    _header(out, c.DEVICE_FAILURES)
    out.extend(
        f"tps_device_consecutive_failures{{{keys[d.device.id]}}} {d.consecutive_failures}\n"
        for d in states
    )
    _header(out, c.DEVICE_LAST_SUCCESS)
    out.extend(
        f"tps_device_last_success_timestamp_seconds{{{keys[d.device.id]}}} {_num(d.last_success)}\n"
        for d in states
        if d.last_success is not None
    )
    _header(out, c.DEVICE_LAST_POLL)
    out.extend(
        f"tps_device_last_poll_timestamp_seconds{{{keys[d.device.id]}}} {_num(d.last_poll)}\n"
        for d in states
        if d.last_poll is not None
    )
    counts = {status: 0 for status in DeviceStatus}
    for d in states:
        counts[d.status] += 1
    _header(out, c.DEVICES)
    out.extend(f'tps_devices{{status="{k}"}} {v}\n' for k, v in counts.items())


def _icmp(out: list[str], store: Store) -> None:
    _, _, _, _, keys = _static(store.inventory)
    polled = [d for d in store.devices.values() if d.last is not None]
    _header(out, c.ICMP_RTT)
    for d in polled:
        assert d.last is not None
        if d.last.rtts:
            key = keys[d.device.id]
            for stat, value in (("min", d.last.rtt_min), ("avg", d.last.rtt_avg),
                                ("max", d.last.rtt_max)):  # fmt: skip
                out.append(f'tps_icmp_rtt_seconds{{{key},stat="{stat}"}} {_num(value or 0.0)}\n')
    _header(out, c.ICMP_LOSS)
    out.extend(
        f"tps_icmp_loss_ratio{{{keys[d.device.id]}}} {_num(d.last.loss_ratio)}\n"
        for d in polled
        if d.last is not None and d.last.sent
    )
    _header(out, c.ICMP_JITTER)
    out.extend(
        f"tps_icmp_jitter_seconds{{{keys[d.device.id]}}} {_num(d.last.jitter)}\n"
        for d in polled
        if d.last is not None and d.last.jitter is not None
    )
    _header(out, c.ICMP_REQUESTS)
    out.extend(
        f"tps_icmp_echo_requests_total{{{keys[d.device.id]}}} {d.echo_requests}\n" for d in polled
    )
    _header(out, c.ICMP_REPLIES)
    out.extend(
        f"tps_icmp_echo_replies_total{{{keys[d.device.id]}}} {d.echo_replies}\n" for d in polled
    )


def _exporter(out: list[str], store: Store, stats: RuntimeStats) -> None:
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
        out.append(f'tps_poll_overdue_seconds{{protocol="{protocol}"}} {_num(overdue())}\n')
    _header(out, c.POLLS_SKIPPED)
    for protocol in stats.protocols:
        n = stats.polls_skipped[protocol]
        out.append(f'tps_polls_skipped_total{{protocol="{protocol}"}} {n}\n')
    _header(out, c.ICMP_SOCKET_INFO)
    out.extend(
        f'tps_icmp_socket_info{{family="{f}",kind="{k}"}} 1\n'
        for f, k in sorted(stats.socket_kinds.items())
    )
    _header(out, c.CONFIG_RELOAD_OK)
    out.append(f"tps_config_last_reload_successful {int(stats.reload_ok)}\n")
    _header(out, c.CONFIG_RELOAD_TIME)
    out.append(f"tps_config_last_reload_success_timestamp_seconds {_num(stats.reload_time)}\n")
    _header(out, c.CONFIG_RELOADS)
    for result in ("success", "failure"):
        out.append(f'tps_config_reloads_total{{result="{result}"}} {stats.reloads[result]}\n')
    _header(out, c.BUILD_INFO)
    python = escape(platform.python_version())
    out.append(f'tps_build_info{{version="{__version__}",python_version="{python}"}} 1\n')


def _histogram(out: list[str], name: str, labels: str, histogram: Histogram) -> None:
    for le, count in histogram.cumulative():
        out.append(f'{name}_bucket{{{labels},le="{le}"}} {count}\n')
    out.append(f"{name}_sum{{{labels}}} {_num(histogram.sum)}\n")
    out.append(f"{name}_count{{{labels}}} {histogram.count}\n")


def _process(out: list[str], stats: RuntimeStats) -> None:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    _header(out, c.PROCESS_CPU)
    out.append(f"process_cpu_seconds_total {_num(usage.ru_utime + usage.ru_stime)}\n")
    _header(out, c.PROCESS_RSS)
    out.append(f"process_resident_memory_bytes {_resident_bytes()}\n")
    _header(out, c.PROCESS_START)
    out.append(f"process_start_time_seconds {_num(stats.started)}\n")
    _header(out, c.PROCESS_FDS)
    out.append(f"process_open_fds {len(os.listdir('/proc/self/fd'))}\n")


def _resident_bytes() -> int:
    # /proc is memory, not disk: reading it here keeps the scrape free of real I/O.
    with open("/proc/self/statm", "rb") as statm:
        return int(statm.read().split()[1]) * _PAGE_SIZE
