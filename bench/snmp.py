"""The SNMP workloads of `make bench`: tps-exporter beside snmp_exporter, pysnmp and net-snmp.

Agents are net-snmp's snmpd in namespaces this script creates: one with 48 interfaces (veth
pairs: this kernel has no dummy links) for the GET and table-walk workloads, and one with 10
interfaces whose whole 198.18.128.0/18 range is local, so 2,000 "router" devices each have their
own address and the same agent answers them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.common import (
    REPO,
    Row,
    http_get,
    linked_namespace,
    metric_sum,
    peer_exporter,
    process_cpu,
    sh,
)
from lab.local import free_port, wait_ready

COMMUNITY = "tps-bench"
SUCCESS = 'protocol="snmp",result="success"'
BIG = ("198.18.254.1", "198.18.254.2")  # host side, agent side: the 48-interface agent
ROUTERS = ("198.18.253.1", "198.18.253.2", "198.18.128.0/18")  # host, agent, router addresses
# sysDescr, sysUpTime, sysContact, sysName, sysLocation
SCALARS = [f"1.3.6.1.2.1.1.{n}.0" for n in (1, 3, 4, 5, 6)]
TABLES = ["1.3.6.1.2.1.2.2", "1.3.6.1.2.1.31.1.1"]  # ifTable, ifXTable
# snmp_exporter types for each column of ifTable (2.2.1.N) and ifXTable (31.1.1.1.N).
IF_COLUMNS = {
    1: "gauge",
    2: "DisplayString",
    3: "gauge",
    4: "gauge",
    5: "gauge",
    6: "PhysAddress48",
    7: "gauge",
    8: "gauge",
    9: "gauge",
    21: "gauge",
    **dict.fromkeys(range(10, 21), "counter"),
}
IFX_COLUMNS = {
    1: "DisplayString",
    14: "gauge",
    15: "gauge",
    16: "gauge",
    17: "gauge",
    18: "DisplayString",
    19: "gauge",
    **dict.fromkeys(range(2, 14), "counter"),
}


@dataclass
class Agent:
    """A running snmpd in its namespace."""

    namespace: str
    process: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.process.pid


@contextlib.contextmanager
def snmp_agent(
    name: str, interfaces: int, host: str, agent: str, local_range: str | None = None
) -> Iterator[Agent]:
    """Run snmpd in a new namespace with `interfaces` interfaces (lo and veths); clean up."""
    work = Path(tempfile.mkdtemp(prefix="tps-bench-snmpd-"))
    process = None
    tag = f"{name}{os.getpid() % 10000}"
    with linked_namespace(tag, host, agent, local_range) as ns:
        inside = ("ip", "netns", "exec", ns)
        try:
            sh(*inside, "ip", "link", "set", "lo", "up")
            for pair in range((interfaces - 2) // 2):  # lo and the veth end are two already
                a, b = f"p{pair}a", f"p{pair}b"
                sh(*inside, "ip", "link", "add", a, "type", "veth", "peer", "name", b)
                sh(*inside, "ip", "link", "set", a, "up")
                sh(*inside, "ip", "link", "set", b, "up")
            if local_range:  # every address of the range is the agent's own
                sh(*inside, "ip", "route", "add", "local", local_range, "dev", "lo")
            (work / "snmpd.conf").write_text(
                f"agentAddress udp:161\nrocommunity {COMMUNITY}\ndontLogTCPWrappersConnects yes\n"
            )
            env = {**os.environ, "SNMP_PERSISTENT_DIR": str(work), "MIBS": ""}
            binary = shutil.which("snmpd") or "/usr/sbin/snmpd"
            config, pid = str(work / "snmpd.conf"), str(work / "pid")
            process = subprocess.Popen(
                [*inside, binary, "-f", "-Lo", "-C", "-c", config, "-p", pid],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=env,
            )
            wait_snmp(agent)
            yield Agent(ns, process)
        finally:
            if process is not None:
                process.terminate()
                process.wait(timeout=30)
            shutil.rmtree(work, ignore_errors=True)


def wait_snmp(address: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done = subprocess.run(
            ["snmpget", "-v2c", "-c", COMMUNITY, "-t", "0.5", "-r", "0", address, SCALARS[1]],
            capture_output=True,
            check=False,
            env={**os.environ, "MIBS": ""},
            timeout=10,
        )
        if done.returncode == 0:
            return
        time.sleep(0.2)
    raise TimeoutError(f"snmpd at {address} did not answer")


# ---------------------------------------------------------------- engines in a child process


def engine_run(engine: str, workload: str, address: str, repeat: int, concurrency: int) -> Row:
    """Run one engine's workload in a fresh interpreter and return what it measured itself."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.snmp",
            engine,
            workload,
            address,
            str(repeat),
            str(concurrency),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    tool = {"own": "tps-exporter"}.get(engine, engine)
    return Row(
        f"snmp-{workload}",
        tool,
        figures["wall_s"],
        figures["cpu_s"],
        figures["varbinds"],
        "varbind",
        {"requests": figures["requests"]},
    )


