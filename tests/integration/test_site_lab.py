"""Voting-day faults, end to end: the exporter process polls simulated sites in the lab while
their links drop, turn lossy or slow, their agents stop, hang or answer garbage, a hostname
stops resolving, a broken inventory is pushed, and the exporter itself is killed mid-cycle."""

from __future__ import annotations

import ipaddress
import shlex
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from lab.local import free_port
from lab.sites import COMMUNITY, Lab, sh, site_lab
from tests.conftest import (
    SHARED,
    device_yaml,
    require_binary,
    require_root,
    samples_in,
    site_yaml,
)
from tests.stack import exporter_process, get

INTERVAL, TIMEOUT, DOWN_AFTER = 0.5, 0.3, 3
SNMP_INTERVAL = 1.0
VSAT_INTERVAL, VSAT_TIMEOUT = 2.0, 1.2
HOSTNAME = "tps-dns.lab.test"
DNS_HOLE = "127.77.0.53"  # a name server that takes queries and never answers
SNMP = "snmp: {auth: lab, profiles: [system]}"
# (site id, link profile, agent, device settings); the order is the lab's site order.
SITES = [
    ("tps-link", "lan", None, ""),
    ("tps-4g", "4g", None, "icmp: {count: 10, spacing: 20ms}"),
    ("tps-vsat", "vsat", None,
     f"icmp: {{count: 10, spacing: 20ms, interval: {VSAT_INTERVAL}s, timeout: {VSAT_TIMEOUT}s}}"),
    ("tps-bad", "bad", None, "icmp: {count: 10, spacing: 20ms}"),
    ("tps-snmp-stop", "lan", "snmpd", f"checks: [icmp, snmp]\n{SNMP}"),
    ("tps-snmp-hang", "lan", "snmpd", f"checks: [icmp, snmp]\n{SNMP}"),
    ("tps-malformed", "lan", "snmpd", f"checks: [snmp]\n{SNMP}"),
    ("tps-truncated", "lan", "snmpd", f"checks: [snmp]\n{SNMP}"),
    ("tps-wrong-id", "lan", "snmpd", f"checks: [snmp]\n{SNMP}"),
    ("tps-oversized", "lan", "snmpd", f"checks: [snmp]\n{SNMP}"),
    ("tps-healthy", "lan", SHARED / "snmprec" / "routeros.snmprec",
     "checks: [icmp, snmp]\nsnmp: {auth: lab, profiles: [system, interfaces]}"),
    ("tps-dns", "lan", None, ""),
    ("tps-steady", "lan", None, ""),
]  # fmt: skip
INDEX = {site_id: i for i, (site_id, *_rest) in enumerate(SITES)}


def _device(site_id: str) -> str:
    return "rtr-" + site_id.removeprefix("tps-")


@dataclass
class Rig:
    """The lab, the exporter polling it, and the files the exporter reads."""

    lab: Lab
    config: Path
    targets: Path
    hosts: Path
    log: Path
    port: int
    start: Callable[[], subprocess.Popen[bytes]]
    process: subprocess.Popen[bytes] | None = None

    def site(self, site_id: str):  # type: ignore[no-untyped-def]
        """Return the lab site behind a TPS id."""
        return self.lab[INDEX[site_id]]

    def metrics(self) -> str:
        """Scrape the exporter."""
        status, body = get(f"http://127.0.0.1:{self.port}/metrics")
        assert status == 200, body
        return body

    def site_status(self, text: str, site_id: str) -> tuple[str, str, str]:
        """Return (status, reason, device) of a TPS in a scrape."""
        for labels in samples_in(text, "tps_site_status"):
            found = dict(labels)
            if found["site"] == site_id:
                return found["status"], found["reason"], found["device"]
        raise KeyError(site_id)

    def device_status(self, text: str, device_id: str) -> tuple[str, str]:
        """Return (status, reason) of a device in a scrape."""
        for labels in samples_in(text, "tps_device_status"):
            found = dict(labels)
            if found["device"] == device_id:
                return found["status"], found["reason"]
        raise KeyError(device_id)

    def value(self, text: str, name: str, **labels: str) -> float:
        """Return one sample's value, 0 when it is absent."""
        for key, value in samples_in(text, name).items():
            if all(dict(key).get(k) == v for k, v in labels.items()):
                return value
        return 0.0

    def until(self, condition: Callable[[str], bool], seconds: float) -> tuple[float, str]:
        """Scrape every 100 ms until `condition` holds; return (seconds taken, last scrape)."""
        started = time.monotonic()
        while True:
            text = self.metrics()
            if condition(text):
                return time.monotonic() - started, text
            if time.monotonic() - started > seconds:
                raise AssertionError(f"not within {seconds} s; last scrape:\n{_status_lines(text)}")
            time.sleep(0.1)


