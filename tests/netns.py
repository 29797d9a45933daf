"""A test host in a network namespace of the test's own, joined to this one by a veth pair."""

from __future__ import annotations

import os
import random
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from lab.sites import sh


@dataclass
class LabHost:
    """One namespace: `address` answers ping, `silent` never does (dropped by nftables), and
    `spare` addresses answer until `silence` drops what is sent to them."""

    name: str
    host_side: str
    address: str
    silent: str
    spare: tuple[str, ...] = ()

    def silence(self, *addresses: str) -> None:
        """Drop echo requests to these addresses, as if their devices lost power."""
        self.run(
            "nft", "add", "element", "inet", "tpsx", "silenced", "{ " + ", ".join(addresses) + " }"
        )

    def restore(self, *addresses: str) -> None:
        """Answer these addresses again."""
        self.run(
            "nft",
            "delete",
            "element",
            "inet",
            "tpsx",
            "silenced",
            "{ " + ", ".join(addresses) + " }",
        )

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a command inside the namespace."""
        return sh("ip", "netns", "exec", self.name, *args, check=check)

    def answer_pings(self, answer: bool) -> None:
        """Make the namespace's kernel answer echo requests, or ignore them all."""
        self.run("sysctl", "-qw", f"net.ipv4.icmp_echo_ignore_all={0 if answer else 1}")


@contextmanager
def lab_host() -> Iterator[LabHost]:
    """Create a namespace with addresses on a /28 in 198.18.0.0/15; always tear it down."""
    tag = f"{os.getpid() % 10000}{random.randrange(100):02d}"
    net = f"198.18.{random.randrange(1, 250)}.{16 * random.randrange(16)}"
    a, b, c, d = (int(x) for x in net.split("."))
    at = lambda n: f"{a}.{b}.{c}.{d + n}"  # noqa: E731
    host = LabHost(
        name=f"tpsx{tag}",
        host_side=at(1),
        address=at(2),
        silent=at(3),
        spare=tuple(at(n) for n in range(4, 15)),
    )
    outer, inner = f"tpsh{tag}", f"tpsn{tag}"
    try:
        sh("ip", "netns", "add", host.name)
        sh("ip", "link", "add", outer, "type", "veth", "peer", "name", inner)
        sh("ip", "link", "set", inner, "netns", host.name)
        sh("ip", "addr", "add", f"{host.host_side}/28", "dev", outer)
        sh("ip", "link", "set", outer, "up")
        for address in (host.address, host.silent, *host.spare):
            host.run("ip", "addr", "add", f"{address}/28", "dev", inner)
        host.run("ip", "link", "set", inner, "up")
        host.run("ip", "link", "set", "lo", "up")
        host.run("nft", "add", "table", "inet", "tpsx")
        host.run("nft", "add", "chain", "inet", "tpsx", "input",
                 "{ type filter hook input priority 0 ; }")  # fmt: skip
        host.run("nft", "add", "set", "inet", "tpsx", "silenced", "{ type ipv4_addr ; }")
        host.run("nft", "add", "rule", "inet", "tpsx", "input",
                 "ip", "daddr", "@silenced", "icmp", "type", "echo-request", "drop")  # fmt: skip
        host.silence(host.silent)
        yield host
    finally:
        sh("ip", "link", "del", outer, check=False)
        sh("ip", "netns", "del", host.name, check=False)
