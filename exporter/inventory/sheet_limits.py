"""Bounds on an operator's spreadsheet, checked before anything trusts what the file declares.

A workbook is a zip of XML parts. Its `<dimension>` may claim a million rows or far too few,
its parts may unpack to gigabytes, and a row may hold millions of cells; a CSV may be one
endless quoted field. Each of these is refused with where it is, at a cost bounded by the
limits below, before openpyxl or the csv module sees the file.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO
from xml.etree import ElementTree as ET

from exporter import i18n
from exporter.i18n import _

MAX_SHEET_BYTES = 128 * 2**20  # the file on disk; a national TPS list is a tenth of it
MAX_UNPACKED_BYTES = 512 * 2**20  # all of a workbook's parts, as its zip declares them
MAX_PARTS = 10_000  # members of a workbook's zip
MAX_CELLS = 10_000_000  # cells read, each row counted up to its last cell
MAX_ROWS = 1_048_576  # Excel's own limits
MAX_COLUMNS = 16_384
MAX_CELL_CHARS = 32_767
MAX_OTHER_PARTS = 200_000  # XML elements outside the cells: merges, validations, formats
_CELL_REFERENCE = re.compile(r"\$?([A-Za-z]{1,3})\$?([0-9]{1,7})")


class SheetError(ValueError):
    """A sheet that cannot be read: missing, damaged, beyond the limits, a column absent."""


def check_file_size(path: Path) -> None:
    """Refuse a sheet file larger than MAX_SHEET_BYTES."""
    size = path.stat().st_size
    if size > MAX_SHEET_BYTES:
        raise SheetError(
            _("{path}: {size} bytes; a sheet may be at most {mib}: split it by regency").format(
                path=path, size=i18n.number(size), mib=_mib(MAX_SHEET_BYTES)
            )
        )


def check_archive(path: Path) -> None:
    """Refuse a workbook whose zip has too many parts or unpacks to more than allowed.

    The sizes the zip declares bound what it can unpack to: Python's zipfile stops at the
    declared size and fails the checksum of a part that holds more.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise SheetError(
            _("{path}: not a readable .xlsx workbook ({error})").format(path=path, error=exc)
        ) from None
    if len(parts) > MAX_PARTS:
        raise SheetError(
            _(
                "{path}: {count} parts in the workbook (at most {limit}); is "
                "it an .xlsx saved by a spreadsheet?"
            ).format(path=path, count=i18n.number(len(parts)), limit=i18n.number(MAX_PARTS))
        )
    unpacked = sum(p.file_size for p in parts)
    if unpacked > MAX_UNPACKED_BYTES:
        limit = _mib(MAX_UNPACKED_BYTES)
        raise SheetError(
            _(
                "{path}: unpacks to {mib}, more than the {limit} a workbook "
                "may; split it by regency"
            ).format(path=path, mib=_mib(unpacked), limit=limit)
        )


def scan_sheet_xml(source: IO[bytes], label: str) -> int:
    """Read a worksheet's XML once, keeping one cell in memory, and refuse what is out of bounds.

    Rows and cells must come in order (openpyxl would drop a row that goes back, and keep only
    the last of two cells in one place), within Excel's limits, and the cells read in all at
    most MAX_CELLS. The declared `<dimension>` is never consulted. Return the last row's number.
    """
    scan = _SheetScan(label)
    try:
        for event, element in ET.iterparse(source, events=("start", "end")):
            if event == "start":
                scan.start(element)
            else:
                scan.end(element)
    except ET.ParseError as exc:
        raise SheetError(
            _("{label}: the sheet's XML is broken ({error})").format(label=label, error=exc)
        ) from None
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise SheetError(
            _("{label}: the workbook is damaged ({error})").format(label=label, error=exc)
        ) from None
    return scan.row


class _SheetScan:
    """Where the scan of one worksheet's XML is: the open elements, the row, its last cell."""

    def __init__(self, label: str) -> None:
        self.label, self.budget = label, CellBudget(label)
        self.parents: list[ET.Element] = []
        self.in_cells = False
        self.row = self.column = self.width = self.others = 0

    def start(self, element: ET.Element) -> None:
        """An element opens: a row's number is checked as it starts."""
        self.parents.append(element)
        name = _local(element)
        if name == "sheetData":
            self.in_cells = True
        elif name == "row":
            self.row, self.column, self.width = _row_number(element, self.row, self.label), 0, 0

    def end(self, element: ET.Element) -> None:
        """An element closes: count it, then let it go, so only the open ones are in memory."""
        self.parents.pop()
        name = _local(element)
        if name == "c":
            self.column = _column_number(element, self.row, self.column, self.label)
            self.width = max(self.width, self.column)
        elif name == "row":
            self.budget.take(self.row, self.width)
        elif name == "sheetData":
            self.in_cells = False
        elif not self.in_cells:
            self.others += 1  # merges, validations, formats: openpyxl keeps every one
            if self.others > MAX_OTHER_PARTS:
                raise SheetError(
                    _(
                        "{label}: more than {limit} merges, formats and other parts "
                        "beside the cells"
                    ).format(label=self.label, limit=i18n.number(MAX_OTHER_PARTS))
                )
        if self.parents:
            self.parents[-1].remove(element)


