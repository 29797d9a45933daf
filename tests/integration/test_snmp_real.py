"""SNMP against real agents: snmpsim serving every recording, net-snmp's snmpd for v2c and v3."""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from exporter.inventory.model import (
    AuthProtocol,
    Check,
    Device,
    DeviceKind,
    DeviceSnmp,
    IcmpSettings,
    PrivProtocol,
    Secret,
    SecurityLevel,
    SnmpAuth,
    SnmpSettings,
    SnmpVersion,
    StateSettings,
)
from exporter.inventory.profiles import load_profiles
from exporter.pollers.resolver import Resolver
from exporter.pollers.results import SnmpResult
from exporter.pollers.snmp import SnmpPoller
from exporter.pollers.snmp_ber import peek_request_id
from exporter.pollers.snmp_client import MISSING, SnmpTarget, SnmpType, VarBind
from exporter.pollers.snmp_pysnmp import PysnmpClient
from exporter.pollers.snmp_udp import EngineClient
from exporter.pollers.sockets import BUFFER_BYTES
from lab.local import free_port
from tests import snmp_expectations as ex
from tests.agents import SNMPD_COMMUNITY, SNMPD_USERS, Agent, snmpd, snmpsim
from tests.conftest import require, require_binary
from tests.fakes import parse_snmprec, pysnmp_response
from tests.stack import exporter_process, get

PROFILES = load_profiles([], []).profiles


@pytest.fixture(scope="module")
def sim() -> Iterator[Agent]:
    require(ex.RECORDINGS.is_dir(), "needs ../shared/snmprec")
    responder = Path(sys.executable).parent / "snmpsim-command-responder"
    require(responder.exists(), "needs snmpsim (pip install -e '.[dev]')")
    with snmpsim(ex.RECORDINGS) as agent:
        yield agent


@pytest.fixture(scope="module")
def agent() -> Iterator[Agent]:
    require_binary("snmpd")
    require_binary("snmpget")
    with snmpd() as running:
        yield running


def device(name: str, port: int, auth: str, profiles: tuple[str, ...]) -> Device:
    settings = SnmpSettings(timeout=1.0, retries=0, port=port)
    return Device(
        id=name,
        kind=DeviceKind.ROUTER,
        operator="",
        address="127.0.0.1",
        checks=frozenset({Check.SNMP}),
        icmp=IcmpSettings(),
        state=StateSettings(),
        snmp=DeviceSnmp(auth, profiles, settings),
    )


def v3(user: str, auth_password: str | None = None) -> SnmpAuth:
    auth, auth_pass, priv, priv_pass = SNMPD_USERS[user]
    return SnmpAuth(
        f"{user}-{auth_password}",
        SnmpVersion.V3,
        username=user,
        security_level=SecurityLevel.AUTH_PRIV,
        auth_protocol=AuthProtocol(auth.replace("-", "")),
        auth_password=Secret(auth_password or auth_pass),
        priv_protocol=PrivProtocol(priv.replace("-", "")),
        priv_password=Secret(priv_pass),
    )


def poll(auths: dict[str, SnmpAuth], *devices: Device) -> list[SnmpResult]:
    async def scenario() -> list[SnmpResult]:
        client = EngineClient()
        try:
            poller = SnmpPoller(client, Resolver(60, 1), auths, PROFILES)
            return list(await asyncio.gather(*(poller.poll(d) for d in devices)))
        finally:
            client.close()

    return asyncio.run(scenario())


def communities(*names: str) -> dict[str, SnmpAuth]:
    return {n: SnmpAuth(n, SnmpVersion.V2C, community=Secret(n)) for n in names}


@pytest.mark.parametrize("name", sorted(ex.PROFILES))
def test_values_served_by_snmpsim_equal_the_recording(sim: Agent, name: str) -> None:
    [result] = poll(communities(name), device(name, sim.port, name, ex.PROFILES[name]))
    assert result.answered and result.failure is None, result.detail
    assert ex.mismatches(name, result.samples) == []


def test_all_recordings_polled_at_once(sim: Agent) -> None:
    names = sorted(ex.PROFILES)
    devices = [device(n, sim.port, n, ex.PROFILES[n]) for n in names]
    results = poll(communities(*names), *devices)
    assert [r.answered for r in results] == [True] * len(names)
    assert all(ex.mismatches(n, r.samples) == [] for n, r in zip(names, results, strict=True))


