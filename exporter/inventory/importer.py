"""Operators' sheets of TPS and devices in, a checked YAML inventory out: `tps-exporter import`.

Every TPS row becomes a site; its place is found in the real area data (by kode wilayah, else by
its names), and its device by id, by address, or made from the row. Rows that cannot be used
are reported by sheet row; the files are written only once the whole inventory, with what is
already in the targets directory, loads cleanly, and then each by an atomic rename.
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO, TypeVar

from exporter.i18n import _, n_, number
from exporter.inventory import areas
from exporter.inventory.gazetteer import AreaError, Gazetteer, village_code
from exporter.inventory.load import inventory_files, is_hostname, load
from exporter.inventory.model import DeviceKind, Place
from exporter.inventory.nodes import ConfigLoadError
from exporter.inventory.sheet_limits import SheetError
from exporter.inventory.sheets import (
    DEVICE_COLUMNS,
    TPS_COLUMNS,
    Progress,
    Row,
    Sheet,
    closest_column,
    read_sheet,
)

_T = TypeVar("_T")
# Indonesia from Rondo (Aceh, 6°N) to Rote (11°S), Sabang (95°E) to Merauke (141°E), with margin.
LATITUDES, LONGITUDES = (-11.5, 6.5), (94.5, 141.5)
_PREFIX = {
    DeviceKind.ROUTER: "rtr",
    DeviceKind.BTS: "bts",
    DeviceKind.VSAT: "vsat",
    DeviceKind.RADIO: "radio",
    DeviceKind.UPS: "ups",
    DeviceKind.OTHER: "dev",
}
# Words in a "jenis perangkat" cell, first match wins: "Router 4G" and "Modem" are routers.
_KIND_WORDS = (
    ("vsat", DeviceKind.VSAT),
    ("bts", DeviceKind.BTS),
    ("radio", DeviceKind.RADIO),
    ("ptp", DeviceKind.RADIO),
    ("ptmp", DeviceKind.RADIO),
    ("ups", DeviceKind.UPS),
    ("router", DeviceKind.ROUTER),
    ("modem", DeviceKind.ROUTER),
    ("4g", DeviceKind.ROUTER),
    ("lte", DeviceKind.ROUTER),
    ("cpe", DeviceKind.ROUTER),
    ("mifi", DeviceKind.ROUTER),
    # Sheets often name the vendor instead: routers and modems, or point-to-point radios.
    ("mikrotik", DeviceKind.ROUTER),
    ("teltonika", DeviceKind.ROUTER),
    ("huawei", DeviceKind.ROUTER),
    ("zte", DeviceKind.ROUTER),
    ("tp-link", DeviceKind.ROUTER),
    ("tplink", DeviceKind.ROUTER),
    ("peplink", DeviceKind.ROUTER),
    ("orbit", DeviceKind.ROUTER),
    ("ubiquiti", DeviceKind.RADIO),
    ("cambium", DeviceKind.RADIO),
    ("other", DeviceKind.OTHER),
    ("lain", DeviceKind.OTHER),
)
_KIND_NAMES = {
    DeviceKind.BTS: "BTS",
    DeviceKind.VSAT: "VSAT",
    DeviceKind.RADIO: "Radio",
    DeviceKind.UPS: "UPS",
    DeviceKind.OTHER: "Perangkat",
}
OTHER_DEVICES = "other-devices.yaml"
# What a sheet writes in the address cell of a TPS with no device: a blank spot.
_NO_DEVICE = frozenset(
    {
        "-",
        "--",
        "\u2014",
        "\u2013",
        "tidak ada",
        "tdk ada",
        "belum ada",
        "nihil",
        "none",
        "n/a",
        "na",
    }
)


@dataclass(frozen=True, slots=True)
class Problem:
    """Something about one row (or one sheet) that the operator should read."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class RowError(ValueError):
    """This row cannot be used; the message says why."""


