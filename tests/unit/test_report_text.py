"""The readiness report as people read it: Indonesian first, the figure up top, outages before
blank spots, one line per device at fault."""

from __future__ import annotations

import datetime as dt

import pytest

from exporter.i18n import language
from exporter.report.formats import document, table, tps_csv
from exporter.report.readiness import Counts, NotReady, Regency, Report, incidents

AT = dt.datetime(2024, 2, 14, 5, 3, tzinfo=dt.timezone(dt.timedelta(hours=7)))
DOWN_SINCE = dt.datetime(2024, 2, 14, 4, 51, tzinfo=AT.tzinfo).timestamp()
PROVINCE = "Kepulauan Riau"
TANJUNG_PINANG = ("Kota Tanjung Pinang", "Tanjung Pinang Barat", "Kampung Baru")
LINGGA = ("Kabupaten Lingga", "Lingga", "Daik")


def _tps(n: int, place: tuple[str, str, str], status: str, **facts: object) -> NotReady:
    regency, district, village = place
    given: dict[str, object] = {"reason": "device_down", "device": "", "since": DOWN_SINCE}
    given.update(facts)
    return NotReady(f"{village.lower()}-{n:03d}", f"TPS {n:03d}", PROVINCE, regency, district,
                    village, status, **given)  # type: ignore[arg-type]  # fmt: skip


def voting_morning() -> Report:
    """A BTS with 60 TPS down, one router down in Lingga, a degraded TPS and 3 blank spots."""
    not_ready = [_tps(n, TANJUNG_PINANG, "down", reason="upstream_down", device="bts-tpi-barat",
                      device_name="BTS Tanjung Pinang Barat", operator="Telkomsel",
                      device_reason="timeout") for n in range(1, 61)]  # fmt: skip
    not_ready.append(_tps(7, LINGGA, "down", device="rtr-daik-7", device_name="4G router Daik 7",
                          operator="Indosat", since=DOWN_SINCE - 3 * 3600))  # fmt: skip
    not_ready.append(_tps(8, LINGGA, "degraded", reason="high_loss", device="rtr-daik-8"))
    not_ready += [_tps(n, LINGGA, "blank_spot", reason="blank_spot", since=None)
                  for n in (20, 21, 22)]  # fmt: skip
    report = Report(PROVINCE, AT, election="Pemilu 2024")
    report.not_ready = sorted(not_ready, key=lambda t: (t.regency, t.district, t.village, t.site))
    counts = {"up": 3262, "down": 61, "degraded": 1, "blank_spot": 3}
    for status, count in counts.items():
        report.counts.add(status, count)
    for regency, district, up, down, degraded, blank in (
        (*TANJUNG_PINANG[:2], 1000, 60, 0, 0),
        (*LINGGA[:2], 2262, 1, 1, 3),
    ):
        entry = Counts()
        for status, count in (("up", up), ("down", down), ("degraded", degraded),
                              ("blank_spot", blank)):  # fmt: skip
            entry.add(status, count)
        report.regencies[(PROVINCE, regency)] = Regency(PROVINCE, regency, entry,
                                                         {district: entry})  # fmt: skip
    return report


def test_the_bts_is_one_incident_and_the_single_router_is_seen() -> None:
    found = incidents(voting_morning())
    assert [(i.device, len(i.tps)) for i in found] == [
        ("bts-tpi-barat", 60), ("rtr-daik-7", 1), ("rtr-daik-8", 1)
    ]  # fmt: skip


def test_table_is_indonesian_with_the_figure_first_and_outages_before_blank_spots() -> None:
    text = table(voting_morning(), "Asia/Jakarta")
    lines = text.splitlines()
    assert lines[0] == "Kesiapan TPS · Kepulauan Riau · 14 Feb 2024 05.03 WIB"
    assert lines[1] == "Pemilu 2024"
    assert lines[3] == "98,0% dari 3.327 TPS siap · bisa kirim 98,1% (normal atau terganggu)"
    assert lines[4] == ("Belum siap: 61 TPS mati di balik 2 perangkat · 3 blank spot (tanpa "
                        "perangkat penghubung) · 1 TPS terganggu (masih bisa kirim)")  # fmt: skip
    bts = "  Mati · BTS Tanjung Pinang Barat (Telkomsel) · sejak 14 Feb 04.51 WIB (12 mnt) · "
    assert f"{bts}60 TPS · tidak menjawab ping" in lines  # the BTS's own reason, not its TPS's
    router = "  Mati · 4G router Daik 7 (Indosat) · sejak 14 Feb 01.51 WIB (3 jam 12 mnt) · 1 TPS"
    assert any(line.startswith(router) for line in lines)
    assert (
        "      Kota Tanjung Pinang › Tanjung Pinang Barat › Kampung Baru: TPS 001, TPS 002, "
        in (text)
    )
    assert text.index("Gangguan saat ini: 3, 62 TPS") < text.index("Blank spot: 3 TPS di 1 desa")
    assert "  Kabupaten Lingga › Lingga › Daik: TPS 020, TPS 021, TPS 022" in lines
    # The 60 TPS of the BTS on one line, not 60: 3 incidents and 1 village of blank spots.
    assert sum("TPS 0" in line for line in lines) == 4


def test_english_is_the_option() -> None:
    with language("en"):
        text = table(voting_morning(), "Asia/Makassar")
    assert text.startswith("TPS readiness · Kepulauan Riau · 14 Feb 2024 06:03 WITA\n")
    assert "98.0% of 3,327 TPS ready · can send 98.1% (up or degraded)" in text
    assert "Down · BTS Tanjung Pinang Barat (Telkomsel) · since 14 Feb 05:51 WITA (12 min)" in text


@pytest.mark.parametrize("lang", ["id", "en"])
def test_document_is_a4_with_page_numbers_and_a_running_header(lang: str) -> None:
    with language(lang):
        html = document(voting_morning(), "Asia/Jakarta")
    assert f'<html lang="{lang}">' in html
    assert "size: A4" in html and "counter(page)" in html and "counter(pages)" in html
    header = {
        "id": '@top-left { content: "Pemilu 2024 · Kesiapan TPS · Kepulauan Riau · 14 Feb',
        "en": '@top-left { content: "Pemilu 2024 · TPS readiness · Kepulauan Riau · 14 Feb',
    }
    assert header[lang] in html
    assert html.index('class="incident"') < html.index("<h2>Blank spot" if lang == "id" else
                                                       "<h2>Blank spots")  # fmt: skip


def test_a_name_cannot_end_the_style_or_the_running_header() -> None:
    report = voting_morning()
    report.election = 'Pemilu"; } </style><script>alert(1)</script>'
    html = document(report, "Asia/Jakarta")
    assert "<script>" not in html
    assert html.count("</style>") == 1


def test_tps_sheet_says_the_reason_in_words_and_names_the_device() -> None:
    rows = tps_csv(voting_morning(), "Asia/Jakarta").splitlines()
    assert rows[0].split(",")[7:12] == ["reason", "reason_text", "device", "device_name",
                                        "operator"]  # fmt: skip
    assert ("upstream_down,perangkat di hulunya mati,bts-tpi-barat,BTS Tanjung Pinang Barat,"
            "Telkomsel,14 Feb 2024 04.51 WIB") in "\n".join(rows)  # fmt: skip
