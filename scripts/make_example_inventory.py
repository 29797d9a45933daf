"""Write the example inventory in targets/ from the real area data of Kepulauan Riau.

Regencies, districts and villages are real (idn-area-data, ODbL). TPS counts, devices and
addresses are generated: 3,327 TPS (the province's count for the November 2024 Pilkada) spread
over its 419 villages, a base station per district, a 4G router per village, VSAT backhaul and
satellite access points in the outer islands, and a few villages left as blank spots. Every
address is on loopback (127.0.0.0/8), so the example is safe to run anywhere.

Usage: python scripts/make_example_inventory.py [--areas ../shared/data/idn-area] [--out targets]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from exporter.inventory.importer import slug

PROVINCE = "21"
TOTAL_TPS = 3327
# Outer-island regencies: BAKTI sites with VSAT backhaul, where blank spots remain.
REMOTE = {"21.03", "21.04", "21.05"}
URBAN_OPERATORS = ("Telkomsel", "Indosat Ooredoo Hutchison", "XL Axiata")
BLANK_SPOT_VILLAGES = 9
_COORD = re.compile(r"""(\d+)°(\d+)'([\d.]+)"\s*([NS])\s+(\d+)°(\d+)'([\d.]+)"\s*([EW])""")


@dataclass(frozen=True)
class Area:
    code: str
    name: str


def read(path: Path) -> list[dict[str, str]]:
    """Return the rows of one CSV file of the area data."""
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def coordinates(text: str) -> tuple[float, float] | None:
    """Return (lat, lon) in degrees from a DMS string like 00°52'04.42" S 104°24'18.42" E."""
    m = _COORD.search(text)
    if not m:
        return None
    lat = int(m[1]) + int(m[2]) / 60 + float(m[3]) / 3600
    lon = int(m[5]) + int(m[6]) / 60 + float(m[7]) / 3600
    return (-lat if m[4] == "S" else lat), (-lon if m[8] == "W" else lon)


def q(text: str) -> str:
    """Quote a string for YAML (a JSON string is a valid YAML double-quoted scalar)."""
    return json.dumps(text, ensure_ascii=False)


def area(level: str, a: Area) -> str:
    """Return one area line of a site."""
    return f"    {level}: {{code: {q(a.code)}, name: {q(a.name)}}}"


def tps_counts(villages: list[Area], rng: random.Random) -> dict[str, int]:
    """Spread the province's TPS over its villages; urban kelurahan (1xxx) get more."""
    weights = {v.code: rng.uniform(0.6, 1.4) * (3 if v.code[-4] == "1" else 1) for v in villages}
    total = sum(weights.values())
    counts = {code: max(1, round(w / total * TOTAL_TPS)) for code, w in weights.items()}
    # Fix rounding so the province total is exact.
    ordered = sorted(counts, key=lambda c: -weights[c])
    i = 0
    while (diff := TOTAL_TPS - sum(counts.values())) != 0:
        code = ordered[i % len(ordered)]
        if diff > 0 or counts[code] > 1:
            counts[code] += 1 if diff > 0 else -1
        i += 1
    return counts


class Addresses:
    """Hand out unique loopback addresses: 127.<kind>.<n / 250>.<n % 250 + 1>."""

    def __init__(self) -> None:
        self.kinds = {"bts": 1, "vsat": 2, "router": 3, "sat": 4}
        self.next: defaultdict[str, int] = defaultdict(int)

    def take(self, kind: str) -> str:
        n = self.next[kind]
        self.next[kind] += 1
        return f"127.{self.kinds[kind]}.{n // 250}.{n % 250 + 1}"


@dataclass
class Province:
    """Everything known about the province while its files are written."""

    area: Area
    districts: dict[str, list[Area]]
    villages: dict[str, list[Area]]
    islands: dict[str, list[tuple[float, float]]]
    counts: dict[str, int]
    blank: set[str]
    addresses: Addresses
    rng: random.Random


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--areas", type=Path, default=Path("../shared/data/idn-area"))
    parser.add_argument("--out", type=Path, default=Path("targets"))
    args = parser.parse_args()
    for path, text in build(args.areas).items():
        out = args.out / path
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        print(f"wrote {out}")


