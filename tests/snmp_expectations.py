"""What the exporter must report for each recording in ../shared/snmprec, read from the file.

Each expectation names a metric, its labels and the recorded OID it must equal (after a unit
conversion written here, independently of the profiles), so a wrong OID, scale or index in a
profile fails the test.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from exporter.pollers.results import Sample
from tests.conftest import SHARED
from tests.fakes import parse_snmprec

RECORDINGS = SHARED / "snmprec"
IF_TABLE, IF_X = "1.3.6.1.2.1.2.2.1", "1.3.6.1.2.1.31.1.1.1"

# Which built-in profiles fit which recording.
PROFILES: dict[str, tuple[str, ...]] = {
    "routeros": ("system", "interfaces", "mikrotik"),
    "rutos": ("system", "interfaces", "teltonika-rut9xx"),
    "rutos-rutx": ("system", "interfaces", "teltonika-rutos"),
    "pepwave": ("system", "interfaces", "pepwave"),
    "airos_airos8": ("system", "interfaces", "airos"),
    "pmp": ("system", "interfaces", "cambium-pmp"),
    "uhp": ("system", "interfaces", "uhp-vsat"),
    "riello": ("system", "interfaces", "ups"),
    "eaton-mgeups": ("system", "interfaces", "ups-mge"),
    "cyberpower": ("system", "ups-cyberpower"),
    "ios_ir809": ("system", "cisco-lte"),
    "vrp_ar169fgwl": ("system", "huawei-lte"),
}


@dataclass(frozen=True)
class Expect:
    """A sample the exporter must produce: metric, labels, value."""

    metric: str
    labels: tuple[tuple[str, str], ...]
    value: float


def recording(name: str) -> dict[str, object]:
    """Return a recording's values by OID: ints, or text for strings."""
    out: dict[str, object] = {}
    for oid, vb in parse_snmprec((RECORDINGS / f"{name}.snmprec").read_text()).items():
        out[oid] = vb.value.decode("utf-8", "replace") if isinstance(vb.value, bytes) else vb.value
    return out


def _num(value: object) -> float:
    if isinstance(value, int):
        return float(value)
    match = re.match(r"\s*(-?\d+(?:\.\d+)?)", str(value))
    assert match, value
    return float(match.group(1))


def _scalar(
    rec: dict[str, object], metric: str, oid: str, convert: Callable[[float], float], **labels: str
) -> list[Expect]:
    if oid not in rec:
        return []
    return [Expect(metric, tuple(sorted(labels.items())), convert(_num(rec[oid])))]


def _column(
    rec: dict[str, object],
    metric: str,
    column: str,
    label: str,
    convert: Callable[[float], float] = float,
    *,
    skip: tuple[float, ...] = (),
) -> list[Expect]:
    out = []
    for oid, value in rec.items():
        if oid.startswith(column + "."):
            raw = _num(value)
            if raw not in skip:
                out.append(Expect(metric, ((label, oid[len(column) + 1 :]),), convert(raw)))
    return out


def _interfaces(rec: dict[str, object]) -> list[Expect]:
    indexes = {o.rsplit(".", 1)[1] for o in rec if o.startswith((IF_TABLE + ".", IF_X + "."))}
    out = []
    for i in sorted(indexes):
        label = (("interface", i),)
        for metric, hc, low in (
            ("tps_interface_received_bytes_total", "6", "10"),
            ("tps_interface_transmitted_bytes_total", "10", "16"),
        ):
            value = rec.get(f"{IF_X}.{hc}.{i}", rec.get(f"{IF_TABLE}.{low}.{i}"))
            if value is not None:
                out.append(Expect(metric, label, _num(value)))
        if (oper := rec.get(f"{IF_TABLE}.8.{i}")) is not None:
            out.append(Expect("tps_interface_up", label, 1.0 if oper == 1 else 0.0))
        high, speed = rec.get(f"{IF_X}.15.{i}"), rec.get(f"{IF_TABLE}.5.{i}")
        if high is not None:
            out.append(Expect("tps_interface_speed_bytes", label, _num(high) * 1e6 / 8))
        elif speed is not None:
            out.append(Expect("tps_interface_speed_bytes", label, _num(speed) / 8))
    return out