def _local(element: ET.Element) -> str:
    return element.tag.rpartition("}")[2]


def _row_number(element: ET.Element, previous: int, label: str) -> int:
    given = element.get("r")
    if given is None:
        number = previous + 1
    elif given.isdigit() and len(given) <= 7:
        number = int(given)
    else:
        raise SheetError(
            _("{label}: after row {previous}, a row numbered {given!r}").format(
                label=label, previous=i18n.number(previous), given=given[:20]
            )
        )
    if number > MAX_ROWS:
        raise SheetError(
            _("{label}: row {number} is beyond Excel's last row ({limit})").format(
                label=label, number=i18n.number(number), limit=i18n.number(MAX_ROWS)
            )
        )
    if number == previous:
        raise SheetError(
            _("{label}: row {number} is there twice").format(
                label=label, number=i18n.number(number)
            )
        )
    if number < previous:
        raise SheetError(
            _("{label}: row {number} comes after row {previous}").format(
                label=label, number=i18n.number(number), previous=i18n.number(previous)
            )
        )
    return number


def _column_number(element: ET.Element, row: int, previous: int, label: str) -> int:
    given = element.get("r")
    if given is None:
        number = previous + 1
    else:
        match = _CELL_REFERENCE.fullmatch(given)
        if match is None:
            raise SheetError(
                _("{label}: row {row} has a cell named {given!r}").format(
                    label=label, row=i18n.number(row), given=given[:20]
                )
            )
        number = column_index(match[1])
    if number > MAX_COLUMNS:
        raise SheetError(
            _("{label}: row {row} has a cell beyond Excel's last column").format(
                label=label, row=i18n.number(row)
            )
        )
    if number <= previous:
        raise SheetError(
            _("{label}: row {row} has two cells in column {column}, or cells out of order").format(
                label=label, row=i18n.number(row), column=column_letters(number)
            )
        )
    return number


def check_row(label: str, row: int, cells: list[str]) -> None:
    """Refuse a row with more columns than Excel has or a cell longer than Excel allows."""
    if len(cells) > MAX_COLUMNS:
        raise SheetError(
            _(
                "{label}: row {row} has {count} cells, more than a spreadsheet's {limit} columns"
            ).format(
                label=label,
                row=i18n.number(row),
                count=i18n.number(len(cells)),
                limit=i18n.number(MAX_COLUMNS),
            )
        )
    for i, cell in enumerate(cells):
        if len(cell) > MAX_CELL_CHARS:
            raise SheetError(
                _(
                    "{label}: cell {column}{row} has {count} characters; a cell "
                    "holds at most {limit}"
                ).format(
                    label=label,
                    column=column_letters(i + 1),
                    row=row,
                    count=i18n.number(len(cell)),
                    limit=i18n.number(MAX_CELL_CHARS),
                )
            )


class CellBudget:
    """Cells read so far from one sheet, refused beyond MAX_CELLS."""

    def __init__(self, label: str) -> None:
        self.label, self.used = label, 0

    def take(self, row: int, count: int) -> None:
        """Count a row's cells; raise SheetError once the sheet has too many."""
        self.used += count
        if self.used > MAX_CELLS:
            raise SheetError(
                _(
                    "{label}: more than {limit} cells by row {row}; split the sheet by regency"
                ).format(label=self.label, limit=i18n.number(MAX_CELLS), row=i18n.number(row))
            )


# openpyxl.utils has these two, but importing it loads all of openpyxl (~70 ms), and this
# module is imported with the command line, so the exporter would pay for it at every start.
def column_index(letters: str) -> int:
    """Return a column's number from its letters: A is 1, XFD is 16,384."""
    number = 0
    for letter in letters.upper():
        number = number * 26 + ord(letter) - ord("A") + 1
    return number


def column_letters(number: int) -> str:
    """Return a column's letters from its number: 1 is A, 28 is AB."""
    letters = ""
    while number > 0:
        number, rest = divmod(number - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _mib(size: int) -> str:
    return f"{size / 2**20:,.0f} MiB"


def lines_within(
    rows: Iterator[tuple[int, list[str]]], label: str
) -> Iterator[tuple[int, list[str]]]:
    """Yield rows while each is within Excel's bounds and the sheet within MAX_CELLS."""
    budget = CellBudget(label)
    for number, cells in rows:
        check_row(label, number, cells)
        budget.take(number, len(cells))
        yield number, cells
