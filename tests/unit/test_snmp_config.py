"""The snmp: section, device snmp: blocks, operators' profiles, and secrets kept secret."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from exporter.exposition.render import render
from exporter.inventory.load import load
from exporter.inventory.model import AuthProtocol, PrivProtocol, SecurityLevel, SnmpVersion
from exporter.inventory.nodes import ConfigLoadError
from exporter.pollers.resolver import Resolver
from exporter.pollers.snmp import SnmpPoller
from exporter.pollers.snmp_client import SnmpType, VarBind
from exporter.state.stats import RuntimeStats
from exporter.state.store import Store
from tests.fakes import FakeSnmpClient

# The messages are checked in English (the catalogue's keys); test_config_messages.py reads
# them in Bahasa Indonesia, as they are shown by default.
pytestmark = pytest.mark.usefixtures("english")

COMMUNITY = "c0mmunity-never-shown"
AUTH_PASS = "auth-pass-never-shown"
PRIV_PASS = "priv-pass-never-shown"

CONFIG = """\
targets: [targets]
snmp:
  defaults: {interval: 2m, timeout: 5s, retries: 2}
  max_concurrent: 32
  profiles: [profiles]
  auths:
    v2: {version: 2c, community: {env: TPS_TEST_COMMUNITY}}
    v3:
      version: "3"
      username: noc
      security_level: authPriv
      auth_protocol: SHA256
      auth_password: {file: secrets/auth}
      priv_protocol: AES256
      priv_password: {env: TPS_TEST_PRIV}
"""
PROFILE = """\
metrics:
  - name: tps_solar_panel_voltage_volts
    type: gauge
    help: "Solar panel voltage."
    labels: [panel]
profiles:
  solar-controller:
    tables:
      - index_label: panel
        columns:
          - {metric: tps_solar_panel_voltage_volts, oid: 1.3.6.1.4.1.99999.1.2, scale: 0.01}
