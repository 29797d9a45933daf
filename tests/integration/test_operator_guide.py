"""The operator guide's pre-flight, run as written: the commands of its ```sh preflight blocks,
in order, against a real exporter (the example inventory), Prometheus with the shipped rules and
Alertmanager with the shipped routing. The test alert must reach the province's receivers, and
the resolve command must resolve it. Both languages must give the same commands.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from lab.local import free_port
from tests.conftest import REPO, require_binary, require_root
from tests.stack import (
    Alertmanager,
    Prometheus,
    Webhook,
    alertmanager_config_for_tests,
    exporter_process,
    prometheus_config,
)

GUIDES = (REPO / "docs" / "operator-guide.md", REPO / "docs" / "panduan-operator.md")
PROVINCE_HOOK = "/prov-21-kepulauan-riau"


def preflight(guide: Path) -> list[str]:
    """Return the shell blocks of a guide's pre-flight, in order."""
    text = guide.read_text(encoding="utf-8")
    return re.findall(r"^```sh preflight\n(.*?)^```$", text, re.M | re.S)


def test_both_languages_give_the_same_preflight() -> None:
    english, indonesian = (preflight(guide) for guide in GUIDES)
    assert len(english) == 7
    assert english == indonesian


def wait_for(what: str, found: Callable[[], bool], timeout: float = 60) -> None:
    """Wait until `found()` is true, or fail naming `what`."""
    deadline = time.monotonic() + timeout
    while not found():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def preflight_alerts(hook: Webhook, status: str) -> list[dict[str, object]]:
    """Return the TPSPreflightTest alerts with `status` the province's webhook received."""
    return [
        alert
        for n in hook.received
        if n["path"] == PROVINCE_HOOK
        for alert in n["body"]["alerts"]
        if alert["labels"]["alertname"] == "TPSPreflightTest" and alert["status"] == status
    ]


def test_the_preflight_runs_as_written(tmp_path: Path, webhook: Webhook) -> None:
    require_root()  # the exporter pings the example inventory over a raw socket
    for tool in ("promtool", "amtool", "curl"):
        require_binary(tool)
    port = free_port()
    with exporter_process(REPO / "tps-exporter.yml", port, tmp_path / "exporter.log"):
        prometheus = Prometheus(prometheus_config(port), tmp_path)
        alertmanager = Alertmanager(alertmanager_config_for_tests(webhook, "1s", "2s"), tmp_path)
        try:
            wait_for(
                "Prometheus to record every TPS",
                lambda: prometheus.query("count(site:tps_site_status:info) == 3327") != [],
            )
            env = {
                **os.environ,
                "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
                "CONFIG": str(REPO / "tps-exporter.yml"),
                "EXPORTER": f"http://127.0.0.1:{port}",
                "PROM": prometheus.url,
                "AM": alertmanager.url,
            }
            outputs = []
            for block in preflight(GUIDES[0]):
                done = subprocess.run(
                    ["bash", "-euo", "pipefail", "-c", block],
                    cwd=REPO,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=120,
                    check=False,
                )
                assert done.returncode == 0, f"{block}\n{done.stdout}\n{done.stderr}"
                outputs.append(done.stdout)
                if "alert query" in block:
                    # The guide says: check it arrived, then resolve it.
                    wait_for("the test alert", lambda: preflight_alerts(webhook, "firing") != [])
            wait_for("the resolved test alert", lambda: preflight_alerts(webhook, "resolved") != [])
        finally:
            alertmanager.stop()
            prometheus.stop()
    check, metrics, rules, queries, routes, added, _resolved = outputs
    assert check.startswith("OK: 3.327 TPS (68 blank spot)")
    assert "tps_config_last_reload_successful 1" in metrics
    assert "SUCCESS" in rules
    assert re.search(r'up\{.*job="tps".*\} => 1 @', queries)
    assert re.search(r"\{\} => 3327 @", queries)
    assert "Kepulauan Riau" in queries and "Kota Tanjung Pinang" in queries  # the report
    assert routes.strip() == "prov-21-kepulauan-riau"
    assert "TPSPreflightTest" in added
    telegram = [n for n in webhook.received if "/telegram" in str(n["path"])]
    assert telegram, "the province's Telegram receiver got nothing"
