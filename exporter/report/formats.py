"""The readiness report as a terminal table, CSV, or a self-contained A4 HTML document to print.

Everything a person reads is in the language in use (Bahasa Indonesia unless `--lang en`), with
Indonesian number and date formats; the CSVs keep their column codes, which scripts read.
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Iterable

from exporter.i18n import N_, _, current, duration, n_, number, percent, when, words, zone_name
from exporter.report.readiness import (
    STATUSES,
    Counts,
    Incident,
    NotReady,
    Report,
    blank_spots,
    devices_down,
    incidents,
    sorted_regencies,
)

HEADINGS = (N_("TPS"), N_("Up"), N_("Degraded"), N_("Down"), N_("Blank spot"), N_("No data"),
            N_("Ready"), N_("Can send"))  # fmt: skip
COLOURS = {"up": "#1a7f37", "degraded": "#d97706", "down": "#c62828", "blank_spot": "#6b5b95",
           "no_data": "#9e9e9e"}  # fmt: skip
PLACE = " › "  # breadcrumb order: regency › district › village


def scope_name(report: Report) -> str:
    """Return what the report covers, as people read it: a province, or the nation."""
    return _("Indonesia") if report.scope == "Indonesia" else report.scope


def title(report: Report, zone: str) -> str:
    """Return the report's title line: what, where, when (in `zone`, named)."""
    return _("TPS readiness · {scope} · {at}").format(
        scope=scope_name(report), at=when(report.at.timestamp(), zone)
    )


def headline(report: Report) -> str:
    """Return the figure: `86,9% dari 3.330 TPS siap`."""
    return _("{percent} of {total} TPS ready").format(
        percent=percent(report.counts.readiness), total=number(report.counts.total)
    )


def second_figure(report: Report) -> str:
    """Return the other figure: `bisa kirim 95,2% (normal atau terganggu)`."""
    return _("can send {percent} (up or degraded)").format(percent=percent(report.counts.can_send))


def the_rest(report: Report) -> list[str]:
    """Return what the TPS not ready are, biggest part first."""
    by = report.counts.by_status
    parts: list[tuple[int, str]] = []
    if by["down"]:
        devices = devices_down(report)
        parts.append((by["down"], n_("{count} TPS down behind {devices} device",
                                     "{count} TPS down behind {devices} devices", devices)
                      .format(count=number(by["down"]), devices=number(devices))))  # fmt: skip
    if by["blank_spot"]:
        parts.append((by["blank_spot"], _("{count} blank spots (no device connects them)")
                      .format(count=number(by["blank_spot"]))))  # fmt: skip
    if by["degraded"]:
        parts.append((by["degraded"], _("{count} TPS degraded (can still send)")
                      .format(count=number(by["degraded"]))))  # fmt: skip
    if by["no_data"]:
        parts.append((by["no_data"], _("{count} TPS without data yet")
                      .format(count=number(by["no_data"]))))  # fmt: skip
    return [text for _count, text in sorted(parts, key=lambda p: -p[0])]


def worst_regencies(report: Report, count: int = 5) -> list[str]:
    """Return the regencies with the most TPS not ready: `Kabupaten Lingga: 47 belum siap`."""
    ranked = sorted(sorted_regencies(report), key=lambda r: (r.counts.readiness or 0, r.name))
    lines = []
    for regency in ranked[:count]:
        missing = regency.counts.total - regency.counts.by_status["up"]
        if missing:
            lines.append(_("{regency}: {ready} ready, {missing} not ready").format(
                regency=regency.name, ready=percent(regency.counts.readiness),
                missing=number(missing)))  # fmt: skip
    return lines


def incident_line(incident: Incident, report: Report, zone: str) -> str:
    """Return an incident as one line: `Mati · BTS X (Telkomsel) · sejak 04.51 WIB (12 mnt) · 60
    TPS · perangkatnya mati`."""
    parts = [words.status(incident.status), _device_name(incident)]
    if incident.since is not None:
        ago = duration(report.at.timestamp() - incident.since)
        parts.append(_("since {time} ({ago})").format(time=when(incident.since, zone, year=False),
                                                     ago=ago))  # fmt: skip
    parts += [n_("{count} TPS", "{count} TPS", len(incident.tps)).format(
        count=number(len(incident.tps))), words.reason(incident.reason)]  # fmt: skip
    return " · ".join(parts)


