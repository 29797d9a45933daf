"""The status page's data (`/status.json`) and the page itself, on the example inventory."""

from __future__ import annotations

import asyncio
import datetime as dt
import re

import pytest
from aiohttp.test_utils import TestClient, TestServer

from exporter import __version__
from exporter.exposition import web
from exporter.exposition.status import (
    MATCHES_SHOWN,
    STATUSES,
    AreaNotFoundError,
    area_view,
    search,
    status_index,
    status_view,
)
from exporter.exposition.web import make_app
from exporter.i18n import language
from exporter.inventory.load import load
from exporter.inventory.model import ElectionCalendar, ElectionDay, Inventory
from exporter.runtime import Exporter, Source
from exporter.state.store import SiteStatus, Store
from tests.conftest import REPO
from tests.fakes import Clock, FakeSnmpClient, FakeTransport, partial, polled_store

CALENDAR = ElectionCalendar()


@pytest.fixture(scope="module")
def example() -> Inventory:
    return load(None, [REPO / "targets"])[1]


def test_counts_add_up_from_the_nation_down_to_a_village(example: Inventory) -> None:
    routers = sorted(d for d in example.devices if d.startswith("rtr-21.01."))[:6]
    store = polled_store(example, set(routers), Clock())
    expected_down = sum(
        1 for s in example.sites.values() if s.devices and set(s.devices) <= set(routers)
    )
    assert expected_down > 0
    nation = status_view(store, CALENDAR)
    assert nation["total"] == 3327 and nation["level"] == "province"
    assert nation["counts"]["down"] == expected_down
    assert nation["counts"]["blank_spot"] == sum(s.is_blank_spot for s in example.sites.values())
    area, levels = "", ["province", "regency", "district", "village"]
    for level in levels:
        view = status_view(store, CALENDAR, area)
        assert view["level"] == level
        for status in STATUSES:  # the children add up to the area
            assert sum(c["counts"][status] for c in view["children"]) == view["counts"][status]
        # Go down through the area with the most TPS down, as a war room would.
        area = max(view["children"], key=lambda c: (c["counts"]["down"], c["code"]))["code"]
    village = status_view(store, CALENDAR, area)
    assert village["level"] is None and village["children"] == []
    assert [a["code"] for a in village["area"]] == [area[:2], area[:5], area[:8], area]
    assert village["counts"]["down"] > 0


def test_outages_are_grouped_by_the_device_at_fault_and_nothing_is_cut(
    example: Inventory,
) -> None:
    clock = Clock()
    # Every base station down, and the routers behind them: most TPS of the province.
    behind_bts = {d.id for d in example.devices.values() if d.kind == "bts" or d.parent}
    store = polled_store(example, behind_bts, clock)
    sat = next(d for d in sorted(example.devices) if d.startswith("sat-"))
    store.record_ping(sat, partial(received=1))  # one lossy satellite: degraded
    view = status_view(store, CALENDAR)
    down, degraded = view["counts"]["down"], view["counts"]["degraded"]
    assert view["incident_tps"] == down + degraded
    culprits = {
        s.device for s in store.sites.values() if s.status in (SiteStatus.DOWN, SiteStatus.DEGRADED)
    }
    assert view["incidents_total"] == len(culprits)
    pages = [status_view(store, CALENDAR, "", now=None) if n == 1 else
             area_view(store, CALENDAR, "", pages=(n, 1)) for n in
             range(1, view["incidents_pages"] + 1)]  # fmt: skip
    listed = [i for page in pages for i in page["incidents"]]
    assert len(listed) == len(culprits) and {i["device"] for i in listed} == culprits
    assert sum(len(p["tps"]) for i in listed for p in i["places"]) == down + degraded
    # Down first, the biggest first; the degraded satellite's TPS after every outage.
    statuses = [i["status"] for i in listed]
    assert statuses == sorted(statuses, key=lambda s: s != "down")
    sizes = [i["count"] for i in listed if i["status"] == "down"]
    assert sizes == sorted(sizes, reverse=True)
    first = listed[0]
    bts = example.devices[first["device"]]
    assert bts.kind == "bts" and first["device_name"] == bts.name
    assert first["operator"] == bts.operator
    assert (first["status_text"], first["reason_text"]) == ("Mati", "tidak menjawab ping")
    assert re.fullmatch(r"\d{1,2} \w{3} \d\d\.\d\d WIB", first["since_text"])
    assert first["count_text"] == f"{first['count']} TPS"
    assert first["places"][0]["place"].startswith("Kota Batam › Kec. ")
    # Within one area, only its TPS; the degraded one is listed where it is.
    state = next(s for s in store.sites.values() if s.status is SiteStatus.DEGRADED)
    local = status_view(store, CALENDAR, state.site.place.district.code)
    shown = {t["id"] for i in local["incidents"] for p in i["places"] for t in p["tps"]}
    assert state.site.id in shown
    assert all(store.sites[t].site.place.district == state.site.place.district for t in shown)


