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
from dataclasses import asdict
from pathlib import Path

from bench.common import (
    REPO,
    RESULTS,
    Row,
    addresses,
    buckets,
    dead_range,
    histogram_quantile,
    http_get,
    inventory_yaml,
    metric_sum,
    peer_exporter,
    process_cpu,
    process_rss,
    table,
)
from bench.hostile import run as hostile
from bench.snmp import run_all
from bench.soak import run as soak
from lab.local import free_port, wait_ready

# blackbox_exporter's 6,000 probes spread over 20 s, as Prometheus spreads scrapes of its
# targets over the interval (300 probes/s).
BLACKBOX_SPREAD = 20.0


# ---------------------------------------------------------------- icmp: tps-exporter


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


# ---------------------------------------------------------------- the run


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
            rows.extend(run_all(work, quick))
        for n in sizes if "exposition" in only else []:
            print(f"exposition {n} sites...", file=sys.stderr, flush=True)
            rows.extend(exposition(n))
        if "hostile" in only:
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
