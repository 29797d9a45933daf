"""The report's spreadsheets: what an operator's name can make Excel or LibreOffice do."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from exporter.report.formats import areas_csv, tps_csv
from exporter.report.readiness import Counts, NotReady, Regency, Report

HOSTILE = ['=HYPERLINK("http://x","klik")', "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "\rCR"]


def _report(text: str) -> Report:
    report = Report(scope="Kepulauan Riau", at=dt.datetime(2024, 2, 14, 3, tzinfo=dt.UTC))
    report.counts = _one_down()
    report.regencies[("Kepulauan Riau", text)] = Regency("Kepulauan Riau", text, _one_down(),
                                                          {text: _one_down()})  # fmt: skip
    report.not_ready.append(NotReady("tps-1", text, "Kepulauan Riau", text, text, text, "down",
                                     "icmp_timeout", text, None))  # fmt: skip
    return report


def _one_down() -> Counts:
    counts = Counts()
    counts.by_status["down"] = 1
    return counts


def _cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text, newline="")) for cell in row]


@pytest.mark.parametrize("text", HOSTILE)
def test_no_cell_of_either_spreadsheet_starts_a_formula(text: str) -> None:
    report = _report(text)
    for sheet in (areas_csv(report), tps_csv(report, "Asia/Jakarta")):
        cells = _cells(sheet)
        assert "'" + text in cells  # shown as typed, with the apostrophe a spreadsheet hides
        assert not [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))], cells


def test_plain_names_and_numbers_are_written_as_they_are() -> None:
    report = _report("Bintan")
    cells = _cells(tps_csv(report, "Asia/Jakarta"))
    row = ["tps-1", "Bintan", "Kepulauan Riau", "Bintan", "Bintan", "Bintan", "down",
           "icmp_timeout", "icmp_timeout", "Bintan", "", "", "", ""]  # fmt: skip
    assert cells[14:] == row
    assert "1" in _cells(areas_csv(report))
