"""Which phase of an election each time zone is in: run-up, voting, counting, recap or none."""

from __future__ import annotations

import datetime as dt
import enum
import zoneinfo
from dataclasses import dataclass

from exporter.inventory.model import ElectionCalendar, ElectionDay


class Phase(enum.StrEnum):
    """The phases that set how urgent an outage is."""

    RUN_UP = "run_up"  # the days before: find and fix gaps
    VOTING = "voting"  # 07:00-13:00 local: an outage is an emergency
    COUNTING = "counting"  # after voting until 24:00 local: results leave the TPS now
    RECAP = "recap"  # the days after: uploads and level-by-level recapitulation
    NONE = "none"


@dataclass(frozen=True, slots=True)
class PhaseNow:
    """The phase of one time zone at one instant, and the election it belongs to."""

    phase: Phase
    election: str = ""
    rehearsal: bool = False


def phase_at(calendar: ElectionCalendar, instant: dt.datetime, zone: str) -> PhaseNow:
    """Return the phase at `instant` in time zone `zone` (an IANA name)."""
    local = instant.astimezone(zoneinfo.ZoneInfo(zone))
    today, now = local.date(), local.time()
    # The day itself wins over any window: a rehearsal inside a run-up is a voting drill.
    for day in calendar.days:
        if day.date == today:
            return PhaseNow(_phase_of_day(calendar, now), day.name, day.rehearsal)
    for day in _real(calendar.days):
        if day.date - dt.timedelta(days=calendar.run_up_days) <= today < day.date:
            return PhaseNow(Phase.RUN_UP, day.name)
        if day.date < today <= day.date + dt.timedelta(days=calendar.recap_days):
            return PhaseNow(Phase.RECAP, day.name)
    return PhaseNow(Phase.NONE)


def _phase_of_day(calendar: ElectionCalendar, now: dt.time) -> Phase:
    if now < calendar.voting_start:
        return Phase.RUN_UP  # the polling station is being set up
    if now < calendar.voting_end:
        return Phase.VOTING
    if calendar.counting_end is None or now < calendar.counting_end:
        return Phase.COUNTING
    return Phase.RECAP


def _real(days: tuple[ElectionDay, ...]) -> list[ElectionDay]:
    # Rehearsals (simulasi) drill the chain on their day; they have no run-up or recap of their own.
    return [d for d in days if not d.rehearsal]