def _status_lines(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if line.startswith("tps_site_status{"))


def _inventory(lab: Lab) -> str:
    devices = sites = ""
    for i, (site_id, _profile, _agent, settings) in enumerate(SITES):
        address = HOSTNAME if site_id == "tps-dns" else lab[i].address
        devices += device_yaml(_device(site_id), address, settings)
        sites += site_yaml(site_id, [_device(site_id)])
    return f"devices:\n{devices}sites:\n{sites}"


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    require_root()
    for binary in ("nft", "snmpd", "snmpget", "unshare"):
        require_binary(binary)
    work = tmp_path_factory.mktemp("lab")
    with ExitStack() as stack:
        lab = stack.enter_context(
            site_lab(len(SITES), agents=[a for _s, _p, a, _d in SITES],
                     profiles=[p for _s, p, _a, _d in SITES])
        )  # fmt: skip
        targets = work / "targets"
        targets.mkdir()
        (targets / "lab.yaml").write_text(_inventory(lab))
        config = work / "tps-exporter.yml"
        config.write_text(
            "targets: [targets]\n"
            f"icmp: {{interval: {INTERVAL}s, count: 2, spacing: 20ms, timeout: {TIMEOUT}s}}\n"
            f"state: {{down_after: {DOWN_AFTER}, window: 10}}\n"
            "resolver: {refresh_interval: 1s, timeout: 1s}\n"
            f"snmp:\n  defaults: {{interval: {SNMP_INTERVAL}s, timeout: 300ms, retries: 0}}\n"
            "  auths:\n    lab: {version: 2c, community: {env: TPS_LAB_COMMUNITY}}\n"
        )
        # The exporter gets /etc/hosts and /etc/resolv.conf of its own (a private mount
        # namespace): the test edits its hosts file, and names it lacks go to a local name
        # server that never answers, never to the machine's real one.
        hosts = work / "hosts"
        hosts.write_text(f"127.0.0.1 localhost\n{lab[INDEX['tps-dns']].address} {HOSTNAME}\n")
        resolv = work / "resolv.conf"
        resolv.write_text(f"nameserver {DNS_HOLE}\noptions timeout:2 attempts:1\n")
        hole = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        hole.bind((DNS_HOLE, 53))
        stack.callback(hole.close)
        mounts = (
            f"mount --bind {shlex.quote(str(hosts))} /etc/hosts && "
            f"mount --bind {shlex.quote(str(resolv))} /etc/resolv.conf && "
            'exec "$@"'
        )
        wrap = ["unshare", "--mount", "--propagation", "private", "sh", "-c", mounts, "sh"]
        port = free_port()
        log = work / "exporter.log"
        rig: Rig  # made below, with start(); start() runs only after that

        def start() -> subprocess.Popen[bytes]:
            running = exporter_process(
                config, port, log, env={"TPS_LAB_COMMUNITY": COMMUNITY}, wrap=wrap
            )
            rig.process = stack.enter_context(running)
            return rig.process

        rig = Rig(lab, config, targets, hosts, log, port, start)
        start()
        # Every site has been polled (the loss profiles need their window filled later).
        rig.until(lambda t: "no_data" not in _status_lines(t), 15)
        yield rig


def test_a_second_lab_takes_another_range_and_no_probe_of_a_lab_leaves_the_machine(
    rig: Rig,
) -> None:
    with site_lab(1, agents=[None]) as other:
        assert not other.network.overlaps(rig.lab.network)
        assert other[0].namespace != rig.lab[0].namespace  # one process, two labs, two names
        for lab in (rig.lab, other):
            assert ipaddress.ip_address(lab[0].address) in lab.network
            # An address of the range that no site holds, as a site's whose link is gone: a
            # probe sent there fails at once (the blackhole), never taking the default route.
            with (
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe,
                pytest.raises(OSError, match="Invalid argument"),
            ):
                probe.sendto(b"x", (str(lab.network.broadcast_address - 1), 161))
    taken = sh("ip", "-4", "route", "show", "table", "all").stdout
    assert str(other.network) not in taken  # its blackhole went with it; ours stays
    assert f"blackhole {rig.lab.network} " in taken


