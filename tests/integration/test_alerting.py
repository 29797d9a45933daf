"""Rules and routing checked by the real tools: promtool, amtool and a running Alertmanager."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, require_binary
from tests.stack import Alertmanager, Webhook, alertmanager_config_for_tests

ALERTS = REPO / "alerts"
# What the templates write for &, < and > in a value (Telegram needs no escaping for them).
AMP, LT, GT = (
    "\N{FULLWIDTH AMPERSAND}",
    "\N{SINGLE LEFT-POINTING ANGLE QUOTATION MARK}",
    ("\N{SINGLE RIGHT-POINTING ANGLE QUOTATION MARK}"),
)


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
    labels = {
        "alertname": "TPSSiteDown", "severity": "critical", "site": "tps-w1",
        "name": "TPS 001", "province": "Kalimantan Selatan", "regency": "Kota Banjarmasin",
        "district": "Banjarmasin Tengah", "village": "Kertak Baru Ilir", "zone": "WITA",
        "timezone": "Asia/Makassar", "device": "rtr-w1", "device_name": "Router A&B <1>",
        "device_kind": "router", "operator": "Telkomsel", "reason": "upstream_down",
        "phase": "voting", "rehearsal": "true",
    }  # fmt: skip
    alert = {
        "status": "firing",
        "startsAt": "2024-11-27T02:05:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "labels": labels,
        "annotations": {
            "since": "10.04 WITA, 27/11",
            "duration": "1 menit",
            "runbook": "tpssitedown",
        },
    }
    data = {
        "receiver": "prov-63",
        "status": "firing",
        "alerts": [alert],
        "groupLabels": {},
        "commonLabels": labels,
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
    assert result.stdout.splitlines() == [
        "🔴 KRITIS · TPS tidak bisa kirim hasil",
        "<b>TPS 001</b>",
        "Kalimantan Selatan › Kota Banjarmasin › Banjarmasin Tengah › Kertak Baru Ilir",
        "Penyebab: Router di atasnya mati",
        # Telegram's HTML mode: &, < and > in values become look-alikes that need no escaping.
        f"Perangkat: Router A{AMP}B {LT}1{GT} (rtr-w1), Telkomsel",
        "Sejak 10.04 WITA, 27/11 (1 menit)",
        f"Langkah pertama: Hubungi Telkomsel soal Router A{AMP}B {LT}1{GT}; siapkan jalur "
        "cadangan untuk TPS ini.",
        "Fase: pemungutan suara · SIMULASI",
        '🔗 <a href="https://tps.example.go.id/#q=tps-w1">Status</a> · '
        '<a href="https://tps.example.go.id/panduan.html#tpssitedown">Panduan</a>',
    ]


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
            labels = alert["labels"]
            key = (labels["alertname"], labels.get("site") or labels.get("device", ""))
            state[key] = alert["status"]["inhibitedBy"]
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
        by_site = {a["labels"].get("site"): a["status"]["inhibitedBy"] for a in am.alerts()}
    finally:
        am.stop()
    assert by_site["p1"] and not by_site["p2"]