def snmpget(port: int, oid: str, *flags: str) -> str:
    """Ask net-snmp's own client, the reference implementation, for one value."""
    out = subprocess.run(
        ["snmpget", "-v2c", "-c", SNMPD_COMMUNITY, "-Oqv", "-On", *flags, f"127.0.0.1:{port}", oid],
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
        env={"MIBS": ""},
    )
    return out.stdout.strip().strip('"')


def test_snmpd_v2c_values_equal_what_net_snmp_reads(agent: Agent) -> None:
    before = int(snmpget(agent.port, "1.3.6.1.2.1.1.3.0", "-Ot"))
    auths = {"lab": SnmpAuth("lab", SnmpVersion.V2C, community=Secret(SNMPD_COMMUNITY))}
    [result] = poll(auths, device("snmpd", agent.port, "lab", ("system", "interfaces")))
    after = int(snmpget(agent.port, "1.3.6.1.2.1.1.3.0", "-Ot"))
    assert result.answered, result.detail
    got = ex.reported(result.samples)
    assert before / 100 <= got[("tps_device_uptime_seconds", ())] <= after / 100
    info = next(k for k in got if k[0] == "tps_device_snmp_info")
    assert dict(info[1])["sys_name"] == snmpget(agent.port, "1.3.6.1.2.1.1.5.0")
    names = {
        dict(k[1])["name"]: dict(k[1])["interface"] for k in got if k[0] == "tps_interface_info"
    }
    assert "lo" in names
    lo = names["lo"]
    assert got[("tps_interface_up", (("interface", lo),))] == 1
    assert snmpget(agent.port, f"1.3.6.1.2.1.2.2.1.8.{lo}") == "1"
    # Counters keep moving; ours must lie between two readings around it... and be 64-bit.
    rx = got[("tps_interface_received_bytes_total", (("interface", lo),))]
    assert rx <= int(snmpget(agent.port, f"1.3.6.1.2.1.31.1.1.1.6.{lo}"))


@pytest.mark.parametrize("user", sorted(SNMPD_USERS))
def test_snmpd_v3_auth_priv(agent: Agent, user: str) -> None:
    auth = v3(user)
    [result] = poll({auth.name: auth}, device("snmpd", agent.port, auth.name, ("system",)))
    assert result.answered and result.failure is None, result.detail
    info = next(k for k in ex.reported(result.samples) if k[0] == "tps_device_snmp_info")
    assert dict(info[1])["sys_name"] == snmpget(agent.port, "1.3.6.1.2.1.1.5.0")


def test_wrong_credentials_give_a_reason_and_others_keep_polling(agent: Agent) -> None:
    wrong_password = v3("tpssha", auth_password="not-the-password")
    auths = {
        "good": SnmpAuth("good", SnmpVersion.V2C, community=Secret(SNMPD_COMMUNITY)),
        "wrong-community": SnmpAuth("wrong-community", SnmpVersion.V2C, community=Secret("nope")),
        wrong_password.name: wrong_password,
    }
    devices = [
        device("good", agent.port, "good", ("system", "interfaces")),
        device("bad-v2c", agent.port, "wrong-community", ("system", "interfaces")),
        device("bad-v3", agent.port, wrong_password.name, ("system", "interfaces")),
    ]
    good, bad_v2c, bad_v3 = poll(auths, *devices)
    assert good.answered and good.samples
    # snmpd drops a wrong community without a word, so that is a timeout; v3 says why.
    assert (bad_v2c.answered, bad_v2c.failure) == (False, "timeout")
    assert (bad_v3.answered, bad_v3.failure) == (False, "auth")
    assert bad_v2c.errors == (("timeout", 1),) and bad_v3.errors == (("auth", 1),)
    # The good device did not wait for the silent one's 1 s timeout on top of its own poll:
    # measured against the silent one's poll, which a loaded machine delays alike.
    assert good.duration < bad_v2c.duration + 1.0


