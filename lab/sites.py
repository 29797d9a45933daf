"""Build N simulated TPS sites as network namespaces, each with a real SNMP agent, and break them.

Each site is a namespace joined to this one by a veth pair on a /30 of the lab's range; its
device answers on the far end, and more device addresses (a /24 each, for at most 64 sites) can
live behind it. The range is chosen at run time in 198.18.0.0/15 where no address or route of
this machine is, so a second lab (a demo, another test run) never takes the same one. The
site's agent is net-snmp's snmpd, or snmpsim serving a recording, on the namespace's loopback;
the link emulator (lab.link) relays SNMP to it and answers echoes late. Loss is nftables
dropping a share of what arrives. A blackhole route for the lab's whole range, below every
site's route, keeps probes inside this machine while a link is down. Everything is removed
when the `site_lab` block ends, whatever happened in it.
"""

from __future__ import annotations

import ipaddress
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

BENCHMARK_NET = ipaddress.IPv4Network("198.18.0.0/15")  # RFC 2544: for tests, routed nowhere
MAX_SITES = 16_384  # one /30 each: a /16 of links
MAX_SITES_WITH_DEVICES = 64  # and a /24 of device addresses each
AGENT_PORT = 1161  # the agent listens here on the site's loopback; the link relays port 161
COMMUNITY = "tps-lab"
T = TypeVar("T")


@dataclass(frozen=True)
class Profile:
    """How a site's link behaves: added round-trip delay, and share of packets lost."""

    name: str
    delay: float
    loss: float


PROFILES = {
    "lan": Profile("lan", 0.0, 0.0),
    "4g": Profile("4g", 0.040, 0.01),
    "vsat": Profile("vsat", 0.600, 0.02),
    "bad": Profile("bad", 0.080, 0.30),
}