async def _drive(engine: str, workload: str, address: str, repeat: int, concurrency: int) -> None:
    """Run `repeat` GETs or table walks with one engine; print its CPU and values as JSON."""
    once = _engine(engine, address, concurrency)
    await once(workload)  # warm-up: sockets, caches
    limit = asyncio.Semaphore(concurrency)

    async def bounded() -> int:
        async with limit:
            return await once(workload)

    cpu, wall = time.process_time(), time.monotonic()
    counts = await asyncio.gather(*(bounded() for _ in range(repeat)))
    cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    print(json.dumps({"cpu_s": cpu, "wall_s": wall, "varbinds": sum(counts), "requests": repeat}))


def _engine(engine: str, address: str, concurrency: int) -> Callable[[str], Awaitable[int]]:
    """Return a function doing one GET of the scalars or one walk of both tables."""
    if engine in {"own", "pysnmp"}:
        from exporter.inventory.model import Secret, SnmpAuth, SnmpVersion  # noqa: PLC0415
        from exporter.pollers.snmp_client import SnmpTarget  # noqa: PLC0415
        from exporter.pollers.snmp_pysnmp import PysnmpClient  # noqa: PLC0415
        from exporter.pollers.snmp_udp import EngineClient  # noqa: PLC0415

        client = EngineClient(concurrency) if engine == "own" else PysnmpClient(concurrency)
        auth = SnmpAuth("bench", SnmpVersion.V2C, community=Secret(COMMUNITY))
        target = SnmpTarget(address, 161, auth, timeout=5.0, retries=1, max_repetitions=25)

        async def ours(workload: str) -> int:
            if workload == "get":
                return len(await client.get(target, SCALARS))
            tables = await asyncio.gather(*(client.walk(target, oid) for oid in TABLES))
            return sum(map(len, tables))

        return ours
    if engine == "puresnmp":
        from puresnmp import V2C, Client  # noqa: PLC0415
        from x690.types import ObjectIdentifier  # noqa: PLC0415

        pure = Client(address, V2C(COMMUNITY))
        scalars = [ObjectIdentifier(o) for o in SCALARS]
        tables = [ObjectIdentifier(o) for o in TABLES]

        async def puresnmp(workload: str) -> int:
            if workload == "get":
                return len([(str(v),) for v in await pure.multiget(scalars)])
            return len([(str(vb.oid), vb.value) async for vb in pure.bulkwalk(tables, 25)])

        return puresnmp
    from ezsnmp import Session  # noqa: PLC0415

    # net-snmp's C library through SWIG; it blocks, so it runs one request at a time.
    session = Session(hostname=address, community=COMMUNITY, version=2, timeout=5, retries=1)

    async def ezsnmp(workload: str) -> int:
        results = (
            session.get(SCALARS)
            if workload == "get"
            else [r for oid in TABLES for r in session.bulk_walk(oid)]
        )
        return len([(r.oid, r.value, r.type) for r in results])  # as Python values, as we do

    return ezsnmp


