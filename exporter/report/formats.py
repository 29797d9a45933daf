"""The readiness report as a terminal table, CSV, or a self-contained HTML document with a chart."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import zoneinfo
from collections.abc import Iterable

from exporter.inventory.areas import zone_abbreviation
from exporter.report.readiness import STATUSES, Counts, NotReady, Report, sorted_regencies

HEADINGS = ("TPS", "Up", "Degraded", "Down", "Blank spot", "No data", "Ready")
COLOURS = {"up": "#1a7f37", "degraded": "#d97706", "down": "#c62828", "blank_spot": "#6b5b95",
           "no_data": "#9e9e9e"}  # fmt: skip
LABELS = dict(zip(STATUSES, HEADINGS[1:6], strict=True))


def percent(counts: Counts) -> str:
    """Return the readiness as people write it: 97.3%."""
    return "-" if counts.readiness is None else f"{100 * counts.readiness:.1f}%"


def local(timestamp: float | None, zone: str) -> str:
    """Return a Unix time in `zone` as `2024-11-27 10:05`, or "-"."""
    if timestamp is None:
        return "-"
    return dt.datetime.fromtimestamp(timestamp, zoneinfo.ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


def title(report: Report, zone: str) -> str:
    """Return the report's title line."""
    at = report.at.astimezone(zoneinfo.ZoneInfo(zone))
    return f"TPS readiness, {report.scope}, {at:%Y-%m-%d %H:%M} {zone_abbreviation(zone)}"


def table(report: Report, zone: str, limit: int = 100) -> str:
    """Return the report for a terminal: regencies with their districts, then TPS not ready."""
    rows: list[tuple[str, ...]] = [("", *HEADINGS), (report.scope, *_figures(report.counts))]
    for regency in sorted_regencies(report):
        rows.append((f"  {regency.name}", *_figures(regency.counts)))
        districts = sorted(regency.districts.items())
        rows += [(f"    {name}", *_figures(counts)) for name, counts in districts]
    width = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [title(report, zone), ""]
    for row in rows:
        figures = [c.rjust(w) for c, w in zip(row[1:], width[1:], strict=True)]
        lines.append("  ".join([row[0].ljust(width[0]), *figures]).rstrip())
    lines += ["", f"TPS not ready: {len(report.not_ready):,}"]
    for tps in report.not_ready[:limit]:
        where = f"{tps.village}, {tps.district}, {tps.regency}"
        lines.append(f"  {tps.name} ({where}): {tps.status}, {tps.reason}{_device(tps)}, "
                     f"since {local(tps.since, zone)}")  # fmt: skip
    if len(report.not_ready) > limit:
        lines.append(f"  ... and {len(report.not_ready) - limit:,} more (--format csv-tps for all)")
    return "\n".join(lines) + "\n"


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _SafeCsv:
    """A CSV writer whose text cells cannot be read as formulas by Excel or LibreOffice.

    As OWASP recommends: a cell that starts with = + - @ (or a tab or CR) gets a leading
    apostrophe, shown by the spreadsheet and never evaluated. Numbers are written as numbers.
    """

    def __init__(self, out: io.StringIO) -> None:
        # CRLF as RFC 4180 and Excel have it; with "\n" a CR inside a name would not be quoted.
        self._writer = csv.writer(out, lineterminator="\r\n")

    def writerow(self, row: Iterable[object]) -> None:
        """Write one row, each text cell neutralised."""
        self._writer.writerow(_neutral(cell) for cell in row)


def _neutral(cell: object) -> object:
    if isinstance(cell, str) and cell.startswith(_FORMULA_STARTS):
        return "'" + cell
    return cell


def areas_csv(report: Report) -> str:
    """Return one CSV row per area: the scope, each regency, each district."""
    out = io.StringIO()
    writer = _SafeCsv(out)
    writer.writerow(["level", "province", "regency", "district", "tps", *STATUSES, "readiness"])
    scope_level = "nation" if report.scope == "Indonesia" else "province"
    writer.writerow([scope_level, "" if scope_level == "nation" else report.scope, "", "",
                     *_numbers(report.counts)])  # fmt: skip
    for regency in sorted_regencies(report):
        writer.writerow(["regency", regency.province, regency.name, "", *_numbers(regency.counts)])
        for name, counts in sorted(regency.districts.items()):
            writer.writerow(["district", regency.province, regency.name, name, *_numbers(counts)])
    return out.getvalue()


def tps_csv(report: Report, zone: str) -> str:
    """Return one CSV row per TPS not ready."""
    out = io.StringIO()
    writer = _SafeCsv(out)
    writer.writerow(["site", "name", "province", "regency", "district", "village", "status",
                     "reason", "device", "since", "since_unix"])  # fmt: skip
    for t in report.not_ready:
        writer.writerow([t.site, t.name, t.province, t.regency, t.district, t.village, t.status,
                         t.reason, t.device, "" if t.since is None else local(t.since, zone),
                         "" if t.since is None else f"{t.since:.0f}"])  # fmt: skip
    return out.getvalue()


