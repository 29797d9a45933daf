"""Alert latency on voting day: from an outage to the message on the phone, and back.

`make latency` (or `python -m bench.latency`) runs the exporter with its shipped defaults,
Prometheus with deploy/prometheus.yml and Alertmanager with alerts/alertmanager.yml, the rules and
templates unchanged; only the addresses they reach are local: the exporter's targets, and the
receivers, pointed at a stand-in Telegram API that refuses what Telegram refuses. The TPS are
addresses of a network namespace of our own, in three real regencies of Kepulauan Riau:

- Kota Batam: 20 TPS, each behind its own router; single TPS die one at a time, overlapping.
- Kabupaten Karimun: 40 TPS, 12 of them behind one BTS (30%: no regency outage); the BTS dies
  with its routers.
- Kabupaten Natuna: 8 TPS; the whole regency goes dark at once.

The sites' calendar puts now in `voting`. Each round starts every incident at its own moment and
ends it 3 to 4 minutes later; two rounds by default (`--rounds`). Printed: outage -> first
message and recovery -> PULIH message (p50, p95, max) per kind, messages per incident, the
longest message. Root is needed (namespaces, raw ICMP); the run ends by itself.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from lab.local import free_port
from lab.netns import LabHost, lab_host
from lab.telegram import Message, TelegramStandIn, receivers_to
from tests.stack import ALERTS, Alertmanager, Prometheus, Webhook, exporter_process

REPO = Path(__file__).resolve().parent.parent
AREAS = REPO.parent / "shared" / "data" / "idn-area"
RESULTS = REPO / "bench" / "results"
REGENCIES = {"21.71": ("Kota Batam", 20), "21.02": ("Kabupaten Karimun", 40),
             "21.03": ("Kabupaten Natuna", 8)}  # fmt: skip
BTS_TPS = 12


@dataclass
class Tps:
    """One TPS of the benchmark and its router's address."""

    id: str
    name: str
    regency: str
    district: tuple[str, str]
    village: tuple[str, str]
    address: str
    parent: str = ""


@dataclass
class Incident:
    """One outage: what goes dark, what its messages name, and when it all happened."""

    kind: str
    keys: tuple[str, ...]  # what a message about it contains (a link's #q= or #area=)
    addresses: tuple[str, ...]
    start_at: float  # seconds into the round
    length: float
    started: float = 0.0
    ended: float = 0.0
    messages: list[Message] = field(default_factory=list)

    def about(self, message: Message) -> bool:
        return any(key in message.text for key in self.keys)


def places() -> dict[str, list[tuple[tuple[str, str], tuple[str, str]]]]:
    """Return, per regency code, its (district, village) pairs as (code, name) from idn-area."""
    with (AREAS / "districts.csv").open(encoding="utf-8") as f:
        districts = {r["code"]: r["name"] for r in csv.DictReader(f)}
    out: dict[str, list[tuple[tuple[str, str], tuple[str, str]]]] = {}
    with (AREAS / "villages.csv").open(encoding="utf-8") as f:
        for r in csv.DictReader(f):
            regency = r["code"][:5]
            if regency in REGENCIES:
                district = (r["district_code"], districts[r["district_code"]])
                out.setdefault(regency, []).append((district, (r["code"], r["name"])))
    return out


def plan(host: LabHost) -> tuple[list[Tps], str]:
    """Lay the TPS out on the namespace's addresses; return them and the BTS's address."""
    spare = list(host.spare)
    bts_address = spare.pop()
    sites: list[Tps] = []
    for code, (_name, count) in REGENCIES.items():
        villages = places()[code]
        for n in range(count):
            district, village = villages[n % len(villages)]
            number = n // len(villages) + 1
            parent = "bts-21.02-01" if code == "21.02" and n < BTS_TPS else ""
            sites.append(Tps(f"{village[0]}-{number:03d}", f"TPS {number:03d} {village[1]}",
                             code, district, village, spare.pop(0), parent))  # fmt: skip
    return sites, bts_address


def inventory(sites: list[Tps], bts: str) -> str:
    """The inventory file: a router per TPS, the BTS above twelve of them."""
    devices = [{"id": "bts-21.02-01", "name": "BTS Tanjung Balai Karimun", "kind": "bts",
                "operator": "BAKTI", "address": bts}]  # fmt: skip
    out_sites = []
    for s in sites:
        device = {"id": f"rtr-{s.id}", "name": f"Router {s.name}", "kind": "router",
                  "operator": "Telkomsel", "address": s.address}  # fmt: skip
        if s.parent:
            device["parent"] = s.parent
        devices.append(device)
        out_sites.append({
            "id": s.id, "name": s.name,
            "province": {"code": "21", "name": "Kepulauan Riau"},
            "regency": {"code": s.regency, "name": REGENCIES[s.regency][0]},
            "district": {"code": s.district[0], "name": s.district[1]},
            "village": {"code": s.village[0], "name": s.village[1]},
            "devices": [f"rtr-{s.id}"],
        })  # fmt: skip
    return yaml.safe_dump({"devices": devices, "sites": out_sites}, allow_unicode=True)


