"""The whole alert chain, for real: exporter -> Prometheus (the shipped rules) -> Alertmanager
(the shipped routing and inhibition) -> a webhook and the Telegram API, both in this test.

Devices live on a namespace host the test creates; taking a device away is an nftables drop.
The rules' `for` durations are shortened, keeping their order (a regency outage fires before
the TPS alerts it replaces); nothing else in the rules or routing changes.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.local import free_port
from lab.netns import LabHost, lab_host
from tests.conftest import require_binary, require_root
from tests.stack import (
    ALERTS,
    Alertmanager,
    Prometheus,
    Webhook,
    alertmanager_config_for_tests,
    exporter_process,
)

FAST = "icmp: {interval: 1s, count: 2, spacing: 100ms, timeout: 300ms}\n    down_after: 2"
SHORT_FOR = {"TPSSiteDown": "6s", "TPSDeviceDown": "6s", "TPSRegencyOutage": "2s"}
PROVINCE_HOOK = "/prov-21-kepulauan-riau"


def rules_with_short_for(path: Path) -> None:
    """Write the shipped rules with the `for` of the outage alerts shortened for the test."""
    rules = yaml.safe_load((ALERTS / "tps-rules.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") in SHORT_FOR:
                rule["for"] = SHORT_FOR[rule["alert"]]
    path.write_text(yaml.safe_dump(rules, allow_unicode=True))


def inventory(host: LabHost) -> str:
    """Two regencies of Kepulauan Riau: Batam (two TPS) and Natuna (three TPS)."""
    _a1, a2, n1, n2, n3 = host.spare[:5]  # tps-a1 is on loopback and never goes away
    devices = "".join(
        f"  - id: {i}\n    kind: router\n    address: {address}\n    {FAST}\n"
        for i, address in (
            ("rtr-a1", "127.0.0.1"),
            ("rtr-a2", a2),
            ("rtr-n1", n1),
            ("rtr-n2", n2),
            ("rtr-n3", n3),
        )
    )
    sites = ""
    for site, device, regency, code in (
        ("tps-a1", "rtr-a1", "Kota Batam", "21.71"),
        ("tps-a2", "rtr-a2", "Kota Batam", "21.71"),
        ("tps-n1", "rtr-n1", "Kabupaten Natuna", "21.03"),
        ("tps-n2", "rtr-n2", "Kabupaten Natuna", "21.03"),
        ("tps-n3", "rtr-n3", "Kabupaten Natuna", "21.03"),
    ):
        sites += (
            f"  - id: {site}\n    name: TPS {site[-2:].upper()}\n"
            '    province: {code: "21", name: Kepulauan Riau}\n'
            f'    regency: {{code: "{code}", name: {regency}}}\n'
            f'    district: {{code: "{code}.01", name: Distrik {code}}}\n'
            f'    village: {{code: "{code}.01.2001", name: Desa {code}}}\n'
            f"    devices: [{device}]\n"
        )
    return f"devices:\n{devices}sites:\n{sites}"


def wait(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def notifications(hook: Webhook, since: float, path: str = PROVINCE_HOOK) -> list[dict[str, Any]]:
    """Return the webhook notifications received on a path after a moment."""
    return [n["body"] for n in hook.received if n["at"] >= since and n["path"] == path]


def first_arrival(hook: Webhook, since: float) -> float:
    """Return seconds from `since` to the first notification on the province's webhook."""
    times = [n["at"] for n in hook.received if n["at"] >= since and n["path"] == PROVINCE_HOOK]
    return float(min(times)) - since


def summary(note: dict[str, Any]) -> tuple[str, str, tuple[str, ...]]:
    """Return (status, alertname, sites or regency) of a notification."""
    alerts = note["alerts"]
    labels = [a["labels"] for a in alerts]
    where = tuple(sorted(str(lb.get("site") or lb.get("regency")) for lb in labels))
    return str(note["status"]), str(note["groupLabels"]["alertname"]), where


