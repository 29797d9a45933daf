"""Facts about Indonesia's administrative areas: code shapes and each province's time zone."""

from __future__ import annotations

import re
import zoneinfo

# Kemendagri codes: province `63`, regency `63.01`, district `63.01.01`, village `63.01.01.2001`.
CODE_PATTERNS = {
    "province": re.compile(r"\d{2}"),
    "regency": re.compile(r"\d{2}\.\d{2}"),
    "district": re.compile(r"\d{2}\.\d{2}\.\d{2}"),
    "village": re.compile(r"\d{2}\.\d{2}\.\d{2}\.\d{4}"),
}
LEVELS = ("province", "regency", "district", "village")

WIB = "Asia/Jakarta"
WITA = "Asia/Makassar"
WIT = "Asia/Jayapura"
ALIASES = {"WIB": WIB, "WITA": WITA, "WIT": WIT}

# West and Central Kalimantan keep WIB but use their own IANA zone, as tzdata does.
_PONTIANAK = "Asia/Pontianak"
_PROVINCE_ZONES: dict[str, str] = {
    **dict.fromkeys(("11", "12", "13", "14", "15", "16", "17", "18", "19", "21"), WIB),
    **dict.fromkeys(("31", "32", "33", "34", "35", "36"), WIB),
    "61": _PONTIANAK,
    "62": _PONTIANAK,
    **dict.fromkeys(("51", "52", "53", "63", "64", "65"), WITA),
    **dict.fromkeys(("71", "72", "73", "74", "75", "76"), WITA),
    **dict.fromkeys(("81", "82", "91", "92", "93", "94", "95", "96"), WIT),
}


INDONESIAN_ZONES = (WIB, _PONTIANAK, WITA, WIT)

# Official province names by Kemendagri code (idn-area data): alert routes match on them.
PROVINCE_NAMES: dict[str, str] = {
    "11": "Aceh",
    "12": "Sumatera Utara",
    "13": "Sumatera Barat",
    "14": "Riau",
    "15": "Jambi",
    "16": "Sumatera Selatan",
    "17": "Bengkulu",
    "18": "Lampung",
    "19": "Kepulauan Bangka Belitung",
    "21": "Kepulauan Riau",
    "31": "Daerah Khusus Ibukota Jakarta",
    "32": "Jawa Barat",
    "33": "Jawa Tengah",
    "34": "Daerah Istimewa Yogyakarta",
    "35": "Jawa Timur",
    "36": "Banten",
    "51": "Bali",
    "52": "Nusa Tenggara Barat",
    "53": "Nusa Tenggara Timur",
    "61": "Kalimantan Barat",
    "62": "Kalimantan Tengah",
    "63": "Kalimantan Selatan",
    "64": "Kalimantan Timur",
    "65": "Kalimantan Utara",
    "71": "Sulawesi Utara",
    "72": "Sulawesi Tengah",
    "73": "Sulawesi Selatan",
    "74": "Sulawesi Tenggara",
    "75": "Gorontalo",
    "76": "Sulawesi Barat",
    "81": "Maluku",
    "82": "Maluku Utara",
    "91": "Papua",
    "92": "Papua Barat",
    "93": "Papua Selatan",
    "94": "Papua Tengah",
    "95": "Papua Pegunungan",
    "96": "Papua Barat Daya",
}


# What people write for a province: the abbreviations of Indonesian government and press.
PROVINCE_ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    "11": ("NAD", "Nanggroe Aceh Darussalam"), "12": ("Sumut",), "13": ("Sumbar",),
    "16": ("Sumsel",), "19": ("Babel", "Bangka Belitung"), "21": ("Kepri",),
    "31": ("DKI", "DKI Jakarta", "Jakarta"), "32": ("Jabar",), "33": ("Jateng",),
    "34": ("DIY", "Yogyakarta", "Jogja"), "35": ("Jatim",), "52": ("NTB",), "53": ("NTT",),
    "61": ("Kalbar",), "62": ("Kalteng",), "63": ("Kalsel",), "64": ("Kaltim",),
    "65": ("Kaltara",), "71": ("Sulut",), "72": ("Sulteng",), "73": ("Sulsel",),
    "74": ("Sultra",), "76": ("Sulbar",), "82": ("Malut",), "92": ("Pabar",),
    "93": ("Papsel",), "94": ("Papteng",), "95": ("Pappeg",), "96": ("PBD",),
}  # fmt: skip


def _spelled(name: str) -> str:
    """A name as compared: letters and digits only, lower case, without 'Provinsi' or 'Prov.'."""
    text = "".join(ch for ch in name.casefold() if ch.isalnum())
    for title in ("provinsi", "prov"):  # no province's name starts with either
        if text.startswith(title) and len(text) > len(title):
            return text.removeprefix(title)
    return text


def province_code(given: str, known: dict[str, str]) -> str | None:
    """Return the code of the province `given` names among `known` (code to name): by code,
    by name in any case and spacing, or by a common abbreviation (Kepri, KALSEL); else None."""
    if given in known:
        return given
    wanted = _spelled(given)
    for code, name in known.items():
        spellings = (name, PROVINCE_NAMES.get(code, ""), *PROVINCE_ABBREVIATIONS.get(code, ()))
        if wanted in {_spelled(s) for s in spellings if s}:
            return code
    return None


def province_timezone(province_code: str) -> str | None:
    """Return the IANA time zone of a province, or None for an unknown code."""
    return _PROVINCE_ZONES.get(province_code)


def normalize_timezone(name: str) -> str | None:
    """Return an IANA zone name for `WIB`/`WITA`/`WIT` or any IANA name, or None if unknown."""
    name = ALIASES.get(name.upper(), name)
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None
    return name