def exporter_config(targets: Path) -> str:
    """tps-exporter.yml as shipped, with the bench's targets and a voting day that is today
    (voting all day, so the run is in `voting` at any hour)."""
    config = yaml.safe_load((REPO / "tps-exporter.yml").read_text())
    config["targets"] = [str(targets)]
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=7))).date()
    config["election"] = {
        "days": [{"date": today.isoformat(), "name": "Hari pemungutan (benchmark)"}],
        "voting_hours": {"start": "00:00", "end": "23:59"},
    }
    return yaml.safe_dump(config, allow_unicode=True)


def prometheus_config(exporter_port: int, am_port: int) -> str:
    """deploy/prometheus.yml with only its targets made local and its rules path absolute."""
    config = yaml.safe_load((REPO / "deploy" / "prometheus.yml").read_text())
    config["rule_files"] = [str(ALERTS / "tps-rules.yml")]
    config["alerting"]["alertmanagers"][0]["static_configs"] = [
        {"targets": [f"127.0.0.1:{am_port}"]}
    ]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    jobs["tps"]["static_configs"] = [{"targets": [f"127.0.0.1:{exporter_port}"]}]
    config["scrape_configs"] = [jobs["tps"]]
    return yaml.safe_dump(config)


def alertmanager_config(telegram: TelegramStandIn, hook: Webhook) -> str:
    """alerts/alertmanager.yml with only its receivers (and template path) made local."""
    config = yaml.safe_load((ALERTS / "alertmanager.yml").read_text())
    config["templates"] = [str(ALERTS / "templates" / "*.tmpl")]
    return receivers_to(config, hook.url, telegram.url)


def incidents(sites: list[Tps], bts: str, rng: random.Random) -> list[Incident]:
    """One round: 8 single TPS in Batam, staggered and overlapping; the BTS; Natuna."""
    batam = [s for s in sites if s.regency == "21.71"]
    out = [
        Incident(
            "TPS",
            (f"#q={s.id}",),
            (s.address,),
            10 + 25 * i + rng.uniform(0, 10),
            rng.uniform(180, 240),
        )
        for i, s in enumerate(rng.sample(batam, 8))
    ]
    behind = [s for s in sites if s.parent]
    out.append(Incident("BTS, 12 TPS", ("#q=bts-21.02-01",), (bts, *(s.address for s in behind)),
                        rng.uniform(20, 60), rng.uniform(180, 240)))  # fmt: skip
    natuna = [s for s in sites if s.regency == "21.03"]
    keys = ("#area=21.03", *(f"#q={s.id}" for s in natuna))
    out.append(Incident("regency", keys, tuple(s.address for s in natuna),
                        rng.uniform(60, 120), rng.uniform(180, 240)))  # fmt: skip
    return out


def run_round(host: LabHost, telegram: TelegramStandIn, round_incidents: list[Incident]) -> None:
    """Start and end each incident at its moment, then wait for its PULIH message."""
    t0 = time.monotonic()
    pending = sorted(round_incidents, key=lambda i: i.start_at)
    running: list[Incident] = []
    deadline = t0 + max(i.start_at + i.length for i in pending) + 240
    while (pending or running) and time.monotonic() < deadline:
        now = time.monotonic() - t0
        while pending and pending[0].start_at <= now:
            incident = pending.pop(0)
            host.silence(*incident.addresses)
            incident.started = time.monotonic()
            running.append(incident)
        for incident in list(running):
            if not incident.ended and now >= incident.start_at + incident.length:
                host.restore(*incident.addresses)
                incident.ended = time.monotonic()
            if incident.ended and any(
                incident.about(m) and m.at > incident.ended and "PULIH" in m.text
                for m in telegram.sent(incident.ended)
            ):
                running.remove(incident)
        time.sleep(0.2)
    for incident in round_incidents:
        if not incident.ended:  # the deadline passed: bring it back before the next round
            host.restore(*incident.addresses)
            incident.ended = time.monotonic()
    time.sleep(45)  # late messages of this round land in this round


