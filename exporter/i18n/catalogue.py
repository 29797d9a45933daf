"""Keep `id.po` in step with the code: find every message the code and the page show.

`python -m exporter.i18n.catalogue` adds new messages (untranslated) and drops ones no longer
used; tests/unit/test_i18n.py fails while any message lacks its Indonesian.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

from babel.messages import pofile
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_python

from exporter.i18n import PAGE_TEXT, page_message

PACKAGE = Path(__file__).parent.parent
KEYWORDS = {"_": None, "N_": None, "n_": (1, 2)}


def messages() -> Iterator[tuple[str | tuple[str, str], str]]:
    """Yield every message (a text, or a singular and plural) with where it is used."""
    for path in sorted(PACKAGE.rglob("*.py")):
        with path.open("rb") as source:
            for line, _func, message, _comments in extract_python(source, KEYWORDS, [], {}):
                where = f"{path.relative_to(PACKAGE.parent)}:{line}"
                # `_(name)` of a variable has no text to extract: it was marked with N_ elsewhere.
                if isinstance(message, str):
                    yield message, where
                elif isinstance(message, tuple) and all(isinstance(m, str) for m in message[:2]):
                    yield (str(message[0]), str(message[1])), where
    for path in sorted(PACKAGE.rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        for match in PAGE_TEXT.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            yield page_message(match), f"{path.relative_to(PACKAGE.parent)}:{line}"


def load(path: Path) -> Catalog:
    """Return the catalogue in `path`."""
    with path.open("rb") as po:
        return pofile.read_po(po, locale=path.stem)


def update(path: Path) -> tuple[int, int]:
    """Add the code's new messages to `path` and drop the unused; return (added, dropped)."""
    catalogue = load(path)
    template = Catalog(locale=path.stem)
    for message, where in messages():
        file, line = where.rsplit(":", 1)
        template.add(message, locations=[(file, int(line))])
    before = {m.id for m in catalogue if m.id}
    catalogue.update(template, no_fuzzy_matching=True)
    catalogue.obsolete.clear()
    after = {m.id for m in catalogue if m.id}
    with path.open("wb") as po:
        pofile.write_po(po, catalogue, width=100, sort_output=False, omit_header=False)
    return len(after - before), len(before - after)


def main() -> int:
    """Update exporter/i18n/id.po and say what changed."""
    added, dropped = update(PACKAGE / "i18n" / "id.po")
    print(f"id.po: {added} new messages to translate, {dropped} dropped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