@dataclass
class _Device:
    id: str
    kind: DeviceKind
    address: str
    operator: str = ""
    name: str = ""
    parent: str = ""
    where: str = ""  # the row that defined it, for errors about it later


@dataclass
class _Site:
    id: str
    name: str
    place: Place
    where: str
    latitude: float | None = None
    longitude: float | None = None
    devices: list[str] = field(default_factory=list)


@dataclass
class Import:
    """What was read, what it became, and what the operator must know about it."""

    rows: int = 0
    sites: dict[str, _Site] = field(default_factory=dict)
    devices: dict[str, _Device] = field(default_factory=dict)
    by_address: dict[str, str] = field(default_factory=dict)
    warnings: list[Problem] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)

    def add_devices(self, sheet: Sheet) -> None:
        """Take the devices sheet: one device per row, by id."""
        for row in sheet.rows:
            self.rows += 1
            where = f"{sheet.label}:{row.number}"
            try:
                device_id = row.get("device_id")
                if not device_id:
                    raise RowError(_("no device id"))
                if (twin := self.devices.get(device_id)) is not None:
                    raise RowError(
                        _("device id {id!r} is already on {where}").format(
                            id=device_id, where=twin.where
                        )
                    )
                self._add(self._device(row, device_id, where))
            except RowError as exc:
                self.errors.append(Problem(where, str(exc)))

    def add_tps(self, sheet: Sheet, gazetteer: Gazetteer, progress: Progress | None = None) -> None:
        """Take the TPS sheet: a site per row (rows of one TPS add devices to it)."""
        sums = _("a row of sums (JUMLAH, TOTAL): left out")
        self.warnings += [Problem(f"{sheet.label}:{n}", sums) for n in sheet.totals]
        for row in sheet.rows:
            self.rows += 1
            if progress is not None:
                progress.step()
            where = f"{sheet.label}:{row.number}"
            try:
                self._tps_row(row, where, gazetteer)
            except (RowError, AreaError) as exc:
                self.errors.append(Problem(where, str(exc)))

    def check_parents(self) -> None:
        """Every parent must be a device of the sheets; an unknown one is an error, and dropped."""
        for device in self.devices.values():
            if device.parent and device.parent not in self.devices:
                self.errors.append(
                    Problem(
                        device.where,
                        _("parent {parent!r} is not a device of the sheets").format(
                            parent=device.parent
                        ),
                    )
                )
                device.parent = ""

    def _tps_row(self, row: Row, where: str, gazetteer: Gazetteer) -> None:
        # Every problem of the row at once: the operator corrects the row in one go.
        problems: list[str] = []

        def attempt(step: Callable[[], _T]) -> _T | None:
            try:
                return step()
            except (RowError, AreaError) as exc:
                problems.append(str(exc))
                return None

        code_text = row.get("village_code")
        code = village_code(code_text) if code_text else None
        if code_text and code is None:
            problems.append(
                _("kode wilayah {code!r} is not a village code like 21.01.04.1005").format(
                    code=code_text
                )
            )
        names = {level: row.get(level) for level in areas.LEVELS}
        resolved = attempt(lambda: gazetteer.resolve(code, names))
        number = attempt(lambda: _tps_number(row.get("tps_number")))
        coordinates = attempt(lambda: _coordinates(row.get("latitude"), row.get("longitude")))
        attempt(lambda: _row_address(row))
        attempt(lambda: _row_kind(row))
        if problems or resolved is None or number is None or coordinates is None:
            raise RowError("; ".join(problems))
        latitude, longitude = coordinates
        device = self._row_device(row, where, resolved.place)
        self.warnings += [Problem(where, w) for w in resolved.warnings]
        village = resolved.place.village
        site_id = f"tps-{village.code}-{number:03d}"
        site = self.sites.get(site_id)
        if site is None:
            site = _Site(site_id, f"TPS {number:03d} {village.name}", resolved.place, where)
            self.sites[site_id] = site
        else:
            also = _("{tps} is also on {where}: this row adds its device to it")
            self.warnings.append(Problem(where, also.format(tps=site.name, where=site.where)))
        if site.latitude is None and latitude is not None:
            site.latitude, site.longitude = latitude, longitude
        if device is not None and device.id not in site.devices:
            site.devices.append(device.id)

    def _row_device(self, row: Row, where: str, place: Place) -> _Device | None:
        """Return the device a TPS row names (made from the row if new), or None: a blank spot."""
        device_id, address = row.get("device_id"), _row_address(row)
        if device_id and device_id in self.devices:
            known = self.devices[device_id]
            if address and address != known.address:
                raise RowError(
                    _("device {id} is at {known} on {where}, not {address}").format(
                        id=device_id, known=known.address, where=known.where, address=address
                    )
                )
            return known
        if device_id and not address:
            raise RowError(
                _("device id {id!r} is not in the devices sheet, and no address").format(
                    id=device_id
                )
            )
        if not address:
            if row.get("device_kind") or row.get("operator"):
                raise RowError(_("a device kind or operator but no device address"))
            return None
        if address in self.by_address and not device_id:
            known = self.devices[self.by_address[address]]
            kind = _row_kind(row, known.kind)
            if kind != known.kind:
                raise RowError(
                    _("{address} is a {known} on {where}, not a {kind}").format(
                        address=address, known=known.kind, where=known.where, kind=kind
                    )
                )
            return known
        device = self._device(row, device_id or self._new_id(row, place), where)
        if not device.name:
            device.name = _device_name(device, row, place)
        self._add(device)
        return device

    def _device(self, row: Row, device_id: str, where: str) -> _Device:
        address = row.get("device_address")
        if not address:
            raise RowError(_("no device address"))
        return _Device(
            id=device_id,
            kind=_row_kind(row),
            address=_address(address),
            operator=row.get("operator"),
            name=row.get("device_name"),
            parent=row.get("parent"),
            where=where,
        )

    def _new_id(self, row: Row, place: Place) -> str:
        """Name a device by kind and village, as the example inventory does: rtr-21.01.04.1005."""
        base = f"{_PREFIX[_row_kind(row)]}-{place.village.code}"
        n, candidate = 1, base
        while candidate in self.devices:
            n += 1
            candidate = f"{base}-{n}"
        return candidate

    def _add(self, device: _Device) -> None:
        self.devices[device.id] = device
        self.by_address.setdefault(device.address, device.id)


