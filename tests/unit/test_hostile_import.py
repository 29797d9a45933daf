"""Hostile spreadsheets: workbooks that lie about their size, unpack without end or hold more
cells than any TPS list; each is a clear error naming the file and where, at bounded cost."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import openpyxl
import pytest

from exporter.cli import main
from exporter.inventory import sheet_limits
from exporter.inventory.sheet_limits import SheetError
from exporter.inventory.sheets import TPS_COLUMNS, read_sheet
from tests.conftest import SHARED, require

HEADER = '<row r="1"><c r="A1" t="inlineStr"><is><t>nomor tps</t></is></c></row>'


# These tests read the messages in English (the catalogue's keys); test_import_messages.py
# reads them in Bahasa Indonesia, as the command prints them by default.
pytestmark = pytest.mark.usefixtures("english")


def _row(number: int, *cells: tuple[str, str]) -> str:
    inner = "".join(f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>' for ref, text in cells)
    return f'<row r="{number}">{inner}</row>'


def workbook(
    path: Path, rows: str, dimension: str | None = "A1:A1", extra: str = "", prolog: str = ""
) -> Path:
    """Write a real workbook with openpyxl, then give its sheet the XML a hostile file has."""
    book = openpyxl.Workbook()
    book.active.title = "TPS"  # type: ignore[union-attr]
    plain = path.with_suffix(".plain.xlsx")
    book.save(plain)
    ref = "" if dimension is None else f'<dimension ref="{dimension}"/>'
    xml = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n{prolog}<worksheet xmlns="http://'
           f'schemas.openxmlformats.org/spreadsheetml/2006/main">{ref}<sheetData>{rows}'
           f"</sheetData>{extra}</worksheet>")  # fmt: skip
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for item in source.infolist():
            data = source.read(item)
            out.writestr(item, xml.encode() if item.filename.endswith("sheet1.xml") else data)
    plain.unlink()
    return path


def numbers(path: Path) -> list[str]:
    return [row.get("tps_number") for row in read_sheet(path, TPS_COLUMNS).rows]


def test_a_dimension_that_claims_the_whole_grid_reads_just_the_cells(tmp_path: Path) -> None:
    rows = HEADER + _row(2, ("A2", "1")) + _row(3, ("A3", "2"))
    book = workbook(tmp_path / "tps.xlsx", rows, dimension="A1:XFD1048576")
    assert numbers(book) == ["1", "2"]  # before: 17 billion empty cells, never finished


@pytest.mark.parametrize("dimension", ["A1:A2", "C5:D6", None])
def test_a_dimension_too_small_or_missing_drops_no_row(tmp_path: Path, dimension: str) -> None:
    rows = HEADER + "".join(_row(n, (f"A{n}", str(n - 1))) for n in range(2, 8))
    book = workbook(tmp_path / "tps.xlsx", rows, dimension=dimension)
    assert numbers(book) == ["1", "2", "3", "4", "5", "6"]  # before: one row, exit 0


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (HEADER + _row(3, ("A3", "1")) + _row(2, ("A2", "2")), "row 2 comes after row 3"),
        (HEADER + _row(2, ("A2", "1"), ("A2", "2")), "row 2 has two cells in column A"),
        (HEADER + _row(2_000_000, ("A2000000", "1")), "row 2,000,000 is beyond Excel's last row"),
        (HEADER + '<row r="x1"/>', "after row 1, a row numbered 'x1'"),
        (HEADER + _row(2, ("AAAA2", "1")), "row 2 has a cell named 'AAAA2'"),
        (HEADER + _row(2, ("XFE2", "1")), "row 2 has a cell beyond Excel's last column"),
        (HEADER + "<row><c", "the sheet's XML is broken"),
        (HEADER + '<row r="2"><c r="A2" t="s"><v>999</v></c></row>', "row 2 cannot be read"),
    ],
)
def test_cells_out_of_order_or_beyond_excel_are_named(
    tmp_path: Path, rows: str, message: str
) -> None:
    book = workbook(tmp_path / "tps.xlsx", rows)
    with pytest.raises(SheetError, match=r"tps\.xlsx \[TPS\]") as raised:
        read_sheet(book, TPS_COLUMNS)
    assert message in str(raised.value)


def test_more_cells_than_allowed_is_refused_at_the_row(tmp_path: Path) -> None:
    # One cell in the last column makes a row 16,384 cells wide: 610 such rows fit the limit.
    rows = HEADER + "".join(_row(n, (f"XFD{n}", "x")) for n in range(2, 700))
    book = workbook(tmp_path / "tps.xlsx", rows)
    with pytest.raises(SheetError, match="more than 10,000,000 cells by row 612"):
        read_sheet(book, TPS_COLUMNS)


def test_merges_and_formats_without_end_are_refused(tmp_path: Path) -> None:
    merges = "".join(f'<mergeCell ref="A{n}:B{n}"/>' for n in range(2, 200_100))
    book = workbook(tmp_path / "tps.xlsx", HEADER, extra=f"<mergeCells>{merges}</mergeCells>")
    with pytest.raises(SheetError, match="more than 200,000 merges, formats and other parts"):
        read_sheet(book, TPS_COLUMNS)


def test_entities_that_expand_a_billion_times_are_broken_xml(tmp_path: Path) -> None:
    laughs = '<!ENTITY a0 "lol">' + "".join(
        f'<!ENTITY a{n} "{f"&a{n - 1};" * 10}">' for n in range(1, 10)
    )
    rows = HEADER + '<row r="2"><c r="A2" t="inlineStr"><is><t>&a9;</t></is></c></row>'
    book = workbook(tmp_path / "tps.xlsx", rows, prolog=f"<!DOCTYPE worksheet [{laughs}]>")
    with pytest.raises(SheetError, match=r"the sheet's XML is broken \(limit on input amplif"):
        read_sheet(book, TPS_COLUMNS)


def test_a_workbook_that_unpacks_to_gigabytes_is_refused_before_it_is_opened(
    tmp_path: Path,
) -> None:
    book = workbook(tmp_path / "tps.xlsx", HEADER + _row(2, ("A2", "1")))
    zeros = bytes(2**20)
    with (
        zipfile.ZipFile(book, "a", zipfile.ZIP_DEFLATED) as archive,
        archive.open("xl/media/image1.bin", "w", force_zip64=True) as part,
    ):
        for _ in range(513):
            part.write(zeros)
    assert book.stat().st_size < 4 * 2**20  # a few MiB that would unpack to 513 MiB
    with pytest.raises(SheetError, match=r"unpacks to 51[34] MiB, more than the 512 MiB"):
        read_sheet(book, TPS_COLUMNS)


def test_a_workbook_of_too_many_parts_is_refused(tmp_path: Path) -> None:
    book = workbook(tmp_path / "tps.xlsx", HEADER)
    with zipfile.ZipFile(book, "a") as archive:
        for n in range(sheet_limits.MAX_PARTS):
            archive.writestr(f"xl/junk/{n}", b"")
    with pytest.raises(SheetError, match="parts in the workbook"):
        read_sheet(book, TPS_COLUMNS)


def test_a_part_that_unpacks_to_more_than_its_zip_declares_is_damaged(tmp_path: Path) -> None:
    rows = HEADER + "".join(_row(n, (f"A{n}", str(n))) for n in range(2, 2000))
    book = workbook(tmp_path / "tps.xlsx", rows)
    data = bytearray(book.read_bytes())
    with zipfile.ZipFile(book) as archive:
        info = archive.getinfo("xl/worksheets/sheet1.xml")
    # The local header's and the directory's sizes both say 1,000 bytes; the data holds more.
    for offset in _size_fields(data, info):
        data[offset : offset + 4] = (1000).to_bytes(4, "little")
    book.write_bytes(bytes(data))
    with pytest.raises(SheetError, match=r"tps\.xlsx: not a readable .xlsx workbook \(Bad CRC"):
        read_sheet(book, TPS_COLUMNS)


def _size_fields(data: bytearray, info: zipfile.ZipInfo) -> list[int]:
    """Offsets of a part's uncompressed size in its local header and its directory entry."""
    name, at = info.filename.encode(), -1
    while (at := data.find(b"PK\x01\x02", at + 1)) >= 0:
        if data[at + 46 : at + 46 + len(name)] == name:
            return [info.header_offset + 22, at + 24]
    raise AssertionError(f"no directory entry for {info.filename}")


