"""The alert rules as code: every alert is complete, documented, and has a unit test."""

from __future__ import annotations

import re
from typing import Any

import yaml

from tests.conftest import REPO

RULES = REPO / "alerts" / "tps-rules.yml"
RUNBOOKS = REPO / "alerts" / "runbooks.md"
TESTS = REPO / "alerts" / "tests" / "tps-rules.test.yml"


def alerts() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def test_every_alert_has_severity_words_in_both_languages_and_a_runbook() -> None:
    for rule in alerts():
        labels, annotations = rule.get("labels", {}), rule.get("annotations", {})
        assert labels.get("severity") in ("critical", "warning", "info"), rule["alert"]
        for key in ("summary", "summary_en", "description", "description_en", "runbook"):
            assert annotations.get(key), f"{rule['alert']} has no {key}"


def test_every_runbook_link_has_a_section() -> None:
    headings = {h.lower() for h in re.findall(r"^## (\S+)", RUNBOOKS.read_text(), re.MULTILINE)}
    for rule in alerts():
        anchor = str(rule["annotations"]["runbook"])
        assert anchor in headings, f"{rule['alert']}: no section for #{anchor} in runbooks.md"


def test_outage_alerts_are_evaluated_with_the_records_they_read() -> None:
    # Two groups are evaluated at their own offsets: an alert in a group of its own could read
    # records an interval old. Within one group, rules run in order.
    groups = yaml.safe_load(RULES.read_text())["groups"]
    outages = next(g for g in groups if g["name"] == "tps-outages")
    names = [r.get("record") or r.get("alert") for r in outages["rules"]]
    for alert in ("TPSSiteDown", "TPSDeviceDown", "TPSRegencyOutage"):
        assert alert in names
        first = names.index(alert)
        for record in (
            "site:tps_site_status:info",
            "device:tps_sites_down:count",
            "regency:tps_sites_down:ratio",
            "device:tps_device_info:labels",
        ):
            assert names.index(record) < first, (alert, record)


def test_runbooks_are_in_both_languages() -> None:
    sections = re.split(r"^## ", RUNBOOKS.read_text(), flags=re.MULTILINE)[1:]
    for section in sections:
        assert "**ID.**" in section and "**EN.**" in section, section.splitlines()[0]


def test_every_alert_has_a_promtool_case() -> None:
    tested = set(re.findall(r"alertname: (\w+)", TESTS.read_text()))
    assert {str(rule["alert"]) for rule in alerts()} <= tested