def document(report: Report, zone: str) -> str:
    """Return a self-contained HTML document (inline style and SVG chart) to print or hand out."""
    heading = html.escape(title(report, zone))
    rows = [_html_row(report.scope, report.counts, "scope")]
    for regency in sorted_regencies(report):
        rows.append(_html_row(regency.name, regency.counts, "regency"))
        rows += [_html_row(n, c, "district") for n, c in sorted(regency.districts.items())]
    listed = "".join(_html_tps(t, zone) for t in report.not_ready)
    return f"""<!doctype html>
<html lang="id"><head><meta charset="utf-8"><title>{heading}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5rem; color: #1b1b1b; }}
h1 {{ font-size: 1.3rem; }} h2 {{ font-size: 1.1rem; margin-top: 1.6rem; }}
table {{ border-collapse: collapse; font-size: .85rem; }}
th, td {{ padding: .2rem .5rem; border-bottom: 1px solid #ddd; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }}
tr.scope td {{ font-weight: 700; }} tr.regency td {{ font-weight: 600; background: #f3f5f8; }}
tr.district td:first-child {{ padding-left: 1.5rem; }}
.legend span {{ display: inline-block; margin-right: 1rem; font-size: .85rem; }}
.legend i {{ display: inline-block; width: .8rem; height: .8rem; margin-right: .3rem; }}
@media print {{ body {{ margin: 0; }} h2 {{ break-before: page; }} }}
</style></head><body>
<h1>{heading}</h1>
<p>{report.counts.total:,} TPS, {percent(report.counts)} ready (up). Source: Prometheus recording
rule <code>site:tps_site_status:info</code>.</p>
{_chart(report)}
<h2>By regency and district</h2>
<table><thead><tr><th>Area</th>{"".join(f"<th>{h}</th>" for h in HEADINGS)}</tr></thead>
<tbody>{"".join(rows)}</tbody></table>
<h2>TPS not ready ({len(report.not_ready):,})</h2>
<table><thead><tr><th>TPS</th><th>Village</th><th>District</th><th>Regency</th><th>Status</th>
<th>Reason</th><th>Device</th><th>Since ({html.escape(zone_abbreviation(zone))})</th></tr></thead>
<tbody>{listed}</tbody></table>
</body></html>
"""


def _figures(counts: Counts) -> tuple[str, ...]:
    return (f"{counts.total:,}", *(f"{counts.by_status[s]:,}" for s in STATUSES), percent(counts))


def _numbers(counts: Counts) -> list[object]:
    ready = "" if counts.readiness is None else f"{counts.readiness:.4f}"
    return [counts.total, *(counts.by_status[s] for s in STATUSES), ready]


def _device(tps: NotReady) -> str:
    return f" ({tps.device})" if tps.device else ""


def _html_row(name: str, counts: Counts, kind: str) -> str:
    cells = "".join(f"<td>{html.escape(f)}</td>" for f in _figures(counts))
    return f'<tr class="{kind}"><td>{html.escape(name)}</td>{cells}</tr>'


def _html_tps(t: NotReady, zone: str) -> str:
    cells = (t.name, t.village, t.district, t.regency, t.status, t.reason, t.device or "-",
             local(t.since, zone))  # fmt: skip
    return "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>"


def _chart(report: Report) -> str:
    """Return a horizontal stacked bar per regency, TPS by status, as inline SVG."""
    regencies = list(sorted_regencies(report))
    label_width, bar_width, row = 220, 480, 22
    height = row * len(regencies) + 10
    bars = []
    for i, regency in enumerate(regencies):
        y, x = 5 + i * row, float(label_width)
        bars.append(f'<text x="{label_width - 6}" y="{y + 14}" text-anchor="end" '
                    f'font-size="12">{html.escape(regency.name)}</text>')  # fmt: skip
        for status in STATUSES:
            share = regency.counts.by_status[status] / max(regency.counts.total, 1)
            width = share * bar_width
            if width > 0:
                bars.append(f'<rect x="{x:.1f}" y="{y}" width="{width:.1f}" height="{row - 6}" '
                            f'fill="{COLOURS[status]}"><title>{LABELS[status]}: '
                            f'{regency.counts.by_status[status]:,}</title></rect>')  # fmt: skip
            x += width
        bars.append(f'<text x="{label_width + bar_width + 6}" y="{y + 14}" font-size="12">'
                    f"{percent(regency.counts)}</text>")  # fmt: skip
    legend = "".join(f'<span><i style="background:{COLOURS[s]}"></i>{LABELS[s]}</span>'
                     for s in STATUSES)  # fmt: skip
    return (f'<div class="legend">{legend}</div><svg role="img" aria-label="TPS by status per '
            f'regency" width="{label_width + bar_width + 60}" height="{height}" '
            f'xmlns="http://www.w3.org/2000/svg">{"".join(bars)}</svg>')  # fmt: skip
