"""Find metric names used in rules and dashboards, to check them against the catalogue."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from exporter.metrics.catalogue import NAMESPACE, series_names

_NAME = re.compile(rf"\b{NAMESPACE}_[a-z0-9_]+\b")
# Recording rules are named level:metric:operations; their outputs are not exporter metrics.
_RECORD = re.compile(r"^\s*-?\s*record:\s*['\"]?([^'\"\s]+)", re.MULTILINE)


def unknown_metrics(files: Iterable[Path]) -> dict[str, set[str]]:
    """Return, per file, the `tps_*` names it uses that the catalogue does not declare."""
    known = series_names()
    texts = {path: path.read_text(encoding="utf-8") for path in files}
    # Rules recorded in one file (tps-rules.yml) are used in others (tests, dashboards).
    recorded = {name for text in texts.values() for name in _RECORD.findall(text)}
    out: dict[str, set[str]] = {}
    for path, text in texts.items():
        used = {m for m in _NAME.findall(text) if not any(f":{m}:" in r for r in recorded)}
        unknown = used - known
        if unknown:
            out[str(path)] = unknown
    return out