# ---------------------------------------------------------------- snmp_exporter and net-snmp


def snmp_exporter_config(path: Path) -> None:
    """Modules for the same OIDs: 5 scalars, ifTable+ifXTable, and the 10-interface router."""
    from exporter.inventory.profiles import load_profiles  # noqa: PLC0415

    def metric(name: str, oid: str, kind: str, indexed: bool) -> str:
        index = "    indexes: [{labelname: ifIndex, type: gauge}]\n" if indexed else ""
        return f"  - name: {name}\n    oid: {oid}\n    type: {kind}\n{index}"

    def module(name: str, get: list[str], walk: list[str], metrics: list[str]) -> str:
        return (
            f"{name}:\n  version: 2\n  auth: {{community: {COMMUNITY}}}\n  max_repetitions: 25\n"
            f"  timeout: 5s\n  retries: 1\n  get: {json.dumps(get)}\n  walk: {json.dumps(walk)}\n"
            "  metrics:\n" + "".join(metrics)
        )

    kinds = {
        1: "DisplayString",
        3: "gauge",
        4: "DisplayString",
        5: "DisplayString",
        6: "DisplayString",
    }
    scalars = [metric(f"sys{n}", f"1.3.6.1.2.1.1.{n}", k, False) for n, k in kinds.items()]
    tables = [metric(f"if{c}", f"1.3.6.1.2.1.2.2.1.{c}", k, True) for c, k in IF_COLUMNS.items()]
    tables += [
        metric(f"ifx{c}", f"1.3.6.1.2.1.31.1.1.1.{c}", k, True) for c, k in IFX_COLUMNS.items()
    ]
    profiles = load_profiles([], []).profiles
    router_get = profiles["system"].get_oids()
    router_walk = profiles["interfaces"].walk_oids()
    kind_of = {
        **{f"1.3.6.1.2.1.2.2.1.{c}": k for c, k in IF_COLUMNS.items()},
        **{f"1.3.6.1.2.1.31.1.1.1.{c}": k for c, k in IFX_COLUMNS.items()},
    }
    router = [
        metric(f"r{i}", oid[:-2], "gauge" if oid.endswith(".3.0") else "DisplayString", False)
        for i, oid in enumerate(router_get)
        if not oid.endswith(".2.0")  # sysObjectID: an OID value, which it cannot type
    ]
    router += [metric(f"c{i}", oid, kind_of[oid], True) for i, oid in enumerate(router_walk)]
    # snmp_exporter 0.21 (Debian): modules at the top level, auth inside each module.
    path.write_text(
        module("scalars5", SCALARS, [], scalars)
        + module("tables", [], TABLES, tables)
        + module("router10", router_get, router_walk, router)
    )


@contextlib.contextmanager
def snmp_exporter(workdir: Path) -> Iterator[tuple[int, int]]:
    """Run snmp_exporter with the bench modules; yield (port, pid)."""
    config = workdir / "snmp.yml"
    snmp_exporter_config(config)
    with peer_exporter("prometheus-snmp-exporter", config, workdir, "/") as running:
        yield running


def scrape_all(
    port: int, module: str, targets: list[str], concurrency: int, spread: float = 0.0
) -> list[str]:
    """Scrape snmp_exporter for every target, starts spread over `spread` seconds as
    Prometheus spreads its targets over the scrape interval; return the bodies."""

    async def run() -> list[str]:
        import aiohttp  # noqa: PLC0415

        limit = asyncio.Semaphore(concurrency)
        timeout = aiohttp.ClientTimeout(total=120)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            started = time.monotonic()

            async def one(i: int, target: str) -> str:
                await asyncio.sleep(
                    max(0.0, started + spread * i / len(targets) - time.monotonic())
                )
                async with limit:
                    url = f"http://127.0.0.1:{port}/snmp?module={module}&target={target}"
                    async with session.get(url) as response:
                        return await response.text()

            return list(await asyncio.gather(*(one(i, t) for i, t in enumerate(targets))))

    return asyncio.run(run())


