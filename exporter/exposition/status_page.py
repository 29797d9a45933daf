"""The status page at `/`: plain HTML, CSS and a little JavaScript, nothing fetched from outside.

A war room's machines may be offline, so the page (status.html beside this module) carries
everything it needs. Its script reads `status.json` every 15 seconds and writes what it shows
with textContent only: names from the inventory never become markup.
"""

from __future__ import annotations

import functools
import html
from pathlib import Path

REFRESH_SECONDS = 15
PAGE = Path(__file__).with_name("status.html")


@functools.cache
def status_page(version: str) -> str:
    """Return the page, with the exporter's version and refresh period filled in."""
    text = PAGE.read_text(encoding="utf-8")
    return text.replace("__VERSION__", html.escape(version)).replace(
        "__REFRESH__", str(REFRESH_SECONDS)
    )