def test_link_down_is_down_after_damping_with_reason_then_up_without_flapping(rig: Rig) -> None:
    site = rig.site("tps-link")
    rig.until(lambda t: rig.site_status(t, "tps-link")[0] == "up", 5)
    seen: list[str] = []

    def down(text: str) -> bool:
        seen.append(rig.site_status(text, "tps-link")[0])
        return seen[-1] == "down"

    rig.lab.link(site, False)
    took, text = rig.until(down, 10)
    # Damping: one or two missed polls change nothing; the third declares it down.
    assert set(seen[:-1]) == {"up"}
    # Not sooner than the damping allows; how much later is the machine's business (the
    # schedule itself is tested in virtual time, the delay to a message by `make latency`).
    assert took >= (DOWN_AFTER - 1) * INTERVAL
    assert rig.site_status(text, "tps-link") == ("down", "device_down", "rtr-link")
    assert rig.device_status(text, "rtr-link") == ("down", "timeout")

    seen.clear()
    rig.lab.link(site, True)
    took, text = rig.until(lambda t: down(t) is False and seen[-1] == "up", 5)
    assert set(seen[:-1]) <= {"down"}
    assert rig.device_status(text, "rtr-link") == ("up", "none")


def test_loss_and_latency_measured_within_bounds_and_a_lossy_link_is_degraded_not_down(
    rig: Rig,
) -> None:
    lossy = ["tps-4g", "tps-vsat", "tps-bad"]
    # Fill the adequacy window (10 polls) of the lossiest before judging statuses.
    time.sleep(10 * INTERVAL)
    before = rig.metrics()
    statuses: dict[str, set[tuple[str, str]]] = {s: set() for s in lossy}
    rtts: dict[str, list[float]] = {s: [] for s in lossy}
    since = rig.value(before, "tps_device_status_since_timestamp_seconds", device="rtr-bad")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        text = rig.metrics()
        for site_id in lossy:
            statuses[site_id].add(rig.site_status(text, site_id)[:2])
            rtts[site_id].append(
                rig.value(text, "tps_icmp_rtt_seconds", device=_device(site_id), stat="avg")
            )
        time.sleep(0.5)
    after = rig.metrics()
    for site_id in lossy:
        device, profile = _device(site_id), rig.site(site_id).profile
        sent = rig.value(after, "tps_icmp_echo_requests_total", device=device) - rig.value(
            before, "tps_icmp_echo_requests_total", device=device
        )
        received = rig.value(after, "tps_icmp_echo_replies_total", device=device) - rig.value(
            before, "tps_icmp_echo_replies_total", device=device
        )
        loss = 1 - received / sent
        assert sent >= 10 * 18 / (VSAT_INTERVAL if site_id == "tps-vsat" else 1), (site_id, sent)
        assert abs(loss - profile.loss) <= 0.10, (site_id, loss, profile.loss)
        rtt = sum(rtts[site_id]) / len(rtts[site_id])
        print(f"{site_id}: loss {loss:.3f} of {sent:.0f} echoes (injected {profile.loss}), "
              f"rtt {rtt * 1000:.2f} ms (injected {profile.delay * 1000:.0f})")  # fmt: skip
        assert abs(rtt - profile.delay) <= 0.15 * profile.delay, (site_id, rtt, profile.delay)
    assert statuses["tps-4g"] == {("up", "none")}
    assert statuses["tps-vsat"] == {("up", "none")}  # 600 ms is a satellite, not a fault
    # 30% loss: not adequate, but the TPS can send; thousands of lost echoes never made it down.
    assert statuses["tps-bad"] == {("degraded", "high_loss")}
    assert rig.value(after, "tps_device_status_since_timestamp_seconds", device="rtr-bad") == since


def test_probe_endpoint_polls_an_inventory_device_through_its_link(rig: Rig) -> None:
    status, text = get(f"http://127.0.0.1:{rig.port}/probe?device=rtr-4g")
    assert status == 200 and "device   rtr-4g" in text, text
    line = next(line for line in text.splitlines() if line.startswith("rtt "))
    rtts = [float(r) for r in line.removeprefix("rtt").split("ms", 1)[0].split()]
    assert len(rtts) >= 8 and all(0.034 <= r / 1000 <= 0.060 for r in rtts), rtts
    assert text.endswith("result   ok\n")
    status, text = get(f"http://127.0.0.1:{rig.port}/probe?target={rig.site('tps-4g').address}")
    assert status == 400 and "never an address" in text


