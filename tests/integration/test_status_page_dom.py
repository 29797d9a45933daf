"""The status page as a war room and a field officer see it: headless Chromium, driven over its
DevTools protocol, at a phone's size and a desktop's, against the exporter's web app serving the
example inventory with a voting-morning's faults: the BTS with the most TPS down (105 TPS), a
single router down in another regency, and the 68 blank spots.

Screenshots are kept under artifacts/ for a person to look at.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from aiohttp.test_utils import TestServer

from exporter.exposition.web import make_app
from exporter.i18n import number
from exporter.runtime import Exporter, Source
from lab.local import free_port
from tests.browser import DESKTOP, PHONE, Page, chromium
from tests.conftest import REPO
from tests.fakes import Clock, FakeSnmpClient, FakeTransport, polled_store

ARTIFACTS = REPO / "artifacts"
BTS = "bts-21.71.03"  # BTS Sekupang, XL Axiata: 105 TPS of Kota Batam behind it
ROUTER = "rtr-21.04.01.1001"  # one router in Kabupaten Lingga
READY = "document.getElementById('updated').textContent.match(/\\d/) !== null"


def voting_morning() -> Exporter:
    source = Source(None, (REPO / "targets",))
    exporter = Exporter(source, *source.load(), FakeTransport(), FakeSnmpClient())
    routers = {d for d, device in exporter.inventory.devices.items() if device.parent == BTS}
    assert ROUTER in exporter.inventory.devices
    clock = Clock()
    clock.now = time.time() - 20 * 60  # the faults began 20 minutes ago
    exporter.store = polled_store(exporter.inventory, {BTS, *routers, ROUTER}, clock)
    return exporter


async def _read(page: Page) -> dict[str, Any]:
    """Return what a person reads: headline, incidents, areas, and whether it scrolls sideways."""
    return dict(
        await page.evaluate("""({
        lang: document.documentElement.lang,
        h1: document.querySelector('h1').textContent,
        updated: document.getElementById('updated').textContent,
        ready: document.getElementById('ready').textContent,
        canSend: document.getElementById('can-send').textContent,
        headlineTop: document.getElementById('headline').getBoundingClientRect().top,
        cardsTop: document.getElementById('cards').getBoundingClientRect().top,
        incidents: [...document.querySelectorAll('#incidents .incident')].map(i => ({
            device: i.dataset.device, summary: i.querySelector('summary').textContent,
            tps: i.querySelectorAll('.places p').length})),
        incidentsTitle: document.getElementById('incidents-title').textContent,
        areas: [...document.querySelectorAll('#children .area[data-area]')]
            .map(a => a.dataset.area),
        blankTitle: document.getElementById('blank-title').textContent,
        sideways: document.documentElement.scrollWidth > window.innerWidth,
        width: window.innerWidth,
    })""")
    )


async def _serving(exporter: Exporter) -> TestServer:
    server = TestServer(make_app(exporter), host="127.0.0.1", port=free_port())
    await server.start_server()
    return server


def test_the_page_groups_outages_by_device_in_indonesian_on_a_phone_and_a_desktop() -> None:
    exporter = voting_morning()
    sites = exporter.store.sites.values()
    assert sum(1 for s in sites if s.device == BTS) == 105
    router_tps = sum(1 for s in sites if s.device == ROUTER)
    ARTIFACTS.mkdir(exist_ok=True)

    async def scenario() -> None:
        server = await _serving(exporter)
        base = f"http://127.0.0.1:{server.port}/"
        try:
            async with chromium() as page:
                for name, size in (("phone", PHONE), ("desktop", DESKTOP)):
                    await page.open(base, size, READY)
                    seen = await _read(page)
                    assert seen["width"] == size[0]
                    assert not seen["sideways"], f"the page scrolls sideways on a {name}"
                    assert (seen["lang"], seen["h1"]) == ("id", "Status TPS")
                    assert seen["updated"].startswith("diperbarui ")
                    assert seen["updated"].endswith(" WIB")
                    assert seen["ready"].endswith("%") and "," in seen["ready"]  # 95,1%
                    assert seen["headlineTop"] < seen["cardsTop"]  # the figure comes first
                    first, second = seen["incidents"][:2]
                    assert first["device"] == BTS  # 105 TPS: one incident, not 105 rows
                    assert first["summary"].startswith("BTS Sekupang (XL Axiata) — Mati ")
                    assert "— 105 TPS — tidak menjawab ping" in first["summary"]
                    assert re.search(r" — Mati sejak \d+ \w+ \d\d\.\d\d WIB \(1\d mnt\) — ",
                                     first["summary"])  # fmt: skip
                    assert second["device"] == ROUTER  # a single router is seen at once
                    total = number(105 + router_tps)
                    assert seen["incidentsTitle"] == f"Gangguan saat ini (2, {total} TPS)"
                    assert seen["areas"] == ["21"]
                    assert seen["blankTitle"] == "Blank spot (68)"
                    await page.screenshot(ARTIFACTS / f"status-page-{name}.png")

                # Open the BTS's incident: its TPS by village, each village's place labelled.
                opened = await page.evaluate("""(() => {
                    const i = document.querySelector('#incidents .incident');
                    i.open = true;
                    return [...i.querySelectorAll('.places p')].map(p => p.textContent);
                })()""")
                assert opened[0].startswith("Kota Batam › Kec. Sekupang › Desa/Kel. ")
                assert sum(line.count("TPS ") for line in opened) == 105
        finally:
            await server.close()

    asyncio.run(scenario())


def test_worst_areas_blank_spots_search_by_device_name_and_the_english_switch() -> None:
    exporter = voting_morning()

    async def scenario() -> None:
        server = await _serving(exporter)
        base = f"http://127.0.0.1:{server.port}/"
        try:
            async with chromium() as page:
                # Kabupaten Lingga: worst areas first, its blank spots listed by village.
                await page.open(base + "#area=21.04", DESKTOP, READY)
                lingga = await page.evaluate("""({
                    areas: [...document.querySelectorAll('#children .area[data-area]')]
                        .map(a => a.querySelector('span.n').textContent),
                    blank: [...document.querySelectorAll('#blank .places p')]
                        .map(p => p.textContent)})""")
                ready = [float(r.rstrip("%").replace(",", ".")) for r in lingga["areas"]]
                assert ready == sorted(ready) and ready[0] < 100
                assert lingga["blank"] and all(b.startswith("Kabupaten Lingga › ")
                                               for b in lingga["blank"])  # fmt: skip

                # The device's name in an alert finds the TPS behind it.
                matches = "document.querySelectorAll('#matches .match')"
                await page.open(base + "#q=BTS%20Sekupang", DESKTOP, f"{matches}.length > 0")
                found = await page.evaluate(f"[...{matches}].map(m => m.textContent)")
                assert all("BTS Sekupang (XL Axiata): Mati" in m for m in found)

                # The English switch.
                await page.open(base + "?lang=en", PHONE, READY)
                english = await _read(page)
                assert (english["lang"], english["h1"]) == ("en", "TPS status")
                assert english["updated"].startswith("updated ")
                assert "." in english["ready"] and not english["sideways"]
                assert " — Down since " in english["incidents"][0]["summary"]
                await page.screenshot(ARTIFACTS / "status-page-phone-en.png")
        finally:
            await server.close()

    asyncio.run(scenario())
