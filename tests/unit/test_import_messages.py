"""A Diskominfo sheet as it really comes, imported in one round, with messages in Indonesian.

The sheet (built here as an .xlsx) has what such sheets have: two title rows and a blank one, a
header of two rows whose groups (LOKASI, KOORDINAT, PERANGKAT) are merged across and whose other
columns (NO, PROVINSI, KAB/KOTA, KETERANGAN) are merged down, the province as KALSEL, places as
"Kab.", "Kec.", "Ds.", "Kel.", vendors for the device kind, "-" and "tidak ada" for a TPS with no
device, a router shared by neighbouring TPS, and a JUMLAH row.
"""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from exporter.cli import main
from exporter.inventory.load import load
from tests.conftest import SHARED, require

AREAS = SHARED / "data" / "idn-area"
GAMBUT, KERTAK = "63.03.03", "63.03.02"
# NO, PROVINSI, KAB/KOTA, KECAMATAN, DESA/KEL, NO TPS, LAT, LON, IP ROUTER, JENIS, PROVIDER, KET.
ROWS = [
    ["1", "KALSEL", "Kab. Banjar", "Kec. Gambut", "Ds. Gambut", "1", "-3,4012", "114,6630",
     "127.20.0.1", "Mikrotik", "Telkomsel", ""],
    ["2", "KALSEL", "Kab. Banjar", "Kec. Gambut", "Ds. Gambut", "2", "-3,4015", "114,6633",
     "127.20.0.1", "Mikrotik", "Telkomsel", "satu router untuk TPS 1-2"],
    ["3", "KALSEL", "Kab. Banjar", "Kec. Gambut", "Ds. Gambut", "3", "", "",
     "127.20.0.2", "Huawei B311 4G", "Indosat", ""],
    ["4", "KALSEL", "Kab. Banjar", "Kec. Gambut", "Kel. Gambut Barat", "1", "", "",
     "127.20.0.3", "ZTE MF286", "XL", ""],
    ["5", "KALSEL", "Kab. Banjar", "Kec. Gambut", "Kel. Gambut Barat", "2", "", "",
     "-", "", "", "blank spot"],
    ["6", "KALSEL", "Kab. Banjar", "Kec. Gambut", "Ds. Sungai Kupang", "1", "", "",
     "127.20.0.4", "Teltonika RUT240", "Telkomsel", ""],
    ["7", "KALSEL", "Kab. Banjar", "Kec. Gambut", "Ds. Sungai Kupang", "2", "", "",
     "127.20.0.4", "Teltonika RUT240", "Telkomsel", ""],
    ["8", "KALSEL", "Kab. Banjar", "Kec. Gambut", "Ds. Makmur", "1", "", "",
     "tidak ada", "", "", "belum ada sinyal"],
    ["9", "KALSEL", "Kab. Banjar", "Kec. Gambut", "Ds. Makmur", "2", "", "",
     "tidak ada", "", "", ""],
    ["10", "KALSEL", "Kab. Banjar", "Kec. Gambut", "Ds. Malintang", "1", "", "",
     "127.20.0.5", "", "Telkomsel", ""],
    ["11", "KALSEL", "Kab. Banjar", "Kec. Gambut", "Ds. Kayu Bawang", "1", "", "",
     "127.20.0.6", "Mikrotik", "Indosat", ""],
    ["12", "KALSEL", "Kab. Banjar", "Kec. Gambut", "Ds. Banyu Hirang", "1", "", "",
     "-", "", "", ""],
    ["13", "KALSEL", "Kab. Banjar", "Kec. Kertak Hanyar", "Kel. Kertak Hanyar I", "1", "",
     "", "127.20.1.1", "Huawei", "Telkomsel", ""],
    ["14", "KALSEL", "Kab. Banjar", "Kec. Kertak Hanyar", "Kel. Kertak Hanyar I", "2", "",
     "", "127.20.1.1", "Huawei", "Telkomsel", ""],
    ["15", "KALSEL", "Kab. Banjar", "Kec. Kertak Hanyar", "Ds. Manarap Lama", "1", "", "",
     "127.20.1.2", "Mikrotik", "XL", ""],
    ["16", "KALSEL", "Kab. Banjar", "Kec. Kertak Hanyar", "Ds. Manarap Lama", "2", "", "",
     "127.20.1.2", "Mikrotik", "XL", ""],
    ["17", "KALSEL", "Kab. Banjar", "Kec. Kertak Hanyar", "Ds. Mandarsari", "1", "", "",
     "-", "", "", ""],
    ["18", "KALSEL", "Kab. Banjar", "Kec. Kertak Hanyar", "Ds. Simpang Empat", "1", "", "",
     "127.20.1.3", "ZTE", "Indosat", ""],
    ["19", "KALSEL", "Kab. Banjar", "Kec. Kertak Hanyar", "Ds. Tatah Pemangkih Laut", "1", "",
     "", "tidak ada", "", "", ""],
]  # fmt: skip


@pytest.fixture(autouse=True)
def _area_data(monkeypatch: pytest.MonkeyPatch) -> None:
    require((AREAS / "villages.csv").is_file(), f"needs the area data in {AREAS} (../shared)")
    monkeypatch.delenv("TPS_LANG", raising=False)