def snmp_exporter_run(  # noqa: PLR0917
    port: int,
    pid: int,
    module: str,
    targets: list[str],
    varbinds_each: int,
    concurrency: int,
    spread: float = 0.0,
) -> Row:
    scrape_all(port, module, targets[:2], 2)  # warm-up
    cpu0, t0 = process_cpu(pid), time.monotonic()
    bodies = scrape_all(port, module, targets, concurrency, spread)
    cpu1, t1 = process_cpu(pid), time.monotonic()
    failed = sum(1 for b in bodies if "snmp_scrape_walk_duration_seconds" not in b)
    workload = {"scalars5": "snmp-get", "tables": "snmp-walk", "router10": "snmp-routers"}[module]
    return Row(
        workload,
        "snmp_exporter",
        t1 - t0,
        cpu1 - cpu0,
        varbinds_each * len(targets),
        "varbind",
        dict[str, object](requests=len(targets), failed=failed)
        | ({"devices": len(targets)} if module == "router10" else {}),
    )


def net_snmp_run(workload: str, address: str, repeat: int) -> Row:
    """net-snmp's own tools, one process per request (its start-up counted too)."""
    import resource  # noqa: PLC0415

    env = {**os.environ, "MIBS": ""}
    if workload == "get":
        command = ["snmpget", "-v2c", "-c", COMMUNITY, "-On", address, *SCALARS]
    else:
        command = ["snmpbulkwalk", "-v2c", "-c", COMMUNITY, "-On", "-Cr25", address]
    varbinds = 0
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    for _ in range(repeat):
        if workload == "get":
            out = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
            varbinds += len(out.stdout.splitlines())
        else:
            for table in TABLES:
                out = subprocess.run(
                    [*command, table], capture_output=True, text=True, env=env, check=True
                )
                varbinds += len(out.stdout.splitlines())
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Row(
        f"snmp-{workload}",
        "net-snmp",
        wall,
        cpu,
        varbinds,
        "varbind",
        {"requests": repeat, "note": "one process per request"},
    )


# ---------------------------------------------------------------- the whole exporter


def router_addresses(n: int) -> list[str]:
    return [f"198.18.{128 + i // 250}.{i % 250 + 1}" for i in range(n)]


ROUTER_INTERVAL = 30


def ours_routers(n: int, workdir: Path, interval: int, varbinds_each: int) -> Row:
    """The exporter process polling n router-shaped devices over SNMP for one full cycle."""
    lines = ["devices:"]
    lines += [
        f"  - {{id: r{i}, kind: router, address: {a}, checks: [snmp], "
        "snmp: {auth: bench, profiles: [system, interfaces]}}"
        for i, a in enumerate(router_addresses(n))
    ]
    (workdir / "snmp-targets").mkdir(exist_ok=True)
    (workdir / "snmp-targets" / "routers.yaml").write_text("\n".join(lines) + "\n")
    (workdir / "snmp-exporter.yml").write_text(
        "targets: [snmp-targets]\n"
        f"snmp:\n  defaults: {{interval: {interval}s, timeout: 5s, retries: 1}}\n"
        "  auths:\n    bench: {version: 2c, community: {env: TPS_BENCH_COMMUNITY}}\n"
    )
    port = free_port()
    log = (workdir / "exporter-snmp.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "exporter",
            "--config.file",
            str(workdir / "snmp-exporter.yml"),
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "TPS_BENCH_COMMUNITY": COMMUNITY},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(f"{url}/-/ready", 120)
        time.sleep(interval + 3)  # the first cycle: sockets open, caches warm
        _, body = http_get(f"{url}/metrics")
        polls0 = metric_sum(body.decode(), "tps_polls_total", SUCCESS)
        cpu0, t0 = process_cpu(process.pid), time.monotonic()
        time.sleep(interval)  # one full cycle, with one scrape of its results at the end
        scrape_s, body = http_get(f"{url}/metrics")
        cpu1, t1 = process_cpu(process.pid), time.monotonic()
        text = body.decode()
        polls = metric_sum(text, "tps_polls_total", SUCCESS) - polls0
        up = sum(
            1
            for line in text.splitlines()
            if line.startswith("tps_snmp_up{") and line.endswith(" 1")
        )
        return Row(
            "snmp-routers",
            "tps-exporter",
            t1 - t0,
            cpu1 - cpu0,
            int(polls) * varbinds_each,
            "varbind",
            {"devices": n, "polls": int(polls), "snmp_up": up, "scrape_s": round(scrape_s, 3)},
        )
    finally:
        process.terminate()
        process.wait(timeout=60)
        log.close()


