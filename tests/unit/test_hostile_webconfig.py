"""Basic auth under attack: long passwords, timing that tells users apart, floods of guesses.

Costs are virtual: a fake bcrypt advances a virtual clock by 2**cost ms and then checks for
real, so what is shown is the rule (every failure takes the slowest check), not a stopwatch.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import bcrypt
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from exporter.exposition.basic_auth import FAILURE_BURST, BasicAuth
from exporter.exposition.web import make_app
from exporter.exposition.webconfig import load_web_config
from tests.fakes import FakeTransport
from tests.unit.test_web import make_exporter
from tests.unit.test_webconfig import basic

CHEAP = bcrypt.hashpw(b"alice-pass", bcrypt.gensalt(4))
DEAR = bcrypt.hashpw(b"bob-pass", bcrypt.gensalt(6))


class VirtualBcrypt:
    """bcrypt whose cost is virtual time; it records how many checks ever ran at once."""

    def __init__(self) -> None:
        self.now, self.running, self.most = 0.0, 0, 0
        self.order: list[str] = []
        self._lock = threading.Lock()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)

    def checkpw(self, password: bytes, stored: bytes) -> bool:
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
        self.now += 2 ** int(stored[4:6])  # in virtual ms
        ok = bcrypt.checkpw(password, stored)
        with self._lock:
            self.running -= 1
        return ok


def _auth(fake: VirtualBcrypt) -> BasicAuth:
    return BasicAuth({"alice": CHEAP, "bob": DEAR}, fake.clock, fake.sleep, fake.checkpw)


def test_every_failure_takes_as_long_as_the_dearest_hash() -> None:
    fake = VirtualBcrypt()
    auth = _auth(fake)

    async def answer_time(user: str, password: bytes) -> tuple[bool, float]:
        began = fake.now
        ok = await auth.check("10.0.0.1", user, password)
        return ok, fake.now - began

    async def scenario() -> dict[str, tuple[bool, float]]:
        return {
            "cheap user, wrong": await answer_time("alice", b"guess"),
            "dear user, wrong": await answer_time("bob", b"guess"),
            "no such user": await answer_time("mallory", b"guess"),
            "too long": await answer_time("alice", b"alice-pass" + b"x" * 100),
            "cheap user, right": await answer_time("alice", b"alice-pass"),
        }

    times = asyncio.run(scenario())
    dear = 2**6  # the unknown user is checked against a dummy of the dearest cost
    for case in ("cheap user, wrong", "dear user, wrong", "no such user", "too long"):
        assert times[case] == (False, dear), case  # before: 16 ms vs 64 ms told them apart
    assert times["cheap user, right"] == (True, 2**4)  # success need not wait


def test_a_password_longer_than_bcrypt_reads_is_wrong_not_a_server_error(tmp_path: Path) -> None:
    hashed = bcrypt.hashpw(b"p" * 72, bcrypt.gensalt(4)).decode()
    config = tmp_path / "web.yml"
    config.write_text(f"basic_auth_users:\n  noc: '{hashed}'\n")
    app = make_app(make_exporter(tmp_path, FakeTransport()), load_web_config(config))

    async def scenario() -> list[int]:
        async with TestClient(TestServer(app)) as client:
            return [
                (await client.get("/-/healthy", headers=basic("noc", password))).status
                for password in ("p" * 73, "p" * 72 + "q", "p" * 1000, "p" * 72)
            ]

    # Never truncated: 72 p's and one more character is not the password of 72 p's.
    assert asyncio.run(scenario()) == [401, 401, 401, 200]  # before: 500 with a traceback


def test_one_check_runs_at_a_time_and_a_flooding_client_waits_its_turn() -> None:
    fake = VirtualBcrypt()
    auth = _auth(fake)
    done: list[str] = []

    async def guess(client: str) -> None:
        await auth.check(client, "alice", b"guess")
        done.append(client)

    async def scenario() -> None:
        flood = [asyncio.create_task(guess("attacker")) for _ in range(5)]
        await asyncio.sleep(0)  # the attacker's first check holds the one slot
        await asyncio.gather(guess("noc"), *flood)

    asyncio.run(scenario())
    assert fake.most == 1  # one core at most, however many guesses arrive
    assert done == ["attacker", "noc", "attacker", "attacker", "attacker", "attacker"]


def test_wrong_guesses_back_off_but_a_proven_scraper_is_never_refused(tmp_path: Path) -> None:
    auth = BasicAuth({"alice": CHEAP}, clock=lambda: 0.0)  # time stands still: no refill
    app = web.Application(middlewares=[auth.middleware])

    async def ok(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app.router.add_get("/metrics", ok)

    async def scenario() -> list[int]:
        async with TestClient(TestServer(app)) as client:
            statuses = [(await client.get("/metrics", headers=basic("alice", "alice-pass"))).status]
            for _ in range(FAILURE_BURST + 2):
                response = await client.get("/metrics", headers=basic("alice", "guess"))
                statuses.append(response.status)
            refused = await client.get("/metrics", headers=basic("alice", "guess"))
            assert refused.headers["Retry-After"] == "1"
            statuses.append(
                (await client.get("/metrics", headers=basic("alice", "alice-pass"))).status
            )
            return statuses

    statuses = asyncio.run(scenario())
    # The right password's first check took one of the burst; then nine guesses, then 429s;
    # the scraper, proven once, is answered from memory and never waits for the back-off.
    assert statuses == [200] + [401] * (FAILURE_BURST - 1) + [429] * 3 + [200]
