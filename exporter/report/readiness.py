"""The readiness report's figures: TPS by status per regency and district, and the TPS not ready.

Everything comes from the recording rule `site:tps_site_status:info` (a TPS's status joined with
its place, alerts/tps-rules.yml), so the report counts exactly what the alerts and dashboards
count. Ready means up, as in `regency:tps_readiness:ratio`: degraded, down, blank spot and no
data are all not ready.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from exporter.report.prometheus import Querier, Sample

SITE_STATUS_RULE = "site:tps_site_status:info"
SINCE = "tps_site_status_since_timestamp_seconds"
DEVICE_INFO = "tps_device_info"
DEVICE_STATUS = "tps_device_status"
ELECTION_PHASE = "tps_election_phase"
STATUSES = ("up", "degraded", "down", "blank_spot", "no_data")


@dataclass
class Counts:
    """TPS of one area by status."""

    by_status: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))

    @property
    def total(self) -> int:
        """All TPS of the area."""
        return sum(self.by_status.values())

    @property
    def readiness(self) -> float | None:
        """The share of TPS up, or None for an area without TPS."""
        return self.by_status["up"] / self.total if self.total else None

    @property
    def can_send(self) -> float | None:
        """The share of TPS up or degraded (they can send their results), or None."""
        up = self.by_status["up"] + self.by_status["degraded"]
        return up / self.total if self.total else None

    def add(self, status: str, count: int) -> None:
        """Count `count` more TPS in `status` (an unknown status is counted as no data)."""
        key = status if status in self.by_status else "no_data"
        self.by_status[key] += count


@dataclass(frozen=True, slots=True)
class NotReady:
    """One TPS that is not up: where, why, through which device, since when."""

    site: str
    name: str
    province: str
    regency: str
    district: str
    village: str
    status: str
    reason: str
    device: str
    since: float | None
    device_name: str = ""
    operator: str = ""
    device_reason: str = ""  # why the device at fault is down: it does not answer ping


@dataclass
class Regency:
    """A regency's counts and those of its districts."""

    province: str
    name: str
    counts: Counts = field(default_factory=Counts)
    districts: dict[str, Counts] = field(default_factory=dict)


@dataclass
class Report:
    """The readiness of a province (or the nation) at one instant."""

    scope: str  # a province's name, or "Indonesia"
    at: dt.datetime
    counts: Counts = field(default_factory=Counts)
    regencies: dict[tuple[str, str], Regency] = field(default_factory=dict)
    not_ready: list[NotReady] = field(default_factory=list)
    election: str = ""  # the election whose window `at` is in, from tps_election_phase


def build(querier: Querier, at: dt.datetime, province: str | None = None) -> Report:
    """Ask Prometheus for the figures of a province (None: the nation) at `at`."""
    selector = f"province={json.dumps(province)}" if province else ""
    when = at.timestamp()
    counts = querier.query(
        f"count by (province, regency, district, status) ({SITE_STATUS_RULE}{{{selector}}})", when
    )
    report = Report(province or "Indonesia", at)
    for sample in counts:
        _count(report, sample)
    not_up = SITE_STATUS_RULE + "{" + ",".join(filter(None, [selector, 'status!="up"'])) + "}"
    since = {s.labels.get("site", ""): s.value
             for s in querier.query(f"{SINCE} and on (site) {not_up}", when)}  # fmt: skip
    devices = _of_devices(querier, DEVICE_INFO, not_up, when)
    statuses = _of_devices(querier, DEVICE_STATUS, not_up, when)
    reasons = {device: labels.get("reason", "") for device, labels in statuses.items()}
    report.not_ready = sorted(
        (_not_ready(s.labels, since, devices, reasons) for s in querier.query(not_up, when)),
        key=lambda t: (t.regency, t.district, t.village, t.site),
    )
    report.election = _election(querier, when)
    return report


def _of_devices(
    querier: Querier, metric: str, not_up: str, when: float
) -> dict[str, dict[str, str]]:
    """Return the labels of `metric` for each device at fault of a TPS not up."""
    found = querier.query(f"{metric} and on (device) {not_up}", when)
    return {s.labels.get("device", ""): s.labels for s in found}