def test_areas_are_worst_first_with_both_figures(example: Inventory) -> None:
    routers = {d for d in example.devices if d.startswith("rtr-21.04.")}  # some of Lingga
    store = polled_store(example, routers, Clock())
    regencies = status_view(store, CALENDAR, "21")["children"]
    ready = [c["ready"] for c in regencies]
    assert ready == sorted(ready) and regencies[0]["code"] == "21.04"
    lingga = regencies[0]
    assert lingga["ready_text"].endswith("%") and "," in lingga["ready_text"]
    up, degraded = lingga["counts"]["up"], lingga["counts"]["degraded"]
    assert lingga["ready"] == pytest.approx(up / lingga["total"])
    assert lingga["can_send_text"] == f"{100 * (up + degraded) / lingga['total']:.1f}%".replace(
        ".", ","
    )


def test_blank_spots_are_listed_by_village_for_each_area(example: Inventory) -> None:
    store = polled_store(example, set(), Clock())
    lingga = status_view(store, CALENDAR, "21.04")
    blank = [s for s in example.sites.values()
             if s.is_blank_spot and s.place.regency.code == "21.04"]  # fmt: skip
    assert blank and lingga["counts"]["blank_spot"] == len(blank)
    listed = {t["id"] for v in lingga["blank_villages"] for t in v["tps"]}
    assert listed == {s.id for s in blank}
    assert all(v["place"].startswith("Kabupaten Lingga › Kec. ") for v in lingga["blank_villages"])
    assert lingga["incidents"] == []  # blank spots are not outages


def test_search_finds_tps_by_name_village_or_device_within_the_area(example: Inventory) -> None:
    store = polled_store(example, set(), Clock())
    by_device = status_view(store, CALENDAR, query="RTR-21.01.04.1005")
    assert {m["id"] for m in by_device["matches"]} == {
        s.id for s in example.sites.values() if "rtr-21.01.04.1005" in s.devices
    }
    assert [m["id"] for m in status_view(store, CALENDAR, query="tps 003 kawal")["matches"]] == [
        "tps-21.01.04.1005-003"
    ]
    batam = status_view(store, CALENDAR, "21.71", query="TPS 001")["matches"]
    assert batam and all(m["place"].startswith("Kota Batam › ") for m in batam)
    # An alert names the BTS: its name finds the TPS behind it, and every device is shown.
    bts = next(d for d in example.devices.values() if d.kind == "bts" and d.name)
    found = status_view(store, CALENDAR, query=bts.name.upper())["matches"]
    assert found and all(bts.id in [d["id"] for d in m["devices"]] for m in found)
    assert found[0]["status_text"] == "Normal" and found[0]["reason_text"] == ""
    assert len(status_view(store, CALENDAR, query="tps")["matches"]) == MATCHES_SHOWN
    assert status_view(store, CALENDAR, query="t")["matches"] == []  # one letter: no search
    with pytest.raises(AreaNotFoundError):
        status_view(store, CALENDAR, "21.99")


def test_phases_are_shown_for_the_zones_of_the_area(example: Inventory) -> None:
    calendar = ElectionCalendar(days=(ElectionDay(dt.date(2024, 11, 27), "pilkada-2024"),))
    voting = dt.datetime(2024, 11, 27, 3, 0, tzinfo=dt.UTC)  # 10:00 WIB
    view = status_view(Store(example), calendar, now=voting)
    assert view["phases"] == {"WIB": "pemungutan suara"}
    assert view["generated_text"] == "10.00 WIB"
    evening = dt.datetime(2024, 11, 27, 14, 0, tzinfo=dt.UTC)  # 21:00 WIB
    with language("en"):
        assert status_view(Store(example), calendar, now=evening)["phases"] == {"WIB": "counting"}