"""


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TPS_TEST_COMMUNITY", COMMUNITY)
    monkeypatch.setenv("TPS_TEST_PRIV", PRIV_PASS)
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "auth").write_text(AUTH_PASS + "\n")
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "solar.yaml").write_text(PROFILE)
    (tmp_path / "c.yml").write_text(CONFIG)
    (tmp_path / "targets").mkdir()
    return tmp_path


def write_devices(site: Path, text: str) -> None:
    (site / "targets" / "d.yaml").write_text("devices:\n" + text)


def test_auths_profiles_and_device_blocks(site: Path) -> None:
    write_devices(
        site,
        "  - {id: sol, kind: other, address: 127.0.0.1, "
        "snmp: {auth: v3, profiles: [system, solar-controller], interval: 5m}}\n",
    )
    config, inventory = load(site / "c.yml")
    v2, v3 = config.snmp_auths["v2"], config.snmp_auths["v3"]
    assert v2.version is SnmpVersion.V2C and v2.community is not None
    assert v2.community.reveal() == COMMUNITY
    assert (v3.username, v3.security_level) == ("noc", SecurityLevel.AUTH_PRIV)
    assert (v3.auth_protocol, v3.priv_protocol) == (AuthProtocol.SHA256, PrivProtocol.AES256)
    assert v3.auth_password is not None and v3.auth_password.reveal() == AUTH_PASS
    assert config.snmp_max_concurrent == 32
    snmp = inventory.devices["sol"].snmp
    assert snmp is not None and snmp.profiles == ("system", "solar-controller")
    assert (snmp.settings.interval, snmp.settings.timeout, snmp.settings.retries) == (300, 5, 2)
    assert [m.name for m in config.profile_metrics] == ["tps_solar_panel_voltage_volts"]


def test_secrets_never_show(site: Path, caplog: pytest.LogCaptureFixture) -> None:
    write_devices(
        site,
        "  - {id: r, kind: router, address: 127.0.0.1, snmp: {auth: v3, profiles: [system]}}\n",
    )
    config, inventory = load(site / "c.yml")
    texts = [repr(config), str(config), repr(inventory.devices), repr(config.snmp_auths["v3"])]
    assert "<secret>" in texts[-1]
    client = FakeSnmpClient(refused={"noc"})
    poller = SnmpPoller(client, Resolver(60, 1), config.snmp_auths, config.profiles)
    with caplog.at_level(logging.DEBUG):
        result = asyncio.run(poller.poll(inventory.devices["r"]))
        logging.getLogger("test").debug("result %r", result)
    store = Store(inventory)
    store.record_snmp("r", result)
    texts += [caplog.text, repr(result), render(store, RuntimeStats()).decode()]
    # A config error about a secret names the key, never the value.
    (site / "secrets" / "auth").write_text("short\n")
    with pytest.raises(ConfigLoadError) as caught:
        load(site / "c.yml")
    texts.append(str(caught.value))
    assert "auth_password: SNMPv3 passwords must be at least 8 characters" in texts[-1]
    for text in texts:
        for secret in (COMMUNITY, AUTH_PASS, PRIV_PASS, "short"):
            assert secret not in text


def test_operator_profile_metric_is_rendered(site: Path) -> None:
    write_devices(
        site,
        "  - {id: sol, kind: other, address: 127.0.0.1, checks: [snmp], "
        "snmp: {auth: v2, profiles: [solar-controller]}}\n",
    )
    config, inventory = load(site / "c.yml")
    oid = "1.3.6.1.4.1.99999.1.2.3"
    client = FakeSnmpClient(agents={COMMUNITY: {oid: VarBind(oid, SnmpType.INTEGER, 1375)}})
    poller = SnmpPoller(client, Resolver(60, 1), config.snmp_auths, config.profiles)
    store = Store(inventory)
    store.record_snmp("sol", asyncio.run(poller.poll(inventory.devices["sol"])))
    text = render(store, RuntimeStats(), config.profile_metrics).decode()
    assert "# TYPE tps_solar_panel_voltage_volts gauge" in text
    assert 'tps_solar_panel_voltage_volts{device="sol",panel="3"} 13.75' in text


@pytest.mark.parametrize(
    ("devices", "at", "expected"),
    [
        (
            "snmp: {auth: nope, profiles: [system]}",
            "nope",
            "devices[0].snmp.auth: unknown auth 'nope'; known: v2, v3",
        ),
        (
            "snmp: {auth: v2, profiles: [sytem]}",
            "sytem",
            "devices[0].snmp.profiles[0]: unknown profile 'sytem'; known: airos, cambium-pmp",
        ),
        (
            "checks: [icmp, snmp]",
            "[icmp, snmp]",
            "devices[0].checks: the snmp check needs an snmp: block",
        ),
        (
            "checks: [icmp], snmp: {auth: v2, profiles: [system]}",
            "{auth",
            "devices[0].snmp: set, but checks does not include snmp",
        ),
        (
            "snmp: {auth: v2, profiles: [system], timeout: 40s, retries: 2}",
            "{auth",
            "devices[0].snmp: timeout x (retries + 1) = 120s must be shorter than interval (120s)",
        ),
    ],
)
def test_device_block_errors(site: Path, devices: str, at: str, expected: str) -> None:
    line = f"  - {{id: r, kind: router, address: 127.0.0.1, {devices}}}"
    write_devices(site, line + "\n")
    with pytest.raises(ConfigLoadError) as caught:
        load(site / "c.yml")
    where = f"{site / 'targets' / 'd.yaml'}:2:{line.index(at) + 1}: "
    assert any(str(e).startswith(where + expected) for e in caught.value.errors), caught.value


@pytest.mark.parametrize(
    ("auths", "expected"),
    [
        (
            "x: {version: 2c, community: {env: TPS_TEST_UNSET}}",
            "snmp.auths.x.community.env: environment variable TPS_TEST_UNSET is not set",
        ),
        (
            "x: {version: 2c, community: {file: nowhere}}",
            "snmp.auths.x.community.file: cannot read nowhere: No such file or directory",
        ),
        (
            "x: {version: 2c, community: public}",
            "snmp.auths.x.community: must be {env: NAME} or {file: PATH}; a secret written in "
            "the configuration itself is refused",
        ),
        (
            "x: {version: 2c, community: {env: A, file: b}}",
            "snmp.auths.x.community: give exactly one of env: or file:",
        ),
        (
            "x: {version: 2c, username: u, community: {env: TPS_TEST_COMMUNITY}}",
            "snmp.auths.x.username: only for version 3, not 2c",
        ),
        (
            "x: {version: '3', username: u, auth_protocol: SHA, "
            "auth_password: {env: TPS_TEST_PRIV}}",
            "snmp.auths.x.priv_protocol: required for security_level authPriv",
        ),
        (
            "x: {version: '3', username: u, security_level: noAuthNoPriv, auth_protocol: SHA}",
            "snmp.auths.x.auth_protocol: not used with security_level noAuthNoPriv",
        ),
        (
            "x: {version: 4, community: {env: TPS_TEST_COMMUNITY}}",
            "snmp.auths.x.version: unknown value '4'; expected one of: 1, 2c, 3",
        ),
    ],
)
def test_auth_errors(site: Path, auths: str, expected: str) -> None:
    (site / "c.yml").write_text(f"targets: [targets]\nsnmp:\n  auths:\n    {auths}\n")
    with pytest.raises(ConfigLoadError) as caught:
        load(site / "c.yml")
    assert any(expected in str(e) for e in caught.value.errors), caught.value


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        (
            "system: {scalars: [{metric: tps_device_uptime_seconds, oid: 1.3.6.1.2.1.1.3.0}]}",
            "profiles.system: profile 'system' is already defined",
        ),
        (
            "p: {scalars: [{metric: tps_nope, oid: 1.3.6.1.2.1.1.3.0}]}",
            "profiles.p.scalars[0].metric: unknown metric tps_nope: "
            "declare it under metrics: first",
        ),
        (
            "p: {scalars: [{metric: tps_radio_rssi_dbm, oid: 1.3.6.1.4.1.1.0}]}",
            "tps_radio_rssi_dbm has labels ['device', 'radio'], but this mapping gives ['device']",
        ),
        (
            "p: {scalars: [{metric: tps_device_uptime_seconds, oid: .1.3.6}]}",
            "profiles.p.scalars[0].oid: '.1.3.6' does not match",
        ),
        (
            "p: {scalars: [{metric: tps_ups_on_battery, oid: 1.3.6.1.0, map: {on: 1}}]}",
            "profiles.p.scalars[0].map.on: keys must be integers, not 'on'",
        ),
        (
            "p: {scalars: [{metric: tps_device_uptime_seconds, "
            "sources: [{oid: 1.3.6.1.2.1.1.3.0, scale: ten}]}]}",
            "profiles.p.scalars[0].sources[0].scale: must be a number, not 'ten'",
        ),
    ],
)
def test_profile_errors(site: Path, profile: str, expected: str) -> None:
    (site / "profiles" / "solar.yaml").write_text(f"profiles:\n  {profile}\n")
    with pytest.raises(ConfigLoadError) as caught:
        load(site / "c.yml")
    assert any(expected in str(e) for e in caught.value.errors), caught.value
