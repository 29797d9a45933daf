"""Rows of an operator's spreadsheet (CSV or .xlsx), with columns as operators name them."""

from __future__ import annotations

import csv
import datetime
import difflib
import io
import itertools
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, TextIO

from exporter import i18n
from exporter.i18n import _
from exporter.inventory.sheet_limits import (
    SheetError,
    check_archive,
    check_file_size,
    lines_within,
    scan_sheet_xml,
)

if TYPE_CHECKING:
    from openpyxl.workbook.workbook import Workbook
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet

EXCEL_SUFFIXES = (".xlsx", ".xlsm")
# The canonical column, then the names operators give it (compared without case, spaces or
# punctuation: "Kabupaten / Kota", "kabupaten_kota" and "KABUPATENKOTA" are one column).
TPS_COLUMNS: dict[str, tuple[str, ...]] = {
    "village_code": ("kode wilayah", "kode desa", "kode kelurahan", "kode desa/kelurahan",
                     "kode desa kelurahan", "kode kemendagri", "village code", "kode"),
    "province": ("provinsi", "propinsi", "prov", "province"),
    "regency": ("kabupaten/kota", "kab/kota", "kabupaten", "kota", "kabkot", "regency"),
    "district": ("kecamatan", "kec", "district"),
    "village": ("desa/kelurahan", "kel/desa", "desa/kel", "ds/kel", "desa", "kelurahan",
                "village"),
    "tps_number": ("nomor tps", "no tps", "no. tps", "tps", "nomor", "tps number"),
    "latitude": ("lat", "latitude", "lintang"),
    "longitude": ("lon", "lng", "long", "longitude", "bujur"),
    "device_address": ("device address", "alamat perangkat", "ip perangkat", "alamat ip",
                       "ip router", "ip modem", "ip address", "ip", "address", "host",
                       "hostname"),
    "device_kind": ("device kind", "jenis perangkat", "tipe perangkat", "device type", "kind",
                    "jenis"),
    "operator": ("operator", "provider", "penyedia"),
    "device_id": ("device id", "id perangkat", "device"),
    "device_name": ("device name", "nama perangkat"),
    "parent": ("parent", "induk", "perangkat induk", "parent id"),
}  # fmt: skip
DEVICE_COLUMNS: dict[str, tuple[str, ...]] = {
    "device_id": ("device id", "id perangkat", "id"),
    "device_address": TPS_COLUMNS["device_address"],
    "device_kind": TPS_COLUMNS["device_kind"],
    "operator": TPS_COLUMNS["operator"],
    "device_name": ("device name", "nama perangkat", "name", "nama"),
    "parent": TPS_COLUMNS["parent"],
}


# A row whose first cell says it sums the rows above (as `key()` leaves it): not a TPS.
_TOTAL_WORDS = frozenset({"jumlah", "total", "jumlahtotal", "grandtotal", "subtotal"})


@dataclass(frozen=True, slots=True)
class Row:
    """One data row: its row number as the spreadsheet shows it, and its cells by column."""

    number: int
    cells: Mapping[str, str]

    def get(self, column: str) -> str:
        """Return a cell's text, stripped; empty when the column or the cell is."""
        return self.cells.get(column, "")


@dataclass(frozen=True, slots=True)
class Sheet:
    """A sheet's rows, where they came from, and the columns that were not understood."""

    label: str  # file, and the sheet's name for a workbook
    rows: tuple[Row, ...]
    columns: frozenset[str]  # the canonical columns the header has
    ignored: tuple[str, ...]  # header cells that name no known column
    totals: tuple[int, ...] = ()  # rows of sums (JUMLAH, TOTAL), left out


def key(header: str) -> str:
    """Return a header as compared: letters and digits only, lower case."""
    return re.sub(r"[^0-9a-z]", "", header.casefold())


def read_sheet(
    path: Path,
    columns: Mapping[str, tuple[str, ...]],
    sheet: str | None = None,
    stream: TextIO | None = None,
) -> Sheet:
    """Read a CSV or .xlsx sheet into rows keyed by canonical column names; with `stream`, draw
    a progress bar on it."""
    if not path.is_file():
        raise SheetError(_("{path}: no such file").format(path=path))
    check_file_size(path)
    if path.suffix.lower() in EXCEL_SUFFIXES:
        label, lines, total = _excel(path, sheet)
    elif sheet is not None:
        raise SheetError(
            _("{path}: --sheet is for .xlsx workbooks; this is read as CSV").format(path=path)
        )
    else:
        label, lines, total = _csv(path)
    lines = lines_within(lines, label)
    header, lines = _header(lines, columns)
    if header is None:
        raise SheetError(_("{label}: no header row").format(label=label))
    names = _columns(label, header[1], columns)
    progress = (
        Progress(_("reading {name}").format(name=path.name), total, stream) if stream else None
    )
    rows, totals = [], []
    for number, cells in lines:
        if progress is not None:
            progress.step()
        if not any(cells):
            continue  # spreadsheets end in blank rows; they are no one's mistake
        if key(next(c for c in cells if c)) in _TOTAL_WORDS:
            totals.append(number)
            continue
        values = {names[i]: c for i, c in enumerate(cells) if i in names and c}
        rows.append(Row(number, values))
    if progress is not None:
        progress.finish()
    ignored = tuple(h for i, h in enumerate(header[1]) if h and i not in names)
    return Sheet(label, tuple(rows), frozenset(names.values()), ignored, tuple(totals))


