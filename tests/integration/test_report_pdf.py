"""The printed report, as Chromium prints it: A4, numbered pages, a running header, the figure
first and the live outages before the blank spots; read back with poppler's pdfinfo/pdftotext."""

from __future__ import annotations

import dataclasses
import re
import subprocess
from pathlib import Path

from exporter.i18n import language
from exporter.report.command import print_pdf
from exporter.report.formats import document
from exporter.report.readiness import NotReady, Report
from tests.conftest import require_binary
from tests.unit.test_report_text import voting_morning


def _pdf(report: Report, path: Path) -> tuple[dict[str, str], str]:
    require_binary("chromium")
    pdfinfo, pdftotext = require_binary("pdfinfo"), require_binary("pdftotext")
    assert print_pdf(document(report, "Asia/Jakarta"), path) == 0
    info = subprocess.run([pdfinfo, path], capture_output=True, text=True, check=True).stdout
    fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
    text = subprocess.run([pdftotext, "-layout", path, "-"], capture_output=True, text=True,
                          check=True).stdout  # fmt: skip
    return {k.strip(): v.strip() for k, v in fields.items()}, text


def test_the_report_prints_on_a4_with_numbered_pages_in_indonesian(tmp_path: Path) -> None:
    info, text = _pdf(voting_morning(), tmp_path / "kepri.pdf")
    assert "(A4)" in info["Page size"]
    pages = int(info["Pages"])
    assert (
        text.count("Pemilu 2024 · Kesiapan TPS · Kepulauan Riau · 14 Feb 2024 05.03 WIB") == pages
    )
    assert [int(n) for n in re.findall(r"Halaman (\d+) dari (\d+)", text)[-1]] == [pages, pages]
    assert "98,0% dari 3.327 TPS siap" in text
    assert text.index("Gangguan saat ini") < text.index("BTS Tanjung Pinang Barat (Telkomsel)")
    assert text.index("BTS Tanjung Pinang Barat") < text.index("Blank spot (3)")


def test_a_voting_day_with_many_outages_stays_short(tmp_path: Path) -> None:
    """Ten BTS of 60 TPS down, 20 routers down and 68 blank spots: outages by device, TPS by
    village, so the document is a few pages, not one row per TPS."""
    report = voting_morning()
    template = report.not_ready[0]
    more: list[NotReady] = []
    for bts in range(10):
        more += [dataclasses.replace(template, site=f"b{bts}-{n}", name=f"TPS {n:03d}",
                                     village=f"Desa {bts}", device=f"bts-{bts}",
                                     device_name=f"BTS {bts}") for n in range(60)]  # fmt: skip
    more += [dataclasses.replace(template, site=f"r{n}", device=f"rtr-{n}", device_name=f"4G {n}",
                                 village=f"Desa R{n}") for n in range(20)]  # fmt: skip
    blank = next(t for t in report.not_ready if t.status == "blank_spot")
    more += [dataclasses.replace(blank, site=f"k{n}", name=f"TPS {n % 4 + 1:03d}",
                                 village=f"Pulau {n // 4}") for n in range(68)]  # fmt: skip
    report.not_ready += more
    with language("en"):
        info, text = _pdf(report, tmp_path / "voting-day.pdf")
    assert int(info["Pages"]) <= 6, info["Pages"]
    assert re.search(r"Page 1 of \d+", text)
    assert text.index("BTS 9") < text.index("4G 19") < text.index("Pulau 16")