def figures(all_incidents: list[Incident], telegram: TelegramStandIn) -> dict[str, object]:
    """Latencies per kind, messages per incident, the longest message."""
    out: dict[str, object] = {}
    for kind in sorted({i.kind for i in all_incidents}):
        notify, resolve, counts = [], [], []
        for incident in (i for i in all_incidents if i.kind == kind):
            mine = [m for m in telegram.sent(incident.started) if incident.about(m)
                    and m.at <= incident.ended + 200]  # fmt: skip
            firing = [m.at - incident.started for m in mine if "PULIH" not in m.text]
            back = [
                m.at - incident.ended for m in mine if "PULIH" in m.text and m.at > incident.ended
            ]
            if firing:
                notify.append(min(firing))
            if back:
                resolve.append(min(back))
            counts.append(len(mine))
        out[kind] = {
            "incidents": len(counts), "notified": len(notify), "resolved": len(resolve),
            "notify_s": _stats(notify), "resolve_s": _stats(resolve),
            "messages_per_incident_max": max(counts, default=0),
            "messages_per_incident": counts,
        }  # fmt: skip
    every = [m for m in telegram.messages]
    out["longest_message_chars"] = max((len(m.text) for m in every), default=0)
    out["refused_by_telegram"] = len(telegram.refused())
    every_notify = [
        v
        for f in out.values()
        if isinstance(f, dict) and "incidents" in f
        for v in f["notify_s"]["samples"]
    ]
    out["all"] = {"notify_s": _stats(every_notify)}
    return out


def _stats(values: list[float]) -> dict[str, object]:
    if not values:
        return {"samples": []}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50": round(statistics.median(ordered), 1), "p95": round(p95, 1),
            "max": round(ordered[-1], 1), "samples": [round(v, 1) for v in ordered]}  # fmt: skip


def report(result: dict[str, object]) -> str:
    """A table of the figures, as printed and as recorded in docs/benchmarks.md."""
    lines = [f"{'incident':<14}{'n':>3}  {'outage -> message p50/p95/max':>31}  "
             f"{'recovery -> PULIH p50/p95/max':>31}  {'messages':>8}"]  # fmt: skip
    for kind, f in result.items():
        if not isinstance(f, dict) or "incidents" not in f:
            continue
        n, r = f["notify_s"], f["resolve_s"]

        def show(s: dict[str, object]) -> str:
            return f"{s.get('p50', '-')} / {s.get('p95', '-')} / {s.get('max', '-')} s"

        lines.append(f"{kind:<14}{f['incidents']:>3}  {show(n):>31}  {show(r):>31}  "
                     f"{f['messages_per_incident_max']:>8}")  # fmt: skip
    allstats = result["all"]["notify_s"]  # type: ignore[index]
    lines.append(f"all incidents: outage -> message p95 {allstats.get('p95', '-')} s, "
                 f"max {allstats.get('max', '-')} s")  # fmt: skip
    lines.append(
        f"longest message: {result['longest_message_chars']} characters "
        f"(Telegram's limit 4,096); refused by Telegram: {result['refused_by_telegram']}"
    )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="rounds of incidents (default 2)")
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="tps-latency-"))
    telegram, hook = TelegramStandIn(), Webhook()
    with lab_host(spares=80) as host:
        sites, bts = plan(host)
        (work / "targets").mkdir()
        (work / "targets" / "bench.yaml").write_text(inventory(sites, bts))
        (work / "tps-exporter.yml").write_text(exporter_config(work / "targets"))
        am = Alertmanager(alertmanager_config(telegram, hook), work)
        port = free_port()
        with exporter_process(work / "tps-exporter.yml", port, work / "exporter.log"):
            prom = Prometheus(prometheus_config(port, am.port), work)
            try:
                _wait_all_up(prom, len(sites))
                done: list[Incident] = []
                for n in range(args.rounds):
                    round_incidents = incidents(sites, bts, rng)
                    print(f"latency: round {n + 1} of {args.rounds}, {len(round_incidents)} "
                          "incidents", file=sys.stderr, flush=True)  # fmt: skip
                    run_round(host, telegram, round_incidents)
                    done += round_incidents
            finally:
                prom.stop()
                am.stop()
    telegram.close()
    hook.close()
    result = figures(done, telegram)
    result["when"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    result["rounds"] = args.rounds
    result["sample_messages"] = _samples(done, telegram)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latency.json").write_text(json.dumps(result, indent=1, ensure_ascii=False))
    print(report(result))
    print(f"(figures in {RESULTS / 'latency.json'})")
    return 0


def _samples(done: list[Incident], telegram: TelegramStandIn) -> dict[str, str]:
    """The first firing and PULIH message of each kind, as the phone shows them."""
    out: dict[str, str] = {}
    for incident in done:
        for m in telegram.sent(incident.started):
            if incident.about(m):
                key = f"{incident.kind} {'PULIH' if 'PULIH' in m.text else 'firing'}"
                out.setdefault(key, m.shown)
    return out


def _wait_all_up(prom: Prometheus, count: int) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        result = prom.query('count(tps_site_status{status="up"})')
        if result and int(float(result[0]["value"][1])) == count:
            time.sleep(20)  # past the first evaluations and Alertmanager's first flush
            return
        time.sleep(1)
    raise TimeoutError("the benchmark's TPS never all came up")


if __name__ == "__main__":
    sys.exit(main())
