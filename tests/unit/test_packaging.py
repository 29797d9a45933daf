"""The package as installed: its version is written in one place, exporter/__init__.py."""

from __future__ import annotations

from importlib.metadata import version

from exporter import __version__
from tests.conftest import REPO


def test_the_version_is_written_in_one_place() -> None:
    assert version("tps-exporter") == __version__
    assert __version__ not in (REPO / "pyproject.toml").read_text(encoding="utf-8")
