"""`tps-exporter report` against a real Prometheus loaded with known data.

The known data is the example inventory (3,327 TPS) in states the test sets: a Store fed with
poll results, rendered by the exporter's own exposition code, served to a real Prometheus that
runs the tps-exporter recording rules. Each figure of the report must equal the Store's truth,
now and at a past time (before the states changed).
"""

from __future__ import annotations

import base64
import csv
import http.server
import io
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import bcrypt
import pytest

from exporter.cli import main
from exporter.exposition.render import render
from exporter.i18n import number
from exporter.inventory.load import load
from exporter.report.command import parse_time
from exporter.state.stats import RuntimeStats
from exporter.state.store import SiteStatus, Store
from lab.local import free_port
from tests.conftest import REPO, require_binary
from tests.fakes import Clock, polled_store
from tests.stack import Prometheus, prometheus_config


def truth(
    store: Store,
) -> tuple[dict[tuple[str, str], Counter[str]], dict[str, tuple[str, str, str, str]]]:
    """Return TPS counts by (regency, district) and status, and each TPS not up with its facts."""
    counts: dict[tuple[str, str], Counter[str]] = {}
    not_ready = {}
    for state in store.sites.values():
        place = state.site.place
        counts.setdefault((place.regency.name, place.district.name), Counter())[state.status] += 1
        if state.status is not SiteStatus.UP:
            not_ready[state.site.id] = (state.status.value, state.reason, state.device,
                                        f"{state.since:.0f}")  # fmt: skip
    return counts, not_ready


@contextmanager
def serving(pages: dict[str, bytes]) -> Iterator[int]:
    """Serve pages["metrics"] at /metrics on loopback; the test may swap it while serving."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages["metrics"]
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def wait_until(prom: Prometheus, store: Store, seconds: float = 60) -> None:
    """Wait until the recording rule shows the store's down count (and every TPS)."""
    down = sum(1 for s in store.sites.values() if s.status is SiteStatus.DOWN)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        total = prom.query("count(site:tps_site_status:info)")
        shown = prom.query('count(site:tps_site_status:info{status="down"})')
        if (
            total
            and shown
            and int(float(total[0]["value"][1])) == len(store.sites)
            and (int(float(shown[0]["value"][1])) == down)
        ):
            return
        time.sleep(0.5)
    raise TimeoutError("Prometheus never showed the known states")


def report(capsys: pytest.CaptureFixture[str], url: str, *args: str) -> str:
    capsys.readouterr()
    assert main(["report", "--prometheus", url, *args]) == 0, capsys.readouterr().err
    return capsys.readouterr().out


def check_areas(text: str, store: Store) -> None:
    counts, _ = truth(store)
    rows = list(csv.DictReader(io.StringIO(text)))
    districts = {(r["regency"], r["district"]): r for r in rows if r["level"] == "district"}
    assert set(districts) == set(counts)
    for key, expected in counts.items():
        row = districts[key]
        for status in ("up", "degraded", "down", "blank_spot", "no_data"):
            assert int(row[status]) == expected[status], (key, status)
        assert int(row["tps"]) == sum(expected.values())
    scope = next(r for r in rows if r["level"] == "province")
    assert int(scope["tps"]) == len(store.sites)
    ups = sum(c["up"] for c in counts.values())
    assert float(scope["readiness"]) == pytest.approx(ups / len(store.sites), abs=1e-4)
    for regency in {r for r, _ in counts}:
        row = next(r for r in rows if r["level"] == "regency" and r["regency"] == regency)
        assert int(row["down"]) == sum(c["down"] for (g, _), c in counts.items() if g == regency)


def check_tps(text: str, store: Store) -> None:
    _, expected = truth(store)
    rows = list(csv.DictReader(io.StringIO(text)))
    shown = {r["site"]: (r["status"], r["reason"], r["device"], r["since_unix"]) for r in rows}
    assert shown == expected


