"""The status page's data (`/status.json`) and the page itself, on the example inventory."""

from __future__ import annotations

import asyncio
import datetime as dt
import re

import pytest
from aiohttp.test_utils import TestClient, TestServer

from exporter.exposition import web
from exporter.exposition.status import (
    MATCHES_SHOWN,
    OFFLINE_SHOWN,
    STATUSES,
    AreaNotFoundError,
    area_view,
    search,
    status_index,
    status_view,
)
from exporter.exposition.web import make_app
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


def test_offline_lists_down_before_degraded_newest_first_and_says_how_many_more(
    example: Inventory,
) -> None:
    clock = Clock()
    # Every base station down, and the routers behind them: most TPS of the province.
    behind_bts = {d.id for d in example.devices.values() if d.kind == "bts" or d.parent}
    store = polled_store(example, behind_bts, clock)
    sat = next(d for d in sorted(example.devices) if d.startswith("sat-"))
    store.record_ping(sat, partial(received=1))  # one lossy satellite: degraded
    view = status_view(store, CALENDAR)
    down = view["counts"]["down"]
    assert down > OFFLINE_SHOWN
    assert view["offline_total"] == down + view["counts"]["degraded"]
    assert len(view["offline"]) == OFFLINE_SHOWN
    statuses = [row["status"] for row in view["offline"]]
    assert statuses == sorted(statuses, key=lambda s: s != "down")
    since = [row["since"] for row in view["offline"] if row["status"] == "down"]
    assert since == sorted(since, reverse=True) and since[0] > since[-1]
    first = view["offline"][0]
    state = store.sites[first["id"]]
    assert (first["reason"], first["device"]) == (state.reason, state.device)
    assert re.fullmatch(r"\d\d \w{3} \d\d:\d\d WIB", first["since_local"])
    # Within one area, only its TPS; the degraded one is listed where it is.
    degraded = [s for s in store.sites.values() if s.status is SiteStatus.DEGRADED]
    assert degraded
    place = degraded[0].site.place.district.code
    local = status_view(store, CALENDAR, place)
    assert all(r["place"][2] == degraded[0].site.place.district.name for r in local["offline"])
    assert degraded[0].site.id in {r["id"] for r in local["offline"]}


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
    assert batam and all(m["place"][1] == "Kota Batam" for m in batam)
    assert len(status_view(store, CALENDAR, query="tps")["matches"]) == MATCHES_SHOWN
    assert status_view(store, CALENDAR, query="t")["matches"] == []  # one letter: no search
    with pytest.raises(AreaNotFoundError):
        status_view(store, CALENDAR, "21.99")


def test_phases_are_shown_for_the_zones_of_the_area(example: Inventory) -> None:
    calendar = ElectionCalendar(days=(ElectionDay(dt.date(2024, 11, 27), "pilkada-2024"),))
    voting = dt.datetime(2024, 11, 27, 3, 0, tzinfo=dt.UTC)  # 10:00 WIB
    assert status_view(Store(example), calendar, now=voting)["phases"] == {"WIB": "voting"}
    evening = dt.datetime(2024, 11, 27, 14, 0, tzinfo=dt.UTC)  # 21:00 WIB
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
                ({"target": "10.0.0.1"}, 400, "only area= and q= are accepted, not target"),
                ({"area": "<script>"}, 400, "is not an area code"),
                ({"area": "99"}, 404, "no TPS in area '99'"),
                ({"q": "x" * 101}, 400, "longer than 100"),
            ]:
                response = await client.get("/status.json", params=params)
                assert response.status == status, params
                assert says in await response.text()
            page = await (await client.get("/")).text()
            assert 'fetch("status.json?"' in page and "tps-exporter 0.1.0" in page
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

    def counted(store: Store, calendar: ElectionCalendar, area: str) -> dict[str, object]:
        computed.append(area)
        return area_view(store, calendar, area)

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
    assert batam and all(m["place"][1] == "Kota Batam" for m in batam)
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
