"""The HTTP surface: /metrics, health, readiness, reload (Prometheus style) and the status page."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import zlib
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import web

from exporter import __version__, i18n
from exporter.exposition.basic_auth import BasicAuth
from exporter.exposition.limits import RateLimit
from exporter.exposition.render import CONTENT_TYPE, render_stream
from exporter.exposition.status import AreaNotFoundError, area_view, search
from exporter.exposition.status_page import status_page
from exporter.exposition.webconfig import WebConfig
from exporter.inventory import areas
from exporter.inventory.model import Config, Inventory
from exporter.pollers.icmp import IcmpPoller
from exporter.pollers.probe import probe
from exporter.pollers.snmp import SnmpPoller
from exporter.state.stats import RuntimeStats
from exporter.state.store import Store

log = logging.getLogger(__name__)


class Served(Protocol):
    """What the web surface needs of a running exporter (runtime.Exporter is one)."""

    store: Store
    stats: RuntimeStats
    config: Config
    icmp: IcmpPoller
    snmp: SnmpPoller

    @property
    def inventory(self) -> Inventory:
        """The inventory being polled."""
        ...

    @property
    def ready(self) -> bool:
        """Whether the first poll cycle is done."""
        ...

    async def reload(self, force: bool = False) -> list[str]:
        """Load the configuration again; return the errors that refused it."""
        ...


EXPORTER_KEY = web.AppKey("exporter", Served)
PROBE_SLOTS = web.AppKey("probe_slots", asyncio.Semaphore)
PROBES_AT_ONCE = 4  # on-demand probes are for people, not for scripts sweeping the inventory
MAX_QUERY = 100
# Counting an area's TPS takes about 50 ms for the nation at 100,000 TPS, on the polling loop:
# a war room's screens asking for the same area within this long share one count.
STATUS_FRESH = 2.0
# Each address may ask for /status.json this often (a screen asks every few seconds; a search
# box a few times a second while someone types); beyond, 429 and Retry-After.
STATUS_RATE, STATUS_BURST = 5.0, 20.0


@dataclass
class StatusAnswers:
    """Recent area views by (store, area), each reused for STATUS_FRESH."""

    clock: Callable[[], float] = time.monotonic
    answers: dict[Hashable, tuple[float, dict[str, Any]]] = field(default_factory=dict)

    def get(self, key: Hashable) -> dict[str, Any] | None:
        """Return a fresh view for `key`, dropping every stale one."""
        now = self.clock()
        stale = [k for k, (at, _) in self.answers.items() if now - at >= STATUS_FRESH]
        for k in stale:
            del self.answers[k]
        found = self.answers.get(key)
        return None if found is None else found[1]

    def put(self, key: Hashable, view: dict[str, Any]) -> None:
        """Keep a view; at most 1,024 areas at once."""
        if len(self.answers) >= 1024:
            self.answers.clear()
        self.answers[key] = (self.clock(), view)


STATUS_ANSWERS = web.AppKey("status_answers", StatusAnswers)
STATUS_PARAMETERS = ("area", "q", "lang", "ipage", "bpage")


def _page_number(text: str | None) -> int | None:
    """Return a page number from 1 to 100,000 (1 when not given), or None if it is not one."""
    if text is None:
        return 1
    if not (text.isascii() and text.isdigit() and len(text) <= 6) or not 1 <= int(text) <= 100_000:
        return None
    return int(text)


STATUS_LIMIT = web.AppKey("status_limit", RateLimit)


def make_app(exporter: Served, config: WebConfig | None = None) -> web.Application:
    """Return the web application serving one exporter, with auth and headers if configured."""
    config = config or WebConfig()
    middlewares = [BasicAuth(config.users).middleware] if config.users else []
    app = web.Application(client_max_size=64 * 1024, middlewares=middlewares)
    if config.headers:

        async def add_headers(_request: web.Request, response: web.StreamResponse) -> None:
            response.headers.update(config.headers)

        app.on_response_prepare.append(add_headers)
    app[EXPORTER_KEY] = exporter
    app[PROBE_SLOTS] = asyncio.Semaphore(PROBES_AT_ONCE)
    app[STATUS_ANSWERS] = StatusAnswers()
    app[STATUS_LIMIT] = RateLimit(STATUS_RATE, STATUS_BURST)
    app.router.add_get("/", _landing)
    app.router.add_get("/metrics", _metrics)
    app.router.add_get("/-/healthy", _healthy)
    app.router.add_get("/-/ready", _ready)
    app.router.add_get("/probe", _probe)
    app.router.add_get("/status.json", _status)
    app.router.add_post("/-/reload", _reload)
    app.router.add_put("/-/reload", _reload)
    return app


async def _metrics(request: web.Request) -> web.StreamResponse:
    exporter = request.app[EXPORTER_KEY]
    config = exporter.config
    chunks = render_stream(
        exporter.store, exporter.stats, config.profile_metrics, calendar=config.election
    )
    gzipped = "gzip" in request.headers.get("Accept-Encoding", "")
    response = web.StreamResponse(headers={"Content-Type": CONTENT_TYPE})
    if gzipped:
        response.headers["Content-Encoding"] = "gzip"
    await response.prepare(request)
    # Level 1: several times faster than the default for nearly the same size on this text.
    packer = zlib.compressobj(1, zlib.DEFLATED, 31) if gzipped else None
    try:
        async for chunk in chunks:
            await response.write(packer.compress(chunk) if packer else chunk)
        if packer:
            await response.write(packer.flush())
        await response.write_eof()
    except ConnectionResetError:
        # The scraper gave up (its timeout) or went away: nothing is wrong here.
        log.debug("scrape ended by the client", extra={"remote": request.remote})
    finally:
        await chunks.aclose()  # the renderer pauses the garbage collector until it ends
    return response


async def _healthy(_request: web.Request) -> web.Response:
    return web.Response(text="tps-exporter is Healthy.\n")


async def _ready(request: web.Request) -> web.Response:
    if not request.app[EXPORTER_KEY].ready:
        return web.Response(status=503, text="tps-exporter is not ready.\n")
    return web.Response(text="tps-exporter is Ready.\n")


async def _reload(request: web.Request) -> web.Response:
    # Nothing is expected in the body; reading it enforces client_max_size (413 beyond).
    await request.read()
    others = sorted(set(request.query) - {"force"})
    force = request.query.get("force", "false")
    if others or force not in ("true", "false"):
        return _refuse(400, "only force=true is accepted (to load an inventory with far fewer TPS)")
    errors = await request.app[EXPORTER_KEY].reload(force=force == "true")
    if errors:
        text = "reload failed, the running inventory is kept:\n" + "\n".join(errors) + "\n"
        return web.Response(status=500, text=text)
    return web.Response(text="reloaded\n")


async def _probe(request: web.Request) -> web.Response:
    """Poll one device of the inventory now. Only an inventory id is accepted, never an address:
    the exporter must not become a tool to ping or query anything on its network."""
    others = sorted(set(request.query) - {"device"})
    if others:
        return _refuse(
            400,
            f"only device=ID is accepted, not {', '.join(others)[:100]}: "
            "the exporter probes devices of its inventory, never an address",
        )
    ids = request.query.getall("device", [])
    if len(ids) != 1:
        return _refuse(400, "give one device id: /probe?device=ID")
    exporter = request.app[EXPORTER_KEY]
    device = exporter.inventory.devices.get(ids[0])
    if device is None:
        return _refuse(404, f"no device {ids[0][:100]!r} in the inventory")
    slots = request.app[PROBE_SLOTS]
    if slots.locked():
        return web.Response(status=429, text="too many probes at once; try again\n",
                            headers={"Retry-After": "1"})  # fmt: skip
    async with slots:
        log.info("probe", extra={"device": device.id, "remote": request.remote})
        report = await probe(device, exporter.icmp, exporter.snmp)
    return web.Response(text=report.text())


def _refuse(status: int, reason: str) -> web.Response:
    return web.Response(status=status, text=reason + "\n")


async def _landing(request: web.Request) -> web.Response:
    lang = i18n.choose(request.query.get("lang"))
    return web.Response(text=status_page(__version__, lang), content_type="text/html",
                        headers={"Content-Language": lang})  # fmt: skip


async def _status(request: web.Request) -> web.Response:
    """The status page's data for one area: `?area=CODE` (none: the nation), `&q=` a search,
    `&lang=en`, and the page of outages (`ipage=`) and of blank spots (`bpage=`)."""
    others = sorted(set(request.query) - set(STATUS_PARAMETERS))
    if others:
        return _refuse(400, f"only {', '.join(STATUS_PARAMETERS)} are accepted, not "
                            f"{', '.join(others)[:100]}")  # fmt: skip
    area, query = request.query.get("area", ""), request.query.get("q", "")
    pages = (_page_number(request.query.get("ipage")), _page_number(request.query.get("bpage")))
    if None in pages:
        return _refuse(400, "ipage and bpage are page numbers from 1 to 100000")
    lang = i18n.choose(request.query.get("lang"))
    if area and not any(p.fullmatch(area) for p in areas.CODE_PATTERNS.values()):
        return _refuse(400, f"area {area[:100]!r} is not an area code like 21 or 21.01")
    if len(query) > MAX_QUERY:
        return _refuse(400, f"q is longer than {MAX_QUERY} characters")
    limit = request.app[STATUS_LIMIT]
    client = request.remote or ""
    if not limit.allow(client):
        return web.Response(status=429, text="too many requests from this address; try again\n",
                            headers={"Retry-After": limit.retry_after(client)})  # fmt: skip
    exporter = request.app[EXPORTER_KEY]
    answers = request.app[STATUS_ANSWERS]
    # A reload makes a new store: its id keeps views of the old inventory from being reused.
    key = (id(exporter.store), area, lang, pages)
    with i18n.language(lang):
        view = answers.get(key)
        if view is None:
            try:
                view = area_view(exporter.store, exporter.config.election, area,
                                 pages=(pages[0] or 1, pages[1] or 1))  # fmt: skip
            except AreaNotFoundError:
                return _refuse(404, f"no TPS in area {area!r}")
            answers.put(key, view)
        body = json.dumps({**view, "matches": search(exporter.store, area, query)}).encode()
    return web.Response(
        body=body, content_type="application/json", headers={"Cache-Control": "no-store"}
    )
