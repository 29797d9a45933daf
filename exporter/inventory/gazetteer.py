"""Indonesia's real administrative areas (idn-area data), to check and complete the places of TPS.

The data is four CSV files, `provinces.csv`, `regencies.csv`, `districts.csv` and
`villages.csv`, each `code,<parent>_code,name` as published by idn-area-data (ODbL).
"""

from __future__ import annotations

import csv
import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from exporter.i18n import _
from exporter.inventory import areas
from exporter.inventory.model import Area, Place

FILES = {
    "province": "provinces.csv",
    "regency": "regencies.csv",
    "district": "districts.csv",
    "village": "villages.csv",
}
# What operators' sheets call each level; used in every message an operator reads.
LABELS = {
    "province": "provinsi",
    "regency": "kabupaten/kota",
    "district": "kecamatan",
    "village": "desa/kelurahan",
}
_REGENCY_PREFIXES = ("kabupaten ", "kota ")
AMBIGUOUS = ""  # in `children`: more than one area of that name
_CLOSE = 0.8  # difflib ratio above which a name is taken for a misspelling of another


class AreaError(ValueError):
    """A place that cannot be found in the area data; the message names the closest matches."""


@dataclass(frozen=True, slots=True)
class Resolved:
    """A village found for a row, with what the operator should know about how."""

    place: Place
    warnings: tuple[str, ...] = ()


def normalize(name: str) -> str:
    """Return a name as compared: case, punctuation and spacing do not matter."""
    name = re.sub(r"\bkab\b\.?", "kabupaten", name.casefold())
    return " ".join(re.sub(r"[^\w ]+", " ", name).split())


def village_code(text: str) -> str | None:
    """Return a village code as `21.01.04.1005` from that or `2101041005`, or None."""
    text = text.strip()
    if text.endswith(".0") and text[:-2].isdigit():  # a spreadsheet's number shown as float
        text = text[:-2]
    if text.isdigit() and len(text) == 10:
        text = f"{text[:2]}.{text[2:4]}.{text[4:6]}.{text[6:]}"
    return text if areas.CODE_PATTERNS["village"].fullmatch(text) else None