_HEADER_SEARCH = 30  # rows a header may sit below titles and blank rows
Lines = Iterator[tuple[int, list[str]]]


def _header(
    lines: Lines, columns: Mapping[str, tuple[str, ...]]
) -> tuple[tuple[int, list[str]] | None, Lines]:
    """Find the header row and return it with the rows after it.

    Sheets open with title rows ("DATA TPS KABUPATEN BINTAN", a date) and often a header of
    two rows: groups (LOKASI, KOORDINAT) above the names (LAT, LON), with the columns that
    have no group (NO, KAB/KOTA) merged down, so named in the first row only. The header is
    the first row naming two known columns; the row under it joins it when it names more.
    """
    alias = _aliases(columns)

    def known(cells: list[str]) -> int:
        return sum(1 for c in cells if c and key(c) in alias)

    seen: list[tuple[int, list[str]]] = []  # non-empty rows passed over
    for number, row in itertools.islice(lines, _HEADER_SEARCH):
        if not any(row):
            continue
        if known(row) < 2:
            seen.append((number, row))
            continue
        above = seen[-1][1] if seen and seen[-1][0] == number - 1 else []
        header = _filled(row, above)  # a row of groups above, its other cells merged down
        below = next(lines, None)
        if below is None:
            return (number, header), lines
        joined = _filled(below[1], header)
        if known(below[1]) >= 1 and known(joined) > known(header):
            return (number, joined), lines
        return (number, header), itertools.chain([below], lines)  # a data row: put back
    # No row names two columns: the first one is the header (a sheet of one column, or one
    # whose error must say which column it lacks), and the rows passed over are its data.
    if not seen:
        return None, lines
    return seen[0], itertools.chain(seen[1:], lines)


def _filled(cells: list[str], other: list[str]) -> list[str]:
    """Return `cells` with each empty one taken from `other`, as wide as the wider."""
    width = max(len(cells), len(other))
    padded, behind = cells + [""] * (width - len(cells)), other + [""] * (width - len(other))
    return [c or o for c, o in zip(padded, behind, strict=True)]


def closest_column(header: str, columns: Mapping[str, tuple[str, ...]]) -> str | None:
    """Return the known column name closest to a header not understood (`KECAMATN` ->
    `kecamatan`), or None when none is close."""
    names = {key(a): a for aliases in columns.values() for a in aliases}
    close = difflib.get_close_matches(key(header), list(names), n=1, cutoff=0.75)
    return names[close[0]] if close and key(header) else None


def _aliases(columns: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    """Return each name a column goes by, as `key()` compares it, to its canonical name."""
    return {key(a): name for name, aliases in columns.items() for a in (name, *aliases)}


def _columns(
    label: str, header: list[str], columns: Mapping[str, tuple[str, ...]]
) -> dict[int, str]:
    """Map header positions to canonical columns; raise SheetError for a column given twice."""
    alias = _aliases(columns)
    names: dict[int, str] = {}
    seen: dict[str, str] = {}
    for i, cell in enumerate(header):
        name = alias.get(key(cell))
        if name is None:
            continue
        if name in seen:
            raise SheetError(
                _("{label}: columns {seen!r} and {cell!r} are both {name}").format(
                    label=label, seen=seen[name], cell=cell, name=name
                )
            )
        seen[name], names[i] = cell, name
    return names


def _csv(path: Path) -> tuple[str, Iterator[tuple[int, list[str]]], int]:
    """Return the label, the (line number, cells) and the line count of a CSV file exported by
    Excel, LibreOffice or a script."""
    raw = path.read_bytes()
    text = _decoded(path, raw)
    try:
        dialect: type[csv.Dialect] = csv.Sniffer().sniff(text[:8192], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    return str(path), _csv_lines(path, text, dialect), text.count("\n")


# Excel's "Unicode Text" is UTF-16 with a mark; its plain "CSV" on Windows is Windows-1252.
_MARKS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))
_FOREIGN_SHARE = 0.2  # of the letters: Indonesian lists are all but ASCII, Shift-JIS is not


def _decoded(path: Path, raw: bytes) -> str:
    """Return a CSV file's text: UTF-8 or UTF-16 by their mark, UTF-8, or Windows-1252 when it
    looks like it; any other encoding is refused by name rather than read as garbage."""
    for mark, encoding in _MARKS:
        if raw.startswith(mark):
            try:
                return raw.decode(encoding)
            except UnicodeDecodeError as exc:
                raise SheetError(
                    _(
                        "{path}: marked {encoding} but byte {start} is not; save it again as "
                        "CSV UTF-8"
                    ).format(path=path, encoding=encoding.upper(), start=i18n.number(exc.start))
                ) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
    text = raw.decode("cp1252", errors="replace")
    letters = sum(1 for ch in text if ch.isalpha())
    foreign = sum(1 for ch in text if ord(ch) > 0x7F)
    if "\ufffd" in text or foreign > _FOREIGN_SHARE * max(letters, 1):
        raise SheetError(
            _(
                "{path}:{line}: neither UTF-8 nor Windows-1252 (Shift-JIS? "
                "GBK?); save it as CSV UTF-8"
            ).format(path=path, line=line)
        )
    return text


