"""The messages on-call staff read, made by a real Alertmanager from the shipped configuration
and templates, delivered to a stand-in Telegram API that refuses what Telegram refuses (over
4,096 characters, broken HTML): every group arrives whole, counted, in Bahasa Indonesia, and in
English where a receiver asks for it."""

from __future__ import annotations

import csv
import datetime as dt
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from lab.telegram import LIMIT, Message, TelegramError, TelegramStandIn, check_message
from tests.conftest import SHARED, require, require_binary
from tests.stack import Alertmanager, Webhook, alertmanager_config_for_tests

KARIMUN = {"province": "Kepulauan Riau", "regency": "Kabupaten Karimun"}
SIZES = (1, 8, 12, 60, 300)


def karimun_places() -> list[tuple[str, str]]:
    """Return (district, village) of every village of Kabupaten Karimun (21.02)."""
    root = SHARED / "data" / "idn-area"
    require((root / "villages.csv").is_file(), "needs ../shared/data/idn-area")
    with (root / "districts.csv").open(encoding="utf-8") as f:
        districts = {r["code"]: r["name"] for r in csv.DictReader(f)}
    with (root / "villages.csv").open(encoding="utf-8") as f:
        return [
            (districts[r["district_code"]], r["name"])
            for r in csv.DictReader(f)
            if r["code"].startswith("21.02.")
        ]


def site_alert(n: int, device: str, place: tuple[str, str], **extra: str) -> dict[str, object]:
    """A TPSSiteDown alert as the shipped rules make it, for TPS number `n` of a village."""
    district, village = place
    labels = {
        **KARIMUN, "alertname": "TPSSiteDown", "severity": "critical", "job": "tps",
        "instance": "a:9811", "site": f"21.02-{n:04d}", "name": f"TPS {n % 7 + 1:03d} {village}",
        "district": district, "village": village, "timezone": "Asia/Jakarta", "zone": "WIB",
        "status": "down", "reason": "device_down", "device": device,
        "device_name": f"Router {village}", "device_kind": "router", "operator": "Telkomsel",
        "phase": "voting", "election": "Pilkada Serentak 2024", "rehearsal": "false",
    }  # fmt: skip
    labels.update(extra)
    annotations = {
        "summary": f"TPS tidak bisa kirim hasil: {labels['name']}", "runbook": "tpssitedown",
        "since": "10.04 WIB, 27/11", "since_en": "10:04 WIB, 27 Nov",
        "duration": "3 menit", "duration_en": "3 min",
    }  # fmt: skip
    return {"labels": labels, "annotations": annotations}


def resolved(alert: dict[str, object]) -> dict[str, object]:
    ended = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)).isoformat()
    started = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)).isoformat()
    return {**alert, "startsAt": started, "endsAt": ended}


@pytest.fixture(scope="module")
def chain(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Alertmanager, TelegramStandIn]]:
    """A real Alertmanager with the shipped routes, grouping, inhibition and templates, its
    receivers pointed at the stand-ins, and short waits."""
    require_binary("prometheus-alertmanager")
    telegram, hook = TelegramStandIn(), Webhook()
    config = alertmanager_config_for_tests(hook, "1s", "2s", telegram_url=telegram.url)
    am = Alertmanager(config, tmp_path_factory.mktemp("am"))
    try:
        yield am, telegram
    finally:
        am.stop()
        telegram.close()
        hook.close()