def _device_name(device: _Device, row: Row, place: Place) -> str:
    """Name a device made from a TPS row as the example inventory does: `4G router Kawal`."""
    kind_text = row.get("device_kind").casefold()
    if device.kind is DeviceKind.ROUTER:
        kind = "4G router" if not kind_text or "4g" in kind_text or "lte" in kind_text else "Router"
    else:
        kind = _KIND_NAMES[device.kind]
    suffix = device.id.removeprefix(f"{_PREFIX[device.kind]}-{place.village.code}")
    return f"{kind} {place.village.name}{suffix.replace('-', ' ')}"


def _row_address(row: Row) -> str:
    """Return a TPS row's device address, "" for none (blank, "-", "tidak ada")."""
    address = row.get("device_address")
    return "" if not address or address.casefold() in _NO_DEVICE else _address(address)


def _address(text: str) -> str:
    """Return an IP address in its usual form, or a hostname; raise RowError for neither."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        if is_hostname(text):
            return text.rstrip(".").lower()
    raise RowError(
        _("device address {text!r} is not an IPv4 or IPv6 address or a hostname").format(text=text)
    )


def _row_kind(row: Row, default: DeviceKind = DeviceKind.ROUTER) -> DeviceKind:
    """Return the kind a row's `jenis perangkat` names, or `default` when the cell is empty."""
    text = row.get("device_kind")
    return _kind(text) if text else default


