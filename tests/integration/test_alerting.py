"""Rules and routing checked by the real tools: promtool, amtool and a running Alertmanager."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, require_binary
from tests.integration.test_process import free_port, get, wait_for

ALERTS = REPO / "alerts"


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_promtool_checks_and_unit_tests_the_rules() -> None:
    promtool = require_binary("promtool")
    check = run(promtool, "check", "rules", str(ALERTS / "tps-rules.yml"))
    assert check.returncode == 0, check.stdout + check.stderr
    test = run(promtool, "test", "rules", str(ALERTS / "tests" / "tps-rules.test.yml"))
    assert test.returncode == 0, test.stdout + test.stderr
    assert "SUCCESS" in test.stdout


def test_amtool_checks_the_alertmanager_config() -> None:
    amtool = require_binary("amtool")
    check = run(amtool, "check-config", str(ALERTS / "alertmanager.yml"))
    assert check.returncode == 0, check.stdout + check.stderr
    assert "3 inhibit rules" in check.stdout


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (
            {"alertname": "TPSSiteDown", "province": "Kepulauan Riau", "severity": "critical"},
            "prov-21-kepulauan-riau",
        ),
        (
            {
                "alertname": "TPSRegencyOutage",
                "province": "Kalimantan Selatan",
                "severity": "warning",
            },
            "prov-63-kalimantan-selatan",
        ),
        ({"alertname": "TPSSiteDown", "province": "Papua", "severity": "warning"}, "prov-91-papua"),
        (
            {"alertname": "TPSExporterDown", "province": "Papua", "severity": "critical"},
            "noc-national",
        ),
        ({"alertname": "TPSSiteDown", "province": "Aceh", "severity": "critical"}, "noc-national"),
        ({"alertname": "TPSSiteDown", "province": "Aceh", "severity": "warning"}, "noc-national"),
    ],
)
def test_amtool_routes(labels: dict[str, str], receiver: str) -> None:
    amtool = require_binary("amtool")
    result = run(
        amtool,
        "config",
        "routes",
        "test",
        f"--config.file={ALERTS / 'alertmanager.yml'}",
        f"--verify.receivers={receiver}",
        *(f"{k}={v}" for k, v in labels.items()),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == receiver


def test_the_message_a_technician_reads(tmp_path: Path) -> None:
    amtool = require_binary("amtool")
    alert = {
        "status": "firing",
        "startsAt": "2024-11-27T02:05:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "labels": {
            "alertname": "TPSSiteDown",
            "severity": "critical",
            "site": "tps-w1",
            "name": "TPS 001",
            "province": "Kalimantan Selatan",
            "regency": "Kota Banjarmasin",
            "district": "Banjarmasin Tengah",
            "village": "Kertak Baru Ilir",
            "zone": "WITA",
            "timezone": "Asia/Makassar",
            "device": "rtr-w1",
            "reason": "device_down",
            "phase": "voting",
            "rehearsal": "true",
        },
        "annotations": {
            "summary": "TPS offline: TPS 001",
            "description": "A > B & C",
            "runbook_url": "alerts/runbooks.md#tpssitedown",
        },
    }
    common = {
        k: alert["labels"][k]
        for k in ("alertname", "severity", "province", "regency", "phase", "rehearsal", "reason")  # type: ignore[index]
    }
    data = {
        "receiver": "prov-63",
        "status": "firing",
        "alerts": [alert],
        "groupLabels": {},
        "commonLabels": common,
        "commonAnnotations": {},
        "externalURL": "http://am",
    }
    (tmp_path / "data.json").write_text(json.dumps(data))
    result = run(
        amtool,
        "template",
        "render",
        f"--template.glob={ALERTS / 'templates' / '*.tmpl'}",
        '--template.text={{ template "tps.telegram.message" . }}',
        f"--template.data={tmp_path / 'data.json'}",
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "🔴 KRITIS / CRITICAL — TPSSiteDown"
    assert "Fase / phase: voting (SIMULASI)" in lines
    where = (
        "  Lokasi / where: Kalimantan Selatan › Kota Banjarmasin › Banjarmasin Tengah › "
        "Kertak Baru Ilir › <b>TPS 001</b>"
    )
    assert where in lines
    assert "  Perangkat / device: rtr-w1 (device_down)" in lines
    assert "  Mulai / since: 27 Nov 10:05 WITA" in lines  # 02:05 UTC is 10:05 in WITA
    assert "  A &gt; B &amp; C" in lines  # Telegram's HTML mode needs escaping


class Webhook:
    """A webhook receiver on loopback that records every notification."""

    def __init__(self) -> None:
        import http.server  # noqa: PLC0415
        import threading  # noqa: PLC0415

        self.received: list[dict[str, object]] = []
        received = self.received

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append({"path": self.path, "body": json.loads(body or b"{}")})
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def alertmanager_config_for_tests(webhook: Webhook, group_wait: str, group_interval: str) -> str:
    """Return the shipped config with every receiver sent to the test's webhook (and Telegram
    to the webhook too, through api_url), and short waits; routes and inhibition unchanged."""
    config = yaml.safe_load((ALERTS / "alertmanager.yml").read_text())
    config["templates"] = [str(ALERTS / "templates" / "*.tmpl")]
    config["route"]["group_wait"] = group_wait
    config["route"]["group_interval"] = group_interval
    for route in config["route"].get("routes", []):
        route.pop("group_wait", None)
        for child in route.get("routes", []):
            child.pop("group_wait", None)
            child.pop("mute_time_intervals", None)
    for receiver in config["receivers"]:
        for telegram in receiver.get("telegram_configs", []):
            telegram["api_url"] = f"{webhook.url}/telegram"
        receiver["webhook_configs"] = [{"url": f"{webhook.url}/{receiver['name']}"}]
    return yaml.safe_dump(config)


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.close()


class Alertmanager:
    """A real Alertmanager on loopback, no clustering."""

    def __init__(self, config: str, workdir: Path) -> None:
        binary = require_binary("prometheus-alertmanager")
        (workdir / "am.yml").write_text(config)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = (workdir / "alertmanager.log").open("wb")
        self.process = subprocess.Popen(
            [
                binary,
                f"--config.file={workdir / 'am.yml'}",
                f"--storage.path={workdir / 'am'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_for(f"{self.url}/-/ready", 30)

    def post(self, alerts: list[dict[str, object]]) -> None:
        request = urllib.request.Request(
            f"{self.url}/api/v2/alerts",
            data=json.dumps(alerts).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200

    def alerts(self) -> list[dict[str, object]]:
        status, body = get(f"{self.url}/api/v2/alerts")
        assert status == 200
        return list(json.loads(body))

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)
        self.log.close()


def test_inhibition_in_a_real_alertmanager(webhook: Webhook, tmp_path: Path) -> None:
    am = Alertmanager(alertmanager_config_for_tests(webhook, "1s", "2s"), tmp_path)
    try:
        place = {"province": "Kepulauan Riau", "regency": "Kabupaten Natuna", "job": "tps"}
        site = {**place, "severity": "critical", "alertname": "TPSSiteDown", "instance": "a:9811"}
        am.post(
            [
                {"labels": {**site, "site": "n1", "device": "bts-n"}},
                {"labels": {**site, "site": "n2", "device": "bts-n"}},
                {"labels": {**site, "site": "b1", "device": "rtr-b1", "regency": "Kota Batam"}},
                {
                    "labels": {
                        **place,
                        "alertname": "TPSDeviceDown",
                        "severity": "critical",
                        "device": "bts-n",
                        "instance": "a:9811",
                    }
                },
                {"labels": {**place, "alertname": "TPSRegencyOutage", "severity": "critical"}},
                {
                    "labels": {
                        **place,
                        "alertname": "TPSUPSOnBattery",
                        "severity": "warning",
                        "device": "ups-9",
                        "instance": "b:9811",
                    }
                },
                {
                    "labels": {
                        "alertname": "TPSExporterDown",
                        "severity": "critical",
                        "job": "tps",
                        "instance": "b:9811",
                    }
                },
            ]
        )
        time.sleep(1)
        state = {}
        for alert in am.alerts():
            labels = alert["labels"]  # type: ignore[index]
            key = (labels["alertname"], labels.get("site") or labels.get("device", ""))  # type: ignore[union-attr]
            state[key] = alert["status"]["inhibitedBy"]  # type: ignore[index]
    finally:
        am.stop()
    inhibited = {k for k, by in state.items() if by}
    # Regency outage inhibits its TPS and device alerts; Batam's TPS is another regency.
    assert ("TPSSiteDown", "n1") in inhibited and ("TPSSiteDown", "n2") in inhibited
    assert ("TPSDeviceDown", "bts-n") in inhibited
    assert ("TPSSiteDown", "b1") not in inhibited
    # The exporter that is down holds back what it reported, and only that.
    assert ("TPSUPSOnBattery", "ups-9") in inhibited
    assert ("TPSRegencyOutage", "") not in inhibited and ("TPSExporterDown", "") not in inhibited


def test_device_down_inhibits_the_tps_behind_it(webhook: Webhook, tmp_path: Path) -> None:
    am = Alertmanager(alertmanager_config_for_tests(webhook, "1s", "2s"), tmp_path)
    try:
        base = {
            "province": "Papua",
            "regency": "Kabupaten Jayapura",
            "job": "tps",
            "instance": "a:9811",
            "severity": "warning",
        }
        am.post(
            [
                {"labels": {**base, "alertname": "TPSSiteDown", "site": "p1", "device": "bts-p"}},
                {"labels": {**base, "alertname": "TPSSiteDown", "site": "p2", "device": "rtr-p2"}},
                {"labels": {**base, "alertname": "TPSDeviceDown", "device": "bts-p"}},
            ]
        )
        time.sleep(1)
        by_site = {a["labels"].get("site"): a["status"]["inhibitedBy"] for a in am.alerts()}  # type: ignore[index,union-attr]
    finally:
        am.stop()
    assert by_site["p1"] and not by_site["p2"]