def test_status_json_takes_only_area_and_a_short_query() -> None:
    source = Source(None, (REPO / "targets",))
    exporter = Exporter(source, *source.load(), FakeTransport(), FakeSnmpClient())

    async def scenario() -> None:
        async with TestClient(TestServer(make_app(exporter))) as client:
            response = await client.get("/status.json", params={"area": "21.01", "q": "kawal"})
            assert response.status == 200
            assert response.headers["Cache-Control"] == "no-store"
            body = await response.json()
            assert body["total"] == 382 and body["matches"]
            for params, status, says in [
                ({"target": "10.0.0.1"}, 400, "only area, q, lang, ipage, bpage are accepted"),
                ({"ipage": "0"}, 400, "page numbers from 1"),
                ({"bpage": "1e9"}, 400, "page numbers from 1"),
                ({"area": "<script>"}, 400, "is not an area code"),
                ({"area": "99"}, 404, "no TPS in area '99'"),
                ({"q": "x" * 101}, 400, "longer than 100"),
            ]:
                response = await client.get("/status.json", params=params)
                assert response.status == status, params
                assert says in await response.text()
            page = await (await client.get("/")).text()
            assert 'fetch("status.json?"' in page and f"tps-exporter {__version__}" in page
            assert '<html lang="id">' in page and "<h1>Status TPS</h1>" in page
            assert "{{" not in page and "__" not in page.replace("__proto__", "")
            english = await (await client.get("/", params={"lang": "en"})).text()
            assert '<html lang="en">' in english and "<h1>TPS status</h1>" in english
            body = await (await client.get("/status.json", params={"lang": "en"})).json()
            assert body["status_text"]["down"] == "Down" and body["lang"] == "en"
            # Nothing from outside: a war room's browser may have no internet.
            assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
            assert "@import" not in page and "url(" not in page

    asyncio.run(scenario())


def test_screens_asking_together_share_one_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    source = Source(None, (REPO / "targets",))
    exporter = Exporter(source, *source.load(), FakeTransport(), FakeSnmpClient())
    app = make_app(exporter)
    clock = Clock()
    app[web.STATUS_ANSWERS].clock = clock
    computed: list[str] = []

    def counted(
        store: Store, calendar: ElectionCalendar, area: str, pages: tuple[int, int]
    ) -> dict[str, object]:
        computed.append(area)
        return area_view(store, calendar, area, pages=pages)

    monkeypatch.setattr(web, "area_view", counted)

    async def scenario() -> None:
        async with TestClient(TestServer(app)) as client:

            async def ask(**params: str) -> dict[str, object]:
                response = await client.get("/status.json", params=params)
                assert response.status == 200 and response.content_type == "application/json"
                return dict(await response.json())

            first = await ask()
            clock.tick(1.9)
            assert await ask() == first  # a second screen, a moment later
            assert (await ask(area="21.01"))["total"] == 382  # another area is its own
            assert (await ask(q="kawal"))["matches"]  # a search reuses the area's count
            assert computed == ["", "21.01"]
            clock.tick(0.1)
            await ask()  # two seconds on: computed again
            assert (await client.post("/-/reload")).status == 200
            await ask()  # a new inventory: computed again at once
            assert computed[2:] == ["", ""]
            assert (await client.get("/status.json", params={"area": "99"})).status == 404

    asyncio.run(scenario())


def test_a_search_reads_only_its_area_and_never_spans_two_fields_or_two_tps() -> None:
    example = load(None, (REPO / "targets",))[1]
    store = Store(example)
    index = status_index(store)
    start, stop = index.area("21.71")
    assert all(s.site.place.regency.code == "21.71" for s in index.states[start:stop])
    assert stop - start == sum(
        1 for s in store.sites.values() if s.site.place.regency.code == "21.71"
    )
    batam = status_view(store, CALENDAR, "21.71", query="TPS 001")["matches"]
    assert batam and all(m["place"].startswith("Kota Batam › ") for m in batam)
    # The index joins fields with a tab and TPS with a newline: a query holding them finds
    # nothing it would not find with a space, and one TPS's end never joins the next's start.
    site = index.states[0].site
    assert search(store, "", f"{site.name}\n{index.states[1].site.id}") == []
    assert search(store, "", f"{site.name}\t") == search(store, "", site.name)
    assert status_index(store) is index  # built once per inventory


def test_a_client_asking_too_often_is_told_to_wait() -> None:
    source = Source(None, (REPO / "targets",))
    exporter = Exporter(source, *source.load(), FakeTransport(), FakeSnmpClient())
    app = make_app(exporter)
    clock = Clock()
    app[web.STATUS_LIMIT].clock = clock

    async def scenario() -> list[int]:
        async with TestClient(TestServer(app)) as client:
            codes = [(await client.get("/status.json", params={"q": f"tps {i:03}"})).status
                     for i in range(25)]  # fmt: skip
            refused = await client.get("/status.json")
            assert refused.headers["Retry-After"] == "1"
            clock.tick(1.0)  # five more a second
            codes += [(await client.get("/status.json")).status for _ in range(6)]
            return codes

    codes = asyncio.run(scenario())
    assert codes[:20] == [200] * 20 and codes[20:25] == [429] * 5
    assert codes[25:] == [200] * 5 + [429]