def test_a_csv_cell_over_128_kib_is_an_error_with_its_line(tmp_path: Path) -> None:
    sheet = tmp_path / "tps.csv"
    sheet.write_text("nomor tps;nama\n1;ok\n2;" + "x" * 200_000 + "\n")
    with pytest.raises(SheetError, match=r"tps\.csv:3: a cell longer than 131,072 characters"):
        read_sheet(sheet, TPS_COLUMNS)  # before: a _csv.Error traceback


def test_a_quote_never_closed_is_named_too(tmp_path: Path) -> None:
    sheet = tmp_path / "tps.csv"
    sheet.write_text('nomor tps,nama\n1,ok\n2,"open\n' + "3,x\n" * 40_000)
    with pytest.raises(SheetError, match=r"tps\.csv:3: .*a quote \(\"\) that is never closed"):
        read_sheet(sheet, TPS_COLUMNS)


@pytest.mark.parametrize("form", ["csv", "xlsx"])
def test_a_cell_longer_than_a_spreadsheet_holds_is_named_by_cell(tmp_path: Path, form: str) -> None:
    long = "y" * 40_000
    if form == "csv":
        sheet = tmp_path / "tps.csv"
        sheet.write_text(f"nomor tps;nama\n1;{long}\n")
    else:
        sheet = workbook(tmp_path / "tps.xlsx", HEADER + _row(2, ("A2", "1"), ("B2", long)))
    with pytest.raises(SheetError, match="cell B2 has 40,000 characters; a cell holds at most"):
        read_sheet(sheet, TPS_COLUMNS)


