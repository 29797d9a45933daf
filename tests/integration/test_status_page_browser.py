"""The status page in a real browser: headless Chromium against a running exporter process.

The exporter polls real devices (a namespace host that answers, one that does not); Chromium
runs the page's script, and the test reads the DOM it ends with. (test_status_page_dom.py
reads the page at phone and desktop sizes and keeps screenshots.)
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

from lab.local import free_port
from lab.netns import lab_host
from tests.conftest import device_yaml, require_binary, require_root, site_yaml
from tests.stack import exporter_process, get

FAST = "icmp: {interval: 500ms, count: 2, spacing: 20ms, timeout: 200ms}\ndown_after: 2"
KAWAL = """\
    province: {code: "21", name: Kepulauan Riau}
    regency: {code: "21.01", name: Kabupaten Bintan}
    district: {code: "21.01.04", name: Gunung Kijang}
    village: {code: "21.01.04.1005", name: Kawal}"""
# A name an operator could type; the page must show it as text, never run it as markup.
MARKUP_NAME = "TPS 002 <b>Kawal</b>"


def kawal_site(site_id: str, name: str, devices: list[str]) -> str:
    return (f"  - id: {site_id}\n    name: {json.dumps(name)}\n{KAWAL}\n"
            f"    devices: [{', '.join(devices)}]\n")  # fmt: skip


def chromium(url: str, tmp: Path, *args: str) -> str:
    """Load `url` in headless Chromium, let its script run, and return what it printed."""
    result = subprocess.run(
        [require_binary("chromium"), "--headless", "--no-sandbox", "--disable-gpu",
         f"--user-data-dir={tmp / 'chromium-profile'}", "--virtual-time-budget=5000",
         *args, url],
        capture_output=True, text=True, timeout=90, check=True,
    )  # fmt: skip
    return result.stdout


def card(dom: str, status: str) -> int:
    found = re.search(rf'<div class="card {status}" data-status="{status}"><b>([\d.]+)</b>', dom)
    assert found, (status, dom[-3000:])
    return int(found[1].replace(".", ""))  # 1.234 in Indonesian


def test_status_page_in_a_real_browser(tmp_path: Path) -> None:
    require_root()
    require_binary("chromium")
    with lab_host() as host:
        targets = tmp_path / "targets"
        targets.mkdir()
        (targets / "i.yaml").write_text(
            "devices:\n"
            + device_yaml("rtr-up", host.address, FAST)
            + device_yaml("rtr-down", host.silent, FAST)
            + device_yaml("rtr-lo", "127.0.0.1", FAST)
            + "sites:\n"
            + kawal_site("tps-kawal-001", "TPS 001 Kawal", ["rtr-up"])
            + kawal_site("tps-kawal-002", MARKUP_NAME, ["rtr-down"])
            + site_yaml("tps-batam-001", ["rtr-lo"])
            + site_yaml("tps-batam-002", [])
        )
        port = free_port()
        base = f"http://127.0.0.1:{port}/"
        with exporter_process(targets, port, tmp_path / "exporter.log"):
            deadline = time.monotonic() + 20
            while json.loads(get(base + "status.json")[1])["counts"]["down"] != 1:
                assert time.monotonic() < deadline, "the silent device never went down"
                time.sleep(0.2)

            nation = chromium(base, tmp_path, "--dump-dom")
            assert "diperbarui " in nation  # the script ran and its fetch came back
            counts = [card(nation, s) for s in ("up", "degraded", "down", "blank_spot")]
            assert counts == [2, 0, 1, 1]
            assert '<a href="#area=21">Kepulauan Riau</a>' in nation
            offline = re.search(r'<details class="incident down" data-device="rtr-down">(.*?)'
                                r"</details>", nation)  # fmt: skip
            assert offline, nation[-3000:]
            assert "TPS 002 &lt;b&gt;Kawal&lt;/b&gt;" in offline[1]  # shown as text
            assert "<b>Kawal</b>" not in nation  # never as markup
            assert "tidak menjawab ping" in offline[1] and "rtr-down" in offline[1]
            assert "Gangguan saat ini (1, 1 TPS)" in nation

            regency = chromium(base + "#area=21.01", tmp_path, "--dump-dom")
            assert "<strong>Kabupaten Bintan</strong>" in regency
            assert '<h2 id="children-title">Kecamatan</h2>' in regency
            assert '<a href="#area=21.01.04">Gunung Kijang</a>' in regency
            assert "tps-batam" not in regency  # Batam is another regency

            search = chromium(base + "#q=rtr-up", tmp_path, "--dump-dom")
            matches = re.search(r'<div id="matches">(.*?)</main>', search, re.S)
            assert matches and 'data-tps="tps-kawal-001"' in matches[1]
            assert 'data-tps="tps-kawal-002"' not in matches[1]
