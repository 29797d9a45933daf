"""Election phases per time zone: the same instant is voting in Papua and not yet in Sumatra."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from exporter.exposition.render import render
from exporter.inventory.load import load, load_config
from exporter.inventory.model import ElectionCalendar, ElectionDay
from exporter.inventory.nodes import ConfigLoadError
from exporter.state.phase import Phase, PhaseNow, phase_at
from exporter.state.stats import RuntimeStats
from exporter.state.store import Store
from tests.conftest import samples_in

# The messages are checked in English (the catalogue's keys); test_config_messages.py reads
# them in Bahasa Indonesia, as they are shown by default.
pytestmark = pytest.mark.usefixtures("english")

PILKADA = ElectionDay(dt.date(2024, 11, 27), "Pilkada 2024")
SIMULASI = ElectionDay(dt.date(2024, 11, 20), "Simulasi Pilkada 2024", rehearsal=True)
CALENDAR = ElectionCalendar(days=(SIMULASI, PILKADA), run_up_days=14, recap_days=7)
WIB, WITA, WIT = "Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"


def at(iso: str) -> dt.datetime:
    return dt.datetime.fromisoformat(iso)


def test_the_same_instant_is_voting_in_wit_and_not_yet_in_wib() -> None:
    instant = at("2024-11-26T22:30:00+00:00")  # 05:30 WIB, 06:30 WITA, 07:30 WIT on the 27th
    assert phase_at(CALENDAR, instant, WIB).phase is Phase.RUN_UP
    assert phase_at(CALENDAR, instant, WITA).phase is Phase.RUN_UP
    assert phase_at(CALENDAR, instant, WIT) == PhaseNow(Phase.VOTING, "Pilkada 2024")


@pytest.mark.parametrize(
    ("utc", "zone", "phase"),
    [
        ("2024-11-27T05:59:00+00:00", WIB, Phase.VOTING),  # 12:59 WIB
        ("2024-11-27T06:00:00+00:00", WIB, Phase.COUNTING),  # 13:00 WIB: counting starts
        ("2024-11-27T05:00:00+00:00", WITA, Phase.COUNTING),  # 13:00 WITA
        ("2024-11-27T16:59:00+00:00", WIB, Phase.COUNTING),  # 23:59 WIB
        ("2024-11-27T17:00:00+00:00", WIB, Phase.RECAP),  # midnight: the recap days
        ("2024-11-27T15:00:00+00:00", WIT, Phase.RECAP),  # already the 28th in Papua
        ("2024-12-04T16:59:00+00:00", WIB, Phase.RECAP),  # day 7 after
        ("2024-12-04T17:00:00+00:00", WIB, Phase.NONE),  # day 8 after
        ("2024-11-12T17:00:00+00:00", WIB, Phase.RUN_UP),  # 14 days before, 00:00 WIB
        ("2024-11-12T16:59:00+00:00", WIB, Phase.NONE),
        ("2024-11-20T03:00:00+00:00", WITA, Phase.VOTING),  # the rehearsal day
    ],
)
def test_phase_boundaries(utc: str, zone: str, phase: Phase) -> None:
    assert phase_at(CALENDAR, at(utc), zone).phase is phase


def test_a_rehearsal_is_a_voting_drill_marked_as_such() -> None:
    now = phase_at(CALENDAR, at("2024-11-20T03:00:00+00:00"), WITA)
    assert (now.election, now.rehearsal) == ("Simulasi Pilkada 2024", True)
    # The day after a rehearsal is the real election's run-up, not a recap of the drill.
    after = phase_at(CALENDAR, at("2024-11-21T03:00:00+00:00"), WITA)
    assert (after.phase, after.election, after.rehearsal) == (Phase.RUN_UP, "Pilkada 2024", False)


def test_calendar_from_config_and_metric(tmp_path: Path) -> None:
    (tmp_path / "c.yml").write_text(
        "targets: [t]\nelection:\n  run_up: 7d\n  recap: 3d\n"
        "  voting_hours: {start: '07:00', end: '13:00'}\n  counting_until: '24:00'\n"
        "  days: [{date: 2024-02-14, name: Pemilu 2024}, {date: 2024-11-27, name: Pilkada 2024}]\n"
        "  rehearsals: [{date: 2024-11-20, name: Simulasi}]\n"
    )
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "s.yaml").write_text(
        "sites:\n  - id: tps-papua\n    name: TPS 001\n"
        '    province: {code: "91", name: Papua}\n    regency: {code: "91.03", name: Jayapura}\n'
        '    district: {code: "91.03.01", name: Sentani}\n'
        '    village: {code: "91.03.01.1001", name: Hinekombe}\n'
    )
    config, inventory = load(tmp_path / "c.yml")
    assert [d.name for d in config.election.days] == ["Pemilu 2024", "Simulasi", "Pilkada 2024"]
    assert config.election.run_up_days == 7 and config.election.counting_end is None
    text = render(
        Store(inventory),
        RuntimeStats(),
        calendar=config.election,
        now=at("2024-11-26T22:30:00+00:00"),
    ).decode()
    phases = {dict(k)["timezone"]: dict(k)["phase"] for k in samples_in(text, "tps_election_phase")}
    assert phases == {WIB: "run_up", "Asia/Pontianak": "run_up", WITA: "run_up", WIT: "voting"}


def test_calendar_errors(tmp_path: Path) -> None:
    (tmp_path / "c.yml").write_text(
        "election:\n  run_up: 36h\n  voting_hours: {start: '13:00', end: '07:00'}\n"
        "  days: [{date: 2024-02-30, name: X}, {date: 2024-11-27, name: A}]\n"
        "  rehearsals: [{date: 2024-11-27, name: B}]\n"
    )
    with pytest.raises(ConfigLoadError) as caught:
        load_config(tmp_path / "c.yml")
    c = str(tmp_path / "c.yml")
    assert [str(e) for e in caught.value.errors] == [
        f"{c}:2:3: election: 2024-11-27 is listed twice (A, B)",
        f"{c}:2:11: election.run_up: must be whole days, like 14d",
        f"{c}:3:17: election.voting_hours: start must be before end",
        f"{c}:4:17: election.days[0].date: must be a date like 2024-02-14, not '2024-02-30'",
    ]
