"""A host in a network namespace of our own, joined to this one by a veth pair: tests and the
alert latency benchmark give it addresses that answer ping until they are silenced."""

from __future__ import annotations

import os
import random
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from lab.sites import free_network, sh


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
def lab_host(spares: int = 11) -> Iterator[LabHost]:
    """Create a namespace with `spares` answering addresses (and one silent one) on a free
    network of 198.18.0.0/15; always tear it down."""
    tag = f"{os.getpid() % 10000}{random.randrange(100):02d}"
    prefix = 32 - max(4, (spares + 5).bit_length())
    net = free_network(prefix)
    hosts = [str(h) for h in net.hosts()]
    host = LabHost(
        name=f"tpsx{tag}",
        host_side=hosts[0],
        address=hosts[1],
        silent=hosts[2],
        spare=tuple(hosts[3 : 3 + spares]),
    )
    outer, inner = f"tpsh{tag}", f"tpsn{tag}"
    try:
        sh("ip", "netns", "add", host.name)
        sh("ip", "link", "add", outer, "type", "veth", "peer", "name", inner)
        sh("ip", "link", "set", inner, "netns", host.name)
        sh("ip", "addr", "add", f"{host.host_side}/{prefix}", "dev", outer)
        sh("ip", "link", "set", outer, "up")
        for address in (host.address, host.silent, *host.spare):
            host.run("ip", "addr", "add", f"{address}/{prefix}", "dev", inner)
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
