"""The metric catalogue and the text exposition rendered from a store."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from exporter.exposition.render import render
from exporter.inventory.load import load
from exporter.metrics import catalogue
from exporter.metrics.names import unknown_metrics
from exporter.metrics.text import escape
from exporter.pollers.results import Failure
from exporter.state.stats import RuntimeStats
from exporter.state.store import Store
from tests.conftest import REPO, device_yaml, samples_in, site_yaml
from tests.fakes import lost, ok, partial

UNIT_SUFFIXES = {
    "seconds": "_seconds",
    "bytes": "_bytes",
    "ratio": "_ratio",
    "celsius": "_celsius",
    "volts": "_volts",
    "hertz": "_hertz",
    "dbm": "_dbm",
    "db": "_db",
}


@pytest.mark.parametrize("metric", catalogue.CATALOGUE, ids=lambda m: m.name)
def test_catalogue_follows_prometheus_conventions(metric: catalogue.Metric) -> None:
    assert metric.name.startswith(("tps_", "process_"))
    assert metric.help.endswith(".") and len(metric.help) > 20
    if metric.type is catalogue.Type.COUNTER:
        assert metric.name.endswith("_total")
    else:
        assert not metric.name.endswith("_total")
    if metric.unit:
        suffix = UNIT_SUFFIXES[metric.unit]
        assert metric.name.removesuffix("_total").endswith(suffix)
    assert "millisecond" not in metric.name


def test_catalogue_names_are_unique() -> None:
    names = [m.name for m in catalogue.CATALOGUE]
    assert len(names) == len(set(names))


@pytest.fixture
def store(tmp_path: Path) -> Store:
    devices = (
        device_yaml(
            "bts-1", "127.0.0.1", "operator: BAKTI\nname: 'BTS \"Batu\" \\\\ 1'", kind="bts"
        )
        + device_yaml("rtr-1", "127.0.0.2", "parent: bts-1")
        + device_yaml("rtr-2", "localhost")
    )
    sites = (
        site_yaml("tps-1", ["rtr-1"], "latitude: 1.1\nlongitude: 104.0")
        + site_yaml("tps-2", [])
        + site_yaml("tps-3", ["rtr-2"])
    )
    (tmp_path / "i.yaml").write_text(f"devices:\n{devices}sites:\n{sites}")
    store = Store(load(None, [tmp_path])[1])
    store.record_ping("bts-1", ok(0.01))
    store.record_ping("rtr-1", partial(received=2, rtt=0.02))
    for _ in range(3):
        store.record_ping("rtr-2", lost(failure=Failure.RESOLVE_ERROR))
    return store


def families(store: Store) -> dict[str, object]:
    stats = RuntimeStats()
    stats.poll_duration["icmp"].observe(0.3)
    stats.overdue["icmp"] = lambda: 0.0
    text = render(store, stats).decode()
    return {f.name: f for f in text_string_to_metric_families(text)}


def samples(store: Store, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return samples_in(render(store, RuntimeStats()).decode(), name)


def test_every_family_rendered_is_in_the_catalogue_and_back(store: Store) -> None:
    rendered = families(store)
    # The parser strips _total from counter family names.
    declared = {
        m.name.removesuffix("_total") if m.type == "counter" else m.name
        for m in catalogue.CATALOGUE
    }
    assert set(rendered) == declared
    for metric in catalogue.CATALOGUE:
        name = metric.name.removesuffix("_total") if metric.type == "counter" else metric.name
        family = rendered[name]
        assert family.type == metric.type  # type: ignore[attr-defined]
        assert family.documentation == metric.help  # type: ignore[attr-defined]
        for sample in family.samples:  # type: ignore[attr-defined]
            assert set(sample.labels) - {"le"} == set(metric.labels), metric.name


def test_site_metrics(store: Store) -> None:
    status = samples(store, "tps_site_status")
    assert status == {
        (
            ("device", "rtr-1"),
            ("reason", "high_loss"),
            ("site", "tps-1"),
            ("status", "degraded"),
        ): 1,
        (("device", ""), ("reason", "blank_spot"), ("site", "tps-2"), ("status", "blank_spot")): 1,
        (("device", "rtr-2"), ("reason", "device_down"), ("site", "tps-3"), ("status", "down")): 1,
    }
    assert samples(store, "tps_site_up") == {
        (("site", "tps-1"),): 1,
        (("site", "tps-2"),): 0,
        (("site", "tps-3"),): 0,
    }
    info = samples(store, "tps_site_info")
    labels = dict(next(k for k in info if ("site", "tps-1") in k))
    assert labels["regency"] == "Kota Batam" and labels["village_code"] == "21.71.10.1004"
    assert labels["zone"] == "WIB" and labels["timezone"] == "Asia/Jakarta"
    assert (labels["latitude"], labels["longitude"]) == ("1.1", "104.0")
    assert samples(store, "tps_site_device_info") == {
        (("device", "rtr-1"), ("site", "tps-1")): 1,
        (("device", "rtr-2"), ("site", "tps-3")): 1,
    }
    sites = samples(store, "tps_sites")
    assert sites[(("status", "down"),)] == 1 and sites[(("status", "up"),)] == 0


def test_device_and_icmp_metrics(store: Store) -> None:
    info = samples(store, "tps_device_info")
    bts = dict(next(k for k in info if ("device", "bts-1") in k))
    # YAML single quotes keep both backslashes; escaping must carry them through intact.
    assert bts["name"] == 'BTS "Batu" \\\\ 1'
    assert bts["operator"] == "BAKTI" and bts["kind"] == "bts" and bts["parent"] == ""
    status = samples(store, "tps_device_status")
    assert status[(("device", "rtr-2"), ("reason", "resolve_error"), ("status", "down"))] == 1
    assert samples(store, "tps_device_consecutive_failures")[(("device", "rtr-2"),)] == 3
    rtt = samples(store, "tps_icmp_rtt_seconds")
    assert rtt[(("device", "rtr-1"), ("stat", "max"))] == pytest.approx(0.02)
    assert (("device", "rtr-2"), ("stat", "max")) not in rtt  # no reply, no RTT
    loss = samples(store, "tps_icmp_loss_ratio")
    assert loss[(("device", "rtr-1"),)] == pytest.approx(1 / 3)
    assert samples(store, "tps_icmp_echo_requests_total")[(("device", "rtr-1"),)] == 3
    assert samples(store, "tps_icmp_echo_replies_total")[(("device", "rtr-1"),)] == 2
    errors = samples(store, "tps_poll_errors_total")
    assert errors == {(("protocol", "icmp"), ("reason", "resolve_error")): 3}


def test_histogram_buckets_are_cumulative(store: Store) -> None:
    stats = RuntimeStats()
    for value in (0.0005, 0.3, 0.3, 100):
        stats.poll_duration["icmp"].observe(value)
    text = render(store, stats).decode()
    buckets = {
        s.labels["le"]: s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name == "tps_poll_duration_seconds_bucket" and s.labels["protocol"] == "icmp"
    }
    assert buckets["0.001"] == 1 and buckets["0.5"] == 3 and buckets["60.0"] == 3
    assert buckets["+Inf"] == 4
    assert math.isclose(stats.poll_duration["icmp"].sum, 100.6005)


def test_escape() -> None:
    assert escape('a"b\\c\nd') == 'a\\"b\\\\c\\nd'
    assert escape("Tanjung Pinang") == "Tanjung Pinang"


def test_names_checker_flags_unknown_metrics(tmp_path: Path) -> None:
    good = tmp_path / "good.yml"
    good.write_text(
        "expr: sum(tps_site_up) / count(tps_site_info)\n"
        "record: regency:tps_site_up:ratio\n"
        "expr2: histogram_quantile(0.9, tps_poll_duration_seconds_bucket)\n"
    )
    bad = tmp_path / "bad.json"
    bad.write_text('{"expr": "tps_site_online == 0"}')
    assert unknown_metrics([good, bad]) == {str(bad): {"tps_site_online"}}


def test_alerts_and_dashboards_use_only_catalogued_metrics() -> None:
    files = [
        p
        for d in ("alerts", "grafana")
        for p in (REPO / d).rglob("*")
        if p.suffix in (".yml", ".yaml", ".json")
    ]
    assert unknown_metrics(files) == {}


def test_devices_carry_the_place_of_the_sites_behind_them(store: Store) -> None:
    dependents = samples(store, "tps_device_dependent_sites")
    assert dependents == {
        (("device", "bts-1"),): 1,
        (("device", "rtr-1"),): 1,
        (("device", "rtr-2"),): 1,
    }
    info = {dict(k)["device"]: dict(k) for k in samples(store, "tps_device_info")}
    assert (info["bts-1"]["province"], info["bts-1"]["regency"]) == ("Kepulauan Riau", "Kota Batam")
    assert info["bts-1"]["timezone"] == "Asia/Jakarta"


def test_a_family_is_complete_past_a_step_of_absent_values(tmp_path: Path) -> None:
    # 12,000 devices; only the last 10 polled: the first steps of last_poll have no rows.
    from exporter.exposition import render as render_module  # noqa: PLC0415

    devices = "".join(f"  - {{id: d{i}, kind: router, address: 127.0.0.1}}\n" for i in range(12000))
    (tmp_path / "i.yaml").write_text("devices:\n" + devices)
    store = Store(load(None, [tmp_path])[1])
    for i in range(11990, 12000):
        store.record_ping(f"d{i}", ok())
    assert render_module._STEP < 12000
    polled = samples(store, "tps_device_last_poll_timestamp_seconds")
    assert {dict(k)["device"] for k in polled} == {f"d{i}" for i in range(11990, 12000)}
