"""How SNMP results change device and site states, as LibreNMS users expect."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.exposition.render import render
from exporter.inventory.load import load
from exporter.inventory.model import Inventory
from exporter.pollers.results import Sample, SnmpResult
from exporter.state.stats import RuntimeStats
from exporter.state.store import DeviceStatus, SiteStatus, Store
from tests.conftest import site_yaml
from tests.fakes import lost, ok

CONFIG = """\
targets: [targets]
snmp:
  auths:
    lab: {version: 2c, community: {env: TPS_TEST_COMMUNITY}}
"""


@pytest.fixture
def inventory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Inventory:
    monkeypatch.setenv("TPS_TEST_COMMUNITY", "s3cret-community")
    (tmp_path / "c.yml").write_text(CONFIG)
    (tmp_path / "targets").mkdir()
    (tmp_path / "targets" / "i.yaml").write_text(
        "devices:\n"
        "  - {id: rtr, kind: router, address: 127.0.0.1,"
        " snmp: {auth: lab, profiles: [system, interfaces], wan: [wwan0]}}\n"
        "  - {id: ups, kind: ups, address: 127.0.0.2, checks: [snmp],"
        " snmp: {auth: lab, profiles: [ups]}}\n"
        "sites:\n" + site_yaml("tps-1", ["rtr"], "power: [ups]")
    )
    return load(tmp_path / "c.yml")[1]


def answer(uptime: float = 100.0, wan_up: bool | None = True) -> SnmpResult:
    sample = Sample("tps_device_uptime_seconds", "", uptime)
    return SnmpResult((sample,), True, uptime=uptime, wan_up=wan_up)


def silence(reason: str = "timeout") -> SnmpResult:
    return SnmpResult((), False, ((reason, 1),), reason)


def test_checks_default_to_icmp_and_snmp_when_an_snmp_block_is_given(inventory: Inventory) -> None:
    assert {c.value for c in inventory.devices["rtr"].checks} == {"icmp", "snmp"}
    assert {c.value for c in inventory.devices["ups"].checks} == {"snmp"}
    assert inventory.sites["tps-1"].power == ("ups",)


def test_snmp_failing_while_ping_answers_is_down_with_an_snmp_reason(inventory: Inventory) -> None:
    store = Store(inventory)
    store.record_ping("rtr", ok())
    store.record_snmp("rtr", answer())
    assert store.devices["rtr"].status is DeviceStatus.UP
    for _ in range(3):
        store.record_ping("rtr", ok())
        store.record_snmp("rtr", silence())
    assert (store.devices["rtr"].status, store.devices["rtr"].reason) == (
        DeviceStatus.DOWN,
        "snmp_timeout",
    )
    # The TPS can most likely still send; it is degraded (the NOC is blind), not down.
    assert (store.sites["tps-1"].status, store.sites["tps-1"].reason) == (
        SiteStatus.DEGRADED,
        "snmp_timeout",
    )
    assert store.poll_errors[("snmp", "timeout")] == 3
    # ICMP failing too: the reason names ICMP, which failed first in the chain.
    for _ in range(3):
        store.record_ping("rtr", lost())
    assert store.devices["rtr"].reason == "timeout"
    assert store.sites["tps-1"].status is SiteStatus.DOWN


def test_auth_failure_reason(inventory: Inventory) -> None:
    store = Store(inventory)
    for _ in range(3):
        store.record_snmp("ups", silence("auth"))
    assert (store.devices["ups"].status, store.devices["ups"].reason) == (
        DeviceStatus.DOWN,
        "snmp_auth",
    )


def test_snmp_only_device_is_unknown_until_it_answers(inventory: Inventory) -> None:
    store = Store(inventory)
    assert store.devices["ups"].status is DeviceStatus.UNKNOWN
    store.record_snmp("ups", answer(wan_up=None))
    # mypy keeps the first assert's narrowing across the store's change: hence the ignore.
    assert store.devices["ups"].status is DeviceStatus.UP  # type: ignore[comparison-overlap]


def test_reboots_are_counted_when_uptime_goes_backwards(inventory: Inventory) -> None:
    store = Store(inventory)
    for uptime in (100.0, 400.0, 30.0, 330.0, 5.0):
        store.record_snmp("rtr", answer(uptime))
    assert store.devices["rtr"].reboots == 2
    store.record_snmp("rtr", silence())  # a failed poll neither counts nor forgets
    store.record_snmp("rtr", answer(50.0))
    assert store.devices["rtr"].reboots == 2


def test_wan_interface_down_degrades_a_router_that_answers_ping(inventory: Inventory) -> None:
    store = Store(inventory)
    store.record_ping("rtr", ok())
    store.record_snmp("rtr", answer(wan_up=False))
    assert (store.devices["rtr"].status, store.devices["rtr"].reason) == (
        DeviceStatus.DEGRADED,
        "wan_down",
    )
    assert (store.sites["tps-1"].status, store.sites["tps-1"].reason) == (
        SiteStatus.DEGRADED,
        "wan_down",
    )
    store.record_snmp("rtr", answer(wan_up=True))
    assert store.sites["tps-1"].status is SiteStatus.UP


def test_a_sites_power_devices_are_exposed_for_joins(inventory: Inventory) -> None:
    store = Store(inventory)
    store.record_snmp("ups", SnmpResult((Sample("tps_ups_on_battery", "", 1.0),), True))
    text = render(store, RuntimeStats()).decode()
    # "Which TPS run on battery now": tps_site_power_device_info * on (device) tps_ups_on_battery
    assert 'tps_site_power_device_info{site="tps-1",device="ups"} 1\n' in text
    assert 'tps_ups_on_battery{device="ups"} 1.0\n' in text
