"""`tps-exporter report`: readiness of a province or the nation, now or at a past time."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
import zoneinfo
from pathlib import Path

from exporter.i18n import _
from exporter.inventory import areas
from exporter.inventory.areas import normalize_timezone
from exporter.report import formats
from exporter.report.prometheus import Prometheus, PrometheusError, Querier
from exporter.report.readiness import Report, build, provinces

FORMATS = ("table", "csv", "csv-tps", "html", "pdf")
EXIT_FAILED, EXIT_USAGE = 1, 64


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `report` command's arguments."""
    report = commands.add_parser(
        "report",
        help=_("TPS readiness by regency and district, from Prometheus"),
        description=_(
            "Count TPS up, degraded, down, blank spot and without data per regency and "
            "district, and list the outages and blank spots, from a Prometheus that has "
            "the tps-exporter rules."
        ),
    )
    report.add_argument("--prometheus", default=os.environ.get("PROMETHEUS_URL",
                        "http://localhost:9090"), help=_("Prometheus URL (default: $PROMETHEUS_URL "
                        "or http://localhost:9090)"))  # fmt: skip
    report.add_argument("--prometheus.user", dest="prometheus_user",
                        help=_("basic-auth user, when Prometheus asks for one"))  # fmt: skip
    report.add_argument("--prometheus.password-file", dest="prometheus_password_file", type=Path,
                        help=_("file holding that user's password"))  # fmt: skip
    report.add_argument("--province", help=_("a province: its code, name or abbreviation, as 21, "
                        "'kepulauan riau' or Kepri (default: the nation)"))  # fmt: skip
    report.add_argument("--at", help=_("when: 2024-11-27T10:00 (in --timezone), RFC 3339, or "
                        "Unix seconds (default: now)"))  # fmt: skip
    report.add_argument(
        "--timezone",
        default="WIB",
        help=_("zone of --at and of times shown: WIB, WITA, WIT or IANA"),
    )
    report.add_argument(
        "--format",
        choices=FORMATS,
        default="table",
        help=_(
            "table (terminal), csv (areas), csv-tps (TPS not ready), html or pdf (A4, to print)"
        ),
    )
    report.add_argument(
        "--output", type=Path, help=_("write here instead of stdout (pdf needs it)")
    )
    report.add_argument(
        "--limit",
        type=int,
        default=100,
        help=_("outages and villages listed by the table format (100)"),
    )


def run(args: argparse.Namespace, querier: Querier | None = None) -> int:
    """Build the report and write it; return the exit status."""
    zone = normalize_timezone(args.timezone)
    if zone is None:
        return _usage(_("unknown time zone {zone!r}").format(zone=args.timezone))
    try:
        at = parse_time(args.at, zone) if args.at else dt.datetime.now(dt.UTC)
    except ValueError as exc:
        return _usage(str(exc))
    if args.format == "pdf" and args.output is None:
        return _usage(_("--format pdf needs --output FILE"))
    try:
        auth = _auth(args.prometheus_user, args.prometheus_password_file)
    except ValueError as exc:
        return _usage(str(exc))
    querier = querier or Prometheus(args.prometheus, auth=auth)
    try:
        province = _province(querier, args.province, at)
        report = build(querier, at, province)
    except (PrometheusError, LookupError) as exc:
        print(f"report: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if not report.counts.total:
        where = _("province {name!r}").format(name=province) if province else _("any province")
        print("report: " + _("Prometheus has no TPS for {where} at {at} (are the tps-exporter "
                             "rules loaded and the exporters scraped?)")
              .format(where=where, at=at.isoformat()), file=sys.stderr)  # fmt: skip
        return EXIT_FAILED
    return _write(report, args.format, zone, args.output, args.limit)


def _auth(user: str | None, password_file: Path | None) -> tuple[str, str] | None:
    """Return (user, password) for Prometheus's basic auth, the password read from its file."""
    if user is None and password_file is None:
        return None
    if user is None or password_file is None:
        raise ValueError(_("--prometheus.user and --prometheus.password-file go together"))
    try:
        # Like Prometheus's own password_file: the file's text, without the trailing newline.
        password = password_file.read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"--prometheus.password-file {password_file}: {exc}") from None
    if not password:
        raise ValueError(_("--prometheus.password-file {file} is empty").format(file=password_file))
    return user, password


def parse_time(text: str, zone: str) -> dt.datetime:
    """Return an aware time from Unix seconds, RFC 3339, or a local `YYYY-MM-DD[ T]HH:MM`."""
    try:
        return dt.datetime.fromtimestamp(float(text), dt.UTC)
    except ValueError:
        pass
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(_("--at {text!r}: not like 2024-11-27T10:00, nor Unix seconds")
                         .format(text=text)) from None  # fmt: skip
    return when if when.tzinfo else when.replace(tzinfo=zoneinfo.ZoneInfo(zone))


def _province(querier: Querier, given: str | None, at: dt.datetime) -> str | None:
    """Return the province label to select, from its code, its name in any case, or a common
    abbreviation; an unknown one is named with the provinces Prometheus has."""
    if not given:
        return None
    known = provinces(querier, at)
    code = areas.province_code(given, known)
    if code is None:
        there = ", ".join(f"{c} {n}" for c, n in sorted(known.items())) or _("none")
        raise LookupError(_("no province {given!r} in Prometheus at {at}; it has: {there}")
                          .format(given=given, at=at.isoformat(), there=there))  # fmt: skip
    return known[code]


def _write(report: Report, form: str, zone: str, output: Path | None, limit: int) -> int:
    if form == "pdf":
        assert output is not None
        return print_pdf(formats.document(report, zone), output)
    text = {
        "table": lambda: formats.table(report, zone, limit),
        "csv": lambda: formats.areas_csv(report),
        "csv-tps": lambda: formats.tps_csv(report, zone),
        "html": lambda: formats.document(report, zone),
    }[form]()
    if output is None:
        sys.stdout.write(text)
    else:
        _replace(output, text.encode())
    return 0


def print_pdf(document: str, output: Path) -> int:
    """Print the HTML document to PDF with headless Chromium, as a browser would print it."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        print("report: " + _("--format pdf needs Chromium (Debian package chromium); "
                             "--format html gives the same document to print"),
              file=sys.stderr)  # fmt: skip
        return EXIT_FAILED
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp, "report.html")
        page.write_text(document, encoding="utf-8")
        pdf = Path(tmp, "report.pdf")
        sandbox = ["--no-sandbox"] if os.geteuid() == 0 else []  # Chromium refuses root otherwise
        command = [browser, "--headless", *sandbox, "--disable-gpu", f"--user-data-dir={tmp}/p",
                   "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri()]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0 or not pdf.is_file():
            print(
                "report: "
                + _("Chromium could not print the PDF: {error}").format(error=done.stderr[-500:]),
                file=sys.stderr,
            )
            return EXIT_FAILED
        _replace(output, pdf.read_bytes())
    return 0


def _replace(output: Path, data: bytes) -> None:
    """Write a file whole or not at all: a reader never sees half a report."""
    partial = output.with_name(f".{output.name}.partial")
    partial.write_bytes(data)
    partial.replace(output)


def _usage(message: str) -> int:
    print(f"report: {message}", file=sys.stderr)
    return EXIT_USAGE
