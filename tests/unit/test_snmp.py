"""SNMP polling against a fake client serving the recordings: mapping, failures, state."""

from __future__ import annotations

import asyncio
import re

import pytest

from exporter.inventory.model import (
    Check,
    Device,
    DeviceKind,
    DeviceSnmp,
    IcmpSettings,
    Secret,
    SnmpAuth,
    SnmpSettings,
    SnmpVersion,
    StateSettings,
)
from exporter.inventory.profiles import load_profiles
from exporter.pollers.resolver import Resolver
from exporter.pollers.results import SnmpResult
from exporter.pollers.snmp import SnmpPoller, map_profile
from exporter.pollers.snmp_client import SnmpType, VarBind
from tests import snmp_expectations as ex
from tests.conftest import require
from tests.fakes import FakeSnmpClient, parse_snmprec

PROFILES = load_profiles([], []).profiles


def device(name: str, profiles: tuple[str, ...], wan: tuple[str, ...] = ()) -> Device:
    snmp = DeviceSnmp(auth=name, profiles=profiles, settings=SnmpSettings(), wan=wan)
    return Device(
        id=f"dev-{name}",
        kind=DeviceKind.ROUTER,
        operator="",
        address="127.0.0.1",
        checks=frozenset({Check.ICMP, Check.SNMP}),
        icmp=IcmpSettings(),
        state=StateSettings(),
        snmp=snmp,
    )


def poller(client: FakeSnmpClient, *names: str) -> SnmpPoller:
    auths = {n: SnmpAuth(n, SnmpVersion.V2C, community=Secret(n)) for n in names}
    return SnmpPoller(client, Resolver(60, 1), auths, PROFILES)


def reported(result: SnmpResult) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return ex.reported(result.samples)


@pytest.mark.parametrize("name", sorted(ex.PROFILES))
def test_values_equal_the_recording(name: str) -> None:
    require(ex.RECORDINGS.is_dir(), "needs ../shared/snmprec")
    rec = parse_snmprec((ex.RECORDINGS / f"{name}.snmprec").read_text())
    client = FakeSnmpClient(agents={name: rec})
    result = asyncio.run(poller(client, name).poll(device(name, ex.PROFILES[name])))
    assert result.answered and result.failure is None
    assert len(ex.expectations(name)) >= 2, "every recording has values this test checks"
    assert ex.mismatches(name, result.samples) == []


def test_every_recording_has_a_profile_set() -> None:
    require(ex.RECORDINGS.is_dir(), "needs ../shared/snmprec")
    assert set(ex.names()) == set(ex.PROFILES)


def test_info_labels_enums_and_wan_marking() -> None:
    rec = parse_snmprec((ex.RECORDINGS / "rutos.snmprec").read_text())
    client = FakeSnmpClient(agents={"rutos": rec})
    dev = device("rutos", ("system", "interfaces", "teltonika-rut9xx"), wan=("wwan*",))
    result = asyncio.run(poller(client, "rutos").poll(dev))
    info = [s for s in result.samples if s.metric == "tps_interface_info"]
    wan = [s for s in info if 'wan="true"' in s.labels]
    assert [re.search(r'name="([^"]*)"', s.labels)[1] for s in wan] == ["wwan0"]  # type: ignore[index]
    assert len(info) > 5 and all('wan="' in s.labels for s in info)
    index = re.search(r'interface="(\d+)"', wan[0].labels)[1]  # type: ignore[index]
    oper = rec[f"1.3.6.1.2.1.2.2.1.8.{index}"].value
    assert result.wan_up is (oper == 1)
    radio = next(s for s in result.samples if s.metric == "tps_radio_info")
    assert radio.labels == 'radio="1",technology="LTE",operator="F SFR",state="connected"'
    system = next(s for s in result.samples if s.metric == "tps_device_snmp_info")
    assert 'sys_descr="Linux Teltonika-RUT955.com 3.18.44' in system.labels