def test_a_row_wider_than_a_spreadsheet_is_refused(tmp_path: Path) -> None:
    sheet = tmp_path / "tps.csv"
    sheet.write_text("nomor tps\n1" + "," * 20_000 + "\n")
    with pytest.raises(SheetError, match="row 2 has 20,001 cells, more than a spreadsheet's"):
        read_sheet(sheet, TPS_COLUMNS)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_a_file_over_the_size_limit_is_refused_unread(tmp_path: Path, suffix: str) -> None:
    sheet = tmp_path / f"tps{suffix}"
    with sheet.open("wb") as f:  # sparse: no disk is used
        f.truncate(sheet_limits.MAX_SHEET_BYTES + 1)
    with pytest.raises(SheetError, match="134,217,729 bytes; a sheet may be at most 128 MiB"):
        read_sheet(sheet, TPS_COLUMNS)
    os.unlink(sheet)


def test_the_import_command_says_it_in_one_line_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    areas = SHARED / "data" / "idn-area"
    require((areas / "villages.csv").is_file(), f"needs the area data in {areas} (../shared)")
    rows = HEADER + _row(2, ("A2", "1")) + _row(2, ("A2", "2"))
    book = workbook(tmp_path / "tps.xlsx", rows)
    out = tmp_path / "targets"
    assert main(["import", str(book), "--areas", str(areas), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err == f"import: {book} [TPS]: row 2 is there twice\n"
    assert not out.exists()


def test_a_csv_in_shift_jis_is_refused_by_name_not_read_as_garbage(tmp_path: Path) -> None:
    sheet = tmp_path / "tps.csv"
    sheet.write_bytes("nomor tps;nama\n1;ok\n2;東京都千代田区の投票所\n".encode("shift_jis"))
    with pytest.raises(SheetError, match=r"tps\.csv:3: neither UTF-8 nor Windows-1252"):
        read_sheet(sheet, TPS_COLUMNS)  # before: read as mojibake, exit 0


@pytest.mark.parametrize(("encoding", "mark"), [("utf-16-le", "\ufeff"), ("cp1252", ""),
                                                ("utf-8", "\ufeff"), ("utf-8", "")])  # fmt: skip
def test_what_excel_saves_is_read_whatever_its_encoding(
    tmp_path: Path, encoding: str, mark: str
) -> None:
    sheet = tmp_path / "tps.csv"
    text = mark + "nomor tps\tdesa\n1\tKampung Baru\n2\tTanjung Uma (café)\n"
    sheet.write_bytes(text.encode(encoding))
    rows = read_sheet(sheet, TPS_COLUMNS).rows
    assert [r.get("village") for r in rows] == ["Kampung Baru", "Tanjung Uma (café)"]
