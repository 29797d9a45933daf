"""What every benchmark shares: result rows, targets, namespaces, process figures, HTTP."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lab.local import free_port, wait_ready

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
DEAD_NET = "198.19.0.0/16"  # routed into the benchmark's namespace, where nothing answers
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Row:
    """One measurement: a tool on a workload."""

    workload: str
    tool: str
    wall_s: float
    cpu_s: float
    units: int
    unit: str
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def cpu_per_unit_us(self) -> float:
        return self.cpu_s / self.units * 1e6 if self.units else float("nan")


def addresses(n: int, dead_share: float = 0.01) -> tuple[list[str], list[str]]:
    """Return (live, dead) addresses: loopback for live ones, the dead range for 1%."""
    dead_count = int(n * dead_share)
    live = [f"127.{20 + i // 62500}.{i // 250 % 250}.{i % 250 + 1}" for i in range(n - dead_count)]
    dead = [f"198.19.{i // 250}.{i % 250 + 1}" for i in range(dead_count)]
    return live, dead


def sh(*args: str, check: bool = True) -> None:
    """Run a set-up command quietly; with `check`, fail the benchmark if it fails."""
    subprocess.run(args, check=check, capture_output=True, timeout=30)


@contextlib.contextmanager
def linked_namespace(tag: str, host: str, peer: str, routed: str | None = None) -> Iterator[str]:
    """Yield a namespace of our own joined to this one by a veth pair (host/30 on this side,
    peer/30 on that one), with `routed` sent into it; always removed afterwards."""
    ns, outer, inner = f"tpsb{tag}", f"tpso{tag}", f"tpsi{tag}"
    try:
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "add", outer, "type", "veth", "peer", "name", inner)
        sh("ip", "link", "set", inner, "netns", ns)
        sh("ip", "addr", "add", f"{host}/30", "dev", outer)
        sh("ip", "link", "set", outer, "up")
        sh("ip", "netns", "exec", ns, "ip", "addr", "add", f"{peer}/30", "dev", inner)
        sh("ip", "netns", "exec", ns, "ip", "link", "set", inner, "up")
        if routed:
            sh("ip", "route", "add", routed, "via", peer)
        yield ns
    finally:
        if routed:
            sh("ip", "route", "del", routed, check=False)
        sh("ip", "link", "del", outer, check=False)
        sh("ip", "netns", "del", ns, check=False)


@contextlib.contextmanager
def dead_range() -> Iterator[None]:
    """Route DEAD_NET into a namespace of our own that answers nothing; always clean up."""
    # Forwarding is off in a new namespace: packets for DEAD_NET are dropped there, silently.
    with linked_namespace(f"dead{os.getpid() % 10000}", "198.18.255.1", "198.18.255.2", DEAD_NET):
        yield


def process_cpu(pid: int) -> float:
    """Return user+system CPU seconds of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def process_rss(pid: int) -> int:
    """Return a process's resident memory in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def http_get(url: str, timeout: float = 60) -> tuple[float, bytes]:
    """Return (seconds, body) of a GET."""
    started = time.monotonic()
    with urllib.request.urlopen(url, timeout=timeout) as response:
        body = response.read()
    return time.monotonic() - started, body


def inventory_yaml(live: list[str], dead: list[str]) -> str:
    """One TPS per device, eight TPS per village as in Kepulauan Riau, in flow mappings."""
    lines = ["devices:"]
    all_devices = [*live, *dead]
    lines += [f"  - {{id: d{i}, kind: router, address: {a}}}" for i, a in enumerate(all_devices)]
    lines.append("sites:")
    for i in range(len(all_devices)):
        village = i // 8  # 12,500 villages for 100,000 TPS, in up to 99 districts
        district, number = village // 200 + 1, village % 200 + 2001
        place = (
            'province: {code: "21", name: Kepulauan Riau}, '
            'regency: {code: "21.71", name: Kota Batam}, '
            f'district: {{code: "21.71.{district:02d}", name: Kecamatan {district}}}, '
            f'village: {{code: "21.71.{district:02d}.{number}", name: Desa {village}}}'
        )
        lines.append(f"  - {{id: s{i}, name: TPS {i % 8 + 1:03d}, {place}, devices: [d{i}]}}")
    return "\n".join(lines) + "\n"


def histogram_quantile(text: str, name: str, q: float, before: dict[str, float]) -> float:
    """Return a quantile of a histogram's growth since `before` (le -> count)."""
    now = buckets(text, name)
    growth = {le: now[le] - before.get(le, 0) for le in now}
    total = growth.get("+Inf", 0)
    if total <= 0:
        return 0.0
    for le in sorted((k for k in growth if k != "+Inf"), key=float):
        if growth[le] >= q * total:
            return float(le)
    return float("inf")


def buckets(text: str, name: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line.startswith(name + "_bucket{"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            out[le] = float(line.rsplit(" ", 1)[1])
    return out


def metric_sum(text: str, name: str, where: str = "") -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name + "{") and where in line
    )


@contextlib.contextmanager
def peer_exporter(
    binary: str, config: Path, workdir: Path, ready_path: str
) -> Iterator[tuple[int, int]]:
    """Run a peer exporter on a free loopback port until the block ends; yield (port, pid)."""
    port = free_port()
    log = (workdir / f"{binary}.log").open("wb")
    process = subprocess.Popen(
        [binary, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}{ready_path}", 30)
        yield port, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def table(rows: list[Row]) -> str:
    ours = {
        (r.workload, r.extra.get("devices") or r.extra.get("sites")): r
        for r in rows
        if r.tool == "tps-exporter"
    }
    lines = [
        f"{'workload':<13} {'size':>7} {'tool':<26} {'wall s':>8} {'CPU s':>8} "
        f"{'CPU/unit':>11} {'vs ours':>8}  notes"
    ]
    for r in rows:
        size = r.extra.get("devices") or r.extra.get("sites")
        base = ours.get((r.workload, size))
        ratio = r.cpu_per_unit_us / base.cpu_per_unit_us if base else float("nan")
        notes = ", ".join(f"{k}={v}" for k, v in r.extra.items() if k not in ("devices", "sites"))
        lines.append(
            f"{r.workload:<13} {size!s:>7} {r.tool:<26} {r.wall_s:>8.2f} {r.cpu_s:>8.2f} "
            f"{r.cpu_per_unit_us:>7.2f} us/{r.unit:<6} {ratio:>6.1f}x  {notes}"
        )
    return "\n".join(lines)
