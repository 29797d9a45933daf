"""Log lines in logfmt and JSON carry the message, the level and the structured fields."""

from __future__ import annotations

import json
import logging

from exporter.logs import JsonFormatter, LogfmtFormatter


def record(message: str, **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("exporter.runtime", logging.WARNING, __file__, 1, message, (), None)
    rec.__dict__.update(extra)
    return rec


def test_logfmt_quotes_what_needs_quoting() -> None:
    line = LogfmtFormatter().format(record('reload refused: "x.yaml"', sites=3, zone="WIB"))
    assert line.startswith("ts=")
    assert ' level=warn logger=exporter.runtime msg="reload refused: \\"x.yaml\\"" ' in line
    assert line.endswith(" sites=3 zone=WIB")


def test_json_is_one_object_per_line() -> None:
    line = JsonFormatter().format(record("polling started", devices=579))
    assert "\n" not in line
    fields = json.loads(line)
    assert fields["level"] == "warn" and fields["msg"] == "polling started"
    assert fields["devices"] == 579 and fields["ts"].endswith("Z")
