"""`make bench`: tps-exporter beside its peers, on the same targets, in one run.

Workloads (see docs/benchmarks.md for the figures and how to read them):
  icmp        tps-exporter (the whole process: scheduler, store) vs fping vs blackbox_exporter
              (probes spread over 20 s as Prometheus drives it, and back to back),
              N devices x 3 echoes, 1% dead devices in a namespace this script creates;
              also: live devices reported alive, RSS, event-loop lag and scrape latency
  snmp        GET of 5 scalars and a GETBULK walk of ifTable+ifXTable (48 interfaces, 1,920
              values) vs pysnmp, puresnmp, ezsnmp, snmp_exporter and net-snmp; 2,000 routers per
              cycle, the whole exporter process vs snmp_exporter (bench/snmp.py)
  exposition  a scrape of N sites with all their series vs prometheus_client on the same samples
  hostile     scrape latency at 100,000 TPS, idle and while /status.json searches flood it or
              1,000 idle sockets are held under a 1,024-file limit (bench/hostile.py)

Targets are loopback addresses (every 127.x.y.z answers) and, for dead devices, a range routed
into a network namespace that drops them. Needs root (raw sockets, namespaces). Every loop is
bounded; the whole run takes a few minutes. Results: a table, and bench/results/*.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import gzip
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lab.local import free_port, wait_ready

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
DEAD_NET = "198.19.0.0/16"  # routed into the benchmark's namespace, where nothing answers
TICKS = os.sysconf("SC_CLK_TCK")
# blackbox_exporter's 6,000 probes spread over 20 s, as Prometheus spreads scrapes of its
# targets over the interval (300 probes/s).
BLACKBOX_SPREAD = 20.0


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


# ---------------------------------------------------------------- targets


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


# ---------------------------------------------------------------- process figures


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


# ---------------------------------------------------------------- icmp: tps-exporter


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


def ours_icmp(n: int, workdir: Path) -> Row:
    """Run tps-exporter on n devices for one full cycle; measure the process itself."""
    live, dead = addresses(n)
    interval = max(10, n // 4000)  # spread: at most ~12k echoes/s on the loopback
    (workdir / "targets").mkdir(exist_ok=True)
    (workdir / "targets" / "bench.yaml").write_text(inventory_yaml(live, dead))
    (workdir / "tps-exporter.yml").write_text(
        "targets: [targets]\n"
        f"icmp: {{interval: {interval}s, count: 3, spacing: 500ms, timeout: 1s}}\n"
    )
    port = free_port()
    log = (workdir / f"exporter-{n}.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "exporter",
            "--config.file",
            str(workdir / "tps-exporter.yml"),
            f"--web.listen-address=127.0.0.1:{port}",
            "--icmp.socket=raw",
            "--log.level=warn",
        ],
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        load_started = time.monotonic()
        wait_ready(f"{url}/-/ready", 600)
        load_s = time.monotonic() - load_started
        # Cycle 1: polling alone, so its CPU is comparable with fping's.
        cpu0, t0 = process_cpu(process.pid), time.monotonic()
        time.sleep(interval + 2.5)  # one full cycle: every device polled once
        cpu1, t1 = process_cpu(process.pid), time.monotonic()
        _, first = http_get(f"{url}/metrics")
        first_text = first.decode()
        echoes = int(metric_sum(first_text, "tps_icmp_echo_requests_total"))
        lag_before = buckets(first_text, "tps_event_loop_lag_seconds")
        # Cycle 2: polling while scrapes come every 10 s (Prometheus scrapes a shard this
        # size every 30 s; 10 s still puts two or three scrapes inside every cycle).
        scrapes: list[float] = []
        stop = threading.Event()

        def scraper() -> None:
            while not stop.wait(10.0):
                with contextlib.suppress(OSError):
                    scrapes.append(http_get(f"{url}/metrics")[0])

        thread = threading.Thread(target=scraper, daemon=True)
        thread.start()
        time.sleep(max(interval, 21))
        stop.set()
        thread.join(timeout=120)
        scrape_s, body = http_get(f"{url}/metrics")
        text = body.decode()
        up = sum(
            1
            for line in text.splitlines()
            if line.startswith("tps_device_up{") and line.endswith(" 1")
        )
        live_ids = {f'device="d{i}"' for i in range(len(live))}
        live_up = sum(
            1
            for line in text.splitlines()
            if line.startswith("tps_device_up{")
            and line.endswith(" 1")
            and line[len("tps_device_up{") :].split("}")[0] in live_ids
        )
        return Row(
            "icmp",
            "tps-exporter",
            t1 - t0,
            cpu1 - cpu0,
            echoes,
            "echo",
            {
                "devices": n,
                "dead": len(dead),
                "live_reported_up": live_up,
                "up": up,
                "live": len(live),
                "interval_s": interval,
                "inventory_load_s": round(load_s, 1),
                "rss_bytes": process_rss(process.pid),
                "loop_lag_p99_s": histogram_quantile(
                    text, "tps_event_loop_lag_seconds", 0.99, lag_before
                ),
                "scrape_p50_s": statistics.median(scrapes) if scrapes else scrape_s,
                "scrape_p99_s": max(scrapes) if scrapes else scrape_s,
                "scrape_bytes": len(body),
            },
        )
    finally:
        process.terminate()
        process.wait(timeout=60)
        log.close()


# ---------------------------------------------------------------- icmp: peers


def fping(n: int, workdir: Path) -> Row:
    live, dead = addresses(n)
    hosts = workdir / f"hosts-{n}"
    hosts.write_text("\n".join([*live, *dead]) + "\n")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    result = subprocess.run(
        [
            "fping",
            "-q",
            "-C",
            "3",
            "-p",
            "1000",
            "-i",
            "0.1",
            "-t",
            "1000",
            "-r",
            "0",
            "-f",
            str(hosts),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    alive = sum(
        1
        for line in result.stderr.splitlines()
        if ":" in line and line.split(":", 1)[1].strip().split()[0] != "-"
    )
    return Row(
        "icmp",
        "fping",
        wall,
        cpu,
        3 * n,
        "echo",
        {"devices": n, "live_reported_up": alive, "live": len(live)},
    )


def blackbox(n: int, workdir: Path, concurrency: int = 100, spread: float = 0.0) -> Row:
    """One probe is one echo in blackbox_exporter: 3 probes per device. With `spread`, probe
    starts are spread over that many seconds, as Prometheus spreads its scrapes over the
    interval; without, `concurrency` probes run back to back (its best case)."""
    live, dead = addresses(n)
    (workdir / "blackbox.yml").write_text(
        "modules:\n  icmp:\n    prober: icmp\n    timeout: 1s\n"
        "    icmp: {preferred_ip_protocol: ip4, ip_protocol_fallback: false}\n"
    )
    with peer_exporter(
        "prometheus-blackbox-exporter", workdir / "blackbox.yml", workdir, "/-/healthy"
    ) as (port, pid):
        targets = [*live, *dead] * 3
        alive: set[str] = set()

        async def probe_all() -> None:
            import aiohttp  # noqa: PLC0415

            limit = asyncio.Semaphore(concurrency)
            async with aiohttp.ClientSession() as session:
                started = time.monotonic()

                async def one(i: int, target: str) -> None:
                    start_at = started + spread * i / len(targets)
                    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
                    async with limit:
                        url = f"http://127.0.0.1:{port}/probe?module=icmp&target={target}"
                        async with session.get(url) as response:
                            if "probe_success 1" in await response.text():
                                alive.add(target)

                await asyncio.gather(*(one(i, t) for i, t in enumerate(targets)))

        cpu0, t0 = process_cpu(pid), time.monotonic()
        asyncio.run(probe_all())
        cpu1, t1 = process_cpu(pid), time.monotonic()
        return Row(
            "icmp",
            "blackbox_exporter" if spread else "blackbox_exporter (burst)",
            t1 - t0,
            cpu1 - cpu0,
            3 * n,
            "echo",
            {"devices": n, "live_reported_up": len(alive & set(live)), "live": len(live)},
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


# ---------------------------------------------------------------- exposition


def exposition(n: int) -> list[Row]:
    """Render n sites and n devices (every series) vs prometheus_client on the same samples."""
    from prometheus_client import CollectorRegistry, generate_latest  # noqa: PLC0415
    from prometheus_client.metrics_core import Metric  # noqa: PLC0415
    from prometheus_client.parser import text_string_to_metric_families  # noqa: PLC0415

    from exporter.exposition.render import render  # noqa: PLC0415
    from exporter.exposition.status import status_view  # noqa: PLC0415
    from exporter.inventory.model import (  # noqa: PLC0415
        Area,
        Check,
        Device,
        DeviceKind,
        ElectionCalendar,
        IcmpSettings,
        Inventory,
        Place,
        Site,
        StateSettings,
    )
    from exporter.pollers.results import PingResult  # noqa: PLC0415
    from exporter.state.stats import RuntimeStats  # noqa: PLC0415
    from exporter.state.store import Store  # noqa: PLC0415

    place = Place(
        Area("21", "Kepulauan Riau"),
        Area("21.71", "Kota Batam"),
        Area("21.71.10", "Batam Kota"),
        Area("21.71.10.1004", "Belian"),
    )
    devices = {
        f"d{i}": Device(
            f"d{i}",
            DeviceKind.ROUTER,
            "Telkomsel",
            f"127.1.{i // 250 % 250}.{i % 250 + 1}",
            frozenset({Check.ICMP}),
            IcmpSettings(),
            StateSettings(),
        )
        for i in range(n)
    }
    sites = {
        f"s{i}": Site(f"s{i}", f"TPS {i}", place, "Asia/Jakarta", (f"d{i}",), 1.1, 104.0)
        for i in range(n)
    }
    store = Store(Inventory(devices, sites))
    for i in range(n):
        store.record_ping(f"d{i}", PingResult(3, (0.001, 0.002, 0.0015), address="127.0.0.1"))
    stats = RuntimeStats()
    times = []
    for _ in range(3):
        started = time.process_time()
        body = render(store, stats)
        times.append(time.process_time() - started)
    ours = min(times)
    started = time.process_time()
    compressed = gzip.compress(body, compresslevel=1)
    gzip_s = time.process_time() - started
    started = time.process_time()
    status_view(store, ElectionCalendar())  # what /status.json computes for the nation
    status_s = time.process_time() - started
    samples = body.count(b"\n") - 2 * body.count(b"# TYPE")
    parsed = [
        (f.name, f.type, f.documentation, [(s.name, s.labels, s.value) for s in f.samples])
        for f in text_string_to_metric_families(body.decode())
    ]

    class Collector:
        """What an exporter built on prometheus_client does on every scrape."""

        def collect(self):  # type: ignore[no-untyped-def]
            for name, kind, doc, samples in parsed:
                family = Metric(name, doc, kind)
                for sample_name, labels, value in samples:
                    family.add_sample(sample_name, labels, value)
                yield family

    registry = CollectorRegistry()
    registry.register(Collector())
    started = time.process_time()
    theirs_body = generate_latest(registry)
    theirs = time.process_time() - started
    return [
        Row(
            "exposition",
            "tps-exporter",
            ours,
            ours,
            samples,
            "sample",
            {
                "sites": n,
                "bytes": len(body),
                "gzip_bytes": len(compressed),
                "gzip_s": round(gzip_s, 3),
                "status_json_s": round(status_s, 3),
            },
        ),
        Row(
            "exposition",
            "prometheus_client",
            theirs,
            theirs,
            samples,
            "sample",
            {"sites": n, "bytes": len(theirs_body)},
        ),
    ]


# ---------------------------------------------------------------- report


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


def _peers(only: set[str], sizes: list[int], quick: bool, work: Path) -> list[Row]:
    """Run the workloads that compare tps-exporter with its peers."""
    rows: list[Row] = []
    with dead_range():
        for n in sizes if "icmp" in only else []:
            print(f"icmp {n} devices: tps-exporter...", file=sys.stderr, flush=True)
            rows.append(ours_icmp(n, work))
            print(f"icmp {n} devices: fping...", file=sys.stderr, flush=True)
            rows.append(fping(n, work))
        if "icmp" in only:
            print("icmp 2000 devices: blackbox_exporter (one echo per HTTP probe)...",
                  file=sys.stderr)  # fmt: skip
            rows.append(blackbox(2000, work, spread=BLACKBOX_SPREAD))
            rows.append(blackbox(2000, work))
        if "snmp" in only:
            from bench.snmp import run_all  # noqa: PLC0415 - it imports this module

            rows.extend(run_all(work, quick))
        for n in sizes if "exposition" in only else []:
            print(f"exposition {n} sites...", file=sys.stderr, flush=True)
            rows.extend(exposition(n))
        if "hostile" in only:
            from bench.hostile import run as hostile  # noqa: PLC0415 - it imports this module

            rows.extend(hostile(work, quick))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="10,000 devices only (about 2 minutes)"
    )
    parser.add_argument(
        "--only",
        choices=["icmp", "snmp", "exposition", "hostile", "soak"],
        action="append",
        help="run only these workloads (default: all but the soak)",
    )
    parser.add_argument("--soak-minutes", type=float, default=20.0,
                        help="how long the soak runs (default 20)")  # fmt: skip
    args = parser.parse_args()
    only = set(args.only or ["icmp", "snmp", "exposition", "hostile"])
    if os.geteuid() != 0:
        print("the benchmark needs root (raw sockets and a network namespace)", file=sys.stderr)
        return 2
    sizes = [10_000] if args.quick else [10_000, 100_000]
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="tps-bench-") as tmp:
        work = Path(tmp)
        if "soak" in only:  # its own lab, before the dead range is routed
            from bench.soak import run as soak  # noqa: PLC0415 - it imports this module

            rows.extend(soak(args.soak_minutes, work))
        rows.extend(_peers(only, sizes, args.quick, work))
    print(table(rows))
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    payload = {
        "when": stamp,
        "machine": {"cpus": os.cpu_count()},
        "rows": [dict(asdict(r), cpu_per_unit_us=r.cpu_per_unit_us) for r in rows],
    }
    # latest.json is the last full comparison with the peers; a soak alone keeps its own latest,
    # and a partial run only its dated file, so neither hides the last full one.
    names = [f"{stamp}.json"]
    if only == {"soak"}:
        names.append("latest-soak.json")
    elif only >= {"icmp", "snmp", "exposition"} and not args.quick:
        names.append("latest.json")
    for name in names:
        (RESULTS / name).write_text(json.dumps(payload, indent=2))
    print(f"results: {', '.join(str(RESULTS / n) for n in names)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