def count_walk(address: str, oid: str) -> int:
    """Return how many values net-snmp's snmpbulkwalk finds under `oid`."""
    out = subprocess.run(
        ["snmpbulkwalk", "-v2c", "-c", COMMUNITY, "-On", address, oid],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "MIBS": ""},
        timeout=60,
    )
    return len(out.stdout.splitlines())


def router_varbinds() -> int:
    """Values one poll of a router brings: the system scalars and the interface columns."""
    from exporter.inventory.profiles import load_profiles  # noqa: PLC0415

    profiles = load_profiles([], []).profiles
    columns = profiles["interfaces"].walk_oids()
    return len(profiles["system"].get_oids()) + sum(count_walk(ROUTERS[1], c) for c in columns)


def run_all(workdir: Path, quick: bool) -> list[Row]:
    """Every SNMP workload, each engine on the same agent and OIDs."""
    rows: list[Row] = []
    devices = 500 if quick else 2000
    get_repeat, walk_repeat = (1000, 20) if quick else (4000, 60)
    print("snmp: agents in namespaces (48 and 10 interfaces)...", file=sys.stderr, flush=True)
    with (
        snmp_agent("big", 48, *BIG),
        snmp_agent("rtr", 10, *ROUTERS),
        snmp_exporter(workdir) as (port, pid),
    ):
        agent = BIG[1]
        walk_size = sum(count_walk(agent, table) for table in TABLES)
        for workload, repeat, concurrency in (("get", get_repeat, 50), ("walk", walk_repeat, 4)):
            print(
                f"snmp {workload}: tps-exporter, pysnmp, snmp_exporter, net-snmp...",
                file=sys.stderr,
                flush=True,
            )
            rows.append(engine_run("own", workload, agent, repeat, concurrency))
            for engine, share in (("pysnmp", 4), ("puresnmp", 2), ("ezsnmp", 2)):
                rows.append(engine_run(engine, workload, agent, max(repeat // share, 5),
                                       concurrency))  # fmt: skip
            module, each = ("scalars5", 5) if workload == "get" else ("tables", walk_size)
            rows.append(snmp_exporter_run(port, pid, module, [agent] * repeat, each, concurrency))
            rows.append(net_snmp_run(workload, agent, max(repeat // 10, 5)))
        for row in rows:
            row.extra["varbinds_per_request"] = 5 if row.workload == "snmp-get" else walk_size
        print(f"snmp {devices} routers: tps-exporter, snmp_exporter...", file=sys.stderr)
        per_router = router_varbinds()  # counted once, with net-snmp's snmpbulkwalk
        rows.append(ours_routers(devices, workdir, ROUTER_INTERVAL, per_router))
        # Driven as Prometheus would: every target once per cycle, starts spread over it.
        rows.append(snmp_exporter_run(port, pid, "router10", router_addresses(devices),
                                      per_router, 200, ROUTER_INTERVAL))  # fmt: skip
    return rows


if __name__ == "__main__":
    engine_name, workload_name, where, times, parallel = sys.argv[1:6]
    asyncio.run(_drive(engine_name, workload_name, where, int(times), int(parallel)))
