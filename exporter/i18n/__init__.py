"""What people read, in their language: translations (gettext catalogues) and Indonesian formats.

The messages in the code are English (gettext's msgids); `id.po` beside this module holds their
Bahasa Indonesia, which is the default everywhere. English is the option (`--lang en`, the page's
switch). Numbers, percentages and dates are formatted by Babel from the CLDR data, so Indonesian
reads 3.327 and 97,9% and 14 Feb 2024 04.51 WIB.

The language is a context variable: a CLI run sets it once; the web server sets it per request.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import functools
import gettext
import io
import os
import re
import zoneinfo
from collections.abc import Iterator, Sequence
from pathlib import Path

from babel import Locale, dates, numbers
from babel.messages import mofile, pofile

LANGUAGES = ("id", "en")
DEFAULT = "id"
CATALOGUES = Path(__file__).parent
# The one table of zone names: labels (`zone="WIB"`), pages and reports all read it. West and
# Central Kalimantan keep WIB on their own IANA zone, Asia/Pontianak.
ZONE_NAMES = {"Asia/Jakarta": "WIB", "Asia/Pontianak": "WIB", "Asia/Makassar": "WITA",
              "Asia/Jayapura": "WIT"}  # fmt: skip

# A page's own words are written `{{ English }}` in its HTML: found here, translated where the
# page is served, gathered into the catalogue by i18n/catalogue.py.
PAGE_TEXT = re.compile(r"\{\{(.+?)\}\}", re.S)

_language: contextvars.ContextVar[str] = contextvars.ContextVar("language", default=DEFAULT)


def choose(given: str | None) -> str:
    """Return a supported language from a flag, a query or an Accept-Language value."""
    for part in (given or "").replace(",", ";").split(";"):
        code = part.strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return DEFAULT


def from_argv(argv: Sequence[str]) -> str:
    """Return the language a command line asks for (`--lang en`), else $TPS_LANG, else id.

    Read before argparse runs, because the help argparse prints is itself translated.
    """
    for i, arg in enumerate(argv):
        if arg.startswith("--lang="):
            return choose(arg.split("=", 1)[1])
        if arg == "--lang" and i + 1 < len(argv):
            return choose(argv[i + 1])
    return choose(os.environ.get("TPS_LANG"))


def set_language(code: str) -> None:
    """Use `code` from now on in this context (a CLI run, one request)."""
    _language.set(choose(code))


def current() -> str:
    """Return the language in use."""
    return _language.get()


@contextlib.contextmanager
def language(code: str) -> Iterator[None]:
    """Use `code` inside the block only."""
    token = _language.set(choose(code))
    try:
        yield
    finally:
        _language.reset(token)


@functools.cache
def translations(code: str) -> gettext.NullTranslations:
    """Return the catalogue of a language, compiled from its .po file at first use."""
    path = CATALOGUES / f"{code}.po"
    if code == "en" or not path.is_file():
        return gettext.NullTranslations()
    with path.open("rb") as po:
        catalogue = pofile.read_po(po, locale=code)
    compiled = io.BytesIO()
    mofile.write_mo(compiled, catalogue)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def _(message: str) -> str:
    """Return `message` in the language in use."""
    return translations(current()).gettext(message)


def n_(singular: str, plural: str, count: int) -> str:
    """Return the singular or plural form for `count` in the language in use."""
    return translations(current()).ngettext(singular, plural, count)


@functools.cache
def _locale(code: str) -> Locale:
    return Locale.parse(code)


def number(value: float, digits: int = 0) -> str:
    """Return a number as the language writes it: 3.327 in Indonesian, 3,327 in English."""
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return numbers.format_decimal(value, pattern, locale=_locale(current()))


def percent(ratio: float | None, digits: int = 1) -> str:
    """Return a share as a percentage: 97,9% in Indonesian; "-" for none."""
    if ratio is None:
        return "-"
    pattern = "#,##0" + ("." + "0" * digits if digits else "") + "%"
    return numbers.format_percent(ratio, pattern, locale=_locale(current()))


def zone_name(zone: str) -> str:
    """Return a zone as Indonesians name it (WIB, WITA, WIT), else its IANA name."""
    return ZONE_NAMES.get(zone, zone)


@functools.cache
def _zone(zone: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(zone)


def when(timestamp: float | None, zone: str, *, year: bool = True) -> str:
    """Return a time with its zone named: `14 Feb 2024 04.51 WIB`; "-" for none."""
    if timestamp is None:
        return "-"
    local = dt.datetime.fromtimestamp(timestamp, _zone(zone))
    pattern = "d MMM yyyy HH.mm" if year else "d MMM HH.mm"
    if current() == "en":
        pattern = pattern.replace("HH.mm", "HH:mm")
    return f"{dates.format_datetime(local, pattern, locale=_locale(current()))} {zone_name(zone)}"


def clock(timestamp: float, zone: str) -> str:
    """Return the time of day with its zone named: `04.51 WIB`."""
    local = dt.datetime.fromtimestamp(timestamp, _zone(zone))
    separator = ":" if current() == "en" else "."
    return f"{local:%H}{separator}{local:%M} {zone_name(zone)}"


def duration(seconds: float) -> str:
    """Return how long, shortly: `12 mnt`, `2 jam 5 mnt`, `3 hari 4 jam`."""
    minutes = max(int(seconds // 60), 0)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return _("{days} d {hours} h").format(days=number(days), hours=hours)
    if hours:
        return _("{hours} h {minutes} min").format(hours=hours, minutes=minutes)
    return _("{minutes} min").format(minutes=minutes)


def page_message(marker: re.Match[str]) -> str:
    """Return the message of a page's `{{ ... }}` marker, its line breaks and runs of spaces
    made one space (as the catalogue holds it)."""
    return " ".join(marker.group(1).split())


def N_(message: str) -> str:  # noqa: N802 (gettext's name for it)
    """Mark `message` for the catalogue; it is translated where it is shown."""
    return message
