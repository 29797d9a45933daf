"""Write the Grafana dashboards in grafana/dashboards/ (run from the repository root).

The dashboards are generated so that every panel uses the provisioned datasource, units are
set, and thresholds are the alert thresholds. A test checks the committed JSON equals this
output, round-trips through Grafana's own dashboard model, and that every query returns data.
Usage: python grafana/build_dashboards.py
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from exporter.inventory.model import IcmpSettings

DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
OUT = Path(__file__).resolve().parent / "dashboards"
RULES = Path(__file__).resolve().parent.parent / "alerts" / "tps-rules.yml"


def rule_threshold(series: str) -> float:
    """Return the number an alert rule compares `series` with (`series < 0.95`), so a panel's
    red line is where the alert fires, never a copy that drifts from it."""
    found = re.search(re.escape(series) + r"\s*<\s*(-?[0-9.]+)", RULES.read_text("utf-8"))
    if found is None:
        raise SystemExit(f"{RULES}: no rule compares {series} with a number")
    value = float(found[1])
    return int(value) if value.is_integer() else value


# Thresholds: the alerts' (alerts/tps-rules.yml) and the exporter's adequacy defaults.
READINESS_TARGET = rule_threshold("regency:tps_readiness:ratio")
WEAK_RSRP = rule_threshold("tps_radio_rsrp_dbm")
LOW_RUNTIME = rule_threshold("tps_ups_battery_runtime_seconds")
LOW_CHARGE = rule_threshold("tps_ups_battery_charge_ratio")
MAX_LOSS = IcmpSettings().max_loss_ratio
MAX_RTT = IcmpSettings().max_rtt

Json = dict[str, Any]


def steps(*pairs: tuple[str, float | None]) -> Json:
    """Return absolute thresholds: (color, from value) pairs, the first from -inf."""
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for c, v in pairs]}


GOOD_HIGH = steps(("red", None), ("green", READINESS_TARGET))


def target(expr: str, legend: str = "", *, instant: bool = False, table: bool = False) -> Json:
    """Return a Prometheus query of a panel."""
    out: Json = {"refId": "A", "expr": expr, "datasource": DATASOURCE}
    if legend:
        out["legendFormat"] = legend
    if instant or table:
        out["instant"] = True
        out["range"] = False
    if table:
        out["format"] = "table"
    return out


class Layout:
    """Place panels left to right on a 24-column grid, and number them."""

    def __init__(self) -> None:
        self.x = self.y = self.row_height = 0
        self.next_id = 1

    def place(self, panel: Json, w: int, h: int) -> Json:
        if self.x + w > 24:
            self.x, self.y = 0, self.y + self.row_height
            self.row_height = 0
        panel["gridPos"] = {"x": self.x, "y": self.y, "w": w, "h": h}
        panel["id"] = self.next_id
        self.next_id += 1
        self.x += w
        self.row_height = max(self.row_height, h)
        return panel


def panel(
    kind: str,
    title: str,
    targets: list[Json],
    *,
    unit: str = "",
    thresholds: Json | None = None,
    description: str = "",
    options: Json | None = None,
    field: Json | None = None,
    overrides: list[Json] | None = None,
    transformations: list[Json] | None = None,
    links: list[Json] | None = None,
) -> Json:
    """Return a panel on the provisioned datasource."""
    defaults: Json = dict(field or {})
    if unit:
        defaults["unit"] = unit
    if thresholds is not None:
        defaults["thresholds"] = thresholds
    if links:
        defaults["links"] = links
    out: Json = {
        "type": kind,
        "title": title,
        "datasource": DATASOURCE,
        "targets": [dict(t, refId=chr(ord("A") + i)) for i, t in enumerate(targets)],
        "fieldConfig": {"defaults": defaults, "overrides": overrides or []},
        "options": options or {},
    }
    if description:
        out["description"] = description
    if transformations:
        out["transformations"] = transformations
    return out


def stat(title: str, expr: str, **kw: Any) -> Json:
    """Return a single big number."""
    options = {
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        "colorMode": "background",
        "graphMode": "none",
        "textMode": "value",
    }
    return panel("stat", title, [target(expr, instant=True)], options=options, **kw)


def variable(
    name: str, label: str, query: str, *, include_all: bool = False, regex: str = ""
) -> Json:
    """Return a query variable on the provisioned datasource; `regex` may pick a value and the
    text shown for it from each result (named groups `value` and `text`)."""
    return {
        "type": "query",
        "name": name,
        "label": label,
        "datasource": DATASOURCE,
        "query": {"query": query, "refId": f"{name}-query"},
        "refresh": 2,  # on time range change, so new TPS appear
        "includeAll": include_all,
        "multi": False,
        "sort": 1,
        **({"allValue": ".*"} if include_all else {}),
        **({"regex": regex} if regex else {}),
    }


def textbox(name: str, label: str, *, description: str = "") -> Json:
    """Return a free-text variable, empty by default."""
    return {"type": "textbox", "name": name, "label": label, "description": description,
            "query": "", "current": {"text": "", "value": ""}, "hide": 0}  # fmt: skip


def dashboard(
    uid: str, title: str, description: str, panels: list[Json], variables: list[Json]
) -> Json:
    """Return a dashboard linked to the others, carrying variables and time range."""
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["tps"],
        "editable": False,
        "schemaVersion": 39,
        "timezone": "browser",
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": variables},
        "links": [
            {
                "type": "dashboards",
                "tags": ["tps"],
                "asDropdown": False,
                "title": "TPS",
                "includeVars": True,
                "keepTime": True,
            }
        ],
        "panels": panels,
    }


def regency_link(title: str = "Drill down to ${__data.fields.regency}") -> Json:
    """Return a data link from a row with province and regency to the regency dashboard."""
    url = (
        "/d/tps-regency/tps-regency?${__url_time_range}"
        "&var-province=${__data.fields.province}&var-regency=${__data.fields.regency}"
    )
    return {"title": title, "url": url}


def province_sum(record: str) -> str:
    """Return a province record summed over the provinces picked (all: the nation)."""
    return f'sum({record}{{province=~"$province"}})'


# The map's colours: a blank spot is a known gap, not an outage, so it has its own colour.
STATUS_COLOURS = steps(("red", None), ("green", 1), ("purple", 2))
STATUS_NAMES = [{"type": "value", "options": {
    "0": {"text": "mati / down", "color": "red"},
    "1": {"text": "normal / up", "color": "green"},
    "2": {"text": "blank spot", "color": "purple"},
}}]  # fmt: skip


def overview() -> Json:
    """Return the national / province wall-screen dashboard; every figure follows $province."""
    lay = Layout()
    province = 'province=~"$province"'
    ready = province_sum("province:tps_sites_ready:count")
    total = province_sum("province:tps_sites:count")
    degraded = f"sum(regency:tps_sites_degraded:count{{{province}}})"
    panels = [
        lay.place(
            stat(
                "Siap / ready",
                f"{ready} / {total}",
                unit="percentunit",
                thresholds=GOOD_HIGH,
                description="Siap: the share of TPS up (the figure Diskominfo reports), in the "
                "provinces picked.",
            ),
            6,
            5,
        ),
        lay.place(
            stat(
                "Bisa kirim / can send",
                f"({ready} + {degraded}) / {total}",
                unit="percentunit",
                thresholds=GOOD_HIGH,
                description="Bisa kirim: the share of TPS up or degraded (slow but sending).",
            ),
            5,
            5,
        ),
        lay.place(stat("TPS", total, unit="none", thresholds=steps(("blue", None))), 4, 5),
        lay.place(
            stat(
                "TPS mati / down",
                province_sum("province:tps_sites_down:count"),
                unit="none",
                thresholds=steps(("green", None), ("red", 1)),
            ),
            5,
            5,
        ),
        lay.place(
            stat(
                "Blank spot",
                province_sum("province:tps_sites_blank_spot:count"),
                unit="none",
                thresholds=steps(("purple", None)),
            ),
            4,
            5,
        ),
        lay.place(
            panel(
                "stat",
                "Fase / phase",
                [target("timezone:tps_election_phase:max", "{{zone}}: {{phase}}", instant=True)],
                options={
                    "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                    "textMode": "name",
                    "colorMode": "none",
                    "graphMode": "none",
                },
                description="Election phase in each time zone (WIB, WITA, WIT).",
            ),
            4,
            7,
        ),
        lay.place(
            panel(
                "timeseries",
                "TPS mati / TPS down (tren / trend)",
                [target(province_sum("province:tps_sites_down:count"), "mati / down")],
                unit="none",
                thresholds=steps(("green", None), ("red", 1)),
                field={"color": {"mode": "fixed", "fixedColor": "red"}, "min": 0},
                description="TPS down in the provinces picked, over the dashboard's time range.",
            ),
            10,
            7,
        ),
        lay.place(
            panel(
                "timeseries",
                "Siap / ready (tren / trend)",
                [target(f"{ready} / {total}", "siap / ready")],
                unit="percentunit",
                thresholds=GOOD_HIGH,
                field={
                    "color": {"mode": "fixed", "fixedColor": "green"},
                    "min": 0,
                    "max": 1,
                    "custom": {"thresholdsStyle": {"mode": "line"}},
                },
                description="The share of TPS up over time; the line is the readiness target.",
            ),
            10,
            7,
        ),
        lay.place(
            panel(
                "bargauge",
                "Siap per provinsi / ready per province",
                [
                    target(
                        f"province:tps_readiness:ratio{{{province}}}", "{{province}}", instant=True
                    )
                ],
                unit="percentunit",
                thresholds=GOOD_HIGH,
                field={"min": 0, "max": 1},
                options={
                    "orientation": "horizontal",
                    "displayMode": "gradient",
                    "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                },
            ),
            12,
            10,
        ),
        lay.place(
            panel(
                "table",
                "Kabupaten/kota terburuk / worst regencies",
                [target(f"bottomk(10, regency:tps_readiness:ratio{{{province}}})", table=True)],
                unit="percentunit",
                thresholds=GOOD_HIGH,
                links=[regency_link()],
                transformations=[
                    {
                        "id": "organize",
                        "options": {
                            "excludeByName": {"Time": True, "timezone": True},
                            "renameByName": {"Value": "siap / ready"},
                        },
                    }
                ],
                options={"sortBy": [{"displayName": "siap / ready", "desc": False}]},
            ),
            12,
            10,
        ),
        lay.place(tps_map(province), 24, 14),
    ]
    variables = [
        variable("province", "Provinsi", "label_values(tps_site_info, province)", include_all=True),
        textbox(
            "tiles",
            "Peta dasar / basemap tiles",
            description="An XYZ tile URL of a map server the war room can reach, e.g. "
            "http://tiles.local/{z}/{x}/{y}.png; empty: no tiles are fetched "
            "(offline), only the coastlines Grafana carries",
        ),
    ]
    return dashboard(
        "tps-overview",
        "TPS — nasional / national",
        "How many TPS can send their results now, per province.",
        panels,
        variables,
    )


def tps_map(province: str) -> Json:
    """Return the map of TPS: up green, down red, blank spots purple; tiles only if given."""
    # 2 for a blank spot, else 1 up (or degraded) and 0 down or without data.
    status = ('(2 * max by (site) (tps_site_status{status="blank_spot"}) '
              "or max by (site) (tps_site_up))")  # fmt: skip
    expr = (f"{status} * on (site) group_left (name, province, regency, village, latitude, "
            f"longitude) tps_site_info{{{province}}}")  # fmt: skip
    return panel(
        "geomap",
        "Peta TPS / map of TPS",
        [target(expr, table=True)],
        thresholds=STATUS_COLOURS,
        field={"mappings": STATUS_NAMES},
        options={
            "view": {"id": "fit"},
            "controls": {"showZoom": True},
            # No tiles from the internet: the war room's own tile server if one is given.
            "basemap": {"type": "xyz", "name": "Peta dasar", "config": {"url": "$tiles"}},
            "layers": [
                {
                    "type": "geojson",
                    "name": "Garis pantai / coastlines",
                    # Bundled with Grafana: drawn without any network.
                    "config": {"src": "public/maps/countries.geojson"},
                },
                {
                    "type": "markers",
                    "name": "TPS",
                    "location": {
                        "mode": "coords",
                        "latitude": "latitude",
                        "longitude": "longitude",
                    },
                    "config": {
                        "size": {"fixed": 4},
                        "color": {"field": "Value", "fixed": "green"},
                    },
                },
            ],
        },
        description="Green: TPS up or degraded; red: down or no data yet; purple: blank spot "
        "(no device connects it, a known gap).",
    )


def regency() -> Json:
    """Return the regency drill-down: offline TPS, since when, why, which device."""
    lay = Layout()
    where = 'province="$province", regency="$regency"'
    sites = f'{where}, district=~"$district"'
    site_link = {
        "title": "TPS ${__data.fields.name}",
        "url": (
            "/d/tps-device/tps-device?${__url_time_range}&var-regency=$regency"
            "&var-site=${__data.fields.site}&var-device=${__data.fields.device}"
        ),
    }
    panels = [
        lay.place(
            stat(
                "Siap / ready",
                f"regency:tps_readiness:ratio{{{where}}}",
                unit="percentunit",
                thresholds=GOOD_HIGH,
            ),
            6,
            5,
        ),
        lay.place(
            stat(
                "TPS",
                f"regency:tps_sites:count{{{where}}}",
                unit="none",
                thresholds=steps(("blue", None)),
            ),
            6,
            5,
        ),
        lay.place(
            stat(
                "TPS mati / down",
                f"regency:tps_sites_down:count{{{where}}}",
                unit="none",
                thresholds=steps(("green", None), ("red", 1)),
            ),
            6,
            5,
        ),
        lay.place(
            stat(
                "Blank spot",
                f"regency:tps_sites_blank_spot:count{{{where}}}",
                unit="none",
                thresholds=steps(("purple", None)),
            ),
            6,
            5,
        ),
        lay.place(
            panel(
                "table",
                "TPS tidak siap / TPS not ready",
                [
                    target(
                        "time() - tps_site_status_since_timestamp_seconds"
                        " * on (site) group_left (name, "
                        "village, district, status, reason, device) site:tps_site_status:info"
                        f'{{{sites}, status=~"down|degraded"}}',
                        table=True,
                    )
                ],
                unit="s",
                links=[site_link],
                transformations=[
                    {
                        "id": "organize",
                        "options": {
                            "excludeByName": {"Time": True, "job": True, "instance": True},
                            "indexByName": {
                                "name": 0,
                                "village": 1,
                                "district": 2,
                                "status": 3,
                                "reason": 4,
                                "device": 5,
                                "Value": 6,
                            },
                            "renameByName": {"Value": "sejak / for"},
                        },
                    }
                ],
                options={"sortBy": [{"displayName": "sejak / for", "desc": True}]},
                description="TPS down or degraded, how long for, why, and the device at fault.",
            ),
            24,
            10,
        ),
        lay.place(
            panel(
                "state-timeline",
                "Status TPS / TPS over time (berubah atau mati / changed or down)",
                [
                    target(
                        f"tps_site_up * on (site) group_left (name) tps_site_info{{{sites}}}"
                        # Only TPS that changed in the range or are down now: a regency's 875
                        # rows of steady green would bury the ones that matter.
                        " and on (site) (changes(tps_site_up[$__range]) > 0 or tps_site_up == 0)",
                        "{{name}}",
                    )
                ],
                field={
                    "mappings": [
                        {
                            "type": "value",
                            "options": {
                                "0": {"text": "mati / down", "color": "red"},
                                "1": {"text": "normal / up", "color": "green"},
                            },
                        }
                    ]
                },
                description="TPS whose state changed in the time range, or that are down now.",
                options={"showValue": "never", "mergeValues": True, "rowHeight": 0.8},
            ),
            24,
            12,
        ),
    ]
    variables = [
        variable("province", "Provinsi", "label_values(tps_site_info, province)"),
        variable(
            "regency",
            "Kabupaten/kota",
            'label_values(tps_site_info{province="$province"}, regency)',
        ),
        variable(
            "district",
            "Kecamatan",
            f"label_values(tps_site_info{{{where}}}, district)",
            include_all=True,
        ),
    ]
    return dashboard(
        "tps-regency",
        "TPS — kabupaten/kota / regency",
        "Which TPS of a regency are not ready, since when, and why.",
        panels,
        variables,
    )


def device() -> Json:
    """Return the site / device detail dashboard."""
    lay = Layout()
    dev = 'device="$device"'
    name = " * on (device, interface) group_left (name) tps_interface_info"
    panels = [
        lay.place(
            panel(
                "stat",
                "Status TPS / TPS status",
                [
                    target(
                        'site:tps_site_status:info{site="$site"}',
                        "{{status}} ({{reason}}) {{device}}",
                        instant=True,
                    )
                ],
                options={
                    "textMode": "name",
                    "colorMode": "none",
                    "graphMode": "none",
                    "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                },
            ),
            12,
            4,
        ),
        lay.place(
            panel(
                "table",
                "Rantai perangkat / dependency chain",
                [
                    target(
                        'tps_site_device_info{site="$site"}'
                        " * on (device) group_left (name, kind, operator, "
                        "parent) tps_device_info",
                        table=True,
                    )
                ],
                transformations=[
                    {
                        "id": "organize",
                        "options": {
                            "excludeByName": {
                                "Time": True,
                                "Value": True,
                                "job": True,
                                "instance": True,
                            }
                        },
                    }
                ],
                description="The devices the TPS sends through, and the device each hangs off.",
            ),
            12,
            4,
        ),
        lay.place(
            panel(
                "timeseries",
                "RTT",
                [target(f"tps_icmp_rtt_seconds{{{dev}}}", "{{stat}}")],
                unit="s",
                thresholds=steps(("green", None), ("red", MAX_RTT)),
                field={"custom": {"thresholdsStyle": {"mode": "line"}}},
            ),
            8,
            8,
        ),
        lay.place(
            panel(
                "timeseries",
                "Loss",
                [
                    target(
                        f"1 - rate(tps_icmp_echo_replies_total{{{dev}}}[$__rate_interval]) "
                        f"/ rate(tps_icmp_echo_requests_total{{{dev}}}[$__rate_interval])",
                        "loss",
                    )
                ],
                unit="percentunit",
                thresholds=steps(("green", None), ("red", MAX_LOSS)),
                field={"min": 0, "max": 1, "custom": {"thresholdsStyle": {"mode": "line"}}},
            ),
            8,
            8,
        ),
        lay.place(
            panel(
                "timeseries",
                "Jitter",
                [target(f"tps_icmp_jitter_seconds{{{dev}}}", "jitter")],
                unit="s",
            ),
            8,
            8,
        ),
        lay.place(
            stat(
                "Uptime (SNMP)",
                f"tps_device_uptime_seconds{{{dev}}}",
                unit="s",
                thresholds=steps(("orange", None), ("green", 900)),
            ),
            6,
            8,
        ),
        lay.place(
            panel(
                "timeseries",
                "Lalu lintas / traffic",
                [
                    target(
                        f"rate(tps_interface_received_bytes_total{{{dev}}}[$__rate_interval]){name}",
                        "{{name}} rx",
                    ),
                    target(
                        f"rate(tps_interface_transmitted_bytes_total{{{dev}}}[$__rate_interval]){name}",
                        "{{name}} tx",
                    ),
                ],
                unit="Bps",
            ),
            10,
            8,
        ),
        lay.place(
            panel(
                "table",
                "Antarmuka / interfaces",
                [
                    target(
                        f"tps_interface_up{{{dev}}}"
                        " * on (device, interface) group_left (name, wan) "
                        "tps_interface_info",
                        table=True,
                    )
                ],
                field={
                    "mappings": [
                        {
                            "type": "value",
                            "options": {
                                "0": {"text": "down", "color": "red"},
                                "1": {"text": "up", "color": "green"},
                            },
                        }
                    ]
                },
                transformations=[
                    {
                        "id": "organize",
                        "options": {
                            "excludeByName": {
                                "Time": True,
                                "job": True,
                                "instance": True,
                                "device": True,
                            },
                            "renameByName": {"Value": "oper status"},
                        },
                    }
                ],
            ),
            8,
            8,
        ),
        lay.place(
            stat(
                "Baterai / battery charge",
                f"tps_ups_battery_charge_ratio{{{dev}}}",
                unit="percentunit",
                thresholds=steps(("red", None), ("green", LOW_CHARGE)),
            ),
            6,
            6,
        ),
        lay.place(
            stat(
                "Sisa baterai / runtime",
                f"tps_ups_battery_runtime_seconds{{{dev}}}",
                unit="s",
                thresholds=steps(("red", None), ("green", LOW_RUNTIME)),
            ),
            6,
            6,
        ),
        lay.place(
            stat(
                "Pakai baterai / on battery",
                f"tps_ups_on_battery{{{dev}}}",
                thresholds=steps(("green", None), ("red", 1)),
                field={
                    "mappings": [
                        {
                            "type": "value",
                            "options": {"0": {"text": "mains"}, "1": {"text": "battery"}},
                        }
                    ]
                },
            ),
            6,
            6,
        ),
        lay.place(
            stat(
                "Status baterai / battery status",
                f"tps_ups_battery_status{{{dev}}}",
                thresholds=steps(("blue", None)),
            ),
            6,
            6,
        ),
        lay.place(
            panel(
                "timeseries",
                "Sinyal / signal: RSRP, RSSI",
                [
                    target(f"tps_radio_rsrp_dbm{{{dev}}}", "RSRP {{radio}}"),
                    target(f"tps_radio_rssi_dbm{{{dev}}}", "RSSI {{radio}}"),
                ],
                unit="dBm",
                thresholds=steps(("red", None), ("green", WEAK_RSRP)),
                field={"custom": {"thresholdsStyle": {"mode": "line"}}},
            ),
            12,
            8,
        ),
        lay.place(
            panel(
                "timeseries",
                "Kualitas / quality: RSRQ, SINR",
                [
                    target(f"tps_radio_rsrq_db{{{dev}}}", "RSRQ {{radio}}"),
                    target(f"tps_radio_sinr_db{{{dev}}}", "SINR {{radio}}"),
                ],
                unit="dB",
            ),
            12,
            8,
        ),
    ]
    variables = [
        variable("regency", "Kabupaten/kota", "label_values(tps_site_info, regency)"),
        # Names, not ids: the TPS's name shown, its id the value the panels use.
        variable(
            "site",
            "TPS",
            'query_result(tps_site_info{regency="$regency"})',
            regex=r'/name="(?<text>[^"]*)".*site="(?<value>[^"]+)"/',
        ),
        # The devices of the TPS picked (its way out and its power), by name.
        variable(
            "device",
            "Perangkat / device",
            'query_result(tps_device_info and on (device) ({__name__=~"tps_site_device_info|'
            'tps_site_power_device_info", site="$site"}))',
            regex=r'/device="(?<value>[^"]+)"(?:.*name="(?<text>[^"]+)")?/',
        ),
    ]
    return dashboard(
        "tps-device",
        "TPS — perangkat / site and device",
        "One TPS and one device: reachability, link quality, power, signal.",
        panels,
        variables,
    )


def health() -> Json:
    """Return the monitoring-health dashboard."""
    lay = Layout()
    panels = [
        lay.place(
            stat(
                "Exporter up",
                'min(up{job="tps"})',
                thresholds=steps(("red", None), ("green", 1)),
                field={
                    "mappings": [
                        {"type": "value", "options": {"0": {"text": "DOWN"}, "1": {"text": "UP"}}}
                    ]
                },
            ),
            6,
            5,
        ),
        lay.place(
            stat(
                "Reload OK",
                "min(tps_config_last_reload_successful)",
                thresholds=steps(("red", None), ("green", 1)),
            ),
            6,
            5,
        ),
        lay.place(
            stat("Devices", "sum(tps_devices)", unit="none", thresholds=steps(("blue", None))), 6, 5
        ),
        lay.place(
            stat(
                "Scrape duration",
                'max(scrape_duration_seconds{job="tps"})',
                unit="s",
                thresholds=steps(("green", None), ("orange", 5)),
            ),
            6,
            5,
        ),
        lay.place(
            panel(
                "timeseries",
                "Poll lag p99",
                [
                    target(
                        "histogram_quantile(0.99, sum by (le, protocol) "
                        "(rate(tps_poll_lag_seconds_bucket"
                        "[$__rate_interval])))",
                        "{{protocol}}",
                    )
                ],
                unit="s",
                thresholds=steps(("green", None), ("red", 60)),
            ),
            12,
            8,
        ),
        lay.place(
            panel(
                "timeseries",
                "Most overdue poll",
                [target("max by (protocol) (tps_poll_overdue_seconds)", "{{protocol}}")],
                unit="s",
                thresholds=steps(("green", None), ("red", 60)),
            ),
            12,
            8,
        ),
        lay.place(
            panel(
                "timeseries",
                "Poll errors by reason",
                [
                    target(
                        "sum by (protocol, reason) (rate(tps_poll_errors_total[$__rate_interval]))",
                        "{{protocol}} {{reason}}",
                    )
                ],
                unit="reqps",
            ),
            12,
            8,
        ),
        lay.place(
            panel(
                "timeseries",
                "Event loop lag p99",
                [
                    target(
                        "histogram_quantile(0.99, sum by (le) "
                        "(rate(tps_event_loop_lag_seconds_bucket[$__rate_interval])))",
                        "p99",
                    )
                ],
                unit="s",
                thresholds=steps(("green", None), ("red", 0.1)),
                description="How late the exporter's event loop runs: polls and scrapes wait this.",
            ),
            12,
            8,
        ),
        lay.place(
            panel(
                "timeseries",
                "Poll duration p99",
                [
                    target(
                        "histogram_quantile(0.99, sum by (le, protocol) "
                        "(rate(tps_poll_duration_seconds_bucket[$__rate_interval])))",
                        "{{protocol}}",
                    )
                ],
                unit="s",
            ),
            12,
            8,
        ),
        lay.place(
            panel(
                "timeseries",
                "Devices by status",
                [target("sum by (status) (tps_devices)", "{{status}}")],
                unit="none",
            ),
            12,
            8,
        ),
        lay.place(
            panel(
                "timeseries",
                "Exporter CPU and memory",
                [
                    target(
                        'rate(process_cpu_seconds_total{job="tps"}[$__rate_interval])',
                        "CPU {{instance}}",
                    ),
                    target('process_resident_memory_bytes{job="tps"}', "RSS {{instance}}"),
                ],
                unit="percentunit",
                overrides=[
                    {
                        "matcher": {"id": "byRegexp", "options": "RSS.*"},
                        "properties": [{"id": "unit", "value": "bytes"}],
                    }
                ],
            ),
            12,
            8,
        ),
    ]
    return dashboard(
        "tps-health",
        "TPS — kesehatan pemantauan / monitoring health",
        "Is the monitoring itself working: exporters, polling, reloads.",
        panels,
        [],
    )


DASHBOARDS = {
    "overview.json": overview,
    "regency.json": regency,
    "device.json": device,
    "health.json": health,
}


def build() -> dict[str, str]:
    """Return each dashboard's JSON text by file name."""
    return {
        name: json.dumps(make(), indent=2, ensure_ascii=False) + "\n"
        for name, make in DASHBOARDS.items()
    }


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    for file_name, text in build().items():
        (OUT / file_name).write_text(text, encoding="utf-8")
        print(f"wrote {OUT / file_name}")