def test_report_equals_the_truth_now_and_at_a_past_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_binary("prometheus")
    require_binary("chromium")  # prints the PDF
    _config, example = load(None, [REPO / "targets"])
    bts = {d.id for d in example.devices.values() if d.kind == "bts"}
    behind = {d.id for d in example.devices.values() if d.parent in bts}
    first = sorted(bts)[:3]

    def with_routers(down: list[str]) -> set[str]:
        return {*down, *(d for d in behind if example.devices[d].parent in down)}

    before = polled_store(example, with_routers(first), Clock(), lossy={sorted(behind)[-1]})
    later = sorted(bts)[5:7]  # those came back; two others went down with their routers
    after = polled_store(example, with_routers(later), Clock())
    assert truth(before) != truth(after)
    pages = {"metrics": render(before, RuntimeStats())}
    with serving(pages) as port:
        prom = Prometheus(prometheus_config(port), tmp_path)
        try:
            wait_until(prom, before)
            time.sleep(2)
            past = f"{time.time():.3f}"
            time.sleep(2)
            pages["metrics"] = render(after, RuntimeStats())
            wait_until(prom, after)

            for at, store in ((None, after), (past, before)):
                when = ["--at", at] if at else []
                areas = report(capsys, prom.url, "--province", "21", "--format", "csv", *when)
                check_areas(areas, store)
                check_tps(report(capsys, prom.url, "--province", "Kepulauan Riau",
                                 "--format", "csv-tps", *when), store)  # fmt: skip
                nation = report(capsys, prom.url, "--format", "csv", *when)
                assert nation.splitlines()[2:] == areas.splitlines()[2:]  # one province

            table = report(capsys, prom.url, "--province", "21", "--at", past)
            down = sum(1 for s in before.sites.values() if s.status is SiteStatus.DOWN)
            assert table.startswith("Kesiapan TPS · Kepulauan Riau · ")
            live = [
                s
                for s in before.sites.values()
                if s.status not in (SiteStatus.UP, SiteStatus.BLANK_SPOT)
            ]
            devices = {s.device or s.site.id for s in live}
            assert f"Gangguan saat ini: {len(devices)}, {number(len(live))} TPS" in table
            # The devices' own reasons, names and operators come from Prometheus too.
            assert "· tidak menjawab ping" in table and " (Telkomsel) · " in table
            province = next(line for line in table.splitlines() if line.startswith("Kepulauan"))
            assert f" {number(down)} " in province

            html = tmp_path / "kepri.html"
            report(capsys, prom.url, "--province", "21", "--format", "html", "--output", str(html))
            document = html.read_text()
            assert "<svg" in document and "Kabupaten Bintan" in document
            assert "TPS siap" in document and "size: A4" in document
            assert "http" not in document.replace('xmlns="http://www.w3.org/2000/svg"', "")
            pdf = tmp_path / "kepri.pdf"
            report(capsys, prom.url, "--province", "21", "--format", "pdf", "--output", str(pdf))
            assert pdf.read_bytes().startswith(b"%PDF-") and pdf.stat().st_size > 10_000
            print(table)  # for a person reading the test's output (-s)
        finally:
            prom.stop()


def test_report_names_what_went_wrong(capsys: pytest.CaptureFixture[str]) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    assert main(["report", "--prometheus", closed]) == 1
    assert f"report: {closed}: " in capsys.readouterr().err
    assert main(["report", "--prometheus", closed, "--at", "yesterday"]) == 64
    assert "--at 'yesterday': bukan seperti 2024-11-27T10:00" in capsys.readouterr().err
    assert main(["report", "--prometheus", closed, "--format", "pdf"]) == 64
    assert main(["report", "--prometheus", closed, "--timezone", "Mars/Olympus"]) == 64
    assert parse_time("2024-11-27T10:00", "Asia/Makassar").isoformat() == (
        "2024-11-27T10:00:00+08:00"
    )
    assert parse_time("1732676400", "Asia/Jakarta").timestamp() == 1732676400


def test_report_through_basic_auth(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    require_binary("prometheus")
    _config, example = load(None, [REPO / "targets"])
    store = polled_store(example, set(), Clock())
    digest = bcrypt.hashpw(b"kpu-noc-2029", bcrypt.gensalt(4)).decode()
    token = base64.b64encode(b"noc:kpu-noc-2029").decode()
    (tmp_path / "right").write_text("kpu-noc-2029\n")
    (tmp_path / "wrong").write_text("hunter22\n")
    with serving({"metrics": render(store, RuntimeStats())}) as port:
        prom = Prometheus(
            prometheus_config(port),
            tmp_path,
            web_config=f"basic_auth_users:\n  noc: '{digest}'\n",
            ready_headers={"Authorization": f"Basic {token}"},
        )
        try:
            right = ["--prometheus.user", "noc", "--prometheus.password-file", f"{tmp_path}/right"]
            deadline = time.monotonic() + 60
            while main(["report", "--prometheus", prom.url, "--province", "21", *right]) != 0:
                assert time.monotonic() < deadline, capsys.readouterr().err
                time.sleep(1)
            assert capsys.readouterr().out.startswith("Kesiapan TPS · Kepulauan Riau · ")
            for given in ([], ["--prometheus.user", "noc", "--prometheus.password-file",
                               str(tmp_path / "wrong")]):  # fmt: skip
                assert main(["report", "--prometheus", prom.url, *given]) == 1
                assert "HTTP 401: Unauthorized: perlu pengguna dan kata sandi" in (
                    capsys.readouterr().err
                )
        finally:
            prom.stop()
    assert main(["report", "--prometheus.user", "noc"]) == 64
    assert "--prometheus.user dan --prometheus.password-file harus diberikan bersama" in (
        capsys.readouterr().err
    )
    missing = tmp_path / "nowhere"
    given = ["--prometheus.user", "noc", "--prometheus.password-file", str(missing)]
    assert main(["report", *given]) == 64
    assert f"--prometheus.password-file {missing}: " in capsys.readouterr().err
