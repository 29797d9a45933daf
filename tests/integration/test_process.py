"""The `tps-exporter` process as an operator runs it, checked by promtool and a real Prometheus."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from lab.local import free_port
from lab.netns import LabHost, lab_host
from tests.conftest import REPO, device_yaml, require_binary, require_root, site_yaml
from tests.stack import Prometheus, exporter_process, get, prometheus_config

FAST = "icmp: {interval: 500ms, count: 2, spacing: 20ms, timeout: 200ms}\ndown_after: 2"


def write_inventory(targets: Path, host: LabHost | None) -> None:
    devices = device_yaml("bts-1", "127.0.0.1", FAST, kind="bts")
    devices += device_yaml("rtr-1", "127.0.0.2", FAST + "\nparent: bts-1")
    sites = site_yaml("tps-up", ["rtr-1"]) + site_yaml("tps-blank", [])
    if host is not None:
        devices += device_yaml("rtr-silent", host.silent, FAST)
        sites += site_yaml("tps-down", ["rtr-silent"])
    (targets / "inventory.yaml").write_text(f"devices:\n{devices}sites:\n{sites}")


def test_scrape_passes_promtool_and_sighup_reload_keeps_old_inventory(tmp_path: Path) -> None:
    require_root()
    promtool = require_binary("promtool")
    targets = tmp_path / "targets"
    targets.mkdir()
    write_inventory(targets, None)
    port = free_port()
    with exporter_process(targets, port, tmp_path / "exporter.log") as process:
        time.sleep(1.2)
        status, text = get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200
        assert 'tps_site_status{site="tps-up",status="up",reason="none",device=""} 1' in text
        check = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                               text=True, timeout=30, check=False)  # fmt: skip
        assert check.returncode == 0, check.stdout + check.stderr
        assert check.stdout.strip() == "" and check.stderr.strip() == ""

        (targets / "typo.yaml").write_text("devices:\n  - {id: rtr-9, kind: router, adress: x}\n")
        process.send_signal(signal.SIGHUP)
        time.sleep(1.0)
        status, text = get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200
        assert "tps_config_last_reload_successful 0" in text
        assert 'tps_site_status{site="tps-up",status="up",reason="none",device=""} 1' in text
        assert process.poll() is None

        (targets / "typo.yaml").unlink()
        status, body = get(f"http://127.0.0.1:{port}/-/reload", data=b"")
        assert (status, body) == (200, "reloaded\n")
        assert "tps_config_last_reload_successful 1" in get(f"http://127.0.0.1:{port}/metrics")[1]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    log = (tmp_path / "exporter.log").read_text()
    assert "typo.yaml:2:31: devices[0].adress: kunci tidak dikenal (maksudnya 'address'?)" in log
    assert "level=error" in log and "reload refused" in log


def test_check_command_exit_codes() -> None:
    ok = subprocess.run([sys.executable, "-m", "exporter", "check"], cwd=REPO,
                        capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("OK: 3.327 TPS (68 blank spot) dan 579 perangkat dalam 7 berkas")
    bad = subprocess.run(
        [sys.executable, "-m", "exporter", "check",
         "--targets", "tests/testdata/invalid/bad_yaml.yaml"],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert bad.returncode == 1
    assert "tests/testdata/invalid/bad_yaml.yaml:5:6: YAML tidak sah" in bad.stderr


def test_real_prometheus_scrapes_site_states(tmp_path: Path) -> None:
    require_root()
    require_binary("nft")
    with lab_host() as host:
        targets = tmp_path / "targets"
        targets.mkdir()
        write_inventory(targets, host)
        port = free_port()
        with exporter_process(targets, port, tmp_path / "exporter.log"):
            prom = Prometheus(prometheus_config(port, rules=None), tmp_path)
            try:
                deadline = time.monotonic() + 30
                states: dict[str, str] = {}
                while time.monotonic() < deadline:
                    result = prom.query("tps_site_status")
                    states = {r["metric"]["site"]: r["metric"]["status"] for r in result}
                    if states.get("tps-down") == "down" and states.get("tps-up") == "up":
                        break
                    time.sleep(0.5)
                assert states == {"tps-up": "up", "tps-blank": "blank_spot", "tps-down": "down"}
                assert prom.query('up{job="tps"}')[0]["value"][1] == "1"
                joined = prom.query(
                    "sum by (regency) (tps_site_up * on (site) group_left (regency) tps_site_info)"
                )
                assert [(r["metric"], r["value"][1]) for r in joined] == [
                    ({"regency": "Kota Batam"}, "1")
                ]
                down = prom.query('tps_device_status{status="down"}')
                assert [r["metric"]["device"] for r in down] == ["rtr-silent"]
            finally:
                prom.stop()
    assert os.path.exists(tmp_path / "tsdb")