def sh(
    *args: str, check: bool = True, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command; with `check`, raise with its stderr when it fails."""
    result = subprocess.run(
        args, input=stdin, capture_output=True, text=True, timeout=60, check=False
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {result.stderr.strip()}")
    return result


@dataclass
class Site:
    """One simulated TPS site: its namespace, link, device addresses and agent."""

    index: int
    namespace: str
    outer: str  # this side of the veth pair
    inner: str  # the site's side
    gateway: str  # our address on the link
    address: str  # the site router's address, on the link
    devices: tuple[str, ...] = ()  # more device addresses behind the router
    profile: Profile = PROFILES["lan"]
    agent: subprocess.Popen[bytes] | None = None
    agent_kind: str | None = None  # "snmpd", or the path of a recording for snmpsim
    community: str = COMMUNITY
    workdir: Path = field(default_factory=Path)

    def run(
        self, *args: str, check: bool = True, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run a command inside the site's namespace."""
        return sh("ip", "netns", "exec", self.namespace, *args, check=check, stdin=stdin)


class Lab:
    """The sites of one lab and the faults that can be done to them."""

    def __init__(
        self, sites: list[Site], emulator: subprocess.Popen[str], network: ipaddress.IPv4Network
    ) -> None:
        self.sites, self.network = sites, network  # the range it holds, blackholed below sites
        self._emulator = emulator

    def __getitem__(self, index: int) -> Site:
        return self.sites[index]

    def _tell(self, command: dict[str, object]) -> None:
        assert self._emulator.stdin is not None and self._emulator.stdout is not None
        self._emulator.stdin.write(json.dumps(command) + "\n")
        self._emulator.stdin.flush()
        answer = self._emulator.stdout.readline().strip()
        if answer != "ok":
            raise RuntimeError(f"link emulator: {answer or 'exited'}")

    def set_profile(self, site: Site, profile: str | Profile) -> None:
        """Give a site's link a profile's delay and loss."""
        chosen = PROFILES[profile] if isinstance(profile, str) else profile
        # The kernel answers echoes only while there is no delay to add; otherwise we do.
        site.run("sysctl", "-qw", f"net.ipv4.icmp_echo_ignore_all={int(chosen.delay > 0)}")
        self._tell({"site": site.namespace, "delay": chosen.delay})
        rule, share = "", round(chosen.loss * 1e4)  # in 1/10,000ths
        if share > 0:
            rule = f"add rule inet lab loss numgen random mod 10000 < {share} drop"
        site.run("nft", "-f", "-", stdin=f"flush chain inet lab loss\n{rule}\n")
        site.profile = chosen

    def link(self, site: Site, up: bool) -> None:
        """Take a site's link down (its side loses carrier, as when a cable or modem dies) or up."""
        site.run("ip", "link", "set", site.inner, "up" if up else "down")

    def silence(self, site: Site, *addresses: str) -> None:
        """Drop everything sent to these addresses, as if their devices lost power."""
        site.run("nft", "add", "element", "inet", "lab", "silenced", _set(addresses))

    def restore(self, site: Site, *addresses: str) -> None:
        """Let these addresses answer again."""
        site.run("nft", "delete", "element", "inet", "lab", "silenced", _set(addresses))

    def snmp_replies(self, site: Site, mode: str) -> None:
        """Make the site's agent pass, drop, or damage its replies (see lab.link.SNMP_MODES)."""
        self._tell({"site": site.namespace, "snmp": mode})

    def stop_agent(self, site: Site) -> None:
        """Stop the site's agent (the device still answers ping)."""
        if site.agent is not None:
            stop_process(site.agent)
            site.agent = None

    def start_agent(self, site: Site) -> None:
        """Start the site's agent again and wait until it answers."""
        if site.agent is None and site.agent_kind is not None:
            site.agent = _start_agent(site)
            wait_for_agent(site)

    def hang_agent(self, site: Site, hung: bool = True) -> None:
        """Freeze the site's agent (requests arrive, no reply ever leaves), or thaw it."""
        if site.agent is not None:
            site.agent.send_signal(signal.SIGSTOP if hung else signal.SIGCONT)


def _set(addresses: Sequence[str]) -> str:
    return "{ " + ", ".join(addresses) + " }"


def stop_process(process: subprocess.Popen[bytes] | subprocess.Popen[str]) -> None:
    """End a process (thawing it first), wait for it, and close its pipes."""
    if process.poll() is None:
        process.send_signal(signal.SIGCONT)  # a frozen agent would not hear SIGTERM
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    for pipe in (process.stdin, process.stdout):
        if pipe is not None:
            pipe.close()


def _snmpd_config(site: Site) -> Path:
    path = site.workdir / "snmpd.conf"
    path.write_text(
        f"agentAddress udp:127.0.0.1:{AGENT_PORT}\n"
        f"rocommunity {site.community} 127.0.0.1\n"
        f"sysName {site.namespace}\n"
        "dontLogTCPWrappersConnects yes\n"
    )
    return path


def _start_agent(site: Site) -> subprocess.Popen[bytes]:
    """Start the site's agent inside its namespace, listening on its loopback."""
    log = (site.workdir / "agent.log").open("ab")
    if site.agent_kind == "snmpd":
        binary = shutil.which("snmpd") or "/usr/sbin/snmpd"
        command = [binary, "-f", "-Lo", "-C", "-c", str(_snmpd_config(site)),
                   "-p", str(site.workdir / "snmpd.pid")]  # fmt: skip
        env = {**os.environ, "SNMP_PERSISTENT_DIR": str(site.workdir / "persist"), "MIBS": ""}
    else:
        recording = Path(str(site.agent_kind))
        data = site.workdir / "data"
        data.mkdir(exist_ok=True)
        shutil.copy(recording, data / f"{site.community}.snmprec")
        responder = Path(sys.executable).parent / "snmpsim-command-responder"
        command = [str(responder), f"--data-dir={data}", f"--cache-dir={site.workdir / 'cache'}",
                   f"--agent-udpv4-endpoint=127.0.0.1:{AGENT_PORT}", "--logging-method=null",
                   "--process-user=root", "--process-group=root"]  # fmt: skip
        env = dict(os.environ)
    try:
        return subprocess.Popen(
            ["ip", "netns", "exec", site.namespace, *command], stdout=log, stderr=log, env=env
        )
    finally:
        log.close()


def wait_for_agent(site: Site, seconds: float = 90) -> None:
    """Block until the site's agent answers through its link, or raise after `seconds`.

    Generous: on a loaded machine snmpsim takes tens of seconds to load its recordings.
    """
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        wait = f"{0.5 + 2 * site.profile.delay}"
        command = ["snmpget", "-v2c", "-c", site.community, "-t", wait, "-r", "0", "-On",
                   f"{site.address}:161", "1.3.6.1.2.1.1.3.0"]  # fmt: skip
        answer = subprocess.run(command, capture_output=True, text=True, check=False, timeout=10)
        if answer.returncode == 0:
            return
        time.sleep(0.2)
    raise TimeoutError(f"no SNMP agent answered at {site.address} ({site.namespace})")


_NFT = """\
table inet lab {
    set silenced { type ipv4_addr; }
    chain loss { }
    chain input {
        type filter hook input priority 0;
        ip daddr @silenced drop
        iifname "%s" jump loss
    }
}
"""


def _build(site: Site) -> None:
    """Create a site's namespace, link and firewall."""
    sh("ip", "netns", "add", site.namespace)
    sh("ip", "link", "add", site.outer, "type", "veth", "peer", "name", site.inner,
       "netns", site.namespace)  # fmt: skip
    sh("ip", "addr", "add", f"{site.gateway}/30", "dev", site.outer)
    sh("ip", "link", "set", site.outer, "up")
    commands = [f"addr add {site.address}/30 dev {site.inner}"]
    commands += [f"addr add {a}/32 dev {site.inner}" for a in site.devices]
    commands += [f"link set {site.inner} up", "link set lo up"]
    sh("ip", "-n", site.namespace, "-batch", "-", stdin="\n".join(commands) + "\n")
    site.run("nft", "-f", "-", stdin=_NFT % site.inner)
    if site.devices:
        block = ipaddress.ip_network(f"{site.devices[0]}/24", strict=False)
        sh("ip", "route", "add", str(block), "via", site.address)


def _teardown(site: Site) -> None:
    if site.agent is not None:
        stop_process(site.agent)
    sh("ip", "link", "del", site.outer, check=False)  # its routes go with it
    sh("ip", "netns", "del", site.namespace, check=False)


def lab_prefix(count: int, devices_per_site: int) -> int:
    """Return the prefix of the range a lab of `count` sites needs: its links, then a /24 of
    devices per site when they have devices."""
    size = _devices_offset(count) + 256 * count if devices_per_site else 4 * count
    return 32 - max(8, (size - 1).bit_length())


def _devices_offset(count: int) -> int:
    """Where the device /24s start in the lab's range: after the links, on a /24 boundary."""
    return -(-4 * count // 256) * 256


def _plan(
    count: int, devices_per_site: int, tag: str, network: ipaddress.IPv4Network
) -> list[Site]:
    if count > MAX_SITES:
        raise ValueError(f"at most {MAX_SITES} sites")
    if devices_per_site and (count > MAX_SITES_WITH_DEVICES or devices_per_site > 253):
        raise ValueError(f"extra device addresses: at most {MAX_SITES_WITH_DEVICES} sites of "
                         "at most 253 devices")  # fmt: skip
    sites = []
    for i in range(count):
        link = network.network_address + 4 * i
        block = network.network_address + _devices_offset(count) + 256 * i
        sites.append(Site(
            index=i,
            namespace=f"tpsl{tag}s{i}",
            outer=f"tl{tag}o{i}",
            inner=f"tl{tag}i{i}",
            gateway=str(link + 1),
            address=str(link + 2),
            devices=tuple(str(block + n) for n in range(1, devices_per_site + 1)),
        ))  # fmt: skip
    return sites


def free_network(prefix: int) -> ipaddress.IPv4Network:
    """Return a network of `prefix` bits in 198.18.0.0/15 that no address or route here overlaps,
    so a second lab on the same machine never takes the same one."""
    used: list[ipaddress.IPv4Network] = []
    for command in (
        ("ip", "-o", "-4", "addr", "show"),
        ("ip", "-4", "route", "show", "table", "all"),
    ):
        for word in sh(*command, check=False).stdout.split():
            try:
                network = ipaddress.ip_network(word, strict=False)
            except ValueError:
                continue
            if isinstance(network, ipaddress.IPv4Network) and network.overlaps(BENCHMARK_NET):
                used.append(network)
    candidates = list(BENCHMARK_NET.subnets(new_prefix=prefix))
    random.shuffle(candidates)
    for candidate in candidates:
        if not any(candidate.overlaps(u) for u in used):
            return candidate
    raise RuntimeError(f"no free /{prefix} left in {BENCHMARK_NET}: is another lab running?")


def _free_tag() -> str:
    """Return a tag for a new lab's names: this process's (tests find a lab by its pid), and a
    digit no namespace on the machine has yet, so two labs of one process never share names."""
    mine = f"{os.getpid() % 1000:03d}"
    taken = sh("ip", "netns", "list", check=False).stdout
    digits = [d for d in "0123456789" if f"tpsl{mine}{d}s" not in taken]
    if not digits:
        raise RuntimeError(f"ten labs of process {os.getpid()} are running already")
    return mine + random.choice(digits)


@contextmanager
def site_lab(
    count: int,
    agents: Sequence[str | Path | None] = ("snmpd",),
    devices_per_site: int = 0,
    profiles: Sequence[str] = ("lan",),
) -> Iterator[Lab]:
    """Build `count` sites with link profiles and agents given in turn (an agent is "snmpd", a
    recording's path for snmpsim, or None), and remove them all when the block ends."""
    if os.geteuid() != 0:
        raise PermissionError("the site lab needs root (network namespaces, nftables)")
    tag = _free_tag()
    network = free_network(lab_prefix(count, devices_per_site))
    sites = _plan(count, devices_per_site, tag, network)
    work = Path(tempfile.mkdtemp(prefix="tps-lab-"))
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, work, ignore_errors=True)
        # Lowest priority: only what no site's route claims, as while a link is down. Claimed
        # at once, so a lab starting beside this one sees the range taken.
        sh("ip", "route", "add", "blackhole", str(network), "metric", "4294967295")
        stack.callback(sh, "ip", "route", "del", "blackhole", str(network),
                       "metric", "4294967295", check=False)  # fmt: skip
        for site in sites:
            site.workdir = work / site.namespace
            site.workdir.mkdir()
            stack.callback(_teardown, site)
            _build(site)
        emulator = subprocess.Popen(
            [sys.executable, "-m", "lab.link"],
            cwd=Path(__file__).resolve().parent.parent,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        stack.callback(stop_process, emulator)
        assert emulator.stdin is not None and emulator.stdout is not None
        spec = {"sites": [{"name": s.namespace, "agent_port": AGENT_PORT} for s in sites]}
        emulator.stdin.write(json.dumps(spec) + "\n")
        emulator.stdin.flush()
        if emulator.stdout.readline().strip() != "ready":
            raise RuntimeError("the link emulator did not start")
        lab = Lab(sites, emulator, network)
        for site, profile, agent in zip(
            sites, _cycle(profiles, count), _cycle(agents, count), strict=True
        ):
            lab.set_profile(site, profile)
            site.agent_kind = str(agent) if agent is not None else None
            if site.agent_kind is not None:
                site.agent = _start_agent(site)
        for site in sites:
            if site.agent is not None:
                wait_for_agent(site)
        yield lab


def _cycle(items: Sequence[T], count: int) -> list[T]:
    return [items[i % len(items)] for i in range(count)]
