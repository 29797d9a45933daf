"""A province as people write it: `--province 'kepulauan riau'`, `Kepri`, `KALSEL` or `21`."""

from __future__ import annotations

import datetime as dt

import pytest

from exporter.inventory.areas import PROVINCE_ABBREVIATIONS, PROVINCE_NAMES, province_code
from exporter.report.command import _province
from exporter.report.prometheus import Sample

# As Prometheus has them: the names the inventory gives (DKI's as the example inventory has it).
KNOWN = {"21": "Kepulauan Riau", "63": "Kalimantan Selatan", "31": "DKI Jakarta",
         "34": "Daerah Istimewa Yogyakarta", "52": "Nusa Tenggara Barat"}  # fmt: skip


@pytest.mark.parametrize(
    ("given", "code"),
    [("21", "21"), ("Kepulauan Riau", "21"), ("kepulauan riau", "21"), ("KEPULAUAN  RIAU", "21"),
     ("Kepri", "21"), ("KEPRI", "21"), ("Provinsi Kepulauan Riau", "21"), ("KALSEL", "63"),
     ("Kalimantan-Selatan", "63"), ("DKI", "31"), ("Daerah Khusus Ibukota Jakarta", "31"),
     ("jakarta", "31"), ("DIY", "34"), ("Jogja", "34"), ("NTB", "52"),
     ("Kaltim", None), ("Riau", None), ("99", None), ("", None)],
)  # fmt: skip
def test_a_province_is_found_by_code_name_or_abbreviation(given: str, code: str | None) -> None:
    assert province_code(given, KNOWN) == code  # Kaltim and Riau: not in this Prometheus


def test_no_abbreviation_names_two_provinces() -> None:
    spellings: dict[str, str] = {}
    for code, names in PROVINCE_ABBREVIATIONS.items():
        assert code in PROVINCE_NAMES
        for name in (PROVINCE_NAMES[code], *names):
            key = "".join(ch for ch in name.casefold() if ch.isalnum())
            assert spellings.setdefault(key, code) == code, name


class _Prometheus:
    def query(self, promql: str, at: float) -> list[Sample]:
        assert "tps_site_info" in promql
        return [Sample({"province_code": c, "province": n}, 1.0) for c, n in KNOWN.items()]


def test_the_report_selects_the_province_as_prometheus_names_it() -> None:
    at = dt.datetime(2024, 2, 14, 3, tzinfo=dt.UTC)
    assert _province(_Prometheus(), "Kepri", at) == "Kepulauan Riau"
    assert _province(_Prometheus(), "kepulauan riau", at) == "Kepulauan Riau"
    assert _province(_Prometheus(), None, at) is None
    with pytest.raises(LookupError) as raised:
        _province(_Prometheus(), "Kaltim", at)
    assert str(raised.value) == (
        "tidak ada provinsi 'Kaltim' di Prometheus pada 2024-02-14T03:00:00+00:00; yang ada: "
        "21 Kepulauan Riau, 31 DKI Jakarta, 34 Daerah Istimewa Yogyakarta, 52 Nusa Tenggara Barat, "
        "63 Kalimantan Selatan"
    )