@dataclass(frozen=True)
class Gazetteer:
    """Every area by code, and each area's children by normalized name."""

    by_code: Mapping[str, Area]
    children: Mapping[str, Mapping[str, str]] = field(repr=False)  # parent code -> name -> code

    @classmethod
    def read(cls, directory: Path) -> Gazetteer:
        """Read the four CSV files of the area data in `directory`."""
        by_code: dict[str, Area] = {}
        children: dict[str, dict[str, str]] = {}
        for level, name in FILES.items():
            with (directory / name).open(encoding="utf-8", newline="") as f:
                for row in csv.DictReader(f):
                    code = row["code"]
                    parent = "" if level == "province" else code.rpartition(".")[0]
                    by_code[code] = Area(code, row["name"])
                    siblings, key = children.setdefault(parent, {}), normalize(row["name"])
                    # Two villages of one district can share a name: only a code tells them apart.
                    siblings[key] = AMBIGUOUS if key in siblings else code
        return cls(by_code, children)

    def place(self, code: str) -> Place | None:
        """Return the place of a village code, or None if there is no such village."""
        if code not in self.by_code or not areas.CODE_PATTERNS["village"].fullmatch(code):
            return None
        parts = code.split(".")
        return Place(*(self.by_code[".".join(parts[: i + 1])] for i in range(4)))

    def resolve(self, code: str | None, names: Mapping[str, str]) -> Resolved:
        """Find a row's village by its code, else by its names; raise AreaError if neither can."""
        if code:
            place = self.place(code)
            if place is None:
                raise AreaError(_("kode wilayah {code} is not a village in the area data")
                                .format(code=code))  # fmt: skip
            return Resolved(place, tuple(self._differences(place, names)))
        parent, found, warnings = "", [], []
        for level in areas.LEVELS:
            given = names.get(level, "").strip()
            if not given:
                raise AreaError(_("no kode wilayah, and no {level} to find the village by")
                                .format(level=LABELS[level]))  # fmt: skip
            area_code, warning = self._child(parent, level, given)
            parent = area_code
            found.append(self.by_code[area_code])
            warnings += [warning] if warning else []
        return Resolved(Place(*found), tuple(warnings))

    def _differences(self, place: Place, names: Mapping[str, str]) -> list[str]:
        """Say which names given beside a code differ from the area data's names for it."""
        warnings = []
        for level in areas.LEVELS:
            given, area = names.get(level, "").strip(), getattr(place, level)
            if given and not _same(level, given, area.name):
                warnings.append(
                    _("{level} {given!r} differs from {name!r}, the name of {code} in the area "
                      "data: using {name!r}").format(level=LABELS[level], given=given,
                                                     name=area.name, code=area.code)
                )  # fmt: skip
        return warnings

    def _child(self, parent: str, level: str, given: str) -> tuple[str, str | None]:
        """Return the code of `parent`'s child named `given`, and a warning if only close."""
        siblings = self.children.get(parent, {})
        key = normalize(given)
        if siblings.get(key) == AMBIGUOUS:
            raise AreaError(_("two of {level} {given!r} in {parent}: give the kode wilayah")
                            .format(level=LABELS[level], given=given,
                                    parent=self.by_code[parent].name))  # fmt: skip
        if key in siblings:
            return siblings[key], None
        found = self._as_written(parent, level, given, key)
        if found is not None:
            return found, None
        if level == "regency":  # "Bintan" for "Kabupaten Bintan"; "Bekasi" is two regencies
            matches = [siblings[p + key] for p in _REGENCY_PREFIXES if p + key in siblings]
            if len(matches) == 1:
                return matches[0], None
            if matches:
                both = _(" and ").join(repr(self.by_code[c].name) for c in matches)
                raise AreaError(_("{level} {given!r} could be {both}: say which")
                                .format(level=LABELS[level], given=given, both=both))  # fmt: skip
        where = _(" in {parent}").format(parent=self.by_code[parent].name) if parent else ""
        named = [name for name, code in siblings.items() if code != AMBIGUOUS]
        close = difflib.get_close_matches(key, named, n=2, cutoff=_CLOSE)
        if not close:
            raise AreaError(_("{level} {given!r} is not in the area data{where}")
                            .format(level=LABELS[level], given=given, where=where))  # fmt: skip
        best = self.by_code[siblings[close[0]]]
        if len(close) > 1 and _ratio(key, close[0]) == _ratio(key, close[1]):
            other = self.by_code[siblings[close[1]]].name
            raise AreaError(
                _("{level} {given!r} is not in the area data{where}; closest: {best!r} and "
                  "{other!r}").format(level=LABELS[level], given=given, where=where,
                                      best=best.name, other=other)
            )  # fmt: skip
        return best.code, (
            _("{level} {given!r} is not in the area data{where}: using the closest, {best!r} "
              "({code})").format(level=LABELS[level], given=given, where=where, best=best.name,
                                 code=best.code)
        )  # fmt: skip

    def _as_written(self, parent: str, level: str, given: str, key: str) -> str | None:
        """Find a child as sheets write it: a province abbreviated (KEPRI, KALSEL), a district
        or village after its title ("Kec. Gambut", "Ds. Kawal")."""
        siblings = self.children.get(parent, {})
        if level == "province":
            provinces = {code: self.by_code[code].name for code in siblings.values() if code}
            return areas.province_code(given, provinces)
        for title in _TITLES.get(level, ()):
            code = siblings.get(key.removeprefix(title + " "))
            if key.startswith(title + " ") and code:
                return code
        return None


# Titles sheets put before a name, as normalize() leaves them ("Kec." is "kec").
_TITLES = {"district": ("kecamatan", "kec"),
           "village": ("desa", "ds", "kelurahan", "kel", "kel desa", "desa kel")}  # fmt: skip


def _same(level: str, given: str, official: str) -> bool:
    a, b = normalize(given), normalize(official)
    if level == "regency":
        return a == b or any(p + a == b for p in _REGENCY_PREFIXES)
    return a == b


def _ratio(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b).ratio()
