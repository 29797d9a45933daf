"""Shared test helpers: requirements that must hold in CI, inventories written on the fly."""

from __future__ import annotations

import logging
import os
import shutil
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from exporter.i18n import language

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(condition: bool, reason: str) -> None:
    """Skip when a requirement is missing on a developer's machine; fail in CI."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


def require_root() -> None:
    """Require root: raw sockets and network namespaces."""
    require(os.geteuid() == 0, "needs root (raw ICMP sockets, network namespaces)")


def require_binary(name: str) -> str:
    """Require a program on PATH and return its path."""
    path = shutil.which(name)
    require(path is not None, f"needs {name} on PATH (make deps)")
    assert path is not None
    return path


def samples_in(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Return the samples named `name` in exposition text, keyed by their sorted labels."""
    return {
        tuple(sorted(s.labels.items())): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name == name
    }


SITE_PLACE = """\
    province: {code: "21", name: Kepulauan Riau}
    regency: {code: "21.71", name: Kota Batam}
    district: {code: "21.71.10", name: Batam Kota}
    village: {code: "21.71.10.1004", name: Belian}"""


def site_yaml(site_id: str, devices: list[str], extra: str = "") -> str:
    """Return the YAML of one site in Batam, depending on `devices`."""
    text = f"  - id: {site_id}\n    name: {site_id.upper()}\n{SITE_PLACE}\n"
    text += f"    devices: [{', '.join(devices)}]\n"
    return text + _indented(extra)


def device_yaml(device_id: str, address: str, extra: str = "", kind: str = "router") -> str:
    """Return the YAML of one device."""
    text = f"  - id: {device_id}\n    kind: {kind}\n    address: {address}\n"
    return text + _indented(extra)


def _indented(extra: str) -> str:
    if not extra:
        return ""
    return textwrap.indent(textwrap.dedent(extra).rstrip("\n") + "\n", "    ")


@pytest.fixture
def write_inventory(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Write an inventory file into a fresh targets directory and return the directory."""
    targets = tmp_path / "targets"
    targets.mkdir()

    def write(devices: str, sites: str, name: str = "inventory.yaml") -> Path:
        (targets / name).write_text(f"devices:\n{devices}sites:\n{sites}", encoding="utf-8")
        return targets

    return write


@pytest.fixture(autouse=True)
def _root_logger_kept() -> Iterator[None]:
    """Give the root logger back as it was: `main()` points it at a stream pytest later closes."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


@pytest.fixture
def english(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Messages in English, for the command line (TPS_LANG) and in-process calls alike."""
    monkeypatch.setenv("TPS_LANG", "en")
    with language("en"):
        yield
