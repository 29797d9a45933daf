"""Every dashboard query returns data from a real Prometheus scraping the exporter.

The exporter runs on the example inventory plus a small lab: snmpsim devices (routers, UPS,
LTE modem) for the SNMP panels and a silent namespace host so that some TPS are down.
A query with variables must return data for some value of them: `="$device"` is widened to
`=~".+"`.
"""

from __future__ import annotations

import json
import re
import time
import urllib.parse
from pathlib import Path

import pytest

from lab.local import free_port
from lab.netns import lab_host
from tests import snmp_expectations as ex
from tests.agents import snmpsim
from tests.conftest import REPO, require, require_binary, require_root
from tests.stack import Prometheus, exporter_process, get, prometheus_config

DASHBOARDS = sorted((REPO / "grafana" / "dashboards").glob("*.json"))
PLACE = """\
    province: {code: "21", name: Kepulauan Riau}
    regency: {code: "21.71", name: Kota Batam}
    district: {code: "21.71.10", name: Batam Kota}
    village: {code: "21.71.10.1004", name: Belian}
"""


def lab(port: int, silent: str) -> str:
    fast_snmp = f"port: {port}, interval: 2s, timeout: 500ms, retries: 0"
    fast_icmp = "icmp: {interval: 1s, count: 2, spacing: 100ms, timeout: 300ms}"
    return (
        "devices:\n"
        f"  - {{id: lab-rut955, kind: router, address: 127.0.0.1, {fast_icmp}, snmp: {{auth: rutos,"
        f" profiles: [system, interfaces, teltonika-rut9xx], wan: [wwan0], {fast_snmp}}}}}\n"
        f"  - {{id: lab-ups, kind: ups, address: 127.0.0.1, checks: [snmp], snmp: {{auth: riello,"
        f" profiles: [system, ups], {fast_snmp}}}}}\n"
        f"  - {{id: lab-trb500, kind: router, address: 127.0.0.1, checks: [snmp], snmp: {{auth:"
        f" rutos-rutx, profiles: [system, teltonika-rutos], {fast_snmp}}}}}\n"
        f"  - {{id: lab-dead, kind: router, address: {silent}, {fast_icmp}, down_after: 2}}\n"
        "sites:\n"
        f"  - id: lab-tps-1\n    name: TPS LAB 1\n{PLACE}    devices: [lab-rut955]\n"
        "    power: [lab-ups]\n    latitude: 1.1\n    longitude: 104.0\n"
        f"  - id: lab-tps-2\n    name: TPS LAB 2\n{PLACE}    devices: [lab-dead]\n"
    )


def widen(expr: str) -> str:
    """Fill in Grafana's variables: any value of a dashboard variable, fixed built-ins."""
    expr = re.sub(r'=~?"\$\{?[a-z_]+\}?"', '=~".+"', expr)
    expr = expr.replace("$__rate_interval", "1m").replace("$__interval", "15s")
    return expr.replace("$__range", "1h")


def queries() -> list[tuple[str, str, str]]:
    out = []
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        for panel in dashboard["panels"]:
            for t in panel["targets"]:
                out.append((path.stem, panel["title"], t["expr"]))
        for var in dashboard["templating"]["list"]:
            if var["type"] == "query":  # a textbox (the map's tile server) asks nothing
                out.append((path.stem, f"variable {var['name']}", var["query"]["query"]))
    return out


def named_values(prom: Prometheus) -> dict[str, list[tuple[str, str]]]:
    """Return (text, value) of each query_result variable, as Grafana's regex picks them from
    the series it lists (`name{label="value", ...}`, labels in Prometheus's order)."""
    out = {}
    dashboard = json.loads((REPO / "grafana" / "dashboards" / "device.json").read_text())
    for var in dashboard["templating"]["list"]:
        if not var.get("regex"):
            continue
        expr = var["query"]["query"].removeprefix("query_result(")[:-1]
        pattern = re.compile(var["regex"].strip("/").replace("(?<", "(?P<"))
        rows = []
        for series in prom.query(widen(expr)):
            labels: dict[str, str] = dict(series["metric"])
            name = labels.pop("__name__", "")
            line = name + "{" + ", ".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
            found = pattern.search(line)
            assert found, (var["name"], line)
            rows.append((found["text"] or found["value"], found["value"]))  # no name: the id
        out[var["name"]] = rows
    return out


def label_values(prom: Prometheus, query: str) -> list[str]:
    """Evaluate Grafana's label_values(selector, label) against Prometheus."""
    match = re.fullmatch(r"label_values\((.*), (\w+)\)", query)
    assert match, query
    selector, label = match.groups()
    url = f"{prom.url}/api/v1/series?" + urllib.parse.urlencode({"match[]": widen(selector)})
    status, body = get(url)
    assert status == 200, body
    return sorted({s[label] for s in json.loads(body)["data"] if label in s})


@pytest.mark.timeout(240)
def test_every_panel_and_variable_query_returns_data(tmp_path: Path) -> None:
    require_root()
    require_binary("prometheus")
    require(ex.RECORDINGS.is_dir(), "needs ../shared/snmprec")
    with snmpsim(ex.RECORDINGS) as sim, lab_host() as host:
        (tmp_path / "lab").mkdir()
        (tmp_path / "lab" / "lab.yaml").write_text(lab(sim.port, host.silent))
        (tmp_path / "community-rutos").write_text("rutos\n")
        (tmp_path / "community-riello").write_text("riello\n")
        (tmp_path / "community-rutos-rutx").write_text("rutos-rutx\n")
        config = (REPO / "tps-exporter.yml").read_text().replace(
            "targets:\n  - targets/", f"targets:\n  - {REPO / 'targets'}\n  - {tmp_path / 'lab'}"
        ) + (
            "snmp:\n  auths:\n"
            "    rutos: {version: 2c, community: {file: community-rutos}}\n"
            "    riello: {version: 2c, community: {file: community-riello}}\n"
            "    rutos-rutx: {version: 2c, community: {file: community-rutos-rutx}}\n"
        )
        (tmp_path / "tps-exporter.yml").write_text(config)
        port = free_port()
        with exporter_process(tmp_path / "tps-exporter.yml", port, tmp_path / "exporter.log"):
            prom = Prometheus(prometheus_config(port), tmp_path)
            try:
                deadline = time.monotonic() + 60
                ready = 'site:tps_site_status:info{site="lab-tps-2", status="down"}'
                while not prom.query(ready) and time.monotonic() < deadline:
                    time.sleep(1)
                time.sleep(10)  # enough samples for rate() over the lab's fast polls
                empty = []
                for dashboard, title, expr in queries():
                    if expr.startswith("label_values("):
                        found = bool(label_values(prom, expr))
                    elif expr.startswith("query_result("):
                        found = bool(prom.query(widen(expr.removeprefix("query_result(")[:-1])))
                    else:
                        found = bool(prom.query(widen(expr)))
                    if not found:
                        empty.append(f"{dashboard}: {title}: {expr}")
                named = named_values(prom)
            finally:
                prom.stop()
    assert empty == []
    assert len(queries()) > 40
    # The TPS and devices are offered by name: Grafana's regex finds a name and an id in each.
    assert named["site"] and all(text.startswith("TPS ") for text, _ in named["site"])
    assert named["device"] and all(value for _, value in named["device"])