def _kind(text: str) -> DeviceKind:
    words = text.casefold()
    for word, kind in _KIND_WORDS:
        if word in words:
            return kind
    allowed = ", ".join(k.value for k in DeviceKind)
    raise RowError(
        _("device kind {text!r} is none of {allowed}").format(text=text, allowed=allowed)
    )


def _tps_number(text: str) -> int:
    """Return the TPS number from `7`, `007` or `TPS 007`."""
    if not text:
        raise RowError(_("no nomor TPS"))
    digits = re.fullmatch(r"(?:tps\s*)?0*(\d{1,4})", text.strip().casefold())
    if digits is None or int(digits[1]) == 0:
        raise RowError(_("nomor TPS {text!r} is not a number from 1 to 9999").format(text=text))
    return int(digits[1])


def _coordinates(lat_text: str, lon_text: str) -> tuple[float | None, float | None]:
    """Return (lat, lon) in degrees, or (None, None) when the row has none."""
    if not lat_text and not lon_text:
        return None, None
    if not (lat_text and lon_text):
        raise RowError(_("lat and lon go together: one of them is empty"))
    try:
        # A comma is the decimal mark in Indonesian spreadsheets: 0,81098.
        lat, lon = float(lat_text.replace(",", ".")), float(lon_text.replace(",", "."))
    except ValueError:
        raise RowError(
            _("lat {lat!r}, lon {lon!r}: not decimal degrees").format(lat=lat_text, lon=lon_text)
        ) from None
    if _inside(lon, LATITUDES) and _inside(lat, LONGITUDES):
        raise RowError(_("lat {lat} and lon {lon} look swapped").format(lat=lat_text, lon=lon_text))
    if not (_inside(lat, LATITUDES) and _inside(lon, LONGITUDES)):
        raise RowError(
            _("lat {lat}, lon {lon} is not in Indonesia").format(lat=lat_text, lon=lon_text)
        )
    return lat, lon


def _inside(value: float, bounds: tuple[float, float]) -> bool:
    return bounds[0] <= value <= bounds[1]


