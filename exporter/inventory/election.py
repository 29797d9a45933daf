"""Read the `election:` section: voting days, rehearsals, hours and the windows around them."""

from __future__ import annotations

import datetime as dt

from exporter.i18n import _
from exporter.inventory.model import ElectionCalendar, ElectionDay
from exporter.inventory.nodes import Node, Reader, join

_KEYS = ("days", "rehearsals", "run_up", "recap", "voting_hours", "counting_until")


def read_calendar(r: Reader, node: Node) -> ElectionCalendar:
    """Return the election calendar; every error names its file, line and key."""
    base = ElectionCalendar()
    m = r.mapping(node, "election", _KEYS)
    if m is None:
        return base
    days = [*_days(r, m, "days", rehearsal=False), *_days(r, m, "rehearsals", rehearsal=True)]
    seen: dict[dt.date, str] = {}
    for day in days:
        if day.date in seen:
            r.error(
                node,
                "election",
                _("{date} is listed twice ({seen}, {name})").format(
                    date=day.date, seen=seen[day.date], name=day.name
                ),
            )
        seen[day.date] = day.name
    run_up = _whole_days(r, m, "run_up", base.run_up_days)
    recap = _whole_days(r, m, "recap", base.recap_days)
    start, end = base.voting_start, base.voting_end
    if "voting_hours" in m:
        hours = r.mapping(m["voting_hours"], "election.voting_hours", ("start", "end"),
                          required=("start", "end")) or {}  # fmt: skip
        start = _clock(r, hours.get("start"), "election.voting_hours.start") or start
        end = _clock(r, hours.get("end"), "election.voting_hours.end") or end
        if start >= end:
            r.error(m["voting_hours"], "election.voting_hours", _("start must be before end"))
    counting_end = None
    if "counting_until" in m:
        counting_end = _clock(r, m["counting_until"], "election.counting_until")
        if counting_end is not None and counting_end <= end:
            r.error(m["counting_until"], "election.counting_until", _("must be after voting ends"))
    return ElectionCalendar(tuple(sorted(days, key=lambda d: d.date)), run_up, recap,
                            start, end, counting_end)  # fmt: skip


def _days(r: Reader, m: dict[str, Node], key: str, *, rehearsal: bool) -> list[ElectionDay]:
    out: list[ElectionDay] = []
    if key not in m or Reader.is_null(m[key]):
        return out
    for i, item in enumerate(r.sequence(m[key], join("election", key)) or ()):
        path = join(join("election", key), i)
        day = r.mapping(item, path, ("date", "name"), required=("date", "name"))
        if not day or "date" not in day or "name" not in day:
            continue
        text, name = (
            r.string(day["date"], join(path, "date")),
            r.string(day["name"], join(path, "name")),
        )
        try:
            date = dt.date.fromisoformat(text or "")
        except ValueError:
            r.error(
                day["date"],
                join(path, "date"),
                _("must be a date like 2024-02-14, not {text!r}").format(text=text),
            )
            continue
        if name is not None:
            out.append(ElectionDay(date, name, rehearsal))
    return out


def _whole_days(r: Reader, m: dict[str, Node], key: str, default: int) -> int:
    if key not in m:
        return default
    seconds = r.duration(m[key], join("election", key), 0, 366 * 86400)
    if seconds is None:
        return default
    if seconds % 86400:
        r.error(m[key], join("election", key), _("must be whole days, like 14d"))
    return int(seconds // 86400)


def _clock(r: Reader, node: Node | None, path: str) -> dt.time | None:
    """Return a local clock time written HH:MM; 24:00 means the end of the day (None)."""
    if node is None:
        return None
    text = r.string(node, path)
    if text in ("24:00", "24:00:00"):
        return None
    try:
        return dt.time.fromisoformat(text or "")
    except ValueError:
        r.error(node, path, _("must be a time like 07:00, not {text!r}").format(text=text))
        return None
