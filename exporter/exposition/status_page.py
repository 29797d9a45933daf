"""The status page at `/`: plain HTML, CSS and a little JavaScript, nothing fetched from outside.

A war room's machines may be offline, so the page (status.html beside this module) carries
everything it needs. Its script reads `status.json` every 15 seconds and writes what it shows
with textContent only: names from the inventory never become markup. The page's words are
`{{ English }}` markers translated here, once per language; the figures and times come from
status.json already formatted for the language.
"""

from __future__ import annotations

import functools
import html
import json
import re
from pathlib import Path

from exporter import i18n
from exporter.i18n import N_, PAGE_TEXT, _, page_message

REFRESH_SECONDS = 15
PAGE = Path(__file__).with_name("status.html")
# Words the script writes itself (the rest of its text comes formatted in status.json).
SCRIPT_TEXTS = {
    "updated": N_("updated {time}"),
    "since": N_("since {time} ({ago})"),
    "stale": N_("Cannot reach the exporter ({error}): the figures are from {time}."),
    "never": N_("never"),
    "no_match": N_("No TPS, village or device matches."),
    "no_incident": N_("No TPS down or degraded here."),
    "no_blank": N_("No blank spots here."),
    "page": N_("page {page} of {pages}"),
    "previous": N_("‹ previous"),
    "next": N_("next ›"),
    "nation": N_("Indonesia"),
    "devices": N_("through"),
    "ready": N_("Ready"),
    "can_send": N_("Can send"),
}
OTHER_LANGUAGE = {"id": ("en", "English"), "en": ("id", "Bahasa Indonesia")}


def _translate(marker: re.Match[str]) -> str:
    """Return a page marker's text in the language in use, escaped for HTML."""
    return html.escape(_(page_message(marker)))


@functools.cache
def status_page(version: str, lang: str = i18n.DEFAULT) -> str:
    """Return the page in `lang`, with the exporter's version and refresh period filled in."""
    with i18n.language(lang):
        text = PAGE_TEXT.sub(_translate, PAGE.read_text(encoding="utf-8"))
        texts = {key: _(value) for key, value in SCRIPT_TEXTS.items()}
    other, other_name = OTHER_LANGUAGE[i18n.choose(lang)]
    # In a <script>, "</" could end it: JSON's \u003c keeps it inside.
    script_texts = json.dumps(texts, ensure_ascii=False).replace("<", "\\u003c")
    return (
        text.replace("__VERSION__", html.escape(version))
        .replace("__REFRESH__", str(REFRESH_SECONDS))
        .replace("__LANG__", i18n.choose(lang))
        .replace("__OTHER_LANG__", other)
        .replace("__OTHER_LANG_NAME__", other_name)
        .replace("__TEXTS__", script_texts)
    )