def diskominfo_sheet(path: Path, rows: list[list[str]]) -> Path:
    """Write the sheet as a Diskominfo keeps it, merged cells and all."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Data TPS"
    sheet.append(["DATA TPS DAN JARINGAN PILKADA SERENTAK 2024"])
    sheet.append(["KABUPATEN BANJAR - KALIMANTAN SELATAN"])
    sheet.append([])
    sheet.append(["NO", "PROVINSI", "KAB/KOTA", "LOKASI", None, None, "KOORDINAT", None,
                  "PERANGKAT", None, None, "KETERANGAN"])  # fmt: skip
    sheet.append([None, None, None, "KECAMATAN", "DESA/KEL", "NO TPS", "LAT", "LON",
                  "IP ROUTER", "JENIS", "PROVIDER", None])  # fmt: skip
    for merged in ("D4:F4", "G4:H4", "I4:K4", "A4:A5", "B4:B5", "C4:C5", "L4:L5"):
        sheet.merge_cells(merged)
    for row in rows:
        sheet.append([int(c) if c.isdigit() and len(c) < 4 else c for c in row])
    sheet.append(["JUMLAH", None, None, None, None, len(rows)])
    book.save(path)
    return path


def test_the_messy_diskominfo_sheet_imports_in_one_round(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sheet = diskominfo_sheet(tmp_path / "tps-banjar.xlsx", ROWS)
    targets = tmp_path / "targets"
    assert main(["import", str(sheet), "--areas", str(AREAS), "--out", str(targets)]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("19 baris dibaca; menulis 1 berkas di ")
    assert ": 19 TPS (6 blank spot), 9 perangkat; 3 catatan, 0 baris tidak dipakai" in (
        captured.out
    )
    label = f"{sheet} [Data TPS]"
    assert captured.err.splitlines() == [
        f"catatan: {label}: kolom 'NO' tidak dipakai",
        f"catatan: {label}: kolom 'KETERANGAN' tidak dipakai",
        f"catatan: {label}:25: baris jumlah (JUMLAH, TOTAL): dilewati",
    ]
    _config, inventory = load(None, [targets])
    assert [str(f.relative_to(targets)) for f in inventory.files] == [
        "kalimantan-selatan/kabupaten-banjar.yaml"
    ]
    sites = inventory.sites
    assert len(sites) == 19 and sum(s.is_blank_spot for s in sites.values()) == 6
    first = sites[f"tps-{GAMBUT}.1001-001"]
    assert (first.name, first.place.province.name, first.place.regency.name) == (
        "TPS 001 Gambut", "Kalimantan Selatan", "Kabupaten Banjar"
    )  # fmt: skip
    assert (first.latitude, first.longitude) == (-3.4012, 114.663)
    # One router for TPS 1 and 2 of Gambut, named as the example inventory names its routers.
    shared = inventory.devices[f"rtr-{GAMBUT}.1001"]
    assert sites[f"tps-{GAMBUT}.1001-002"].devices == first.devices == (shared.id,)
    assert (shared.kind.value, shared.address, shared.operator, shared.name) == (
        "router", "127.20.0.1", "Telkomsel", "Router Gambut"
    )  # fmt: skip
    assert inventory.devices[f"rtr-{GAMBUT}.1001-2"].name == "4G router Gambut 2"  # Huawei 4G
    assert inventory.devices[f"rtr-{GAMBUT}.2007"].name == "4G router Malintang"  # no kind
    assert {d.kind.value for d in inventory.devices.values()} == {"router"}
    for village, number in (("1014", 2), ("2004", 1), ("2004", 2), ("2009", 1)):
        assert sites[f"tps-{GAMBUT}.{village}-{number:03d}"].is_blank_spot
    assert sites[f"tps-{KERTAK}.1001-002"].place.village.name == "Kertak Hanyar I"


def test_every_problem_of_a_row_is_said_at_once_in_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = [*ROWS[:1], ["2", "KALSEL", "Kab. Banjar", "Kec. Gambut", "Ds. Gambut", "x", "114,6",
                       "-3,4", "127.20.0.999", "Mesin fotokopi", "", ""]]  # fmt: skip
    sheet = diskominfo_sheet(tmp_path / "tps.xlsx", bad)
    assert main(["import", str(sheet), "--areas", str(AREAS), "--out", str(tmp_path / "t")]) == 1
    err = capsys.readouterr().err
    assert (f"baris tidak dipakai: {sheet} [Data TPS]:7: nomor TPS 'x' bukan angka 1 sampai 9999; "
            "lat 114,6 dan lon -3,4 tampaknya tertukar; alamat perangkat '127.20.0.999' bukan "
            "alamat IPv4, IPv6 atau nama host; jenis perangkat 'Mesin fotokopi' bukan salah satu "
            "dari router, bts, vsat, radio, ups, other") in err  # fmt: skip
    assert "tidak ada yang ditulis: 1 baris tidak bisa dipakai" in err
    assert not (tmp_path / "t").exists() or not list((tmp_path / "t").rglob("*.yaml"))


def test_an_unknown_header_gets_the_closest_known_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [["1", "KALSEL", "Kab. Banjar", "Kec. Gambut", "Ds. Gambut", "1", "", "", "-", "", "",
             ""]]  # fmt: skip
    sheet = diskominfo_sheet(tmp_path / "tps.xlsx", rows)
    book = openpyxl.load_workbook(sheet)
    book.active["K5"] = "PROVIDR"  # type: ignore[index]
    book.save(sheet)
    assert main(["import", str(sheet), "--areas", str(AREAS), "--out", str(tmp_path / "t")]) == 0
    assert "kolom 'PROVIDR' tidak dipakai (maksudnya 'provider'?)" in capsys.readouterr().err