def _election(querier: Querier, when: float) -> str:
    """Return the name of the election whose window `when` is in, or ""."""
    names = {s.labels.get("election", "") for s in querier.query(ELECTION_PHASE, when)}
    return min(filter(None, names), default="")


def provinces(querier: Querier, at: dt.datetime) -> dict[str, str]:
    """Return the provinces Prometheus knows at `at`, code to name, to resolve `--province 21`."""
    found = querier.query("group by (province, province_code) (tps_site_info)", at.timestamp())
    return {s.labels.get("province_code", ""): s.labels.get("province", "") for s in found}


def _count(report: Report, sample: Sample) -> None:
    labels, count = sample.labels, int(sample.value)
    province, regency = labels.get("province", ""), labels.get("regency", "")
    status, district = labels.get("status", ""), labels.get("district", "")
    entry = report.regencies.setdefault((province, regency), Regency(province, regency))
    entry.counts.add(status, count)
    entry.districts.setdefault(district, Counts()).add(status, count)
    report.counts.add(status, count)


def _not_ready(
    labels: dict[str, str],
    since: dict[str, float],
    devices: dict[str, dict[str, str]],
    reasons: dict[str, str],
) -> NotReady:
    site, device = labels.get("site", ""), labels.get("device", "")
    info = devices.get(device, {}) if device else {}
    return NotReady(
        site=site,
        name=labels.get("name", ""),
        province=labels.get("province", ""),
        regency=labels.get("regency", ""),
        district=labels.get("district", ""),
        village=labels.get("village", ""),
        status=labels.get("status", ""),
        reason=labels.get("reason", ""),
        device=device,
        since=since.get(site),
        device_name=info.get("name", ""),
        operator=info.get("operator", ""),
        device_reason=reasons.get(device, "") if device else "",
    )


def sorted_regencies(report: Report) -> Iterable[Regency]:
    """Regencies by province and name, as a printed report lists them."""
    return (report.regencies[k] for k in sorted(report.regencies))


@dataclass(frozen=True, slots=True)
class Incident:
    """TPS not up through the same device (one BTS, one router), or one TPS without a device."""

    device: str
    device_name: str
    operator: str
    status: str  # the worst status among its TPS
    reason: str
    since: float | None  # the earliest
    tps: tuple[NotReady, ...]


_WORST = {"down": 0, "degraded": 1, "no_data": 2}


def incidents(report: Report) -> list[Incident]:
    """Return the live outages (down, degraded, no data) by device at fault, biggest first."""
    groups: dict[tuple[str, str], list[NotReady]] = {}
    for tps in report.not_ready:
        if tps.status != "blank_spot":
            # TPS without a device at fault (not polled yet) are one group, not one line each:
            # after a restart that is every TPS for a minute.
            key = (tps.device, "") if tps.device else ("", tps.status)
            groups.setdefault(key, []).append(tps)
    found = [_incident(members) for members in groups.values()]
    return sorted(found, key=lambda i: (_WORST.get(i.status, 3), -len(i.tps), i.since or 0,
                                        i.device or i.tps[0].site))  # fmt: skip


def _incident(members: list[NotReady]) -> Incident:
    worst = min(members, key=lambda t: _WORST.get(t.status, 3))
    times = [t.since for t in members if t.since is not None]
    # The device's own reason (it does not answer ping), not its TPS's (a device upstream).
    reason = worst.device_reason or worst.reason
    return Incident(worst.device, worst.device_name, worst.operator, worst.status, reason,
                    min(times, default=None), tuple(members))  # fmt: skip


def blank_spots(report: Report) -> dict[tuple[str, str, str], list[NotReady]]:
    """Return the blank spots by (regency, district, village), in that order."""
    villages: dict[tuple[str, str, str], list[NotReady]] = {}
    for tps in report.not_ready:
        if tps.status == "blank_spot":
            villages.setdefault((tps.regency, tps.district, tps.village), []).append(tps)
    return dict(sorted(villages.items()))


def devices_down(report: Report) -> int:
    """Return how many devices the TPS down are behind."""
    return len({t.device for t in report.not_ready if t.status == "down" and t.device})
