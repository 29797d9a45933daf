"""Headless Chromium driven over its DevTools protocol, to read a page's DOM as a person sees it.

`chromium --dump-dom` shows the markup but cannot say whether a phone must scroll sideways or
what a click opens; the protocol (JSON over the browser's websocket) can: set the window to a
phone's size, load, wait for the script, evaluate JavaScript, click, take a screenshot.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import re
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

from tests.conftest import require_binary

PHONE, DESKTOP = (390, 844), (1280, 900)


class Page:
    """One tab: ask it to do things and read what it answers."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self._socket = socket
        self._ids = itertools.count(1)

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Call a protocol method and return its result (events in between are skipped)."""
        ident = next(self._ids)
        await self._socket.send_json({"id": ident, "method": method, "params": params})
        while True:
            message = json.loads((await self._socket.receive()).data)
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))

    async def evaluate(self, expression: str) -> Any:
        """Return the value of a JavaScript expression in the page."""
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True,
                                 awaitPromise=True)  # fmt: skip
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def open(self, url: str, size: tuple[int, int], ready: str, tries: int = 600) -> None:
        """Load `url` in a window of `size` and wait until the expression `ready` is true."""
        width, height = size
        await self.send("Emulation.setDeviceMetricsOverride", width=width, height=height,
                        deviceScaleFactor=1, mobile=width < 600)  # fmt: skip
        await self.send("Page.navigate", url=url)
        for _ in range(tries):  # a bound on attempts, not a time limit on the page
            with contextlib.suppress(RuntimeError):
                if await self.evaluate(ready):
                    return
            await asyncio.sleep(0.05)
        raise AssertionError(f"{url}: never became ready ({ready})")

    async def screenshot(self, path: Path) -> None:
        """Save what the window shows as a PNG."""
        shot = await self.send("Page.captureScreenshot", format="png")
        await asyncio.to_thread(path.write_bytes, base64.b64decode(shot["data"]))


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Page]:
    """Run a headless Chromium with one tab, and stop it afterwards."""
    binary = require_binary("chromium")
    with tempfile.TemporaryDirectory() as profile:
        sandbox = ["--no-sandbox"] if os.geteuid() == 0 else []
        process = await asyncio.create_subprocess_exec(
            binary, "--headless", *sandbox, "--disable-gpu", "--remote-debugging-port=0",
            "--remote-allow-origins=*", f"--user-data-dir={profile}", "about:blank",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        drain: asyncio.Task[None] | None = None
        try:
            browser = await _devtools_url(process)
            # Chromium keeps logging to stderr: read it, or a full pipe would stop the browser.
            drain = asyncio.create_task(_drain(process))
            async with aiohttp.ClientSession() as session:
                port = re.search(r":(\d+)/", browser)
                assert port, browser
                targets = await (await session.get(f"http://127.0.0.1:{port[1]}/json/list")).json()
                page = next(t for t in targets if t["type"] == "page")
                async with session.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                    yield Page(ws)
        finally:
            process.kill()
            await process.wait()
            if drain is not None:
                await drain


async def _drain(process: asyncio.subprocess.Process) -> None:
    assert process.stderr is not None
    while await process.stderr.read(65536):
        pass


async def _devtools_url(process: asyncio.subprocess.Process) -> str:
    """Return the browser's websocket address, which it prints on stderr when it listens."""
    assert process.stderr is not None
    for _ in range(200):
        line = (await process.stderr.readline()).decode(errors="replace")
        if not line:
            break
        found = re.search(r"DevTools listening on (ws://\S+)", line)
        if found:
            return found[1]
    raise AssertionError("Chromium did not say where its DevTools listen")
