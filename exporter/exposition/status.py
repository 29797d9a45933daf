"""What the status page shows, as JSON: an area's figures, its areas worst first, the outages
grouped by the device at fault, its blank spots by village, and a search.

Texts people read (statuses, reasons, places, times in the area's zone) come formatted in the
language asked for, so the page's script only places them.
"""

from __future__ import annotations

import bisect
import datetime as dt
import re
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from exporter import i18n
from exporter.i18n import N_, _, words
from exporter.inventory import areas
from exporter.inventory.model import Device, ElectionCalendar, Site
from exporter.state.phase import phase_at
from exporter.state.store import SiteState, SiteStatus, Store

STATUSES = tuple(s.value for s in SiteStatus)
LIVE = (SiteStatus.DOWN, SiteStatus.DEGRADED, SiteStatus.NO_DATA)  # outages, by device at fault
_WORST = {SiteStatus.DOWN: 0, SiteStatus.DEGRADED: 1, SiteStatus.NO_DATA: 2}
PAGE_SIZE = 50  # incidents, or villages of blank spots, per page; every one is on some page
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


def _path(devices: dict[str, Device], first: tuple[str, ...]) -> list[str]:
    """Return a TPS's devices and those upstream of them (the BTS an alert names), once each."""
    seen: dict[str, None] = {}
    for device_id in first:
        step: str | None = device_id
        while step is not None and step in devices and step not in seen:
            seen[step] = None
            step = devices[step].parent
    return list(seen)


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
        found = [site.id, site.name, site.place.village.name, site.place.district.name]
        for device_id in _path(devices, site.devices):
            device = devices[device_id]
            found += [device_id, device.name, device.operator]
        line = _SEPARATORS.sub(" ", "\t".join(found)).casefold() + "\n"
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
    """Return the page's data for an area ("" is the nation): figures, areas, outages, matches."""
    return {**area_view(store, calendar, area, now), "matches": search(store, area, query)}


def area_view(
    store: Store,
    calendar: ElectionCalendar,
    area: str = "",
    now: dt.datetime | None = None,
    pages: tuple[int, int] = (1, 1),
) -> dict[str, Any]:
    """Return an area's figures, its areas one level down (worst first), its outages by device
    at fault and its blank spots by village; `pages` picks the page of each of those lists."""
    now = now or dt.datetime.now(dt.UTC)
    level = _level_below(area)
    index = status_index(store)
    start, stop = index.area(area)
    inside = index.states[start:stop]
    if area and not inside:
        raise AreaNotFoundError(area)
    zone = inside[0].site.timezone if area else areas.WIB
    children: dict[str, dict[str, Any]] = {}
    total = dict.fromkeys(STATUSES, 0)
    for state in inside:
        total[state.status] += 1
        if level is not None:
            child = getattr(state.site.place, level)
            entry = children.setdefault(child.code, _area_entry(child.code, child.name))
            entry["counts"][state.status] += 1
    # Grouped and ordered cheaply; only the page shown is written out (names, times).
    incidents = _incident_groups(inside)
    villages = _blank_villages(inside)
    at = now.timestamp()
    return {
        "generated": now.timestamp(),
        "generated_text": i18n.clock(now.timestamp(), zone),
        "lang": i18n.current(),
        "area": _trail(inside[0].site, area) if area else [],
        "level": level,
        "level_title": _(LEVEL_TITLES[level]) if level else "",
        **_figures(total),
        "children": sorted((_child(c) for c in children.values()), key=_worst_first),
        **_page("incidents", incidents, pages[0], lambda g: _incident(store, g, at)),
        "incident_tps": sum(len(g) for g in incidents),
        **_page("blank_villages", villages, pages[1], _village),
        "phases": _phases(calendar, {s.site.timezone for s in inside}, now),
    }


LEVEL_TITLES = {"province": N_("Provinces"), "regency": N_("Regencies and cities"),
                "district": N_("Districts"), "village": N_("Villages")}  # fmt: skip
PHASES = {"run_up": N_("run-up"), "voting": N_("voting"), "counting": N_("counting"),
          "recap": N_("recapitulation"), "none": N_("no election now")}  # fmt: skip


def _figures(counts: dict[str, int]) -> dict[str, Any]:
    """Return an area's counts with its two figures, ready and can send, as numbers and text."""
    total = sum(counts.values())
    ready = counts["up"] / total if total else None
    can_send = (counts["up"] + counts["degraded"]) / total if total else None
    return {
        "counts": counts,
        "counts_text": {s: i18n.number(n) for s, n in counts.items()},
        "status_text": {s: words.status(s) for s in counts},
        "total": total,
        "total_text": i18n.number(total),
        "ready": ready,
        "ready_text": i18n.percent(ready),
        "can_send_text": i18n.percent(can_send),
        "not_ready": total - counts["up"],
    }


def _child(entry: dict[str, Any]) -> dict[str, Any]:
    return {"code": entry["code"], "name": entry["name"], **_figures(entry["counts"])}


def _worst_first(child: dict[str, Any]) -> tuple[float, int, str]:
    """Areas with the lowest readiness first; among equals, the most TPS down first."""
    ready = child["ready"]
    return (2.0 if ready is None else ready, -child["counts"]["down"], child["name"])