def build(areas: Path) -> dict[str, str]:
    """Return the example inventory files, by path under targets/."""
    rng = random.Random(2024)
    province = next(Area(r["code"], r["name"]) for r in read(areas / "provinces.csv")
                    if r["code"] == PROVINCE)  # fmt: skip
    regencies = [Area(r["code"], r["name"]) for r in read(areas / "regencies.csv")
                 if r["province_code"] == PROVINCE]  # fmt: skip
    districts = defaultdict(list)
    for r in read(areas / "districts.csv"):
        if r["regency_code"].startswith(PROVINCE + "."):
            districts[r["regency_code"]].append(Area(r["code"], r["name"]))
    villages = defaultdict(list)
    for r in read(areas / "villages.csv"):
        if r["district_code"].startswith(PROVINCE + "."):
            villages[r["district_code"]].append(Area(r["code"], r["name"]))
    islands = defaultdict(list)
    for r in read(areas / "islands.csv"):
        point = coordinates(r["coordinate"])
        if r["regency_code"].startswith(PROVINCE + ".") and r["is_populated"] == "1" and point:
            islands[r["regency_code"]].append(point)
    all_villages = [v for vs in villages.values() for v in vs]
    counts = tps_counts(all_villages, rng)
    remote_villages = sorted(v.code for v in all_villages if v.code[:5] in REMOTE)
    blank = set(rng.sample(remote_villages, BLANK_SPOT_VILLAGES))
    p = Province(province, districts, villages, islands, counts, blank, Addresses(), rng)
    return {
        f"kepulauan-riau/{slug(regency.name)}.yaml": "\n".join(_regency(p, regency)) + "\n"
        for regency in regencies
    }


def _regency(p: Province, regency: Area) -> list[str]:
    """Return the lines of one regency's file: its devices, then its TPS."""
    remote = regency.code in REMOTE
    devices = []
    sites = []
    points = p.islands.get(regency.code) or [(1.0, 104.0)]
    for d_index, district in enumerate(p.districts[regency.code]):
        bts = f"bts-{district.code}"
        parent = None
        if remote:
            parent = f"vsat-{district.code}"
            devices.append(_device(parent, "vsat", "BAKTI", p.addresses.take("vsat"),
                                   name=f"VSAT backhaul {district.name}"))  # fmt: skip
        operator = "BAKTI" if remote else URBAN_OPERATORS[d_index % len(URBAN_OPERATORS)]
        devices.append(_device(bts, "bts", operator, p.addresses.take("bts"),
                               name=f"BTS {district.name}", parent=parent or ""))  # fmt: skip
        lat0, lon0 = points[d_index % len(points)]
        for village in p.villages[district.code]:
            links = []
            if village.code not in p.blank:
                router = f"rtr-{village.code}"
                devices.append(_device(router, "router", "Telkomsel" if remote else operator,
                                       p.addresses.take("router"),
                                       name=f"4G router {village.name}", parent=bts))  # fmt: skip
                links.append(router)
                if remote and p.rng.random() < 0.25:
                    # A BAKTI satellite access point: a second, independent way out.
                    sat = f"sat-{village.code}"
                    name = f"Satellite access point {village.name}"
                    address = p.addresses.take("sat")
                    devices.append(_device(sat, "vsat", "BAKTI", address, name=name))
                    links.append(sat)
            lat = lat0 + p.rng.uniform(-0.03, 0.03)
            lon = lon0 + p.rng.uniform(-0.03, 0.03)
            places = (p.area, regency, district, village)
            for n in range(1, p.counts[village.code] + 1):
                point = (lat + p.rng.uniform(-0.004, 0.004), lon + p.rng.uniform(-0.004, 0.004))
                sites.append(_site(places, n, links, point))
    header = [
        f"# {regency.name}, {p.area.name}: example inventory, generated by",
        "# scripts/make_example_inventory.py. Areas: idn-area-data (fityannugroho), ODbL 1.0.",
        "# TPS counts, devices and coordinates are made up; every address is loopback.",
    ]
    return [*header, "devices:", *devices, "sites:", *sites]


def _device(
    device_id: str, kind: str, operator: str, address: str, *, name: str, parent: str = ""
) -> str:
    fields = [f"id: {device_id}", f"kind: {kind}", f"operator: {q(operator)}",
              f"address: {address}", f"name: {q(name)}"]  # fmt: skip
    if parent:
        fields.append(f"parent: {parent}")
    return "  - " + "\n    ".join(fields)


def _site(
    places: tuple[Area, Area, Area, Area], number: int, links: list[str], point: tuple[float, float]
) -> str:
    province, regency, district, village = places
    lines = [
        f"  - id: tps-{village.code}-{number:03d}",
        f"    name: {q(f'TPS {number:03d} {village.name}')}",
        area("province", province),
        area("regency", regency),
        area("district", district),
        area("village", village),
        f"    latitude: {point[0]:.5f}",
        f"    longitude: {point[1]:.5f}",
        f"    devices: [{', '.join(links)}]",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
