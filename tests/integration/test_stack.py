"""The docker-compose stack, checked without a Docker engine: compose, Prometheus and lab files.

No Docker engine runs on these machines: the compose files are validated by docker-compose
itself (`config`), the Prometheus configuration by promtool, and the lab inventory by the
exporter's own `check`; the container settings that keep the exporter unprivileged are read
from the files.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import REPO, require_binary

ALERTS_DIR = REPO / "alerts"


def rule_count(path: Path) -> int:
    """Return how many rules (records and alerts) a rules file holds."""
    groups = yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]
    return sum(len(group["rules"]) for group in groups)


COMPOSE = REPO / "docker-compose.yml"
LAB = REPO / "docker-compose.lab.yml"


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, capture_output=True, text=True, timeout=60, check=False, cwd=REPO
    )


def test_compose_files_are_valid() -> None:
    compose = require_binary("docker-compose")
    for files in (["-f", str(COMPOSE)], ["-f", str(COMPOSE), "-f", str(LAB)]):
        result = run(compose, *files, "config", "-q")
        assert result.returncode == 0, result.stderr


def test_the_lab_overrides_only_the_exporter_and_adds_the_agent() -> None:
    compose = require_binary("docker-compose")
    merged = yaml.safe_load(run(compose, "-f", str(COMPOSE), "-f", str(LAB), "config").stdout)
    assert set(merged["services"]) == {"exporter", "prometheus", "alertmanager", "grafana", "lab"}
    exporter = merged["services"]["exporter"]
    assert exporter["command"][0] == "--config.file=/etc/tps-exporter/deploy/lab/tps-exporter.yml"
    # docker-compose prints volumes long-form or as "source:target:mode".
    targets = [v["target"] if isinstance(v, dict) else v.split(":")[1] for v in exporter["volumes"]]
    assert "/etc/tps-exporter/targets" in targets and "/etc/tps-exporter/deploy/lab" in targets


def test_the_exporter_container_is_unprivileged() -> None:
    exporter = yaml.safe_load(COMPOSE.read_text())["services"]["exporter"]
    assert exporter["user"] == "10001:10001"
    assert exporter["cap_drop"] == ["ALL"] and "cap_add" not in exporter
    assert exporter["read_only"] is True and not exporter.get("privileged")
    assert exporter["sysctls"]["net.ipv4.ping_group_range"] == "0 2147483647"
    dockerfile = (REPO / "Dockerfile").read_text()
    assert re.search(r"^USER 10001:10001$", dockerfile, re.MULTILINE)


def test_every_bind_mount_exists_in_the_repository() -> None:
    for path in (COMPOSE, LAB):
        for name, service in yaml.safe_load(path.read_text())["services"].items():
            for volume in service.get("volumes", []):
                source = volume.split(":", 1)[0]
                if source.startswith("./"):
                    assert (REPO / source).exists(), f"{path.name}: {name}: {source}"


def test_prometheus_config_is_valid_for_promtool() -> None:
    promtool = require_binary("promtool")
    result = run(promtool, "check", "config", str(REPO / "deploy" / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {rule_count(ALERTS_DIR / 'tps-rules.yml')} rules found" in result.stdout


def test_prometheus_scrapes_the_job_the_rules_expect() -> None:
    config = yaml.safe_load((REPO / "deploy" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["tps"]["static_configs"][0]["targets"] == ["exporter:9811"]
    assert 'up{job="tps"}' in (REPO / "alerts" / "tps-rules.yml").read_text()


def test_lab_inventory_is_valid() -> None:
    result = run(
        sys.executable,
        "-m",
        "exporter",
        "check",
        "--config.file",
        str(REPO / "deploy" / "lab" / "tps-exporter.yml"),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK: 3.328 TPS")


def test_sharded_prometheus_configs_are_valid_for_promtool() -> None:
    promtool = require_binary("promtool")
    for name, rules_file in (("prometheus-shard.yml", "tps-rules.yml"),
                             ("prometheus-global.yml", "tps-global-rules.yml")):  # fmt: skip
        rules = rule_count(ALERTS_DIR / rules_file)
        result = run(promtool, "check", "config", str(REPO / "deploy" / "sharded" / name))
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"SUCCESS: {rules} rules found" in result.stdout