def _csv_lines(
    path: Path, text: str, dialect: type[csv.Dialect]
) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    start = 1
    try:
        for cells in reader:
            yield start, [c.strip() for c in cells]
            start = reader.line_num + 1
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise SheetError(
                _(
                    '{path}:{start}: a cell longer than {limit} characters, or a quote (") '
                    "that is never closed"
                ).format(path=path, start=start, limit=i18n.number(csv.field_size_limit()))
            ) from None
        raise SheetError(
            _("{path}:{start}: not readable as CSV ({error})").format(
                path=path, start=start, error=exc
            )
        ) from None


def _excel(path: Path, sheet: str | None) -> tuple[str, Iterator[tuple[int, list[str]]], int]:
    """Return the label, the rows and the last row number of a workbook's sheet (the active one
    by default), once its zip and its XML are known to be within bounds."""
    check_archive(path)
    workbook, worksheet = _open_workbook(path, sheet)
    label = f"{path} [{worksheet.title}]"
    try:
        with _sheet_xml(workbook, worksheet) as source:
            last = scan_sheet_xml(source, label)
    except BaseException:
        workbook.close()
        raise
    # Read every row there is, whatever <dimension> claims (too few drops rows, too many hangs).
    worksheet.reset_dimensions()

    def lines() -> Iterator[tuple[int, list[str]]]:
        number = 0
        try:
            for number, values in enumerate(worksheet.values, start=1):
                yield number, [_text(v) for v in values]
        except SheetError:
            raise
        except Exception as exc:  # openpyxl raises what its parsers raise
            raise SheetError(
                _("{label}: row {row} cannot be read ({name}: {error})").format(
                    label=label,
                    row=i18n.number(number + 1),
                    name=type(exc).__name__,
                    error=str(exc)[:100],
                )
            ) from None
        finally:
            workbook.close()

    return label, lines(), last


def _sheet_xml(workbook: Workbook, worksheet: ReadOnlyWorksheet) -> IO[bytes]:
    """Open the XML part of a read-only worksheet, as openpyxl itself does when it reads it."""
    # openpyxl has no public call for this; 3.1's read-only sheet opens the part the same way.
    archive = workbook._archive  # type: ignore[attr-defined]
    return archive.open(worksheet._worksheet_path)  # type: ignore[attr-defined,no-any-return]


def _open_workbook(path: Path, sheet: str | None) -> tuple[Workbook, ReadOnlyWorksheet]:
    """Open a workbook read-only and find its sheet; raise SheetError if either fails."""
    import openpyxl  # noqa: PLC0415 - only the import command needs it
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet  # noqa: PLC0415

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile, KeyError and XML errors alike
        raise SheetError(
            _("{path}: not a readable .xlsx workbook ({error})").format(path=path, error=exc)
        ) from None
    if sheet is not None and sheet not in workbook.sheetnames:
        workbook.close()
        raise SheetError(
            _("{path}: no sheet {sheet!r} (sheets: {sheets})").format(
                path=path, sheet=sheet, sheets=", ".join(workbook.sheetnames)
            )
        )
    worksheet = workbook[sheet] if sheet else workbook.active
    if not isinstance(worksheet, ReadOnlyWorksheet):
        workbook.close()
        raise SheetError(
            _("{path}: sheet {sheet} holds no cells (a chart sheet?)").format(
                path=path, sheet=sheet or _("(active)")
            )
        )
    return workbook, worksheet


def _text(value: object) -> str:
    """Return a cell's value as the text an operator typed."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))  # 2101041005 and TPS 7, stored by Excel as floats
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    return str(value).strip()


class Progress:
    """A progress bar on a terminal: rows done of the total, redrawn at most ten times a second."""

    def __init__(self, label: str, total: int, stream: TextIO | None) -> None:
        self.label, self.total, self.done, self.stream = label, max(total, 1), 0, stream
        self._drawn = 0.0

    def step(self, count: int = 1) -> None:
        """Count rows done; redraw when a tenth of a second has passed."""
        self.done += count
        if self.stream is not None and (now := time.monotonic()) - self._drawn >= 0.1:
            self._drawn = now
            self._draw()

    def finish(self) -> None:
        """Draw the bar full and end its line."""
        if self.stream is not None:
            self.done = self.total
            self._draw()
            self.stream.write("\n")
            self.stream.flush()

    def _draw(self) -> None:
        assert self.stream is not None
        share = min(1.0, self.done / self.total)
        bar = "#" * int(share * 30)
        rows = _("{done}/{total} rows").format(done=i18n.number(self.done),
                                               total=i18n.number(self.total))  # fmt: skip
        self.stream.write(f"\r{self.label} [{bar:<30}] {rows} {i18n.percent(share, 0):>4}")
        self.stream.flush()
