"""What the status page shows: TPS counts by area, the TPS offline, and a search, as JSON."""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from collections.abc import Iterable
from typing import Any

from exporter.inventory import areas
from exporter.inventory.model import ElectionCalendar, Site
from exporter.state.phase import phase_at
from exporter.state.store import SiteState, SiteStatus, Store

STATUSES = tuple(s.value for s in SiteStatus)
OFFLINE = (SiteStatus.DOWN, SiteStatus.DEGRADED)  # listed, worst first
OFFLINE_SHOWN = 200  # rows of the offline list; the count says how many more
MATCHES_SHOWN = 50
MIN_QUERY = 2


class AreaNotFoundError(LookupError):
    """The area code asked for is not in the inventory."""


def status_view(
    store: Store,
    calendar: ElectionCalendar,
    area: str = "",
    query: str = "",
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Return the page's data for an area ("" is the nation): counts, children, offline, matches."""
    now = now or dt.datetime.now(dt.UTC)
    level = _level_below(area)
    inside = [s for s in store.sites.values() if _in_area(s.site, area)]
    if area and not inside:
        raise AreaNotFoundError(area)
    children: dict[str, dict[str, Any]] = {}
    total = dict.fromkeys(STATUSES, 0)
    for state in inside:
        total[state.status] += 1
        if level is not None:
            child = getattr(state.site.place, level)
            entry = children.setdefault(child.code, _area_entry(child.code, child.name))
            entry["counts"][state.status] += 1
    offline = sorted(
        (s for s in inside if s.status in OFFLINE),
        key=lambda s: (s.status != SiteStatus.DOWN, -s.since, s.site.id),
    )
    return {
        "generated": now.timestamp(),
        "area": _trail(inside[0].site, area) if area else [],
        "level": level,
        "counts": total,
        "total": len(inside),
        "children": sorted(children.values(), key=lambda c: c["code"]),
        "offline": [_row(s) for s in offline[:OFFLINE_SHOWN]],
        "offline_total": len(offline),
        "matches": _matches(inside, query) if len(query.strip()) >= MIN_QUERY else [],
        "phases": _phases(calendar, {s.site.timezone for s in inside}, now),
    }


def _level_below(area: str) -> str | None:
    """Return the level whose areas make up `area`: provinces for the nation, and so on."""
    depth = 0 if not area else area.count(".") + 1
    return areas.LEVELS[depth] if depth < len(areas.LEVELS) else None


def _in_area(site: Site, area: str) -> bool:
    code = site.place.village.code
    return not area or code == area or code.startswith(area + ".")


def _area_entry(code: str, name: str) -> dict[str, Any]:
    return {"code": code, "name": name, "counts": dict.fromkeys(STATUSES, 0)}


def _trail(site: Site, area: str) -> list[dict[str, str]]:
    """Return the areas from the province down to `area`, for the page's breadcrumbs."""
    depth = area.count(".") + 1
    return [
        {"code": a.code, "name": a.name}
        for a in (getattr(site.place, level) for level in areas.LEVELS[:depth])
    ]


def _row(state: SiteState) -> dict[str, Any]:
    site, place = state.site, state.site.place
    return {
        "id": site.id,
        "name": site.name,
        "status": state.status.value,
        "reason": state.reason,
        "device": state.device,
        "since": state.since,
        "since_local": _local(state.since, site.timezone),
        "place": [place.province.name, place.regency.name, place.district.name, place.village.name],
    }


def _matches(inside: Iterable[SiteState], query: str) -> list[dict[str, Any]]:
    """Return the TPS of the area whose id, name, village or any device contains the query."""
    needle = query.strip().casefold()
    found = []
    for state in inside:
        site = state.site
        haystack = (site.id, site.name, site.place.village.name, site.place.district.name,
                    *site.devices)  # fmt: skip
        if any(needle in text.casefold() for text in haystack):
            found.append(_row(state))
            if len(found) == MATCHES_SHOWN:
                break
    return found


def _phases(calendar: ElectionCalendar, zones: set[str], now: dt.datetime) -> dict[str, str]:
    """Return the election phase of each time zone shown, by its WIB/WITA/WIT name."""
    phases = {}
    for zone in sorted(zones):
        phases[areas.zone_abbreviation(zone)] = phase_at(calendar, now, zone).phase.value
    return phases


def _local(timestamp: float, zone: str) -> str:
    """Return a time as people at the TPS read it: `23 Nov 14:05 WITA`."""
    local = dt.datetime.fromtimestamp(timestamp, _zone(zone))
    return f"{local:%d %b %H:%M} {areas.zone_abbreviation(zone)}"


@functools.cache
def _zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)
