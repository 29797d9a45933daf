"""The real ICMP transport: loopback, IPv6, a namespace host, and both socket kinds."""

from __future__ import annotations

import asyncio
import ipaddress
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from exporter.pollers.icmp_socket import IcmpTransport
from exporter.pollers.results import Failure
from lab.netns import lab_host
from tests.conftest import REPO, require, require_binary, require_root


def _has_ipv6_loopback() -> bool:
    try:
        lines = Path("/proc/net/if_inet6").read_text().splitlines()
    except OSError:
        return False
    return any(line.split()[-1] == "lo" for line in lines if line.strip())


def test_every_loopback_device_answers_through_one_shared_socket() -> None:
    require_root()

    async def scenario() -> None:
        transport = IcmpTransport("raw")
        transport.open()
        try:
            addresses = [
                ipaddress.ip_address(f"127.9.{n // 250}.{n % 250 + 1}") for n in range(3000)
            ]
            results = await asyncio.gather(*(transport.ping(a, 3, 0.05, 1.0) for a in addresses))
            kinds = transport.socket_kinds
        finally:
            transport.close()
        assert sum(r.received for r in results) == 9000
        assert all(r.address == str(a) for r, a in zip(results, addresses, strict=True))
        assert all(0 < r.rtt_max < 1.0 for r in results)  # type: ignore[operator]
        # One socket per family, not one per device.
        assert kinds["ipv4"] == "raw"

    asyncio.run(scenario())


def test_ipv6_loopback_answers() -> None:
    require_root()
    require(_has_ipv6_loopback(), "needs IPv6 on loopback")

    async def scenario() -> None:
        transport = IcmpTransport("raw")
        transport.open()
        try:
            result = await transport.ping(ipaddress.ip_address("::1"), 3, 0.02, 1.0)
        finally:
            transport.close()
        assert result.received == 3 and result.failure is None

    asyncio.run(scenario())


def test_namespace_host_answers_and_a_silent_one_costs_only_its_timeout() -> None:
    require_root()
    require_binary("nft")
    with lab_host() as host:

        async def scenario() -> None:
            transport = IcmpTransport("raw")
            transport.open()
            loop = asyncio.get_running_loop()
            try:
                started = loop.time()
                live, silent = await asyncio.gather(
                    transport.ping(ipaddress.ip_address(host.address), 3, 0.05, 0.5),
                    transport.ping(ipaddress.ip_address(host.silent), 3, 0.05, 0.5),
                )
                elapsed = loop.time() - started
            finally:
                transport.close()
            assert live.received == 3
            assert silent.received == 0 and silent.failure is Failure.TIMEOUT
            # 2 x 50 ms spacing + 500 ms timeout: the silent device waits all of that (how much
            # longer a busy machine takes is no test's business; the schedule is virtual-time).
            assert elapsed >= 0.55

        asyncio.run(scenario())


_DGRAM_PROBE = textwrap.dedent(
    """
    import asyncio, ipaddress, sys
    sys.path.insert(0, {repo!r})
    from exporter.pollers.icmp_socket import IcmpTransport
    async def main():
        t = IcmpTransport("auto"); t.open()
        r = await t.ping(ipaddress.ip_address("127.0.0.1"), 3, 0.02, 1.0)
        print(t.socket_kinds["ipv4"], r.received)
        t.close()
    asyncio.run(main())
    """
)


def test_unprivileged_datagram_socket_is_used_where_the_kernel_allows() -> None:
    # Inside a namespace of our own: widen ping_group_range there only, drop CAP_NET_RAW.
    require_root()
    require_binary("setpriv")
    with lab_host() as host:
        host.run("sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647")
        result = host.run(
            "setpriv", "--bounding-set", "-net_raw", "--inh-caps", "-net_raw",
            sys.executable, "-c", _DGRAM_PROBE.format(repo=str(REPO)),
        )  # fmt: skip
        assert result.stdout.split() == ["dgram", "3"]


def test_clear_startup_error_when_no_icmp_socket_is_allowed(tmp_path: Path) -> None:
    require_root()
    require_binary("setpriv")
    (tmp_path / "d.yaml").write_text("devices:\n  - {id: r, kind: router, address: 127.0.0.1}\n")
    with lab_host() as host:
        host.run("sysctl", "-qw", "net.ipv4.ping_group_range=1 0")
        result = host.run(
            "setpriv", "--bounding-set", "-net_raw", "--inh-caps", "-net_raw",
            sys.executable, "-m", "exporter", "probe", "r", "--targets", str(tmp_path),
            check=False,
        )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "cannot open an ICMP socket" in result.stderr
    assert 'sysctl -w net.ipv4.ping_group_range="0 2147483647"' in result.stderr
    assert "CAP_NET_RAW" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("mode", ["raw"])
def test_probe_command_prints_what_came_back(tmp_path: Path, mode: str) -> None:
    require_root()
    (tmp_path / "d.yaml").write_text(
        "devices:\n  - {id: rtr-1, kind: router, operator: Telkomsel, address: localhost}\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "exporter", "probe", "rtr-1", "--targets", str(tmp_path),
         "--icmp.socket", mode],
        capture_output=True, text=True, timeout=30, check=False, cwd=REPO,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "device   rtr-1 (router, Telkomsel)" in result.stdout
    assert "icmp     127.0.0.1: 3/3 replies, loss 0%" in result.stdout
