"""`make demo`: the whole chain working on one machine, with TPS going down and coming back.

Starts SNMP agents serving the recordings in ../shared/snmprec, the exporter on the example
inventory (3,327 TPS of Kepulauan Riau) plus the demo's own TPS, and Prometheus and Alertmanager
with the rules in alerts/ when they are installed. As root, the demo's TPS are lab sites in
network namespaces, and every `--fault-every` seconds one of them loses its link, its power, its
SNMP agent or its signal for `--fault-length` seconds; without root they are loopback agents and
nothing fails. It prints the URLs and each fault, and stops, tearing everything down, on Ctrl-C
or after `--minutes`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from lab.agents import snmpsim
from lab.local import free_port, wait_ready
from lab.sites import COMMUNITY, Lab, Site, site_lab, stop_process
from lab.telegram import Message, TelegramStandIn, receivers_to

REPO = Path(__file__).resolve().parent.parent
RECORDINGS = REPO.parent / "shared" / "snmprec"
ROUTERS = ("routeros", "rutos", "rutos-rutx", "pepwave", "uhp", "ios_ir809")  # answer system+if
PROFILES = ("lan", "4g", "vsat", "4g", "lan", "vsat")
# Real villages of Kecamatan Tanjung Pinang Barat (Kota Tanjung Pinang) for the demo's TPS.
PLACE = ('province: {code: "21", name: Kepulauan Riau}, regency: {code: "21.72", name: Kota '
         'Tanjung Pinang}, district: {code: "21.72.01", name: Tanjung Pinang Barat}')  # fmt: skip
VILLAGES = (("1001", "Tanjung Pinang Barat"), ("1002", "Kemboja"), ("1003", "Kampung Baru"),
            ("1004", "Bukit Cermin"))  # fmt: skip


@dataclass
class Fault:
    """A fault on one demo TPS: what, until when, and how to undo it."""

    site: str
    kind: str
    until: float
    undo: Callable[[], None]


def main(argv: list[str] | None = None) -> int:
    """Run the demo until Ctrl-C or the time limit."""
    args = _parser().parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        # Not stop.set() in the handler: it runs in the main thread, which may be inside
        # stop.wait() holding the event's lock (a Ctrl-C reaches the whole process group, so
        # signals come in twos), and would wait for itself forever.
        signal.signal(sig, lambda *_: threading.Thread(target=stop.set, daemon=True).start())
    work = Path(tempfile.mkdtemp(prefix="tps-demo-"))
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, work, ignore_errors=True)
        root = os.geteuid() == 0 and shutil.which("ip") is not None
        if root and not args.loopback:
            lab = stack.enter_context(site_lab(args.sites, agents=_recordings(args.sites),
                                               profiles=PROFILES))  # fmt: skip
            devices, faults = _lab_devices(lab), _lab_faults(lab)
        else:
            agent = stack.enter_context(snmpsim(RECORDINGS))
            devices, faults = _loopback_devices(agent.port, args.sites), None
        _write_config(work, devices, args.interval)
        exporter = stack.enter_context(_exporter(work, args.port))
        urls = {"status page": f"http://127.0.0.1:{args.port}/",
                "metrics": f"http://127.0.0.1:{args.port}/metrics"}  # fmt: skip
        urls.update(_prometheus_chain(stack, work, args.port))
        _say("demo ready" + ("" if faults else " (loopback agents, no faults: run as root)"))
        for name, url in urls.items():
            _say(f"  {name:<13} {url}")
        if "prometheus" in urls:
            _say(f"  report        tps-exporter report --prometheus {urls['prometheus']} "
                 "--province 21")  # fmt: skip
        _run(stop, exporter, faults, args)
    _say("demo stopped; everything it started is gone")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__)
    parser.add_argument("--sites", type=int, default=6, help="demo TPS (default 6)")
    parser.add_argument("--port", type=int, default=9811, help="exporter port (default 9811)")
    parser.add_argument("--minutes", type=float, default=60, help="stop after (default 60)")
    parser.add_argument("--fault-every", type=float, default=45, help="seconds (default 45)")
    parser.add_argument("--fault-length", type=float, default=150, help="seconds (default 150)")
    parser.add_argument("--loopback", action="store_true",
                        help="loopback agents and no faults, even as root")  # fmt: skip
    parser.add_argument("--interval", type=float, default=5,
                        help="ICMP poll interval, seconds (at least 1; default 5)")  # fmt: skip
    return parser


def _recordings(count: int) -> list[str | Path | None]:
    return [RECORDINGS / f"{ROUTERS[i % len(ROUTERS)]}.snmprec" for i in range(count)]


def _site_line(n: int, device: str) -> str:
    village, name = VILLAGES[n % len(VILLAGES)]
    place = f'{PLACE}, village: {{code: "21.72.01.{village}", name: {name}}}'
    return (f"  - {{id: tps-demo-{n + 1:02d}, name: TPS DEMO {n + 1:02d} {name}, {place}, "
            f"devices: [{device}]}}")  # fmt: skip


def _lab_devices(lab: Lab) -> list[tuple[str, str]]:
    """(device YAML, site YAML) for each lab site: its router, polled by ICMP and SNMP."""
    return [
        (f"  - {{id: rtr-demo-{s.index + 1:02d}, kind: router, address: {s.address}, "
         "checks: [icmp, snmp], snmp: {auth: lab, profiles: [system, interfaces]}}",
         _site_line(s.index, f"rtr-demo-{s.index + 1:02d}"))
        for s in lab.sites
    ]  # fmt: skip


def _loopback_devices(port: int, count: int) -> list[tuple[str, str]]:
    """(device YAML, site YAML) for loopback agents, one recording each."""
    out = []
    for n in range(count):
        name = ROUTERS[n % len(ROUTERS)]
        out.append((f"  - {{id: rtr-demo-{n + 1:02d}, kind: router, address: 127.0.0.1, "
                    f"checks: [icmp, snmp], snmp: {{auth: {name}, port: {port}, "
                    "profiles: [system, interfaces]}}",
                    _site_line(n, f"rtr-demo-{n + 1:02d}")))  # fmt: skip
    return out


def _write_config(work: Path, devices: list[tuple[str, str]], interval: float) -> None:
    """The demo's configuration: the example inventory, the demo TPS, a rehearsal today."""
    (work / "targets").mkdir()
    (work / "targets" / "demo.yaml").write_text(
        "devices:\n" + "\n".join(d for d, _ in devices) + "\nsites:\n"
        + "\n".join(s for _, s in devices) + "\n"
    )  # fmt: skip
    communities = "".join(
        f"    {r}: {{version: 2c, community: {{env: TPS_DEMO_COMMUNITY_{i}}}}}\n"
        for i, r in enumerate(ROUTERS)
    )
    today = dt.datetime.now(dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=7))).date()
    (work / "tps-exporter.yml").write_text(
        f"targets: [{REPO / 'targets'}, targets]\n"
        # A VSAT answers in 600 ms: the timeout stays at 1 s unless the interval is too short.
        f"icmp: {{interval: {interval}s, count: 3, spacing: 100ms, "
        f"timeout: {min(1.0, interval - 0.3):.1f}s}}\n"
        "state: {down_after: 3, window: 10}\n"
        # A rehearsal today, voting at any hour: alerts carry the phase, severity and timing of
        # voting day, and the messages say SIMULASI.
        f"election:\n  rehearsals:\n    - {{date: {today}, name: Demo}}\n"
        '  voting_hours: {start: "00:00", end: "23:59"}\n'
        f"snmp:\n  defaults: {{interval: {max(2 * interval, 4)}s, timeout: 1s, retries: 1}}\n"
        "  auths:\n    lab: {version: 2c, community: {env: TPS_LAB_COMMUNITY}}\n" + communities
    )


