"""The alert rules as code: every alert is complete, documented, and has a unit test."""

from __future__ import annotations

import re

import yaml

from tests.conftest import REPO

RULES = REPO / "alerts" / "tps-rules.yml"
RUNBOOKS = REPO / "alerts" / "runbooks.md"
TESTS = REPO / "alerts" / "tests" / "tps-rules.test.yml"


def alerts() -> list[dict[str, object]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def test_every_alert_has_severity_summary_description_and_runbook() -> None:
    for rule in alerts():
        labels, annotations = rule.get("labels", {}), rule.get("annotations", {})
        assert labels.get("severity") in ("critical", "warning", "info"), rule["alert"]  # type: ignore[union-attr]
        for key in ("summary", "description", "runbook_url"):
            assert annotations.get(key), f"{rule['alert']} has no {key}"  # type: ignore[union-attr]


def test_every_runbook_link_has_a_section() -> None:
    headings = {h.lower() for h in re.findall(r"^## (\S+)", RUNBOOKS.read_text(), re.MULTILINE)}
    for rule in alerts():
        url = rule["annotations"]["runbook_url"]  # type: ignore[index]
        anchor = str(url).split("#", 1)[1]
        assert anchor in headings, f"{rule['alert']}: no section for #{anchor} in runbooks.md"


def test_runbooks_are_in_both_languages() -> None:
    sections = re.split(r"^## ", RUNBOOKS.read_text(), flags=re.MULTILINE)[1:]
    for section in sections:
        assert "**ID.**" in section and "**EN.**" in section, section.splitlines()[0]


def test_every_alert_has_a_promtool_case() -> None:
    tested = set(re.findall(r"alertname: (\w+)", TESTS.read_text()))
    assert {str(rule["alert"]) for rule in alerts()} <= tested