def _device_name(incident: Incident) -> str:
    if not incident.device:
        return _("without a device at fault")
    name = incident.device_name or incident.device
    return f"{name} ({incident.operator})" if incident.operator else name


def by_village(members: Iterable[NotReady]) -> list[tuple[str, list[str]]]:
    """Return TPS names by place (regency › district › village), in that order."""
    places: dict[str, list[str]] = {}
    for tps in sorted(members, key=lambda t: (t.regency, t.district, t.village, t.name)):
        places.setdefault(PLACE.join((tps.regency, tps.district, tps.village)), []).append(tps.name)
    return list(places.items())


def table(report: Report, zone: str, limit: int = 100) -> str:
    """Return the report for a terminal: the figure, areas, live outages, then blank spots."""
    lines = [title(report, zone)]
    if report.election:
        lines.append(report.election)
    lines += ["", f"{headline(report)} · {second_figure(report)}"]
    rest = the_rest(report)
    if rest:
        lines.append(_("Not ready: {parts}").format(parts=" · ".join(rest)))
    lines += ["", *_area_lines(report), ""]
    live = incidents(report)
    lines.append(_("Outages now: {incidents}, {count} TPS").format(
        incidents=number(len(live)), count=number(sum(len(i.tps) for i in live))))  # fmt: skip
    for incident in live[:limit]:
        lines.append(f"  {incident_line(incident, report, zone)}")
        for place, names in by_village(incident.tps):
            lines.append(f"      {place}: {', '.join(names)}")
    if len(live) > limit:
        lines.append("  " + _("... and {count} more (--format csv-tps lists every TPS)")
                     .format(count=number(len(live) - limit)))  # fmt: skip
    villages = blank_spots(report)
    if villages:
        count = sum(len(v) for v in villages.values())
        lines += ["", _("Blank spots: {count} TPS in {villages} villages").format(
            count=number(count), villages=number(len(villages)))]  # fmt: skip
        for (regency, district, village), members in list(villages.items())[:limit]:
            listed = ", ".join(t.name for t in members)
            lines.append(f"  {PLACE.join((regency, district, village))}: {listed}")
        if len(villages) > limit:
            lines.append("  " + _("... and {count} more villages").format(
                count=number(len(villages) - limit)))  # fmt: skip
    return "\n".join(lines) + "\n"


def _area_lines(report: Report) -> list[str]:
    scope = scope_name(report)
    rows: list[tuple[str, ...]] = [("", *(_(h) for h in HEADINGS)),
                                   (scope, *_figures(report.counts))]  # fmt: skip
    for regency in sorted_regencies(report):
        rows.append((f"  {regency.name}", *_figures(regency.counts)))
        districts = sorted(regency.districts.items())
        rows += [(f"    {name}", *_figures(counts)) for name, counts in districts]
    width = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        figures = [c.rjust(w) for c, w in zip(row[1:], width[1:], strict=True)]
        lines.append("  ".join([row[0].ljust(width[0]), *figures]).rstrip())
    return lines


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
    writer.writerow(["level", "province", "regency", "district", "tps", *STATUSES, "readiness",
                     "can_send"])  # fmt: skip
    scope_level = "nation" if report.scope == "Indonesia" else "province"
    writer.writerow([scope_level, "" if scope_level == "nation" else report.scope, "", "",
                     *_numbers(report.counts)])  # fmt: skip
    for regency in sorted_regencies(report):
        writer.writerow(["regency", regency.province, regency.name, "", *_numbers(regency.counts)])
        for name, counts in sorted(regency.districts.items()):
            writer.writerow(["district", regency.province, regency.name, name, *_numbers(counts)])
    return out.getvalue()


def tps_csv(report: Report, zone: str) -> str:
    """Return one CSV row per TPS not ready; `reason_text` says the reason in words."""
    out = io.StringIO()
    writer = _SafeCsv(out)
    writer.writerow(["site", "name", "province", "regency", "district", "village", "status",
                     "reason", "reason_text", "device", "device_name", "operator", "since",
                     "since_unix"])  # fmt: skip
    for t in report.not_ready:
        writer.writerow([t.site, t.name, t.province, t.regency, t.district, t.village, t.status,
                         t.reason, words.reason(t.reason), t.device, t.device_name, t.operator,
                         "" if t.since is None else when(t.since, zone),
                         "" if t.since is None else f"{t.since:.0f}"])  # fmt: skip
    return out.getvalue()


