"""Workload `hostile`: how long a Prometheus scrape takes while the HTTP surface is attacked.

One exporter process on 100,000 TPS (20,000 with --quick), each behind a loopback device
polled once a minute, under the common file limit of 1,024 (soft and hard, so it cannot raise
it). Ten scrapes of /metrics, one after another, in each phase:
  idle         nothing else
  search 5/s   a client asking /status.json for a new search five times a second (issue 16's
               load: 31.5 s scrapes before the search index and the per-client limit)
  search flood four clients asking as fast as they can, every one a new search
  idle sockets 1,000 connections opened and left idle (before: every scrape timed out)
  idle again   nothing else, to show the exporter is where it started
Measuring starts once every device has been polled, so every scrape has the same series.
Printed: scrape latency p50 and max, and p50 as a multiple of idle (the goal: within 2x).
Only loopback is used; every phase is bounded in scrapes and time.
"""

from __future__ import annotations

import contextlib
import math
import random
import resource
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

from bench.common import REPO, Row, addresses, http_get, inventory_yaml, process_cpu
from lab.local import free_port, wait_ready

FILE_LIMIT = 1024
IDLE_SOCKETS = 1000
SCRAPES = 10
WORDS = ("Batam", "Bintan", "Lingga", "Natuna", "Anambas", "Karimun", "TPS", "Desa", "d1", "s9")


def run(workdir: Path, quick: bool) -> list[Row]:
    """Measure scrape latency in each phase on one exporter process."""
    n = 20_000 if quick else 100_000
    with _exporter(workdir, n) as (url, pid):
        phases: list[tuple[str, Callable[[], contextlib.AbstractContextManager[dict[str, int]]]]]
        phases = [
            ("idle", _nothing),
            ("search 5/s", lambda: _searching(url, clients=1, rate=5.0)),
            ("search flood", lambda: _searching(url, clients=4, rate=None)),
            ("idle sockets", lambda: _idle_sockets(url)),
            ("idle again", _nothing),
        ]
        rows = []
        for name, load in phases:
            print(f"hostile {n} TPS: scrapes while {name}...", file=sys.stderr, flush=True)
            cpu = process_cpu(pid)
            with load() as seen:
                times = [_scrape(url) for _ in range(SCRAPES)]
            rows.append(_row(name, n, times, process_cpu(pid) - cpu, seen))
    idle = rows[0].wall_s
    for row in rows:
        row.extra["p50_vs_idle"] = f"{row.wall_s / idle:.2f}x"
    return rows + auth_timing()


def auth_timing(tries: int = 5) -> list[Row]:
    """How long a wrong basic-auth password takes to refuse, by user: one with a cost-10 hash,
    one with cost 12, and a user that does not exist (before: 61, 240 and 61 ms)."""
    import asyncio  # noqa: PLC0415

    import bcrypt  # noqa: PLC0415

    from exporter.exposition.basic_auth import BasicAuth  # noqa: PLC0415

    users = {"noc": bcrypt.hashpw(b"a", bcrypt.gensalt(10)),
             "kpu": bcrypt.hashpw(b"b", bcrypt.gensalt(12))}  # fmt: skip

    async def measure() -> list[Row]:
        auth = BasicAuth(users)
        rows = []
        for user, label in (("noc", "cost 10"), ("kpu", "cost 12"), ("mallory", "no such user")):
            times, cpu = [], time.process_time()  # bcrypt's thread included
            for i in range(tries):
                started = time.monotonic()
                await auth.check(f"10.0.0.{i}", user, b"wrong")
                times.append(time.monotonic() - started)
            p50 = statistics.median(times)
            cpu = time.process_time() - cpu
            rows.append(Row("basic-auth", f"tps-exporter, {label}", p50, cpu, tries,
                            "refusal", {"p50_ms": round(p50 * 1000)}))  # fmt: skip
        return rows

    print("basic auth: time to refuse a wrong password...", file=sys.stderr, flush=True)
    return asyncio.run(measure())