def test_snmp_agent_stopped_or_hung_while_ping_answers(rig: Rig) -> None:
    stopped, hung = rig.site("tps-snmp-stop"), rig.site("tps-snmp-hang")
    both = ["tps-snmp-stop", "tps-snmp-hang"]
    rig.until(lambda t: all(rig.site_status(t, s)[0] == "up" for s in both), 10)
    before = rig.metrics()
    rig.lab.stop_agent(stopped)
    rig.lab.hang_agent(hung)
    try:
        took, text = rig.until(lambda t: all(rig.site_status(t, s)[0] != "up" for s in both), 10)
        assert took >= (DOWN_AFTER - 1) * SNMP_INTERVAL
        for site_id in both:
            device = _device(site_id)
            # The NOC is blind to the router's insides, but the TPS can still send.
            assert rig.site_status(text, site_id) == ("degraded", "snmp_timeout", device)
            assert rig.device_status(text, device) == ("down", "snmp_timeout")
            assert rig.value(text, "tps_snmp_up", device=device) == 0
            assert rig.value(text, "tps_icmp_loss_ratio", device=device) == 0
            assert rig.value(text, "tps_snmp_errors_total", device=device, reason="timeout") > 0
        time.sleep(2 * INTERVAL)
        text = rig.metrics()
        for site_id in both:  # ICMP goes on
            device = _device(site_id)
            assert (
                rig.value(text, "tps_icmp_echo_replies_total", device=device)
                > rig.value(before, "tps_icmp_echo_replies_total", device=device)
                + 2 * 2 * DOWN_AFTER
            )
    finally:
        rig.lab.start_agent(stopped)
        rig.lab.hang_agent(hung, False)
    rig.until(lambda t: all(rig.site_status(t, s)[0] == "up" for s in both), 2 * SNMP_INTERVAL + 2)


def test_damaged_snmp_replies_are_errors_and_spare_other_devices(rig: Rig) -> None:
    modes = {"tps-malformed": "malformed", "tps-truncated": "truncated",
             "tps-wrong-id": "wrong_id", "tps-oversized": "oversized"}  # fmt: skip
    rig.until(lambda t: all(rig.site_status(t, s)[0] == "up" for s in modes), 10)
    before = rig.metrics()
    for site_id, mode in modes.items():
        rig.lab.snmp_replies(rig.site(site_id), mode)
    healthy: list[tuple[float, float]] = []
    try:
        deadline = time.monotonic() + (DOWN_AFTER + 2) * SNMP_INTERVAL
        while time.monotonic() < deadline:
            text = rig.metrics()
            healthy.append((rig.value(text, "tps_snmp_up", device="rtr-healthy"),
                            rig.value(text, "tps_snmp_poll_duration_seconds",
                                      device="rtr-healthy")))  # fmt: skip
            time.sleep(0.2)
        text = rig.metrics()
    finally:
        for site_id in modes:
            rig.lab.snmp_replies(rig.site(site_id), "pass")
    assert rig.process is not None and rig.process.poll() is None  # no crash

    def grew(name: str, **labels: str) -> float:
        return rig.value(text, name, **labels) - rig.value(before, name, **labels)

    for site_id in modes:
        device = _device(site_id)
        assert rig.device_status(text, device) == ("down", "snmp_bad_response"
                                                   if site_id != "tps-wrong-id"
                                                   else "snmp_timeout"), site_id  # fmt: skip
        assert rig.value(text, "tps_snmp_up", device=device) == 0
    # A reply whose request id can be read fails its request at once; one that cannot be read
    # at all, or answers another request, is thrown away and counted.
    assert grew("tps_snmp_errors_total", device="rtr-truncated", reason="bad_response") >= 2
    assert grew("tps_snmp_errors_total", device="rtr-wrong-id", reason="timeout") >= 2
    assert grew("tps_snmp_replies_discarded_total", reason="malformed") >= 2
    assert grew("tps_snmp_replies_discarded_total", reason="unmatched") >= 2
    # The device next door never noticed.
    assert all(up == 1 for up, _ in healthy), healthy
    assert max(duration for _, duration in healthy) < 0.2, healthy
    rig.until(lambda t: all(rig.site_status(t, s)[0] == "up" for s in modes), 2 * SNMP_INTERVAL + 2)