@pytest.mark.timeout(300)
def test_outages_reach_the_field_as_one_notification_each(tmp_path: Path) -> None:
    require_root()
    for binary in ("prometheus", "prometheus-alertmanager", "nft"):
        require_binary(binary)
    hook = Webhook()
    with lab_host() as host:
        (tmp_path / "targets").mkdir()
        (tmp_path / "targets" / "lab.yaml").write_text(inventory(host))
        rules_with_short_for(tmp_path / "rules.yml")
        am = Alertmanager(alertmanager_config_for_tests(hook, "1s", "2s"), tmp_path)
        exporter_port = free_port()
        with exporter_process(tmp_path / "targets", exporter_port, tmp_path / "exporter.log"):
            prom = Prometheus(
                "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
                f"rule_files: [{tmp_path / 'rules.yml'}]\n"
                "alerting: {alertmanagers: [{static_configs: [{targets: "
                f"['127.0.0.1:{am.port}']}}]}}]}}\n"
                f"scrape_configs: [{{job_name: tps, static_configs: [{{targets: "
                f"['127.0.0.1:{exporter_port}']}}]}}]\n",
                tmp_path,
            )
            try:
                ready = 'count(tps_site_status{status="up"}) == 5'
                assert wait(lambda: bool(prom.query(ready)), 60), "sites never all up"
                _one_site(host, hook)
                _whole_regency(host, hook)
            finally:
                prom.stop()
                am.stop()
                hook.close()


def _one_site(host: LabHost, hook: Webhook) -> None:
    a2 = host.spare[1]
    start = time.monotonic()
    host.silence(a2)
    assert wait(lambda: bool(notifications(hook, start)), 90), "no notification for tps-a2"
    took = notifications(hook, start) and hook.received[-1]["at"] - start
    print(
        f"\none TPS down -> notification: {took:.1f}s "
        f"(for {SHORT_FOR['TPSSiteDown']} + evaluation 1s + group_wait 1s + ICMP damping 2s)"
    )
    time.sleep(8)  # anything else that would come, comes now
    assert [summary(n) for n in notifications(hook, start)] == [
        ("firing", "TPSSiteDown", ("tps-a2",))
    ]
    firing = notifications(hook, start)[0]
    labels = firing["alerts"][0]["labels"]
    assert (labels["regency"], labels["device"], labels["reason"]) == (
        "Kota Batam",
        "rtr-a2",
        "device_down",
    )
    assert labels["severity"] == "warning" and labels["phase"] == "none"
    telegram = [n for n in hook.received if n["at"] >= start and "/telegram" in str(n["path"])]
    assert len(telegram) == 1
    text = str(telegram[0]["body"]["text"])
    assert text.startswith("🟠 PERINGATAN · TPS tidak bisa kirim hasil\n<b>TPS A2</b>\n"), text
    assert "Kepulauan Riau › Kota Batam › Distrik 21.71 › Desa 21.71" in text
    assert "Penyebab: Router TPS mati\nPerangkat: rtr-a2\n" in text
    # The real start, from the exporter, in the TPS's own zone; then how long it has lasted.
    since = r"\nSejak \d\d\.\d\d WIB, \d\d/\d\d \((kurang dari 1|\d+) menit\)\n"
    assert re.search(since, text), text
    restored = time.monotonic()
    host.restore(a2)
    assert wait(
        lambda: any(summary(n)[0] == "resolved" for n in notifications(hook, restored)), 60
    ), "no resolved notification"
    print(f"back up -> resolved: {time.monotonic() - restored:.1f}s")
    assert [summary(n) for n in notifications(hook, restored)] == [
        ("resolved", "TPSSiteDown", ("tps-a2",))
    ]


def _whole_regency(host: LabHost, hook: Webhook) -> None:
    natuna = host.spare[2:5]
    start = time.monotonic()
    host.silence(*natuna)
    assert wait(lambda: bool(notifications(hook, start)), 90), "no notification for Natuna"
    took = hook.received[-1]["at"] - start
    print(
        f"regency down -> notification: {took:.1f}s "
        f"(for {SHORT_FOR['TPSRegencyOutage']} + evaluation + group_wait + ICMP damping)"
    )
    time.sleep(12)  # past the TPS alerts' own `for`: they must stay inhibited
    assert [summary(n) for n in notifications(hook, start)] == [
        ("firing", "TPSRegencyOutage", ("Kabupaten Natuna",))
    ]
    host.restore(*natuna)
