"""The Grafana dashboards: generated, valid against Grafana's model, on one datasource."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard

from tests.conftest import REPO

GRAFANA = REPO / "grafana"
DASHBOARDS = GRAFANA / "dashboards"
FILES = sorted(DASHBOARDS.glob("*.json"))
BUILTIN = {"__rate_interval", "__interval", "__range", "__url_time_range", "__data", "__all"}


def load(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text(encoding="utf-8")))


def builder() -> Any:
    spec = importlib.util.spec_from_file_location(
        "build_dashboards", GRAFANA / "build_dashboards.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_dashboards"] = module
    spec.loader.exec_module(module)
    return module


def test_committed_dashboards_are_what_the_generator_writes() -> None:
    built = builder().build()
    assert sorted(built) == [p.name for p in FILES]
    for path in FILES:
        assert path.read_text(encoding="utf-8") == built[path.name], path.name


def missing(original: Any, parsed: Any, path: str = "") -> list[str]:
    """Return the key paths of `original` that Grafana's model lost or changed."""
    if isinstance(original, dict):
        if not isinstance(parsed, dict):
            return [path or "/"]
        return [
            p for k, v in original.items() for p in missing(v, parsed.get(k, _GONE), f"{path}.{k}")
        ]
    if isinstance(original, list):
        if not isinstance(parsed, list) or len(parsed) != len(original):
            return [path]
        return [
            p
            for i, (a, b) in enumerate(zip(original, parsed, strict=True))
            for p in missing(a, b, f"{path}[{i}]")
        ]
    return [] if original == parsed else [path]


_GONE = object()


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_dashboard_round_trips_through_grafanas_model(path: Path) -> None:
    # Grafana's generated model drops keys its schema does not know: all of ours must survive.
    original = load(path)
    parsed = json.loads(json.dumps(Dashboard.from_json(original), cls=JSONEncoder))
    assert missing(original, parsed) == []


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return list(dashboard["panels"])


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_everything_uses_the_provisioned_datasource(path: Path) -> None:
    provisioned = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )
    uid = provisioned["datasources"][0]["uid"]
    dashboard = load(path)
    refs = [p["datasource"] for p in panels(dashboard)]
    refs += [t["datasource"] for p in panels(dashboard) for t in p["targets"]]
    refs += [v["datasource"] for v in dashboard["templating"]["list"] if v["type"] == "query"]
    assert refs and all(ref == {"type": "prometheus", "uid": uid} for ref in refs)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_no_dangling_variables(path: Path) -> None:
    dashboard = load(path)
    defined = {v["name"] for v in dashboard["templating"]["list"]}
    text = json.dumps(dashboard["panels"]) + json.dumps(dashboard["templating"])
    used = set(re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", text))
    assert used - defined - BUILTIN == set()
    # Chained variables only refer to variables defined before them.
    seen: set[str] = set()
    for var in dashboard["templating"]["list"]:
        query = var["query"]["query"] if var["type"] == "query" else var["query"]
        refs = set(re.findall(r"\$([A-Za-z_]+)", query))
        assert refs <= seen, f"{var['name']} uses {refs - seen} before they are defined"
        seen.add(var["name"])


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_number_panels_have_units_or_value_mappings(path: Path) -> None:
    for panel in panels(load(path)):
        shows_text = panel["options"].get("textMode") == "name"  # a label, e.g. the phase
        if panel["type"] in ("stat", "timeseries", "bargauge") and not shows_text:
            defaults = panel["fieldConfig"]["defaults"]
            assert defaults.get("unit") or defaults.get("mappings") or defaults.get("thresholds"), (
                panel["title"]
            )


def test_panel_ids_and_grid_positions_do_not_collide() -> None:
    for path in FILES:
        dashboard = load(path)
        ids = [p["id"] for p in panels(dashboard)]
        assert len(ids) == len(set(ids)), path.name
        cells: set[tuple[int, int]] = set()
        for p in panels(dashboard):
            g = p["gridPos"]
            area = {
                (x, y)
                for x in range(g["x"], g["x"] + g["w"])
                for y in range(g["y"], g["y"] + g["h"])
            }
            assert not area & cells and g["x"] + g["w"] <= 24, (path.name, p["title"])
            cells |= area


def test_thresholds_are_the_alert_thresholds() -> None:
    rules = (REPO / "alerts" / "tps-rules.yml").read_text()
    module = builder()
    assert f"< {module.READINESS_TARGET}" in rules
    assert f"tps_radio_rsrp_dbm < {module.WEAK_RSRP}" in rules
    assert f"tps_ups_battery_runtime_seconds < {module.LOW_RUNTIME}" in rules
    assert f"tps_ups_battery_charge_ratio < {module.LOW_CHARGE}" in rules


def test_the_wall_screen_follows_the_province_and_shows_the_trend() -> None:
    overview = load(DASHBOARDS / "overview.json")
    figures = [p for p in panels(overview) if p["type"] in ("stat", "timeseries", "bargauge")
               and p["title"] != "Fase / phase"]  # fmt: skip
    assert figures
    for p in figures:  # picking a province changes every figure, not only the map and tables
        assert all('province=~"$province"' in t["expr"] for t in p["targets"]), p["title"]
    trends = [p["title"] for p in panels(overview) if p["type"] == "timeseries"]
    assert trends == ["TPS mati / TPS down (tren / trend)", "Siap / ready (tren / trend)"]
    titles = [p["title"] for p in panels(overview)]
    assert titles[:2] == ["Siap / ready", "Bisa kirim / can send"]  # one name per figure


def test_the_map_gives_blank_spots_their_own_colour_and_fetches_no_tiles_itself() -> None:
    geomap = next(p for p in panels(load(DASHBOARDS / "overview.json")) if p["type"] == "geomap")
    steps = {
        s["value"]: s["color"] for s in geomap["fieldConfig"]["defaults"]["thresholds"]["steps"]
    }
    assert steps == {None: "red", 1: "green", 2: "purple"}
    assert 'status="blank_spot"' in geomap["targets"][0]["expr"]
    assert geomap["options"]["basemap"] == {"type": "xyz", "name": "Peta dasar",
                                            "config": {"url": "$tiles"}}  # fmt: skip
    assert "http" not in json.dumps(geomap["options"])  # nothing from the internet by default
    tiles = next(v for v in load(DASHBOARDS / "overview.json")["templating"]["list"]
                 if v["name"] == "tiles")  # fmt: skip
    assert tiles["type"] == "textbox" and tiles["query"] == ""


def test_the_regency_timeline_shows_only_tps_that_changed_or_are_down() -> None:
    timeline = next(p for p in panels(load(DASHBOARDS / "regency.json"))
                    if p["type"] == "state-timeline")  # fmt: skip
    assert (
        "changes(tps_site_up[$__range]) > 0 or tps_site_up == 0" in timeline["targets"][0]["expr"]
    )


def test_variables_show_names_and_the_device_follows_the_tps() -> None:
    variables = {v["name"]: v for v in load(DASHBOARDS / "device.json")["templating"]["list"]}
    assert list(variables) == ["regency", "site", "device"]
    assert "(?<text>" in variables["site"]["regex"] and "(?<value>" in variables["site"]["regex"]
    assert "$regency" in variables["site"]["query"]["query"]
    assert 'site="$site"' in variables["device"]["query"]["query"]
    assert "(?<text>" in variables["device"]["regex"]