def test_hostname_that_stops_resolving_fails_with_reason_and_delays_no_one(rig: Rig) -> None:
    rig.until(lambda t: rig.site_status(t, "tps-dns")[0] == "up", 5)
    good = rig.hosts.read_text()
    before = rig.metrics()
    started = time.monotonic()
    # In place: the exporter sees this very file through its bind mount.
    rig.hosts.write_text("127.0.0.1 localhost\n")
    try:
        _took, text = rig.until(lambda t: rig.site_status(t, "tps-dns")[0] == "down", 15)
        assert rig.device_status(text, "rtr-dns") == ("down", "resolve_error")
        assert rig.site_status(text, "tps-dns") == ("down", "device_down", "rtr-dns")
        time.sleep(3)  # lookups keep hanging on the silent name server meanwhile
        text = rig.metrics()
        elapsed = time.monotonic() - started
    finally:
        rig.hosts.write_text(good)
    # The device next door was polled on time all along: two echoes every interval.
    sent = rig.value(text, "tps_icmp_echo_requests_total", device="rtr-steady") - rig.value(
        before, "tps_icmp_echo_requests_total", device="rtr-steady"
    )
    assert sent >= 0.9 * 2 * elapsed / INTERVAL - 2, (sent, elapsed)
    assert rig.site_status(text, "tps-steady")[0] == "up"
    rig.until(lambda t: rig.site_status(t, "tps-dns")[0] == "up", 5)


BROKEN = {
    "bad YAML": (
        "devices:\n  - id: rtr-x\n    address: [127.0.0.1\n",
        "broken.yaml:4:1: YAML tidak sah",
    ),
    "duplicate id": (
        "devices:\n  - id: rtr-link\n    kind: router\n    address: 127.0.0.1\n",
        "rtr-link",
    ),
    "unknown key": (
        "devices:\n  - id: rtr-x\n    kind: router\n    address: 127.0.0.1\n    colour: red\n",
        "colour",
    ),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_inventory_pushed_while_running_is_refused_and_polling_goes_on(
    rig: Rig, case: str
) -> None:
    content, named = BROKEN[case]
    before = rig.metrics()
    broken = rig.targets / "broken.yaml"
    broken.write_text(content)
    try:
        status, body = get(f"http://127.0.0.1:{rig.port}/-/reload", data=b"")
    finally:
        broken.unlink()
    assert status == 500
    assert "broken.yaml" in body and named in body, body
    time.sleep(2 * INTERVAL)
    text = rig.metrics()
    assert rig.value(text, "tps_config_last_reload_successful") == 0
    assert rig.value(text, "tps_config_reloads_total", result="failure") == 1 + rig.value(
        before, "tps_config_reloads_total", result="failure"
    )
    # The old inventory keeps polling: every site is still there and still polled.
    assert len(samples_in(text, "tps_site_status")) == len(SITES)
    assert rig.value(text, "tps_icmp_echo_requests_total", device="rtr-steady") > rig.value(
        before, "tps_icmp_echo_requests_total", device="rtr-steady"
    )
    assert rig.site_status(text, "tps-steady")[0] == "up"
    assert get(f"http://127.0.0.1:{rig.port}/-/reload", data=b"")[0] == 200
    assert rig.value(rig.metrics(), "tps_config_last_reload_successful") == 1


def test_restart_mid_cycle_brings_every_site_back_to_its_true_state(rig: Rig) -> None:
    rig.lab.link(rig.site("tps-link"), False)
    rig.lab.stop_agent(rig.site("tps-snmp-stop"))
    try:
        truth = {site_id: "up" for site_id, *_ in SITES}
        truth |= {"tps-link": "down", "tps-snmp-stop": "degraded", "tps-bad": "degraded"}

        def true(text: str) -> bool:
            return all(rig.site_status(text, s)[0] == want for s, want in truth.items())

        rig.until(true, 10)
        # Half-way through a cycle: polls in flight when it dies.
        time.sleep(INTERVAL / 2)
        assert rig.process is not None
        rig.process.send_signal(signal.SIGKILL)
        rig.process.wait(timeout=10)
        rig.start()
        # Every site back to its true state (rig.until gives up after 20 s): one cycle, then
        # the damping window of the slowest device (the VSAT), and a scrape, take about 10 s.
        rig.until(true, 20)
    finally:
        rig.lab.link(rig.site("tps-link"), True)
        rig.lab.start_agent(rig.site("tps-snmp-stop"))