def _figures(counts: Counts) -> tuple[str, ...]:
    return (number(counts.total), *(number(counts.by_status[s]) for s in STATUSES),
            percent(counts.readiness), percent(counts.can_send))  # fmt: skip


def _numbers(counts: Counts) -> list[object]:
    ready = "" if counts.readiness is None else f"{counts.readiness:.4f}"
    send = counts.can_send
    return [counts.total, *(counts.by_status[s] for s in STATUSES), ready,
            "" if send is None else f"{send:.4f}"]  # fmt: skip


def document(report: Report, zone: str) -> str:
    """Return a self-contained A4 HTML document (inline style and SVG chart) to print or hand out.

    Printed by Chromium (`--format pdf`), each page has a running header (election, area, time)
    and its number, from CSS page margin boxes.
    """
    heading = title(report, zone)
    running = " · ".join(filter(None, [report.election, heading]))
    live = incidents(report)
    villages = blank_spots(report)
    rest = "".join(f"<li>{html.escape(p)}</li>" for p in the_rest(report))
    worst = "".join(f"<li>{html.escape(p)}</li>" for p in worst_regencies(report))
    t = {
        "page": _("Page"),
        "of": _("of"),
        "not_ready": _("Not ready:"),
        "worst": _("Regencies with the most TPS not ready:"),
        "outages": _("Outages now"),
        "none": _("None."),
        "areas": _("By regency and district"),
        "area": _("Area"),
        "blank": _("Blank spots"),
        "village": _("Village"),
        "tps": _("TPS"),
        "source": _("Source: Prometheus, recording rule"),
        "zone": _("Times in {zone}.").format(zone=zone_name(zone)),
    }
    e = {k: html.escape(v) for k, v in t.items()}
    headings = "".join(f"<th>{html.escape(_(h))}</th>" for h in HEADINGS)
    outages = "".join(_html_incident(i, report, zone) for i in live) or f"<p>{e['none']}</p>"
    blank_count = number(sum(len(v) for v in villages.values()))
    return f"""<!doctype html>
<html lang="{current()}"><head><meta charset="utf-8"><title>{html.escape(heading)}</title>
<style>
@page {{ size: A4; margin: 18mm 14mm 16mm;
  @top-left {{ content: "{_css(running)}"; font: 8pt system-ui, sans-serif; color: #555; }}
  @bottom-right {{ content: "{_css(t["page"])} " counter(page) " {_css(t["of"])} " counter(pages);
                   font: 8pt system-ui, sans-serif; color: #555; }} }}
body {{ font-family: system-ui, sans-serif; margin: 0; color: #1b1b1b; font-size: 10pt; }}
h1 {{ font-size: 14pt; margin: 0 0 .2rem; }} h2 {{ font-size: 12pt; margin: 1.2rem 0 .4rem; }}
.headline {{ border: 2px solid #1b1b1b; padding: .6rem .8rem; margin: .6rem 0 1rem; }}
.figure {{ font-size: 26pt; font-weight: 700; line-height: 1.1; }}
.second {{ font-size: 13pt; margin: .2rem 0 .4rem; }}
.headline ul {{ margin: .2rem 0; padding-left: 1.1rem; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ padding: .15rem .35rem; border-bottom: 1px solid #ddd; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }}
thead {{ display: table-header-group; }} tr {{ break-inside: avoid; }}
tr.scope td {{ font-weight: 700; }} tr.regency td {{ font-weight: 600; background: #f3f5f8; }}
tr.district td:first-child {{ padding-left: 1.2rem; }}
.incident {{ break-inside: avoid; margin: 0 0 .5rem; }}
.incident p {{ margin: 0; }} .incident .tps {{ margin-left: 1rem; color: #333; }}
.status-down {{ color: #c62828; font-weight: 700; }} .status-degraded {{ color: #b45309; }}
.legend span {{ display: inline-block; margin-right: 1rem; }}
.legend i {{ display: inline-block; width: .8rem; height: .8rem; margin-right: .3rem; }}
.source {{ color: #555; font-size: 8pt; }}
</style></head><body>
<h1>{html.escape(heading)}</h1>
{f"<p>{html.escape(report.election)}</p>" if report.election else ""}
<section class="headline">
<div class="figure">{html.escape(headline(report))}</div>
<div class="second">{html.escape(second_figure(report))}</div>
{f"<p>{e['not_ready']}</p><ul>{rest}</ul>" if rest else ""}
{f"<p>{e['worst']}</p><ul>{worst}</ul>" if worst else ""}
</section>
<h2>{e["outages"]} ({number(len(live))})</h2>
{outages}
<h2>{e["areas"]}</h2>
{_chart(report)}
<table><thead><tr><th>{e["area"]}</th>{headings}</tr></thead>
<tbody>{_html_areas(report)}</tbody></table>
<h2>{e["blank"]} ({blank_count})</h2>
<table><thead><tr><th>{e["village"]}</th><th>{e["tps"]}</th></tr></thead>
<tbody>{"".join(_html_village(k, v) for k, v in villages.items())}</tbody></table>
<p class="source">{e["source"]} <code>site:tps_site_status:info</code>. {e["zone"]}</p>
</body></html>
"""


