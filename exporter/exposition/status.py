"""What the status page shows: TPS counts by area, the TPS offline, and a search, as JSON."""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import re
import weakref
import zoneinfo
from dataclasses import dataclass
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
_SEPARATORS = re.compile(r"[\x00-\x1f\x7f]+")  # the index's own separators, never searched


class AreaNotFoundError(LookupError):
    """The area code asked for is not in the inventory."""


@dataclass(frozen=True, slots=True)
class StatusIndex:
    """One inventory's TPS in area-code order, so an area is a slice, and one search text.

    Built once per inventory: a search is then `str.find` over the area's part of the text (C
    speed, bounded by the area's size), not a walk over every TPS on the event loop.
    """

    states: tuple[SiteState, ...]
    ranges: dict[str, tuple[int, int]]  # every area code at every level -> [start, stop)
    text: str  # each TPS's searchable words, casefolded, one line per TPS, in `states` order
    starts: tuple[int, ...]  # where each TPS's line starts in `text`; one more at the end

    def area(self, code: str) -> tuple[int, int]:
        """Return the slice of `states` inside an area ("" is the nation)."""
        if not code:
            return 0, len(self.states)
        return self.ranges.get(code, (0, 0))

    def search(self, needle: str, start: int, stop: int, limit: int) -> list[SiteState]:
        """Return up to `limit` TPS of states[start:stop] whose words contain `needle`."""
        found: list[SiteState] = []
        pos, end = self.starts[start], self.starts[stop]
        while len(found) < limit:
            hit = self.text.find(needle, pos, end)
            if hit < 0:
                break
            row = bisect.bisect_right(self.starts, hit) - 1
            found.append(self.states[row])
            pos = self.starts[row + 1]
        return found


_INDEXES: weakref.WeakKeyDictionary[Store, StatusIndex] = weakref.WeakKeyDictionary()


def status_index(store: Store) -> StatusIndex:
    """Return the store's index, built at the first question about this inventory."""
    index = _INDEXES.get(store)
    if index is None:
        index = _INDEXES[store] = _build_index(store)
    return index


def _build_index(store: Store) -> StatusIndex:
    states = sorted(store.sites.values(), key=lambda s: (s.site.place.village.code, s.site.id))
    ranges: dict[str, tuple[int, int]] = {}
    lines: list[str] = []
    starts: list[int] = []
    offset = 0
    devices = store.inventory.devices
    for row, state in enumerate(states):
        site = state.site
        for level in areas.LEVELS:
            code = getattr(site.place, level).code
            first = ranges.get(code, (row, row))[0]
            ranges[code] = (first, row + 1)
        words = [site.id, site.name, site.place.village.name, site.place.district.name]
        for device_id in site.devices:
            words.append(device_id)
            device = devices.get(device_id)
            if device is not None and device.operator:
                words.append(device.operator)
        line = _SEPARATORS.sub(" ", "\t".join(words)).casefold() + "\n"
        starts.append(offset)
        lines.append(line)
        offset += len(line)
    starts.append(offset)
    return StatusIndex(tuple(states), ranges, "".join(lines), tuple(starts))


def status_view(
    store: Store,
    calendar: ElectionCalendar,
    area: str = "",
    query: str = "",
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Return the page's data for an area ("" is the nation): counts, children, offline, matches."""
    return {**area_view(store, calendar, area, now), "matches": search(store, area, query)}


def area_view(
    store: Store, calendar: ElectionCalendar, area: str = "", now: dt.datetime | None = None
) -> dict[str, Any]:
    """Return an area's counts, its areas one level down, and its TPS offline, worst first."""
    now = now or dt.datetime.now(dt.UTC)
    level = _level_below(area)
    index = status_index(store)
    start, stop = index.area(area)
    inside = index.states[start:stop]
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
        "phases": _phases(calendar, {s.site.timezone for s in inside}, now),
    }


def search(store: Store, area: str, query: str) -> list[dict[str, Any]]:
    """Return the TPS of an area whose id, name, village, district, devices or their operators
    contain the query (case-blind), at most MATCHES_SHOWN; a query under 2 letters finds none."""
    # Control characters cannot be in a TPS's words, and a needle with them could span two.
    needle = _SEPARATORS.sub(" ", query).strip().casefold()
    if len(needle) < MIN_QUERY:
        return []
    index = status_index(store)
    start, stop = index.area(area)
    return [_row(s) for s in index.search(needle, start, stop, MATCHES_SHOWN)]


def _level_below(area: str) -> str | None:
    """Return the level whose areas make up `area`: provinces for the nation, and so on."""
    depth = 0 if not area else area.count(".") + 1
    return areas.LEVELS[depth] if depth < len(areas.LEVELS) else None


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
