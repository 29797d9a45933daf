"""The `tps-exporter` process as an operator runs it, checked by promtool and a real Prometheus."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import REPO, device_yaml, require_binary, require_root, site_yaml
from tests.netns import LabHost, lab_host

FAST = "icmp: {interval: 500ms, count: 2, spacing: 20ms, timeout: 200ms}\ndown_after: 2"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str, data: bytes | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def wait_for(url: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if get(url)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(url)


def write_inventory(targets: Path, host: LabHost | None) -> None:
    devices = device_yaml("bts-1", "127.0.0.1", FAST, kind="bts")
    devices += device_yaml("rtr-1", "127.0.0.2", FAST + "\nparent: bts-1")
    sites = site_yaml("tps-up", ["rtr-1"]) + site_yaml("tps-blank", [])
    if host is not None:
        devices += device_yaml("rtr-silent", host.silent, FAST)
        sites += site_yaml("tps-down", ["rtr-silent"])
    (targets / "inventory.yaml").write_text(f"devices:\n{devices}sites:\n{sites}")


@contextmanager
def exporter_process(
    source: Path, port: int, log: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `tps-exporter` on a targets directory or a config file until the block ends."""
    flag = "--config.file" if source.is_file() else "--targets"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "exporter", flag, str(source),
             f"--web.listen-address=127.0.0.1:{port}", "--icmp.socket=raw"],
            cwd=REPO, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
        )  # fmt: skip
        try:
            wait_for(f"http://127.0.0.1:{port}/-/ready")
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=10)


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
    assert "typo.yaml:2:31: devices[0].adress: unknown key (did you mean 'address'?)" in log
    assert "level=error" in log and "reload refused" in log


def test_check_command_exit_codes() -> None:
    ok = subprocess.run([sys.executable, "-m", "exporter", "check"], cwd=REPO,
                        capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("OK: 3327 TPS (68 blank spots) and 579 devices in 7 file(s)")
    bad = subprocess.run(
        [sys.executable, "-m", "exporter", "check",
         "--targets", "tests/testdata/invalid/bad_yaml.yaml"],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert bad.returncode == 1
    assert "tests/testdata/invalid/bad_yaml.yaml:5:6: invalid YAML" in bad.stderr


def query(prometheus: str, promql: str) -> list[dict[str, object]]:
    url = f"{prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    status, body = get(url)
    assert status == 200, body
    payload = json.loads(body)
    assert payload["status"] == "success", payload
    return list(payload["data"]["result"])


@pytest.fixture
def prometheus_binary() -> str:
    return require_binary("prometheus")


def test_real_prometheus_scrapes_site_states(tmp_path: Path, prometheus_binary: str) -> None:
    require_root()
    require_binary("nft")
    with lab_host() as host:
        targets = tmp_path / "targets"
        targets.mkdir()
        write_inventory(targets, host)
        port, prom_port = free_port(), free_port()
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "scrape_configs:\n"
            "  - job_name: tps\n"
            f"    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n"
        )
        prometheus = f"http://127.0.0.1:{prom_port}"
        with (
            exporter_process(targets, port, tmp_path / "exporter.log"),
            (tmp_path / "prometheus.log").open("wb") as prom_log,
        ):
            prom = subprocess.Popen(
                [prometheus_binary, f"--config.file={config}",
                 f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                 f"--web.listen-address=127.0.0.1:{prom_port}"],
                stdout=prom_log, stderr=subprocess.STDOUT,
            )  # fmt: skip
            try:
                wait_for(f"{prometheus}/-/ready", 30)
                deadline = time.monotonic() + 30
                states: dict[str, str] = {}
                while time.monotonic() < deadline:
                    result = query(prometheus, "tps_site_status")
                    states = {r["metric"]["site"]: r["metric"]["status"] for r in result}  # type: ignore[index]
                    if states.get("tps-down") == "down" and states.get("tps-up") == "up":
                        break
                    time.sleep(0.5)
                assert states == {"tps-up": "up", "tps-blank": "blank_spot", "tps-down": "down"}
                assert query(prometheus, 'up{job="tps"}')[0]["value"][1] == "1"  # type: ignore[index]
                joined = query(
                    prometheus,
                    "sum by (regency) (tps_site_up * on (site) group_left (regency) tps_site_info)",
                )
                assert [(r["metric"], r["value"][1]) for r in joined] == [  # type: ignore[index]
                    ({"regency": "Kota Batam"}, "1")
                ]
                down = query(prometheus, 'tps_device_status{status="down"}')
                assert [r["metric"]["device"] for r in down] == ["rtr-silent"]  # type: ignore[index]
            finally:
                prom.send_signal(signal.SIGTERM)
                prom.wait(timeout=30)
    assert os.path.exists(tmp_path / "tsdb")
