"""`tps-exporter import`: operators' sheets of TPS and devices to a checked inventory."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import openpyxl
import pytest

from exporter.cli import main
from exporter.inventory.importer import run_import
from exporter.inventory.load import load
from exporter.inventory.model import Device, Inventory, Site
from tests.conftest import REPO, SHARED, require

AREAS = SHARED / "data" / "idn-area"


# These tests read the messages in English (the catalogue's keys); test_import_messages.py
# reads them in Bahasa Indonesia, as the command prints them by default.
pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture(autouse=True)
def _area_data() -> None:
    """Every import checks places against the area data: say so when it is not there."""
    require((AREAS / "villages.csv").is_file(), f"needs the area data in {AREAS} (../shared)")


TPS_HEADER = ["Kode Wilayah", "Provinsi", "Kabupaten/Kota", "Kecamatan", "Desa/Kelurahan",
              "Nomor TPS", "Lat", "Lon", "ID Perangkat", "Keterangan"]  # fmt: skip
DEVICE_HEADER = ["ID Perangkat", "Alamat Perangkat", "Jenis Perangkat", "Operator",
                 "Nama Perangkat", "Induk"]  # fmt: skip
BAD_ROWS = [
    # (the row's cells after the header, what the report must say about it)
    (["2101041005", "", "", "", "", "1", "0,81", "104,53", "", ""], None),
    (["21.01.04.9999", "", "", "", "", "2", "", "", "", ""], "21.01.04.9999 is not a village"),
    (["", "Kepulauan Riau", "Bintan", "Gunung Kijang", "Zzz", "3", "", "", "", ""],
     "desa/kelurahan 'Zzz' is not in the area data in Gunung Kijang"),
    (["2101041005", "", "", "", "", "x", "", "", "", ""], "nomor TPS 'x' is not a number"),
    (["2101041005", "", "", "", "", "4", "104.5", "0.8", "", ""], "look swapped"),
    (["2101041005", "", "", "", "", "5", "-30", "104.5", "", ""], "is not in Indonesia"),
    (["2101041005", "", "", "", "", "6", "", "", "rtr-nowhere", ""],
     "device id 'rtr-nowhere' is not in the devices sheet"),
    (["", "Jawa Barat", "Bekasi", "Tambun Selatan", "Mekarsari", "7", "", "", "", ""],
     "'Bekasi' could be 'Kabupaten Bekasi' and 'Kota Bekasi'"),
]  # fmt: skip


def tps_rows(inventory: Inventory) -> list[list[str]]:
    """A TPS sheet as an operator keeps it: a row per TPS and device, names beside codes."""
    rows = []
    for site in inventory.sites.values():
        p = site.place
        lat, lon = (_decimal_comma(x) for x in (site.latitude, site.longitude))
        head = [p.village.code.replace(".", ""), p.province.name, p.regency.name, p.district.name,
                p.village.name, site.id.rsplit("-", 1)[1], lat, lon]  # fmt: skip
        rows += [[*head, device, ""] for device in site.devices] or [[*head, "", ""]]
    return rows


def _decimal_comma(value: float | None) -> str:
    return "" if value is None else str(value).replace(".", ",")


def device_rows(inventory: Inventory) -> list[list[str]]:
    return [[d.id, d.address, d.kind.value, d.operator, d.name, d.parent or ""]
            for d in inventory.devices.values()]  # fmt: skip


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    # As Excel in an Indonesian locale saves it: semicolons, decimal commas, a BOM.
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        csv.writer(f, delimiter=";").writerows([header, *rows])
    return path


def write_xlsx(path: Path, sheets: dict[str, tuple[list[str], list[list[str]]]]) -> Path:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)  # type: ignore[arg-type]
    for name, (header, rows) in sheets.items():
        sheet = workbook.create_sheet(name)
        sheet.append(header)
        for row in rows:  # numbers as Excel stores them: codes and TPS numbers, coordinates
            sheet.append([_as_number(c) for c in row])
    workbook.save(path)
    return path


def _as_number(cell: str) -> object:
    if cell.isdigit():
        return int(cell)
    try:
        return float(cell.replace(",", "."))
    except ValueError:
        return cell


def site_facts(site: Site) -> tuple[object, ...]:
    return (site.name, site.place, site.latitude, site.longitude, site.devices, site.timezone)


def device_facts(device: Device) -> tuple[object, ...]:
    return (device.kind, device.address, device.operator, device.name, device.parent)


@pytest.mark.parametrize("form", ["csv", "xlsx"])
def test_the_example_inventory_comes_back_whole_from_sheets(tmp_path: Path, form: str) -> None:
    _config, example = load(None, [REPO / "targets"])
    tps, devices = tps_rows(example), device_rows(example)
    if form == "csv":
        tps_sheet = write_csv(tmp_path / "tps.csv", TPS_HEADER, tps)
        devices_sheet = write_csv(tmp_path / "perangkat.csv", DEVICE_HEADER, devices)
        sheets: tuple[str | None, str | None] = (None, None)
    else:
        book = {"TPS": (TPS_HEADER, tps), "Perangkat": (DEVICE_HEADER, devices)}
        tps_sheet = devices_sheet = write_xlsx(tmp_path / "kepri.xlsx", book)
        sheets = ("TPS", "Perangkat")
    out = tmp_path / "targets"
    for _ in range(2):  # importing again replaces the files it wrote, not adds to them
        assert run_import(tps_sheet, devices_sheet, AREAS, out, sheets=sheets) == 0
    _config, imported = load(None, [out])
    assert len(imported.sites) == 3327
    assert {k: site_facts(s) for k, s in imported.sites.items()} == {
        k: site_facts(s) for k, s in example.sites.items()
    }
    assert {k: device_facts(d) for k, d in imported.devices.items()} == {
        k: device_facts(d) for k, d in example.devices.items()
    }
    assert sorted(p.name for p in (out / "kepulauan-riau").iterdir()) == sorted(
        p.name for p in (REPO / "targets" / "kepulauan-riau").iterdir()
    )


def test_rows_that_cannot_be_used_are_named_by_row_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "targets"
    out.mkdir()
    (out / "keep.yaml").write_text("devices: []\nsites: []\n")
    sheet = write_csv(tmp_path / "tps.csv", TPS_HEADER, [cells for cells, _ in BAD_ROWS])

    assert run_import(sheet, None, AREAS, out) == 1
    err = capsys.readouterr().err
    for row, (_cells, reason) in enumerate(BAD_ROWS, start=2):  # row 1 is the header
        if reason is not None:
            assert f"row not used: {sheet}:{row}: " in err and reason in err, (row, err)
    assert f"{sheet}:2:" not in err  # the good row has nothing said about it
    assert "nothing written: 7 rows cannot be used" in err
    assert sorted(p.name for p in out.iterdir()) == ["keep.yaml"]  # no staging dir left either

    assert run_import(sheet, None, AREAS, out, skip_invalid=True) == 0
    _config, inventory = load(None, [out])
    assert list(inventory.sites) == ["tps-21.01.04.1005-001"]
    assert inventory.sites["tps-21.01.04.1005-001"].is_blank_spot


def test_misspelt_places_are_warnings_with_the_closest_match(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [
        ["2101041005", "Kepulauan Riau", "KAB. BINTAN", "Gunung Kijang", "Kawall", "1",
         "", "", "", ""],
        ["", "kepulauan riau", "Bintan", "Gunung  Kijang", "Malang Rapatt", "TPS 002",
         "", "", "", ""],
    ]  # fmt: skip
    sheet = write_csv(tmp_path / "tps.csv", TPS_HEADER, rows)
    assert run_import(sheet, None, AREAS, tmp_path / "targets") == 0
    err = capsys.readouterr().err
    assert (f"note: {sheet}:2: desa/kelurahan 'Kawall' differs from 'Kawal', the name of "
            "21.01.04.1005 in the area data: using 'Kawal'") in err  # fmt: skip
    assert (f"note: {sheet}:3: desa/kelurahan 'Malang Rapatt' is not in the area data in "
            "Gunung Kijang: using the closest, 'Malang Rapat' (21.01.04.2002)") in err  # fmt: skip
    assert f"note: {sheet}: column 'Keterangan' is not used" in err
    assert "KAB. BINTAN" not in err  # the same regency, written another way, is no mistake
    _config, inventory = load(None, [tmp_path / "targets"])
    assert set(inventory.sites) == {"tps-21.01.04.1005-001", "tps-21.01.04.2002-002"}


def test_two_villages_of_one_name_need_the_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Two villages of Kecamatan Pasir Limau Kapas (Rokan Hilir) are called Panipahan.
    rows = [["", "Riau", "Rokan Hilir", "Pasir Limau Kapas", "Panipahan", "1", "", "", "", ""]]
    sheet = write_csv(tmp_path / "tps.csv", TPS_HEADER, rows)
    assert run_import(sheet, None, AREAS, tmp_path / "targets") == 1
    assert "two of desa/kelurahan 'Panipahan' in Pasir Limau Kapas: give the kode wilayah" in (
        capsys.readouterr().err
    )


def test_devices_from_tps_rows_are_shared_by_address_and_named_by_village(
    tmp_path: Path,
) -> None:
    header = ["kode_wilayah", "no_tps", "ip_perangkat", "jenis_perangkat", "operator"]
    rows = [
        ["2101041005", "1", "127.3.0.1", "Router 4G", "Telkomsel"],
        ["2101041005", "2", "127.3.0.1", "", "Telkomsel"],  # the same router serves TPS 2
        ["2101041005", "3", "127.3.0.9", "VSAT", "BAKTI"],
        ["2101041005", "3", "127.3.0.10", "modem", "XL Axiata"],  # TPS 3 has two ways out
    ]
    sheet = write_csv(tmp_path / "tps.csv", header, rows)
    assert run_import(sheet, None, AREAS, tmp_path / "targets") == 0
    _config, inventory = load(None, [tmp_path / "targets"])
    assert inventory.sites["tps-21.01.04.1005-001"].devices == ("rtr-21.01.04.1005",)
    assert inventory.sites["tps-21.01.04.1005-002"].devices == ("rtr-21.01.04.1005",)
    assert inventory.sites["tps-21.01.04.1005-003"].devices == (
        "vsat-21.01.04.1005",
        "rtr-21.01.04.1005-2",
    )
    assert inventory.devices["vsat-21.01.04.1005"].operator == "BAKTI"


def test_an_import_that_clashes_with_the_targets_is_not_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "targets"
    out.mkdir()
    (out / "by-hand.yaml").write_text(
        "devices:\n  - {id: rtr-21.01.04.1005, kind: router, address: 127.0.0.1}\nsites: []\n"
    )
    sheet = write_csv(tmp_path / "tps.csv", ["kode wilayah", "nomor tps", "ip"],
                      [["2101041005", "1", "127.3.0.1"]])  # fmt: skip
    assert run_import(sheet, None, AREAS, out) == 1
    err = capsys.readouterr().err
    assert f"{out}/kepulauan-riau/kabupaten-bintan.yaml:" in err
    assert "duplicate id 'rtr-21.01.04.1005'" in err and ".import-" not in err
    assert sorted(p.name for p in out.iterdir()) == ["by-hand.yaml"]


@pytest.mark.parametrize(
    ("name", "content", "sheet", "message"),
    [
        ("tps.csv", "kode wilayah;lat\n2101041005;1\n", None, "no column for nomor TPS"),
        ("tps.csv", "nomor tps;desa\n1;Kawal\n", None, "no kode wilayah column, and not all"),
        ("tps.csv", "", None, "no header row"),
        ("tps.csv", "tps;no tps\n1;1\n", None, "columns 'tps' and 'no tps' are both tps_number"),
        ("tps.xlsx", "not a zip", None, "not a readable .xlsx workbook"),
        ("tps.csv", "nomor tps\n1\n", "TPS", "--sheet is for .xlsx workbooks"),
    ],
)
def test_a_sheet_that_cannot_be_read_is_refused_with_why(  # noqa: PLR0917 - parametrized
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    content: str,
    sheet: str | None,
    message: str,
) -> None:
    (tmp_path / name).write_text(content)
    assert run_import(tmp_path / name, None, AREAS, tmp_path / "out", sheets=(sheet, None)) == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_an_unknown_workbook_sheet_is_named_with_the_ones_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    book = write_xlsx(tmp_path / "tps.xlsx", {"Data TPS": (["nomor tps"], [["1"]])})
    assert run_import(book, None, AREAS, tmp_path / "out", sheets=("TPS", None)) == 1
    assert "no sheet 'TPS' (sheets: Data TPS)" in capsys.readouterr().err


def test_progress_bar_counts_rows_to_the_end(tmp_path: Path) -> None:
    rows = [["2101041005", "", "", "", "", str(n), "", "", "", ""] for n in range(1, 301)]
    sheet = write_csv(tmp_path / "tps.csv", TPS_HEADER, rows)
    bar = io.StringIO()
    assert run_import(sheet, None, AREAS, tmp_path / "targets", progress=bar) == 0
    text = bar.getvalue()
    assert "\rreading tps.csv [" in text and "301/301 rows 100%" in text
    assert "\rchecking tps.csv [" in text and "300/300 rows 100%" in text


def test_a_missing_sheet_is_named_even_with_a_progress_bar(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "tps.csv"  # counted for the bar before it was found missing, once
    assert run_import(missing, None, AREAS, tmp_path / "out", progress=io.StringIO()) == 1
    assert f"import: {missing}: no such file" in capsys.readouterr().err


def test_the_command_needs_the_area_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TPS_AREAS", raising=False)
    sheet = write_csv(tmp_path / "tps.csv", ["kode wilayah", "nomor tps"], [["2101041005", "1"]])
    assert main(["import", str(sheet), "--out", str(tmp_path / "t")]) == 64
    assert "give --areas DIR" in capsys.readouterr().err
    out = tmp_path / "t"
    assert main(["import", str(sheet), "--areas", str(AREAS), "--out", str(out)]) == 0
    assert "1 rows read; wrote 1 files" in capsys.readouterr().out
    assert main(["import", str(sheet), "--areas", str(AREAS), "--out", str(out), "--dry-run"]) == 0
    assert "would write 1 TPS" in capsys.readouterr().out


@pytest.mark.parametrize(
    "names",
    [
        ("KEPRI", "Bintan", "Kec. Gunung Kijang", "Ds. Kawal"),
        ("kepulauan riau", "Kab. Bintan", "Kecamatan Gunung Kijang", "Desa Kawal"),
        ("Prov. Kepulauan Riau", "BINTAN", "KEC GUNUNG KIJANG", "Kel/Desa Kawal"),
    ],
)
def test_places_are_found_as_sheets_write_them(names: tuple[str, ...]) -> None:
    from exporter.inventory.gazetteer import Gazetteer  # noqa: PLC0415

    levels = ("province", "regency", "district", "village")
    found = Gazetteer.read(AREAS).resolve(None, dict(zip(levels, names, strict=True)))
    assert found.place.village.code == "21.01.04.1005" and found.warnings == ()


def test_the_headers_of_a_diskominfo_sheet_are_understood(tmp_path: Path) -> None:
    from exporter.inventory.sheets import TPS_COLUMNS, read_sheet  # noqa: PLC0415

    header = ["NO", "KAB/KOTA", "KECAMATAN", "DESA/KEL", "NO TPS", "IP ROUTER", "PROVIDER",
              "KETERANGAN"]  # fmt: skip
    row = ["1", "Bintan", "Gunung Kijang", "Kawal", "1", "127.0.0.9", "Telkomsel", ""]
    sheet = write_csv(tmp_path / "tps.csv", header, [row])
    read = read_sheet(sheet, TPS_COLUMNS)
    assert read.columns == {"regency", "district", "village", "tps_number", "device_address",
                            "operator"}  # fmt: skip
    assert read.ignored == ("NO", "KETERANGAN")


def test_vendors_are_kinds_and_a_dash_is_a_tps_without_a_device(tmp_path: Path) -> None:
    header = ["kode_wilayah", "no_tps", "ip_perangkat", "jenis_perangkat"]
    rows = [
        ["2101041005", "1", "127.3.0.1", "MikroTik hAP ac"],
        ["2101041005", "2", "127.3.0.2", "Ubiquiti LiteBeam"],
        ["2101041005", "3", "-", ""],
        ["2101041005", "4", "tidak ada", ""],
    ]
    sheet = write_csv(tmp_path / "tps.csv", header, rows)
    assert run_import(sheet, None, AREAS, tmp_path / "targets") == 0
    _config, inventory = load(None, [tmp_path / "targets"])
    assert inventory.devices["rtr-21.01.04.1005"].kind.value == "router"
    assert inventory.devices["radio-21.01.04.1005"].kind.value == "radio"
    for n in (3, 4):  # blank spots: TPS without a device to poll
        assert inventory.sites[f"tps-21.01.04.1005-00{n}"].devices == ()


def test_a_row_of_sums_is_left_out_with_a_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    header = ["NO", "KODE WILAYAH", "NO TPS"]
    rows = [["1", "2101041005", "1"], ["2", "2101041005", "2"], ["JUMLAH", "", "2"]]
    sheet = write_csv(tmp_path / "tps.csv", header, rows)
    assert run_import(sheet, None, AREAS, tmp_path / "targets") == 0
    assert len(load(None, [tmp_path / "targets"])[1].sites) == 2
    assert f"{sheet}:4: a row of sums (JUMLAH, TOTAL): left out" in capsys.readouterr().err


def test_titles_and_a_header_of_two_rows_are_read_as_a_diskominfo_sheet_has_them(
    tmp_path: Path,
) -> None:
    from exporter.inventory.sheets import TPS_COLUMNS, read_sheet  # noqa: PLC0415

    rows = [
        ["DATA TPS DAN JARINGAN PILKADA 2024", "", "", "", "", "", "", "", ""],
        ["KABUPATEN BINTAN", "", "", "", "", "", "", "", ""],
        ["", "", "", "", "", "", "", "", ""],
        ["NO", "KAB/KOTA", "LOKASI", "", "", "KOORDINAT", "", "PERANGKAT", ""],
        ["", "", "KECAMATAN", "DESA/KEL", "NO TPS", "LAT", "LON", "IP ROUTER", "PROVIDER"],
        ["1", "Bintan", "Gunung Kijang", "Kawal", "1", "0,81", "104,53", "127.0.0.9", "XL"],
        ["JUMLAH", "", "", "", "1", "", "", "", ""],
    ]
    sheet = tmp_path / "tps.csv"
    with sheet.open("w", newline="") as f:
        csv.writer(f, delimiter=";").writerows(rows)
    read = read_sheet(sheet, TPS_COLUMNS)
    # KAB/KOTA is named in the groups' row only (merged down), LAT and LON in the second.
    assert read.columns == {"regency", "district", "village", "tps_number", "latitude",
                            "longitude", "device_address", "operator"}  # fmt: skip
    assert [r.number for r in read.rows] == [6] and read.totals == (7,)
    assert read.rows[0].get("village") == "Kawal" and read.rows[0].get("latitude") == "0,81"
    assert read.ignored == ("NO",)