def delivered(
    telegram: TelegramStandIn, since: float, needle: str, count: int = 1
) -> list[Message]:
    """Wait for `count` messages containing `needle`, sent after `since`; fail on any refused."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert telegram.refused() == [], [m.error for m in telegram.refused()]
        found = [m for m in telegram.sent(since) if needle in m.text]
        if len(found) >= count:
            time.sleep(3)  # anything else for the same group comes now
            return [m for m in telegram.sent(since) if needle in m.text]
        time.sleep(0.2)
    raise AssertionError(f"no message with {needle!r}")


@pytest.mark.parametrize("size", SIZES)
def test_a_group_of_any_size_arrives_whole_and_counted(
    chain: tuple[Alertmanager, TelegramStandIn], size: int
) -> None:
    am, telegram = chain
    places = karimun_places()
    device = f"rtr-karimun-{size}"
    alerts = [site_alert(i, device, places[i % len(places)]) for i in range(size)]
    start = time.monotonic()
    am.post(alerts)
    needle = f"#q={alerts[0]['labels']['site']}" if size == 1 else f"#q={device}"  # type: ignore[index]
    [message] = delivered(telegram, start, needle)
    assert len(message.text) < LIMIT  # Alertmanager cuts at 4,096 runes, mid-tag
    assert check_message(message.text, "HTML") == message.shown
    lines = message.shown.splitlines()
    if size == 1:
        assert lines[0] == "🔴 KRITIS · TPS tidak bisa kirim hasil"
        assert lines[1] == alerts[0]["labels"]["name"]  # type: ignore[index]
        district, village = places[0]
        assert lines[2] == f"Kepulauan Riau › Kabupaten Karimun › {district} › {village}"
        assert "Penyebab: Router TPS mati" in lines
        assert "Sejak 10.04 WIB, 27/11 (3 menit)" in lines
        assert any(line.startswith("Langkah pertama: Telepon KPPS") for line in lines)
    else:
        assert lines[0] == f"🔴 KRITIS · {size} TPS tidak bisa kirim hasil di Kabupaten Karimun"
        assert len([line for line in lines if line.startswith("• ")]) == min(size, 5)
        more = [line for line in lines if "lainnya" in line]
        assert more == ([f"… dan {size - 5} lainnya"] if size > 5 else [])
    assert "Fase: pemungutan suara" in lines
    print(f"\n{size} TPS: {len(message.text)} characters\n{message.shown}")


def test_hostile_names_cannot_break_or_overflow_a_message(
    chain: tuple[Alertmanager, TelegramStandIn],
) -> None:
    am, telegram = chain
    long = "<b>&amp; " + "Ω&<>\"'" * 40
    place = (long, long)
    alerts = [
        site_alert(i, "rtr-hostile", place, name=long + str(i), device_name=long, operator=long)
        for i in range(300)
    ]
    for alert in alerts:
        alert["annotations"] = {k: long for k in ("summary", "since", "duration", "runbook")}
    start = time.monotonic()
    am.post(alerts)
    [message] = delivered(telegram, start, "#q=rtr-hostile")
    assert len(message.text) < LIMIT
    assert "… dan 295 lainnya" in message.shown


def test_resolved_says_pulih_when_it_ended_and_how_long_it_lasted(
    chain: tuple[Alertmanager, TelegramStandIn],
) -> None:
    am, telegram = chain
    places = karimun_places()
    one = site_alert(900, "rtr-pulih-1", places[3])
    group = [site_alert(910 + i, "rtr-pulih-12", places[i]) for i in range(12)]
    start = time.monotonic()
    am.post([one, *group])
    delivered(telegram, start, "#q=rtr-pulih-12")
    ended = time.monotonic()
    am.post([resolved(a) for a in (one, *group)])
    [single] = [m for m in delivered(telegram, ended, "PULIH", 2) if "gangguan" not in m.text]
    lines = single.shown.splitlines()
    assert lines[0] == "✅ PULIH"
    assert lines[1] == f"{one['labels']['name']} bisa kirim lagi"  # type: ignore[index]
    until = "\N{EN DASH}"
    assert re.fullmatch(
        rf"Mati 10\.04 WIB, 27/11 {until} pulih \d\d\.\d\d WIB \(lama 3 menit\)", lines[-2]
    )
    [many] = [m for m in telegram.sent(ended) if "12 gangguan selesai" in m.text]
    assert many.shown.splitlines()[0] == "✅ PULIH · 12 gangguan selesai"
    assert "… dan 7 lainnya" in many.shown


def test_a_receiver_can_have_the_same_alerts_in_english(
    chain: tuple[Alertmanager, TelegramStandIn],
) -> None:
    am, telegram = chain
    alert = site_alert(1, "rtr-kalsel", ("Banjarmasin Tengah", "Kertak Baru Ilir"),
                       province="Kalimantan Selatan", regency="Kota Banjarmasin",
                       timezone="Asia/Makassar", zone="WITA")  # fmt: skip
    start = time.monotonic()
    am.post([alert])
    messages = delivered(telegram, start, "#q=21.02-0001", 2)
    by_chat = {m.chat_id: m.shown for m in messages}
    indonesian, english = by_chat["-1001000000063"], by_chat["-1001000000163"]
    assert indonesian.startswith("🔴 KRITIS · TPS tidak bisa kirim hasil")
    assert english.startswith("🔴 CRITICAL · TPS cannot send results")
    assert "Cause: the TPS's router is down" in english
    assert "Since 10:04 WIB, 27 Nov (3 min)" in english
    for word in ("Penyebab", "Sejak", "Langkah", "KRITIS", " / "):
        assert word not in english


def post_and_read(
    chain: tuple[Alertmanager, TelegramStandIn], alert: dict[str, Any], needle: str
) -> list[str]:
    """Post one alert and return the lines of the one message about it, as the phone shows it."""
    am, telegram = chain
    start = time.monotonic()
    am.post([alert])
    [message] = delivered(telegram, start, needle)
    return message.shown.splitlines()


def test_a_bts_and_a_regency_name_what_is_down(chain: tuple[Alertmanager, TelegramStandIn]) -> None:
    place = {**KARIMUN, "district": "Karimun", "village": "Lubuk Semut",
             "timezone": "Asia/Jakarta", "zone": "WIB", "phase": "counting", "rehearsal": "false",
             "severity": "critical"}  # fmt: skip
    bts = {
        "labels": {**place, "alertname": "TPSDeviceDown", "device": "bts-21-02-01",
                   "device_name": "BTS Tanjung Balai Karimun", "device_kind": "bts",
                   "operator": "BAKTI"},
        "annotations": {"sites_down": "60", "sites_more": "55", "runbook": "tpsdevicedown",
                        "sites": "; ".join(f"TPS {i:03d} (Lubuk Semut)" for i in range(1, 6)),
                        "since": "14.10 WIB, 27/11", "duration": "2 menit"},
    }  # fmt: skip
    lines = post_and_read(chain, bts, "#q=bts-21-02-01")
    assert lines[0] == "🔴 KRITIS · 60 TPS tidak bisa kirim hasil: BTS mati"
    assert lines[1] == "BTS Tanjung Balai Karimun (bts-21-02-01), BAKTI"
    assert lines[3].startswith("TPS: TPS 001 (Lubuk Semut); ") and lines[3].endswith(
        " dan 55 lainnya"
    )
    assert "Fase: penghitungan suara" in lines
    regency = {
        "labels": {**KARIMUN, "alertname": "TPSRegencyOutage", "severity": "critical",
                   "regency_code": "21.02", "timezone": "Asia/Jakarta", "zone": "WIB",
                   "phase": "voting", "rehearsal": "true"},
        "annotations": {"down": "40", "connectable": "52", "percent": "76.92%",
                        "percent_id": "76,92%",
                        "devices": "BTS Tanjung Balai Karimun (bts-21-02-01, BAKTI): 30 TPS",
                        "runbook": "tpsregencyoutage", "since": "10.01 WIB, 27/11"},
    }  # fmt: skip
    lines = post_and_read(chain, regency, "#area=21.02")
    assert lines[0] == "🔴 KRITIS · Gangguan wilayah: 40 dari 52 TPS mati (76,92%)"
    assert "Perangkat bermasalah: BTS Tanjung Balai Karimun (bts-21-02-01, BAKTI): 30 TPS" in lines
    assert "Fase: pemungutan suara · SIMULASI" in lines


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("<b>unclosed", "can't find end tag"),
        ("a < b", "unexpected '<'"),
        ("Tom & Jerry", "bare '&'"),
        ("<blink>x</blink>", "unsupported start tag"),
        ("x" * (LIMIT + 1), "too long"),
    ],
)
def test_the_stand_in_refuses_what_telegram_refuses(text: str, error: str) -> None:
    with pytest.raises(TelegramError, match=re.escape(error)):
        check_message(text, "HTML")
    assert check_message("<b>A &amp; B</b> &lt;3 &#128308;", "HTML") == "A & B <3 🔴"