def _page(
    name: str,
    groups: list[list[SiteState]],
    page: int,
    write: Callable[[list[SiteState]], dict[str, Any]],
) -> dict[str, Any]:
    """Return one page of a list of groups, written out, with how many there are and pages."""
    pages = max(1, -(-len(groups) // PAGE_SIZE))
    page = min(max(page, 1), pages)
    return {
        name: [write(g) for g in groups[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]],
        f"{name}_total": len(groups),
        f"{name}_page": page,
        f"{name}_pages": pages,
    }


def _incident_groups(inside: tuple[SiteState, ...]) -> list[list[SiteState]]:
    """Return the TPS down, degraded or without data, by the device at fault, biggest first."""
    groups: dict[str, list[SiteState]] = {}
    for state in inside:
        if state.status in LIVE:
            # TPS without a device at fault (not polled yet) make one incident per status.
            groups.setdefault(state.device or f":{state.status}", []).append(state)
    ordered = sorted(groups.values(), key=lambda g: (min(_WORST[s.status] for s in g), -len(g),
                                                     min(s.since for s in g)))  # fmt: skip
    return ordered


def _incident(store: Store, members: list[SiteState], now: float) -> dict[str, Any]:
    worst = min(members, key=lambda s: _WORST[s.status])
    device = store.inventory.devices.get(worst.device) if worst.device else None
    polled = store.devices.get(worst.device) if worst.device else None
    # The device's own reason (it does not answer ping), not its TPS's (a device upstream).
    reason = polled.reason if polled is not None else worst.reason
    since = min(s.since for s in members)
    zone = worst.site.timezone
    return {
        "device": worst.device,
        "device_name": device.name if device and device.name else worst.device,
        "operator": device.operator if device else "",
        "status": worst.status.value,
        "status_text": words.status(worst.status.value),
        "reason_text": words.reason(reason),
        "since": since,
        "since_text": i18n.when(since, zone, year=False),
        "for_text": i18n.duration(now - since),
        "count": len(members),
        "count_text": i18n.n_("{count} TPS", "{count} TPS", len(members)).format(
            count=i18n.number(len(members))
        ),
        "places": _by_village(members),
    }


def _by_village(members: list[SiteState]) -> list[dict[str, Any]]:
    """Return TPS grouped by village, each village's place written in breadcrumb order."""
    villages: dict[str, dict[str, Any]] = {}
    for state in sorted(members, key=lambda s: (s.site.place.village.code, s.site.name)):
        code = state.site.place.village.code
        entry = villages.setdefault(code, {"place": _place(state.site), "tps": []})
        entry["tps"].append({"id": state.site.id, "name": state.site.name})
    return list(villages.values())


def _blank_villages(inside: tuple[SiteState, ...]) -> list[list[SiteState]]:
    """Return the area's blank spots by village, in area-code order (the index's order)."""
    villages: dict[str, list[SiteState]] = {}
    for state in inside:
        if state.status is SiteStatus.BLANK_SPOT:
            villages.setdefault(state.site.place.village.code, []).append(state)
    return list(villages.values())


def _village(members: list[SiteState]) -> dict[str, Any]:
    """Return one village's blank spots: its place, labelled, and its TPS."""
    return _by_village(members)[0]


def _place(site: Site) -> str:
    """Return where a TPS is, labelled, from the regency down: `Kabupaten Bintan › Kec. Gunung
    Kijang › Desa/Kel. Kawal`."""
    place = site.place
    return _("{regency} › Dist. {district} › Vil. {village}").format(
        regency=place.regency.name, district=place.district.name, village=place.village.name
    )


def search(store: Store, area: str, query: str) -> list[dict[str, Any]]:
    """Return the TPS of an area whose id, name, village, district, devices (id, name, operator,
    and those upstream) contain the query (case-blind), at most MATCHES_SHOWN; a query under
    2 letters finds none."""
    # Control characters cannot be in a TPS's words, and a needle with them could span two.
    needle = _SEPARATORS.sub(" ", query).strip().casefold()
    if len(needle) < MIN_QUERY:
        return []
    index = status_index(store)
    start, stop = index.area(area)
    return [_row(store, s) for s in index.search(needle, start, stop, MATCHES_SHOWN)]


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


def _row(store: Store, state: SiteState) -> dict[str, Any]:
    """Return a TPS found by a search: its status in words and every device on its path."""
    site = state.site
    devices = store.inventory.devices
    path = []
    for device_id in _path(devices, site.devices):
        device, polled = devices[device_id], store.devices.get(device_id)
        status = polled.status.value if polled else "unknown"
        path.append({"id": device_id, "name": device.name or device_id,
                     "operator": device.operator, "status": status,
                     "status_text": words.status(status)})  # fmt: skip
    return {
        "id": site.id,
        "name": site.name,
        "status": state.status.value,
        "status_text": words.status(state.status.value),
        "reason_text": "" if state.status is SiteStatus.UP else words.reason(state.reason),
        "since": state.since,
        "since_text": i18n.when(state.since, site.timezone, year=False),
        "devices": path,
        "place": _place(site),
    }


def _phases(calendar: ElectionCalendar, zones: set[str], now: dt.datetime) -> dict[str, str]:
    """Return the election phase of each time zone shown, in words, by its WIB/WITA/WIT name."""
    phases = {}
    for zone in sorted(zones):
        phase = phase_at(calendar, now, zone).phase.value
        phases[i18n.zone_name(zone)] = _(PHASES[phase]) if phase in PHASES else phase
    return phases