@contextmanager
def _exporter(work: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """Run the exporter on the demo's configuration; its log goes to a file in the workdir."""
    env = {**os.environ, "TPS_LAB_COMMUNITY": COMMUNITY}
    env.update({f"TPS_DEMO_COMMUNITY_{i}": r for i, r in enumerate(ROUTERS)})
    with (work / "exporter.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "exporter", "--config.file", str(work / "tps-exporter.yml"),
             f"--web.listen-address=127.0.0.1:{port}"],
            cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    try:
        try:
            wait_ready(f"http://127.0.0.1:{port}/-/ready", 60)
        except TimeoutError:
            log_tail = (work / "exporter.log").read_text(errors="replace")[-2000:]
            raise TimeoutError(f"the exporter did not become ready; its log:\n{log_tail}") from None
        yield process
    finally:
        stop_process(process)


def _prometheus_chain(stack: ExitStack, work: Path, port: int) -> dict[str, str]:
    """Start Alertmanager and Prometheus with the rules if installed; return their URLs."""
    urls: dict[str, str] = {}
    am_binary, prom_binary = shutil.which("prometheus-alertmanager"), shutil.which("prometheus")
    alerting = ""
    if am_binary:
        telegram = stack.enter_context(_telegram_printer())
        am_port = free_port()
        # The shipped routing, grouping, inhibition and messages; receivers go to the stand-in.
        config = yaml.safe_load((REPO / "alerts" / "alertmanager.yml").read_text())
        config["templates"] = [str(REPO / "alerts" / "templates" / "*.tmpl")]
        (work / "am.yml").write_text(receivers_to(config, telegram.url, telegram.url))
        stack.enter_context(_server([am_binary, f"--config.file={work / 'am.yml'}",
                                     f"--storage.path={work / 'am'}", "--cluster.listen-address=",
                                     f"--web.listen-address=127.0.0.1:{am_port}"],
                                    work / "alertmanager.log", am_port))  # fmt: skip
        urls["alertmanager"] = f"http://127.0.0.1:{am_port}/"
        target = f"{{targets: ['127.0.0.1:{am_port}']}}"
        alerting = f"alerting: {{alertmanagers: [{{static_configs: [{target}]}}]}}\n"
    if prom_binary:
        prom_port = free_port()
        (work / "prometheus.yml").write_text(
            "global: {scrape_interval: 5s, evaluation_interval: 5s}\n"
            f"rule_files: [{REPO / 'alerts' / 'tps-rules.yml'}]\n" + alerting
            + f"scrape_configs: [{{job_name: tps, static_configs: [{{targets: "
            f"['127.0.0.1:{port}']}}]}}]\n"
        )  # fmt: skip
        stack.enter_context(_server([prom_binary, f"--config.file={work / 'prometheus.yml'}",
                                     f"--storage.tsdb.path={work / 'tsdb'}",
                                     f"--web.listen-address=127.0.0.1:{prom_port}"],
                                    work / "prometheus.log", prom_port))  # fmt: skip
        urls["prometheus"] = f"http://127.0.0.1:{prom_port}"
    return urls


@contextmanager
def _server(command: list[str], log_path: Path, port: int) -> Iterator[None]:
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_ready(f"http://127.0.0.1:{port}/-/ready", 60)
        yield
    finally:
        stop_process(process)


@contextmanager
def _telegram_printer() -> Iterator[TelegramStandIn]:
    """A stand-in Telegram API that prints each message as the phone would show it."""

    def show(message: Message) -> None:
        if message.error:
            _say(f"Telegram refused a message: {message.error}")
            return
        body = "\n".join(f"    {line}" for line in message.shown.splitlines())
        _say(f"Telegram {message.chat_id}:\n{body}")

    telegram = TelegramStandIn(on_message=show)
    try:
        yield telegram
    finally:
        telegram.close()


def _lab_faults(lab: Lab) -> Iterator[tuple[str, str, Callable[[], Callable[[], None]]]]:
    """Yield faults in turn, forever: (TPS id, what, do it and return how to undo it)."""

    def link(site: Site) -> Callable[[], None]:
        lab.link(site, up=False)
        return lambda: lab.link(site, up=True)

    def power(site: Site) -> Callable[[], None]:
        lab.silence(site, site.address)
        return lambda: lab.restore(site, site.address)

    def agent(site: Site) -> Callable[[], None]:
        lab.stop_agent(site)
        return lambda: lab.start_agent(site)

    def signal_(site: Site) -> Callable[[], None]:
        lab.set_profile(site, "bad")
        previous = PROFILES[site.index % len(PROFILES)]
        return lambda: lab.set_profile(site, previous)

    kinds = (("link down", link), ("power cut", power), ("SNMP agent stopped", agent),
             ("bad signal, 30% loss", signal_))  # fmt: skip
    for site, (what, do) in zip(itertools.cycle(lab.sites), itertools.cycle(kinds), strict=False):
        yield f"tps-demo-{site.index + 1:02d}", what, functools.partial(do, site)


def _run(stop: threading.Event, exporter: subprocess.Popen[bytes],
         faults: Iterator[tuple[str, str, Callable[[], Callable[[], None]]]] | None,
         args: argparse.Namespace) -> None:  # fmt: skip
    """Start and end faults on schedule until stopped, the time is up, or the exporter dies."""
    deadline = time.monotonic() + args.minutes * 60
    active: list[Fault] = []
    next_fault = time.monotonic() + args.fault_every
    try:
        while not stop.is_set() and time.monotonic() < deadline:
            if exporter.poll() is not None:
                _say("the exporter stopped; see its log")
                return
            now = time.monotonic()
            for fault in [f for f in active if f.until <= now]:
                fault.undo()
                active.remove(fault)
                _say(f"{fault.site}: {fault.kind} ends")
            if faults is not None and now >= next_fault:
                site, what, do = next(faults)
                if all(f.site != site for f in active):
                    active.append(Fault(site, what, now + args.fault_length, do()))
                    _say(f"{site}: {what} for {args.fault_length:.0f} s")
                next_fault = now + args.fault_every
            stop.wait(0.5)
    finally:
        for fault in active:
            try:
                fault.undo()
            except (OSError, RuntimeError) as exc:  # the lab goes next, with every fault
                _say(f"{fault.site}: {fault.kind} left as it is ({exc})")


def _say(text: str) -> None:
    print(f"{dt.datetime.now():%H:%M:%S} {text}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