def _css(text: str) -> str:
    """Return text safe inside a CSS string in a <style> element."""
    out = text.replace("\\", "\\\\").replace('"', '\\"').replace("<", "\\3C ")
    return " ".join(out.split())


def _html_areas(report: Report) -> str:
    scope = scope_name(report)
    rows = [_html_row(scope, report.counts, "scope")]
    for regency in sorted_regencies(report):
        rows.append(_html_row(regency.name, regency.counts, "regency"))
        rows += [_html_row(n, c, "district") for n, c in sorted(regency.districts.items())]
    return "".join(rows)


def _html_row(name: str, counts: Counts, kind: str) -> str:
    cells = "".join(f"<td>{html.escape(f)}</td>" for f in _figures(counts))
    return f'<tr class="{kind}"><td>{html.escape(name)}</td>{cells}</tr>'


def _html_incident(incident: Incident, report: Report, zone: str) -> str:
    places = "".join(f'<p class="tps">{html.escape(place)}: {html.escape(", ".join(names))}</p>'
                     for place, names in by_village(incident.tps))  # fmt: skip
    line = html.escape(incident_line(incident, report, zone))
    return (f'<div class="incident"><p class="status-{incident.status}">{line}</p>'
            f"{places}</div>")  # fmt: skip


def _html_village(place: tuple[str, str, str], members: list[NotReady]) -> str:
    names = ", ".join(t.name for t in members)
    return (f"<tr><td>{html.escape(PLACE.join(place))}</td>"
            f"<td>{number(len(members))}: {html.escape(names)}</td></tr>")  # fmt: skip


def _chart(report: Report) -> str:
    """Return a horizontal stacked bar per regency, TPS by status, as inline SVG."""
    regencies = list(sorted_regencies(report))
    label_width, bar_width, row = 200, 420, 20
    height = row * len(regencies) + 10
    bars = []
    for i, regency in enumerate(regencies):
        y, x = 5 + i * row, float(label_width)
        bars.append(f'<text x="{label_width - 6}" y="{y + 13}" text-anchor="end" '
                    f'font-size="11">{html.escape(regency.name)}</text>')  # fmt: skip
        for status in STATUSES:
            share = regency.counts.by_status[status] / max(regency.counts.total, 1)
            width = share * bar_width
            if width > 0:
                bars.append(
                    f'<rect x="{x:.1f}" y="{y}" width="{width:.1f}" height="{row - 6}" '
                    f'fill="{COLOURS[status]}"><title>{html.escape(words.status(status))}'
                    f": {number(regency.counts.by_status[status])}</title></rect>"
                )
            x += width
        bars.append(f'<text x="{label_width + bar_width + 6}" y="{y + 13}" font-size="11">'
                    f"{percent(regency.counts.readiness)}</text>")  # fmt: skip
    legend = "".join(f'<span><i style="background:{COLOURS[s]}"></i>'
                     f"{html.escape(words.status(s))}</span>" for s in STATUSES)  # fmt: skip
    label = html.escape(_("TPS by status per regency"))
    return (f'<div class="legend">{legend}</div><svg role="img" aria-label="{label}" '
            f'width="{label_width + bar_width + 60}" height="{height}" '
            f'xmlns="http://www.w3.org/2000/svg">{"".join(bars)}</svg>')  # fmt: skip