def test_enum_state_label_and_unknown_raw_values() -> None:
    agent = {
        "1.3.6.1.2.1.33.1.2.1.0": VarBind("1.3.6.1.2.1.33.1.2.1.0", SnmpType.INTEGER, 3),
        "1.3.6.1.2.1.33.1.4.1.0": VarBind("1.3.6.1.2.1.33.1.4.1.0", SnmpType.INTEGER, 5),
    }
    client = FakeSnmpClient(agents={"ups": agent})
    result = asyncio.run(poller(client, "ups").poll(device("ups", ("ups",))))
    got = reported(result)
    assert got[("tps_ups_battery_status", (("status", "low"),))] == 1
    assert got[("tps_ups_on_battery", ())] == 1  # upsOutputSource battery(5)
    agent["1.3.6.1.2.1.33.1.2.1.0"] = VarBind("1.3.6.1.2.1.33.1.2.1.0", SnmpType.INTEGER, 9)
    result = asyncio.run(poller(client, "ups").poll(device("ups", ("ups",))))
    assert ("tps_ups_battery_status", (("status", "9"),)) in reported(result)


def test_a_silent_agent_costs_one_request_and_says_timeout() -> None:
    client = FakeSnmpClient(timeouts={"dead"})
    result = asyncio.run(poller(client, "dead").poll(device("dead", ("system", "interfaces"))))
    assert not result.answered and result.failure == "timeout"
    assert result.errors == (("timeout", 1),)
    assert len(client.calls) == 1  # it stopped instead of waiting out every request


def test_refused_credentials_say_auth() -> None:
    client = FakeSnmpClient(refused={"wrong"})
    result = asyncio.run(poller(client, "wrong").poll(device("wrong", ("system",))))
    assert (result.answered, result.failure, result.errors) == (False, "auth", (("auth", 1),))


def test_a_partial_answer_keeps_what_arrived() -> None:
    rec = parse_snmprec((ex.RECORDINGS / "riello.snmprec").read_text())

    class Flaky(FakeSnmpClient):
        async def walk(self, target, oid):  # type: ignore[no-untyped-def]
            if oid.startswith("1.3.6.1.2.1.2.2.1.10"):
                from exporter.pollers.snmp_client import SnmpBadResponseError  # noqa: PLC0415

                raise SnmpBadResponseError("genErr at ifInOctets")
            return await super().walk(target, oid)

    client = Flaky(agents={"riello": rec})
    result = asyncio.run(
        poller(client, "riello").poll(device("riello", ("system", "ups", "interfaces")))
    )
    assert result.answered and result.failure is None
    assert result.errors == (("bad_response", 1),)
    got = reported(result)
    assert got[("tps_ups_battery_charge_ratio", ())] == 1.0
    assert ("tps_interface_transmitted_bytes_total", (("interface", "1"),)) in got
    assert ("tps_interface_received_bytes_total", (("interface", "1"),)) not in got


def test_resolve_failure_is_a_reason() -> None:
    async def lookup(host: str, family: int) -> list[str]:
        raise OSError(-2, "Name or service not known")

    client = FakeSnmpClient()
    snmp_poller = SnmpPoller(
        client,
        Resolver(60, 1, lookup=lookup),
        {"a": SnmpAuth("a", SnmpVersion.V2C, Secret("a"))},
        PROFILES,
    )
    dev = device("a", ("system",))
    dev = Device(**{**{f: getattr(dev, f) for f in Device.__slots__}, "address": "ups.invalid"})
    result = asyncio.run(snmp_poller.poll(dev))
    assert result.failure == "resolve_error" and client.calls == []


def test_scalars_the_agent_lacks_are_counted_as_no_such_object() -> None:
    agent = {"1.3.6.1.2.1.1.3.0": VarBind("1.3.6.1.2.1.1.3.0", SnmpType.TIMETICKS, 12345)}
    client = FakeSnmpClient(agents={"bare": agent})
    result = asyncio.run(poller(client, "bare").poll(device("bare", ("system", "ups"))))
    assert result.answered
    # The ups profile has 7 scalars, none of which this agent has; uptime is there.
    assert result.errors == (("no_such_object", 7),)
    assert ex.reported(result.samples)[("tps_device_uptime_seconds", ())] == 123.45


@pytest.mark.parametrize(("ticks", "seconds"), [(70, 0.7), (123456, 1234.56), (29, 0.29)])
def test_timeticks_become_the_seconds_they_are_without_float_noise(
    ticks: int, seconds: float
) -> None:
    oid = "1.3.6.1.2.1.1.3.0"
    samples = map_profile(PROFILES["system"], {oid: VarBind(oid, SnmpType.TIMETICKS, ticks)}, {})
    [uptime] = [s for s in samples if s.metric == "tps_device_uptime_seconds"]
    assert repr(uptime.value) == repr(seconds)
