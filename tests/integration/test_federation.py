"""Scale-out on Prometheus: two exporter shards, a Prometheus for each, and a global one
federating their regency counts must give the national readiness of one single exporter."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from lab.local import free_port
from tests.conftest import REPO, require_binary, require_root, samples_in
from tests.stack import Prometheus, exporter_process, get

SHARDED = REPO / "deploy" / "sharded"


@contextlib.contextmanager
def exporter(config: Path, shard: str, log: Path) -> Iterator[int]:
    """Run one exporter shard; yield its port."""
    port = free_port()
    with exporter_process(config, port, log, flags=["--shard", shard]):
        yield port


def shard_config(shard: int, exporter_port: int) -> str:
    """The shipped shard configuration, pointed at this test's exporter, fast intervals."""
    config = yaml.safe_load((SHARDED / "prometheus-shard.yml").read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["global"]["external_labels"]["shard"] = str(shard)
    config["rule_files"] = [str(REPO / "alerts" / "tps-rules.yml")]
    config.pop("alerting")
    config["scrape_configs"][0]["static_configs"] = [{"targets": [f"127.0.0.1:{exporter_port}"]}]
    config["scrape_configs"][0]["scrape_timeout"] = "1s"
    return yaml.safe_dump(config)


def global_config(shard_ports: list[int]) -> str:
    """The shipped global configuration, federating this test's shard servers."""
    config = yaml.safe_load((SHARDED / "prometheus-global.yml").read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["rule_files"] = [str(REPO / "alerts" / "tps-global-rules.yml")]
    targets = [f"127.0.0.1:{p}" for p in shard_ports]
    config["scrape_configs"][0]["static_configs"] = [{"targets": targets}]
    return yaml.safe_dump(config)


def single_process_readiness(port: int) -> float:
    """Readiness as the rules define it, from one exporter's own /metrics."""
    status, text = get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200
    states = [dict(k)["status"] for k in samples_in(text, "tps_site_status")]
    return states.count("up") / len(states)


@pytest.mark.timeout(240)
def test_federated_national_readiness_equals_one_exporters(tmp_path: Path) -> None:
    require_root()
    require_binary("prometheus")
    config = (
        (REPO / "tps-exporter.yml")
        .read_text()
        .replace("targets:\n  - targets/", f"targets:\n  - {REPO / 'targets'}")
        .replace("interval: 30s ", "interval: 5s ")
    )
    (tmp_path / "tps-exporter.yml").write_text(config)
    servers: list[Prometheus] = []
    with contextlib.ExitStack() as stack:
        whole = stack.enter_context(
            exporter(tmp_path / "tps-exporter.yml", "1/1", tmp_path / "all.log")
        )
        shards = [
            stack.enter_context(
                exporter(tmp_path / "tps-exporter.yml", f"{i}/2", tmp_path / f"shard{i}.log")
            )
            for i in (1, 2)
        ]
        try:
            for i, port in enumerate(shards, start=1):
                (tmp_path / f"p{i}").mkdir()
                servers.append(Prometheus(shard_config(i, port), tmp_path / f"p{i}"))
            (tmp_path / "global").mkdir()
            glob = Prometheus(global_config([s.port for s in servers]), tmp_path / "global")
            servers.append(glob)
            deadline = time.monotonic() + 120
            federated = expected = -1.0
            while time.monotonic() < deadline:
                expected = single_process_readiness(whole)
                result = glob.query("nation:tps_readiness:ratio")
                federated = float(result[0]["value"][1]) if result else -1.0
                if expected > 0.9 and abs(federated - expected) < 1e-9:
                    break
                time.sleep(1)
            regencies = glob.query("count(regency:tps_readiness:ratio)")
        finally:
            for server in servers:
                server.stop()
    # 3,327 TPS, 68 blank spots, every loopback device up: 3,259 of 3,327 ready.
    assert federated == pytest.approx(expected) == pytest.approx(3259 / 3327)
    assert int(regencies[0]["value"][1]) == 7