def test_exporter_process_with_snmp_passes_promtool_and_probe_hides_secrets(
    sim: Agent, agent: Agent, tmp_path: Path
) -> None:
    require_binary("promtool")
    auths = "".join(
        f"    {name}: {{version: 2c, community: {{env: TPS_COMMUNITY_{i}}}}}\n"
        for i, name in enumerate(sorted(ex.PROFILES))
    )
    user, (a, ap, p, pp) = "tpssha256", SNMPD_USERS["tpssha256"]
    (tmp_path / "auth-pass").write_text(ap + "\n")
    (tmp_path / "tps-exporter.yml").write_text(
        "targets: [targets]\n"
        "snmp:\n  defaults: {interval: 2s, timeout: 500ms, retries: 0}\n  auths:\n"
        + auths
        + f"    v3: {{version: '3', username: {user}, auth_protocol: {a.replace('-', '')}, "
        f"auth_password: {{file: auth-pass}}, priv_protocol: {p.replace('-', '')}, "
        f"priv_password: {{env: TPS_PRIV}}}}\n"
    )
    devices = "".join(
        f"  - {{id: {name}, kind: router, address: 127.0.0.1, checks: [snmp], snmp: {{auth: {name},"
        f" port: {sim.port}, profiles: [{', '.join(ex.PROFILES[name])}]}}}}\n"
        for name in sorted(ex.PROFILES)
    ) + (
        f"  - {{id: net-snmp, kind: router, address: 127.0.0.1, snmp: {{auth: v3, port: "
        f"{agent.port}, profiles: [system, interfaces], wan: [lo]}}}}\n"
    )
    (tmp_path / "targets").mkdir()
    (tmp_path / "targets" / "lab.yaml").write_text("devices:\n" + devices)
    env = {f"TPS_COMMUNITY_{i}": name for i, name in enumerate(sorted(ex.PROFILES))}
    env["TPS_PRIV"] = pp
    port = free_port()
    wanted = [f'tps_snmp_up{{device="{name}"}} 1' for name in (*sorted(ex.PROFILES), "net-snmp")]
    with exporter_process(tmp_path / "tps-exporter.yml", port, tmp_path / "log", env=env):
        # Polls every 2 s with a 500 ms timeout: on a loaded machine snmpsim may miss one, so
        # wait until each device has answered (not a fixed 3 s).
        deadline = time.monotonic() + 60
        while True:
            status, text = get(f"http://127.0.0.1:{port}/metrics")
            if all(w in text for w in wanted) or time.monotonic() > deadline:
                break
            time.sleep(1)
    assert status == 200
    for name in sorted(ex.PROFILES):
        assert f'tps_snmp_up{{device="{name}"}} 1' in text, name
    assert 'tps_snmp_up{device="net-snmp"} 1' in text
    assert 'tps_device_wan_up{device="net-snmp"} 1' in text
    assert 'tps_ups_battery_runtime_seconds{device="riello"} 8100.0' in text
    check = subprocess.run(
        ["promtool", "check", "metrics"],
        input=text,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    probe = subprocess.run(
        [
            sys.executable,
            "-m",
            "exporter",
            "probe",
            "net-snmp",
            "--config.file",
            str(tmp_path / "tps-exporter.yml"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **env},
    )
    assert probe.returncode == 0, probe.stderr
    assert "snmp     auth v3, profiles system, interfaces: answered" in probe.stdout
    assert "tps_device_uptime_seconds{} " in probe.stdout
    # The v3 passwords of the probed device appear nowhere; the auth is named, not shown.
    for secret in (ap, pp):
        assert secret not in probe.stdout + probe.stderr


def test_snmpv1_walks_with_getnext(agent: Agent) -> None:
    auths = {"v1": SnmpAuth("v1", SnmpVersion.V1, community=Secret(SNMPD_COMMUNITY))}
    [result] = poll(auths, device("snmpd-v1", agent.port, "v1", ("system", "interfaces")))
    assert result.answered and result.failure is None, result.detail
    got = ex.reported(result.samples)
    names = {dict(k[1])["name"] for k in got if k[0] == "tps_interface_info"}
    assert "lo" in names
    # SNMPv1 has no Counter64: the 32-bit ifInOctets column is the fallback.
    assert any(k[0] == "tps_interface_received_bytes_total" for k in got)


@pytest.mark.parametrize("engine", [EngineClient, PysnmpClient])
def test_the_snmp_socket_gets_a_large_receive_buffer(agent: Agent, engine: type) -> None:
    async def scenario() -> int | None:
        client = engine()
        try:
            auth = SnmpAuth("lab", SnmpVersion.V2C, community=Secret(SNMPD_COMMUNITY))
            poller = SnmpPoller(client, Resolver(60, 1), {"lab": auth}, PROFILES)
            await poller.poll(device("snmpd", agent.port, "lab", ("system",)))
            size: int | None = client.receive_buffer_bytes()
            return size
        finally:
            client.close()

    size = asyncio.run(scenario())
    # Linux reports twice what was set; as root SO_RCVBUFFORCE passes the rmem_max cap.
    assert size is not None and size >= BUFFER_BYTES


def v2c_target(port: int, community: str, version: SnmpVersion = SnmpVersion.V2C) -> SnmpTarget:
    auth = SnmpAuth(community, version, community=Secret(community))
    return SnmpTarget("127.0.0.1", port, auth, timeout=2.0, retries=1, max_repetitions=25)


def walk_both(target: SnmpTarget, oids: list[str]) -> tuple[list[VarBind], list[VarBind]]:
    """Walk the same subtrees with the project's codec and with pysnmp, one after the other."""

    async def scenario() -> tuple[list[VarBind], list[VarBind]]:
        ours, theirs = EngineClient(), PysnmpClient()
        try:
            mine = [vb for oid in oids for vb in await ours.walk(target, oid)]
            reference = [vb for oid in oids for vb in await theirs.walk(target, oid)]
            return mine, reference
        finally:
            ours.close()
            theirs.close()

    return asyncio.run(scenario())


def test_own_codec_walks_every_recording_exactly_as_recorded_and_as_pysnmp(sim: Agent) -> None:
    for name in sorted(ex.PROFILES):
        recording = parse_snmprec((ex.RECORDINGS / f"{name}.snmprec").read_text()).values()
        recorded = [vb for vb in recording if vb.oid.startswith("1.3.6.")]
        recorded.sort(key=lambda vb: tuple(int(p) for p in vb.oid.split(".")))
        ours, theirs = walk_both(v2c_target(sim.port, name), ["1.3.6"])
        assert ours == theirs, name
        # snmpsim serves text values without the trailing blanks some recordings have.
        assert [unpadded(vb) for vb in ours] == [unpadded(vb) for vb in recorded], name


def unpadded(vb: VarBind) -> VarBind:
    return VarBind(vb.oid, vb.type, vb.value.rstrip() if isinstance(vb.value, bytes) else vb.value)


def test_own_codec_gets_as_pysnmp_does_with_missing_oids(sim: Agent) -> None:
    oids = ["1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.1.3.0", "1.3.6.1.2.1.33.1.2.3.0",
            "1.3.6.1.2.1.1.99.0", "1.3.6.1.4.1.99999.1"]  # fmt: skip
    target = v2c_target(sim.port, "riello")

    async def scenario() -> tuple[list[VarBind], list[VarBind]]:
        ours, theirs = EngineClient(), PysnmpClient()
        try:
            return await ours.get(target, oids), await theirs.get(target, oids)
        finally:
            ours.close()
            theirs.close()

    mine, reference = asyncio.run(scenario())
    assert mine == reference
    assert [vb.type in MISSING for vb in mine] == [False, False, False, True, True]


@pytest.mark.parametrize("version", [SnmpVersion.V2C, SnmpVersion.V1])
def test_own_codec_equals_pysnmp_on_snmpd(agent: Agent, version: SnmpVersion) -> None:
    # Columns that do not move between two walks (counters and uptime do).
    stable = ["1.3.6.1.2.1.1.1", "1.3.6.1.2.1.1.5"]
    stable += [f"1.3.6.1.2.1.2.2.1.{c}" for c in (1, 2, 3, 4, 6, 7)] + ["1.3.6.1.2.1.31.1.1.1.1"]
    ours, theirs = walk_both(v2c_target(agent.port, SNMPD_COMMUNITY, version), stable)
    assert ours == theirs
    assert any(vb.value == b"lo" for vb in ours)


def test_snmpv1_get_of_a_missing_oid_keeps_the_others(agent: Agent) -> None:
    target = v2c_target(agent.port, SNMPD_COMMUNITY, SnmpVersion.V1)
    oids = ["1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.1.99.0", "1.3.6.1.2.1.2.1.0"]

    async def scenario() -> list[VarBind]:
        client = EngineClient()
        try:
            return await client.get(target, oids)
        finally:
            client.close()

    name, missing, count = asyncio.run(scenario())
    assert name.value == snmpget(agent.port, oids[0]).encode()
    assert missing.type is SnmpType.NO_SUCH_OBJECT
    assert count.value == int(snmpget(agent.port, oids[2]))


class HostileAgent(asyncio.DatagramProtocol):
    """Answers each request as its community says: garbage, cut short, wrong id, error."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        assert self.transport is not None
        request_id = peek_request_id(data) or 0
        kind = next(k for k in (b"garbage", b"truncated", b"wrong-id", b"gen-err") if k in data)
        value = [VarBind("1.3.6.1.2.1.1.5.0", SnmpType.OCTETS, b"x" * 200)]
        if kind == b"garbage":
            reply = b"\x30\x05\x02\x01\x01\x04\x00"
        elif kind == b"truncated":
            reply = pysnmp_response(value, request_id)[:-60]
        elif kind == b"wrong-id":
            reply = pysnmp_response(value, request_id + 1, community=kind)
        else:
            reply = pysnmp_response(value, request_id, status=5, community=kind)
        self.transport.sendto(reply, addr)


def test_malformed_replies_are_errors_and_do_not_hold_up_a_good_device(agent: Agent) -> None:
    async def scenario() -> tuple[list[SnmpResult], EngineClient]:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            HostileAgent, local_addr=("127.0.0.1", 0)
        )
        port = transport.get_extra_info("sockname")[1]
        client = EngineClient()
        try:
            names = ["garbage", "truncated", "wrong-id", "gen-err"]
            auths = communities(*names)
            auths["good"] = SnmpAuth("good", SnmpVersion.V2C, community=Secret(SNMPD_COMMUNITY))
            devices = [device(n, port, n, ("system",)) for n in names]
            devices.append(device("good", agent.port, "good", ("system", "interfaces")))
            poller = SnmpPoller(client, Resolver(60, 1), auths, PROFILES)
            return list(await asyncio.gather(*(poller.poll(d) for d in devices))), client
        finally:
            client.close()
            transport.close()

    (garbage, truncated, wrong_id, gen_err, good), client = asyncio.run(scenario())
    # Garbage names no request: it is counted and the request ends as a timeout.
    assert (garbage.failure, truncated.failure, wrong_id.failure, gen_err.failure) == (
        "timeout", "bad_response", "timeout", "bad_response")  # fmt: skip
    assert "malformed reply" in truncated.detail and "genErr" in gen_err.detail
    assert client.community.malformed >= 2 and client.community.stray >= 1
    assert good.answered and good.failure is None and good.duration < 1.0


INTERFACE_COLUMNS = PROFILES["interfaces"].walk_oids()


def test_side_by_side_walk_equals_column_walks_on_every_recording(sim: Agent) -> None:
    async def scenario(target: SnmpTarget) -> tuple[dict[str, list[VarBind]], list[list[VarBind]]]:
        ours, theirs = EngineClient(), PysnmpClient()
        try:
            together = await ours.walk_columns(target, INTERFACE_COLUMNS)
            alone = [await theirs.walk(target, c) for c in INTERFACE_COLUMNS]
            return together, alone
        finally:
            ours.close()
            theirs.close()

    for name in sorted(ex.PROFILES):
        together, alone = asyncio.run(scenario(v2c_target(sim.port, name)))
        assert list(together.values()) == alone, name


def test_side_by_side_walk_remembers_the_table_size(agent: Agent) -> None:
    target = v2c_target(agent.port, SNMPD_COMMUNITY)

    async def scenario() -> tuple[int, int, list[dict[str, list[VarBind]]]]:
        client = EngineClient()
        try:
            first = await client.walk_columns(target, INTERFACE_COLUMNS)
            sent = client.community.sent
            second = await client.walk_columns(target, INTERFACE_COLUMNS)
            return sent, client.community.sent - sent, [first, second]
        finally:
            client.close()

    first_requests, second_requests, (first, second) = asyncio.run(scenario())
    assert [[vb.oid for vb in rows] for rows in first.values()] == [
        [vb.oid for vb in rows] for rows in second.values()
    ]
    assert all(first.values())
    # snmpd serves this host's interfaces, as many as it has (labs add veths): one reply holds
    # the remembered table, one row past its end, when it fits net-snmp's 100 values.
    rows, width = max(len(r) for r in first.values()), len(first)
    if (rows + 1) * width <= 100 and rows + 1 <= target.max_repetitions:
        assert second_requests == 1 <= first_requests
    else:
        assert 1 <= second_requests <= first_requests


def test_secrets_appear_in_no_log_metric_page_or_error(agent: Agent, tmp_path: Path) -> None:
    require_binary("snmpget")
    user, (a, auth_pass, p, priv_pass) = "tpssha256", SNMPD_USERS["tpssha256"]
    community = "kpu-secret-community-29"  # wrong for snmpd: that device times out
    web_password = "web-secret-password-29"
    import bcrypt  # noqa: PLC0415

    hashed = bcrypt.hashpw(web_password.encode(), bcrypt.gensalt(4)).decode()
    (tmp_path / "web.yml").write_text(f"basic_auth_users:\n  noc: '{hashed}'\n")
    (tmp_path / "priv").write_text(priv_pass)
    (tmp_path / "tps-exporter.yml").write_text(
        "targets: [targets]\n"
        "snmp:\n  defaults: {interval: 1s, timeout: 300ms, retries: 0}\n  auths:\n"
        "    v2: {version: 2c, community: {env: TPS_COMMUNITY}}\n"
        f"    v3: {{version: '3', username: {user}, auth_protocol: {a.replace('-', '')}, "
        f"auth_password: {{env: TPS_AUTH}}, priv_protocol: {p.replace('-', '')}, "
        "priv_password: {file: priv}}\n"
    )
    (tmp_path / "targets").mkdir()
    (tmp_path / "targets" / "lab.yaml").write_text(
        "devices:\n"
        + "".join(
            f"  - {{id: {v}-dev, kind: router, address: 127.0.0.1, checks: [snmp], "
            f"snmp: {{auth: {v}, port: {agent.port}, profiles: [system]}}}}\n"
            for v in ("v2", "v3")
        )
    )
    secrets = [community, "wrong-" + auth_pass, priv_pass, web_password]
    env = {"TPS_COMMUNITY": community, "TPS_AUTH": "wrong-" + auth_pass}
    port = free_port()
    log = tmp_path / "log"
    auth = "Basic " + base64.b64encode(f"noc:{web_password}".encode()).decode()
    seen: list[str] = []
    flags = ["--web.config.file", str(tmp_path / "web.yml"), "--log.level=debug"]
    with exporter_process(
        tmp_path / "tps-exporter.yml", port, log, env=env, flags=flags, wait=False
    ):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            metrics = authorized_get(f"http://127.0.0.1:{port}/metrics", auth)
            if 'tps_snmp_errors_total{device="v3-dev",reason="auth"}' in metrics:
                break
            time.sleep(0.3)
        seen.append(metrics)
        assert 'tps_snmp_errors_total{device="v2-dev",reason="timeout"}' in metrics
        seen.append(authorized_get(f"http://127.0.0.1:{port}/", auth))
        for device in ("v2-dev", "v3-dev"):
            seen.append(authorized_get(f"http://127.0.0.1:{port}/probe?device={device}", auth))
            assert "result   failed" in seen[-1]
        # A reload that fails names the broken file, and nothing secret.
        (tmp_path / "targets" / "broken.yaml").write_text("devices: [\n")
        seen.append(authorized_get(f"http://127.0.0.1:{port}/-/reload", auth, data=b""))
        assert "broken.yaml" in seen[-1]
    seen.append(log.read_text())
    assert "no SNMP answer" in seen[-1]  # the failures were logged, with their details
    probe = subprocess.run(
        [sys.executable, "-m", "exporter", "probe", "v3-dev", "--config.file",
         str(tmp_path / "tps-exporter.yml")],
        capture_output=True, text=True, timeout=60, check=False, env={**os.environ, **env},
    )  # fmt: skip
    seen.append(probe.stdout + probe.stderr)
    for secret in secrets:
        assert not any(secret in text for text in seen), secret


def authorized_get(url: str, auth: str, data: bytes | None = None) -> str:
    request = urllib.request.Request(url, data=data, headers={"Authorization": auth},
                                     method="POST" if data is not None else "GET")  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return str(response.read().decode())
    except urllib.error.HTTPError as exc:
        return str(exc.read().decode())
    except OSError:
        return ""