def expectations(name: str) -> list[Expect]:
    """Return what the exporter must report for one recording with its profiles."""
    rec = recording(name)
    out = _scalar(rec, "tps_device_uptime_seconds", "1.3.6.1.2.1.1.3.0", lambda v: v / 100)
    if "interfaces" in PROFILES[name]:
        out += _interfaces(rec)
    vendor = _VENDOR.get(name)
    out += vendor(rec) if vendor is not None else []
    return out


_VENDOR: dict[str, Callable[[dict[str, object]], list[Expect]]] = {
    "riello": lambda r: [
        *_scalar(r, "tps_ups_battery_charge_ratio", "1.3.6.1.2.1.33.1.2.4.0", lambda v: v / 100),
        *_scalar(r, "tps_ups_battery_runtime_seconds", "1.3.6.1.2.1.33.1.2.3.0", lambda v: v * 60),
        *_scalar(r, "tps_ups_time_on_battery_seconds", "1.3.6.1.2.1.33.1.2.2.0", float),
        *_scalar(r, "tps_ups_battery_voltage_volts", "1.3.6.1.2.1.33.1.2.5.0", lambda v: v / 10),
        *_scalar(r, "tps_ups_battery_temperature_celsius", "1.3.6.1.2.1.33.1.2.7.0", float),
        *_scalar(r, "tps_ups_on_battery", "1.3.6.1.2.1.33.1.4.1.0", lambda v: float(v == 5)),
        *_scalar(
            r,
            "tps_ups_battery_status",
            "1.3.6.1.2.1.33.1.2.1.0",
            lambda v: 1.0,
            status={1: "unknown", 2: "normal", 3: "low", 4: "depleted"}[
                int(_num(r["1.3.6.1.2.1.33.1.2.1.0"]))
            ],
        ),
    ],
    "cyberpower": lambda r: [
        *_scalar(
            r, "tps_ups_battery_charge_ratio", "1.3.6.1.4.1.3808.1.1.1.2.2.1.0", lambda v: v / 100
        ),
        *_scalar(
            r,
            "tps_ups_battery_runtime_seconds",
            "1.3.6.1.4.1.3808.1.1.1.2.2.4.0",
            lambda v: v / 100,
        ),  # TimeTicks
        *_scalar(r, "tps_ups_battery_temperature_celsius", "1.3.6.1.4.1.3808.1.1.1.2.2.3.0", float),
        *_scalar(
            r, "tps_ups_on_battery", "1.3.6.1.4.1.3808.1.1.1.4.1.1.0", lambda v: float(v == 3)
        ),
    ],
    "eaton-mgeups": lambda r: [
        *_scalar(r, "tps_ups_battery_runtime_seconds", "1.3.6.1.4.1.705.1.5.1.0", float),
        *_scalar(r, "tps_ups_battery_charge_ratio", "1.3.6.1.4.1.705.1.5.2.0", lambda v: v / 100),
    ],
    "routeros": lambda r: [
        *_scalar(
            r,
            "tps_device_supply_voltage_volts",
            "1.3.6.1.4.1.14988.1.1.3.8.0",
            lambda v: v / 10,
            sensor="board",
        ),
        *_scalar(
            r,
            "tps_device_temperature_celsius",
            "1.3.6.1.4.1.14988.1.1.3.10.0",
            lambda v: v / 10,
            sensor="board",
        ),
        *_column(r, "tps_radio_noise_floor_dbm", "1.3.6.1.4.1.14988.1.1.1.3.1.9", "radio"),
    ],
    "rutos": lambda r: [
        *_scalar(r, "tps_radio_rssi_dbm", "1.3.6.1.4.1.48690.2.4.0", float, radio="1"),
    ],
    "rutos-rutx": lambda r: [
        *_column(r, "tps_radio_rssi_dbm", "1.3.6.1.4.1.48690.2.2.1.12", "radio"),
        *_column(r, "tps_radio_sinr_db", "1.3.6.1.4.1.48690.2.2.1.19", "radio"),
        *_column(r, "tps_radio_rsrp_dbm", "1.3.6.1.4.1.48690.2.2.1.20", "radio"),
        *_column(r, "tps_radio_rsrq_db", "1.3.6.1.4.1.48690.2.2.1.21", "radio"),
    ],
    "pepwave": lambda r: [
        e
        for metric, col in (("rssi_dbm", 3), ("sinr_db", 5), ("rsrp_dbm", 7), ("rsrq_db", 8))
        for e in _column(
            r,
            f"tps_radio_{metric}",
            f"1.3.6.1.4.1.23695.200.1.12.1.1.1.{col}",
            "radio",
            skip=(-9999.0,),
        )  # -9999: the modem has no value
    ],
    "ios_ir809": lambda r: [
        *_column(r, "tps_radio_rssi_dbm", "1.3.6.1.4.1.9.9.661.1.3.4.1.1.1", "radio"),
        *_column(r, "tps_radio_rsrp_dbm", "1.3.6.1.4.1.9.9.817.1.1.1.1.1.1", "radio"),
        *_column(
            r, "tps_radio_rsrq_db", "1.3.6.1.4.1.9.9.817.1.1.1.1.1.2", "radio", lambda v: v / 10
        ),
        *_column(
            r, "tps_radio_sinr_db", "1.3.6.1.4.1.9.9.817.1.1.1.1.1.3", "radio", lambda v: v / 10
        ),
    ],
    "vrp_ar169fgwl": lambda r: [
        *_column(r, "tps_radio_rssi_dbm", "1.3.6.1.4.1.2011.5.25.241.1.2.1.1.35", "radio"),
        *_column(r, "tps_radio_rsrp_dbm", "1.3.6.1.4.1.2011.5.25.241.1.2.1.1.38", "radio"),
        *_column(r, "tps_radio_rsrq_db", "1.3.6.1.4.1.2011.5.25.241.1.2.1.1.40", "radio"),
    ],
    "airos_airos8": lambda r: [
        *_column(r, "tps_radio_rssi_dbm", "1.3.6.1.4.1.41112.1.4.5.1.5", "radio"),
        *_column(r, "tps_radio_noise_floor_dbm", "1.3.6.1.4.1.41112.1.4.5.1.8", "radio"),
        *_column(
            r,
            "tps_radio_frequency_hertz",
            "1.3.6.1.4.1.41112.1.4.1.1.4",
            "radio",
            lambda v: v * 1e6,
        ),
    ],
    "pmp": lambda r: [
        *_column(r, "tps_radio_rssi_dbm", "1.3.6.1.4.1.161.19.3.1.4.1.35", "radio"),
        *_column(r, "tps_radio_sinr_db", "1.3.6.1.4.1.161.19.3.1.4.1.74", "radio"),
        *_scalar(
            r,
            "tps_radio_frequency_hertz",
            "1.3.6.1.4.1.161.19.3.1.7.37.0",
            lambda v: v * 1000,
            radio="0",
        ),
    ],
    "uhp": lambda r: [
        *_scalar(
            r,
            "tps_radio_sinr_db",
            "1.3.6.1.4.1.8000.22.2.1.0",
            lambda v: v / 10,
            radio="demodulator-1",
        ),
        *_scalar(
            r,
            "tps_radio_sinr_db",
            "1.3.6.1.4.1.8000.22.3.1.0",
            lambda v: v / 10,
            radio="demodulator-2",
        ),
    ],
}


_LABEL = re.compile(r'([a-z_]+)="((?:[^"\\]|\\.)*)"')


def reported(samples: Iterable[Sample]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Return samples keyed by metric and sorted labels."""
    return {(s.metric, tuple(sorted(_LABEL.findall(s.labels)))): s.value for s in samples}


def mismatches(name: str, samples: Iterable[Sample]) -> list[str]:
    """Return how what was reported differs from the recording (empty when it equals it)."""
    got = reported(samples)
    expected = expectations(name)
    problems = []
    for e in expected:
        value = got.get((e.metric, e.labels))
        if value is None:
            problems.append(f"missing {e}")
        elif not math.isclose(value, e.value, rel_tol=1e-9, abs_tol=1e-9):
            problems.append(f"{e.metric}{dict(e.labels)}: reported {value}, recorded {e.value}")
    checked = {e.metric for e in expected}
    keys = {(e.metric, e.labels) for e in expected}
    problems += [f"unexpected {k}" for k in got if k[0] in checked and k not in keys]
    return problems


def names() -> list[str]:
    """Return every recording in ../shared/snmprec."""
    return sorted(p.stem for p in Path(RECORDINGS).glob("*.snmprec"))
