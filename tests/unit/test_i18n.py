"""Every message a person reads has its Bahasa Indonesia, and the formats are Indonesian."""

from __future__ import annotations

import datetime as dt
import re

from exporter import i18n
from exporter.i18n import catalogue, language, words


def _translated(message: object) -> bool:
    strings = message if isinstance(message, tuple) else (message,)
    return all(isinstance(s, str) and s for s in strings)


def test_every_message_in_the_code_has_its_indonesian() -> None:
    po = catalogue.load(catalogue.PACKAGE / "i18n" / "id.po")
    known = {m.id: m.string for m in po if m.id}
    missing = sorted({f"{where}: {message!r}" for message, where in catalogue.messages()
                      if message not in known or not _translated(known[message])})  # fmt: skip
    assert not missing, "run `python -m exporter.i18n.catalogue` and translate:\n" + "\n".join(
        missing
    )


def test_the_catalogue_has_no_message_the_code_no_longer_shows() -> None:
    po = catalogue.load(catalogue.PACKAGE / "i18n" / "id.po")
    used = {message for message, _where in catalogue.messages()}
    assert not [m.id for m in po if m.id and m.id not in used]


def test_placeholders_survive_translation() -> None:
    po = catalogue.load(catalogue.PACKAGE / "i18n" / "id.po")
    for message in po:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = _placeholders(str(ids[0]))
        for string in strings:
            assert _placeholders(str(string)) == wanted, (message.id, string)


def _placeholders(text: str) -> set[str]:
    return set(re.findall(r"\{\w+(?:![rs])?\}|%\(\w+\)[sr]|%[sr]", text))


def test_numbers_percentages_and_times_are_written_the_indonesian_way() -> None:
    at = dt.datetime(2024, 2, 14, 4, 51, tzinfo=dt.UTC).timestamp()
    assert (i18n.number(3327), i18n.percent(0.979), i18n.percent(None)) == ("3.327", "97,9%", "-")
    assert i18n.when(at, "Asia/Jakarta") == "14 Feb 2024 11.51 WIB"
    assert i18n.when(at, "Asia/Jayapura", year=False) == "14 Feb 13.51 WIT"
    assert i18n.clock(at, "Asia/Makassar") == "12.51 WITA"
    assert [i18n.duration(s) for s in (59, 720, 7500, 93_600)] == [
        "0 mnt", "12 mnt", "2 jam 5 mnt", "1 hari 2 jam"
    ]  # fmt: skip
    with language("en"):
        assert (i18n.number(3327), i18n.percent(0.979)) == ("3,327", "97.9%")
        assert i18n.when(at, "Asia/Jakarta") == "14 Feb 2024 11:51 WIB"
        assert i18n.duration(7500) == "2 h 5 min"


def test_language_is_chosen_from_flags_queries_and_browsers() -> None:
    assert i18n.from_argv(["report", "--lang", "en"]) == "en"
    assert i18n.from_argv(["--lang=EN-us"]) == "en"
    assert i18n.choose("fr-FR,en;q=0.8") == "en"
    assert i18n.choose("de") == i18n.choose(None) == "id"


def test_codes_become_words_and_an_unknown_code_stays_as_it_is() -> None:
    assert words.status("down") == "Mati" and words.reason("device_down") == "perangkatnya mati"
    assert words.reason("snmp_weird") == "SNMP gagal (weird)"
    assert words.reason("cosmic_rays") == "cosmic_rays"
    with language("en"):
        assert words.status("blank_spot") == "Blank spot"