def slug(name: str) -> str:
    """Return a file or directory name for an area: `Kabupaten Bintan` -> `kabupaten-bintan`."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def render(imported: Import, source: str) -> dict[Path, str]:
    """Return the inventory files, by path relative to the targets directory."""
    files: dict[Path, list[_Site]] = {}
    for site in imported.sites.values():
        province, regency = site.place.province.name, site.place.regency.name
        files.setdefault(Path(slug(province), f"{slug(regency)}.yaml"), []).append(site)
    home = _device_files(imported, files)
    header = (
        f"# Imported by `tps-exporter import` from {source}. Areas checked against the\n"
        "# idn-area data (ODbL). Change the sheet and import again rather than this file.\n"
    )
    devices_of: dict[Path, list[_Device]] = {}
    for device in imported.devices.values():
        devices_of.setdefault(home[device.id], []).append(device)
    rendered = {}
    for path in sorted({*files, *devices_of}):
        devices = devices_of.get(path, [])
        lines = [header.rstrip("\n"), "devices:" if devices else "devices: []"]
        lines += [line for d in devices for line in _device_yaml(d)]
        sites = files.get(path, [])
        lines.append("sites:" if sites else "sites: []")
        lines += [line for s in sites for line in _site_yaml(s)]
        rendered[path] = "\n".join(lines) + "\n"
    return rendered


def _device_files(imported: Import, files: Mapping[Path, list[_Site]]) -> dict[str, Path]:
    """Put each device in the file of the first TPS that needs it, directly or through a child."""
    home: dict[str, Path] = {}
    for path, sites in files.items():
        for site in sites:
            for first in site.devices:
                device_id = first
                while device_id and device_id not in home:  # up the chain: a BTS with its router
                    home[device_id] = path
                    device_id = imported.devices[device_id].parent
    other = next(iter(files), Path(OTHER_DEVICES)).parent / OTHER_DEVICES
    for device_id in imported.devices:
        home.setdefault(device_id, other)
    return home


def _q(text: str) -> str:
    """Quote a string for YAML (a JSON string is a valid YAML double-quoted scalar)."""
    return json.dumps(text, ensure_ascii=False)


def _device_yaml(device: _Device) -> list[str]:
    lines = [
        f"  - id: {_q(device.id)}",
        f"    kind: {device.kind.value}",
        f"    address: {_q(device.address)}",
    ]
    lines += [f"    operator: {_q(device.operator)}"] if device.operator else []
    lines += [f"    name: {_q(device.name)}"] if device.name else []
    lines += [f"    parent: {_q(device.parent)}"] if device.parent else []
    return lines


def _site_yaml(site: _Site) -> list[str]:
    lines = [f"  - id: {_q(site.id)}", f"    name: {_q(site.name)}"]
    for level in areas.LEVELS:
        area = getattr(site.place, level)
        lines.append(f"    {level}: {{code: {_q(area.code)}, name: {_q(area.name)}}}")
    if site.latitude is not None:
        lines += [f"    latitude: {site.latitude}", f"    longitude: {site.longitude}"]
    lines.append(f"    devices: [{', '.join(_q(d) for d in site.devices)}]")
    return lines


def write(files: Mapping[Path, str], out: Path, dry_run: bool = False) -> list[Path]:
    """Write the files into `out` only if they load with the rest of it; raise ConfigLoadError.

    Staged in a hidden directory inside `out` (the exporter skips hidden ones), checked with the
    files already there, then renamed into place one by one: a reader sees old or new files.
    """
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".import-", dir=out))
    try:
        for relative, text in files.items():
            (staging / relative).parent.mkdir(parents=True, exist_ok=True)
            (staging / relative).write_text(text, encoding="utf-8")
        replaced = {out / r for r in files}
        others = [p for p in inventory_files([out], []) if p not in replaced]
        try:
            load(None, [*others, *(staging / r for r in sorted(files))])
        except ConfigLoadError as exc:  # name the files as they would be, not the staging copies
            named = [
                dataclasses.replace(e, file=e.file.replace(str(staging), str(out)))
                for e in exc.errors
            ]
            raise ConfigLoadError(named) from None
        if dry_run:
            return []
        for relative in files:
            (out / relative).parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / relative, out / relative)
        return [out / r for r in sorted(files)]
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(staging)


def run_import(
    tps_sheet: Path,
    devices_sheet: Path | None,
    areas_dir: Path,
    out: Path,
    *,
    sheets: tuple[str | None, str | None] = (None, None),
    skip_invalid: bool = False,
    dry_run: bool = False,
    progress: TextIO | None = None,
) -> int:
    """Import the sheets into `out`, report on stdout and stderr; return the exit status."""
    try:
        gazetteer = Gazetteer.read(areas_dir)
    except (OSError, KeyError, ValueError) as exc:
        print(
            "import: "
            + _("cannot read the area data in {dir}: {error}").format(dir=areas_dir, error=exc),
            file=sys.stderr,
        )
        return 1
    imported = Import()
    try:
        if devices_sheet is not None:
            devices = _read(devices_sheet, DEVICE_COLUMNS, sheets[1], progress)
            imported.warnings += _ignored(devices, DEVICE_COLUMNS)
            imported.add_devices(devices)
        tps = _read(tps_sheet, TPS_COLUMNS, sheets[0], progress)
    except SheetError as exc:
        print(f"import: {exc}", file=sys.stderr)
        return 1
    imported.warnings += _ignored(tps, TPS_COLUMNS)
    bar = (
        Progress(_("checking {name}").format(name=tps_sheet.name), len(tps.rows), progress)
        if progress
        else None
    )
    imported.add_tps(tps, gazetteer, bar)
    if bar is not None:
        bar.finish()
    imported.check_parents()
    _print_problems(_("note"), imported.warnings)
    _print_problems(_("row not used"), imported.errors)
    if imported.errors and not skip_invalid:
        print(
            "import: "
            + n_(
                "nothing written: {count} row cannot be used; correct it, or "
                "give --skip-invalid to write the others",
                "nothing written: {count} rows cannot be used; correct them, or "
                "give --skip-invalid to write the others",
                len(imported.errors),
            ).format(count=number(len(imported.errors))),
            file=sys.stderr,
        )
        return 1
    if progress is not None:  # loading 80,000 TPS takes a while, and shows no bar
        print(
            _("loading the result with what is in {out}...").format(out=out),
            file=progress,
            flush=True,
        )
    try:
        written = write(render(imported, _source_names(tps_sheet, devices_sheet)), out, dry_run)
    except ConfigLoadError as exc:
        print(
            "import: "
            + n_(
                "nothing written: {count} error loading the result with {out}:",
                "nothing written: {count} errors loading the result with {out}:",
                len(exc.errors),
            ).format(count=number(len(exc.errors)), out=out),
            file=sys.stderr,
        )
        for error in exc.errors:
            print(f"  {error}", file=sys.stderr)
        return 1
    blank = sum(1 for s in imported.sites.values() if not s.devices)
    done = (
        _("would write")
        if dry_run
        else _("wrote {files} files under {out}:").format(files=number(len(written)), out=out)
    )
    print(
        _(
            "{rows} rows read; {done} {sites} TPS ({blank} blank spots), {devices} devices; "
            "{warnings} notes, {errors} rows not used"
        ).format(
            rows=number(imported.rows),
            done=done,
            sites=number(len(imported.sites)),
            blank=number(blank),
            devices=number(len(imported.devices)),
            warnings=number(len(imported.warnings)),
            errors=number(len(imported.errors)),
        )
    )
    return 0


def _read(
    path: Path, columns: Mapping[str, tuple[str, ...]], sheet: str | None, stream: TextIO | None
) -> Sheet:
    """Read a sheet, with a progress bar on `stream`; check it has the columns needed."""
    result = read_sheet(path, columns, sheet=sheet, stream=stream)
    if columns is TPS_COLUMNS:
        names = {"province", "regency", "district", "village"}
        if "tps_number" not in result.columns:
            raise SheetError(
                _("{sheet}: no column for nomor TPS ('nomor tps', 'no tps')").format(
                    sheet=result.label
                )
            )
        if "village_code" not in result.columns and not names <= result.columns:
            raise SheetError(
                _(
                    "{sheet}: no kode wilayah column, and not all of provinsi, "
                    "kabupaten/kota, kecamatan and desa/kelurahan"
                ).format(sheet=result.label)
            )
    elif not {"device_id", "device_address"} <= result.columns:
        raise SheetError(
            _("{sheet}: a devices sheet needs 'device id' and 'device address'").format(
                sheet=result.label
            )
        )
    return result


def _ignored(sheet: Sheet, columns: Mapping[str, tuple[str, ...]]) -> list[Problem]:
    """Name the columns not used, each with the known column it is closest to."""
    problems = []
    for header in sheet.ignored:
        close = closest_column(header, columns)
        if close is None:
            problems.append(
                Problem(sheet.label, _("column {header!r} is not used").format(header=header))
            )
        else:
            problems.append(
                Problem(
                    sheet.label,
                    _("column {header!r} is not used (did you mean {close!r}?)").format(
                        header=header, close=close
                    ),
                )
            )
    return problems


def _source_names(tps: Path, devices: Path | None) -> str:
    return tps.name if devices is None else f"{tps.name} and {devices.name}"


def _print_problems(kind: str, problems: list[Problem]) -> None:
    for problem in problems:
        print(f"{kind}: {problem}", file=sys.stderr)