def _row(name: str, n: int, times: list[float], cpu: float, seen: dict[str, int]) -> Row:
    answered = [t for t in times if not math.isnan(t)]  # NaN: the scrape failed
    p50 = statistics.median(answered) if answered else float("nan")
    extra: dict[str, object] = {"sites": n, "phase": name,
                                "p50_ms": round(p50 * 1000), "max_ms": round(max(times) * 1000),
                                "failed": len(times) - len(answered), **seen}  # fmt: skip
    tool = "tps-exporter" if name == "idle" else f"tps-exporter, {name}"
    return Row("hostile", tool, p50, cpu, len(times), "scrape", extra)


def _scrape(url: str) -> float:
    try:
        return http_get(f"{url}/metrics", timeout=60)[0]
    except (OSError, urllib.error.URLError):
        return float("nan")


@contextlib.contextmanager
def _exporter(workdir: Path, n: int) -> Iterator[tuple[str, int]]:
    live, _ = addresses(n, dead_share=0.0)
    targets = workdir / "hostile-targets"
    targets.mkdir(exist_ok=True)
    (targets / "bench.yaml").write_text(inventory_yaml(live, []))
    config = workdir / "hostile.yml"
    config.write_text(f"targets: [{targets}]\nicmp: {{interval: 60s, count: 1, timeout: 1s}}\n")
    port = free_port()
    with (workdir / "hostile-exporter.log").open("wb") as log:
        process = subprocess.Popen(
            ["prlimit", f"--nofile={FILE_LIMIT}:{FILE_LIMIT}", "--",
             sys.executable, "-m", "exporter", "--config.file", str(config),
             f"--web.listen-address=127.0.0.1:{port}", "--icmp.socket=raw", "--log.level=warn"],
            cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(f"{url}/-/ready", 600)
        _first_cycle(url)
        yield url, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _first_cycle(url: str, seconds: float = 180) -> None:
    """Wait until every device has been polled once: before, each scrape is larger than the
    last (a device with results has more series), which would pass for the load's cost."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        text = http_get(f"{url}/metrics")[1].decode()
        if 'tps_sites{status="no_data"} 0\n' in text:
            return
        time.sleep(5)
    raise RuntimeError("the devices were not all polled within 3 minutes")


@contextlib.contextmanager
def _nothing() -> Iterator[dict[str, int]]:
    yield {}


@contextlib.contextmanager
def _searching(url: str, clients: int, rate: float | None) -> Iterator[dict[str, int]]:
    """Clients asking for new searches (every one different) until the block ends."""
    stop, seen, lock = threading.Event(), {"searches_200": 0, "searches_429": 0}, threading.Lock()

    def client(number: int) -> None:
        rng = random.Random(number)
        for _ in range(100_000):  # bounded; the block ends it long before
            if stop.is_set():
                return
            query = f"{rng.choice(WORDS)} {rng.randrange(10_000)}"
            status = _status(f"{url}/status.json?q={urllib.parse.quote(query)}")
            with lock:
                key = f"searches_{status}"
                seen[key] = seen.get(key, 0) + 1
            if rate is not None:
                stop.wait(1 / rate)

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    try:
        yield seen
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


@contextlib.contextmanager
def _idle_sockets(url: str) -> Iterator[dict[str, int]]:
    """IDLE_SOCKETS connections opened to the exporter and never used."""
    host, port = url.removeprefix("http://").split(":")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4 * IDLE_SOCKETS)), hard))
    sockets: list[socket.socket] = []
    try:
        for _ in range(IDLE_SOCKETS):
            with contextlib.suppress(OSError):
                sockets.append(socket.create_connection((host, int(port)), timeout=5))
        time.sleep(1)  # the exporter has accepted what it will
        yield {"idle_sockets": len(sockets)}
    finally:
        for s in sockets:
            s.close()


def main() -> int:
    """Run the workload alone and print its rows."""
    import argparse  # noqa: PLC0415
    import tempfile  # noqa: PLC0415

    from bench.common import table  # noqa: PLC0415

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 TPS instead of 100,000")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tps-hostile-") as tmp:
        print(table(run(Path(tmp), args.quick)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
