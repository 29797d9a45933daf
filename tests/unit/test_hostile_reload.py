"""Configuration and reload against a careless operator: nothing running is lost, and nothing
vanishes or leaks without a word."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from exporter.exposition.render import render
from exporter.inventory.load import load
from exporter.inventory.model import Config, Inventory
from exporter.inventory.nodes import ConfigLoadError
from exporter.runtime import Exporter, Source
from tests.conftest import device_yaml, samples_in, site_yaml
from tests.fakes import FakeSnmpClient, FakeTransport

# The messages are checked in English (the catalogue's keys); test_config_messages.py reads
# them in Bahasa Indonesia, as they are shown by default.
pytestmark = pytest.mark.usefixtures("english")

PASSWORD = "hunter2-Rahasia"


def inventory(sites: int, prefix: str = "tps") -> str:
    """One file of `sites` TPS, each behind its own router on loopback."""
    devices = "".join(device_yaml(f"rtr-{prefix}-{i}", f"127.0.3.{i + 1}") for i in range(sites))
    places = "".join(site_yaml(f"{prefix}-{i}", [f"rtr-{prefix}-{i}"]) for i in range(sites))
    return f"devices:\n{devices}sites:\n{places}"


def targets(tmp_path: Path) -> Path:
    """A targets directory of 8 TPS: 5 in a.yaml, 3 in region/b.yaml."""
    root = tmp_path / "targets"
    (root / "region").mkdir(parents=True)
    (root / "a.yaml").write_text(inventory(5, "a"))
    (root / "region" / "b.yaml").write_text(inventory(3, "b"))
    return root


def errors_of(source: Source) -> list[str]:
    with pytest.raises(ConfigLoadError) as caught:
        source.load()
    return [str(e) for e in caught.value.errors]


def test_a_dangling_link_and_an_empty_directory_are_errors(tmp_path: Path) -> None:
    root = targets(tmp_path)
    (root / "c.yaml").symlink_to(tmp_path / "gone.yaml")
    assert errors_of(Source(None, (root,))) == [f"{root}/c.yaml: a link to nothing (dangling)"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert errors_of(Source(None, (empty,))) == [
        f"{empty}: no inventory files (*.yaml, *.yml) in this directory"
    ]


def test_an_unreadable_directory_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = targets(tmp_path)
    (root / "region").chmod(0)
    if os.geteuid() == 0:
        # Root reads any directory: have the kernel's answer to an unprivileged exporter.
        real = os.scandir

        def refused(path: str | os.PathLike[str]) -> object:
            if Path(path) == root / "region":
                raise PermissionError(13, "Permission denied", str(path))
            return real(path)

        monkeypatch.setattr(os, "scandir", refused)
    assert errors_of(Source(None, (root,))) == [
        f"{root}/region: cannot read directory: Permission denied"
    ]


def exporter_on(root: Path, config: Path | None = None) -> Exporter:
    source = Source(config, (root,))
    return Exporter(source, *source.load(), FakeTransport(), FakeSnmpClient())


def in_process(exporter: Exporter, monkeypatch: pytest.MonkeyPatch) -> None:
    """Load reloads in this process: the tests look at the load, not at the child."""
    monkeypatch.setattr(Source, "load_isolated", Source.load)


def test_a_reload_that_drops_many_tps_is_refused_unless_forced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = targets(tmp_path)
    exporter = exporter_on(root)
    in_process(exporter, monkeypatch)
    shutil.rmtree(root / "region")  # a directory gone: 3 of 8 TPS

    async def scenario() -> tuple[list[str], list[str]]:
        return await exporter.reload(), await exporter.reload(force=True)

    refused_errors, forced = asyncio.run(scenario())
    assert refused_errors == [
        "the new inventory has 5 TPS, 3 fewer than the 8 running (38%; at most 10% may go at "
        "once): check that no file or directory is missing, or reload with force=true"
    ]
    assert forced == []
    text = render(exporter.store, exporter.stats).decode()
    assert samples_in(text, "tps_inventory_sites") == {(): 5}
    assert samples_in(text, "tps_config_reloads_total") == {
        (("result", "failure"),): 1,
        (("result", "success"),): 2,  # the start and the forced one
    }


def test_every_failed_reload_keeps_the_inventory_and_says_why_without_the_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    root = targets(tmp_path)
    secret = tmp_path / "community"
    secret.write_text("public\n")
    config = tmp_path / "c.yml"
    config.write_text(
        "targets: [targets]\nsnmp:\n  auths:\n"
        "    lab: {version: 2c, community: {file: community}}\n"
    )
    exporter = exporter_on(root, config)
    in_process(exporter, monkeypatch)
    broken = [
        (PASSWORD.encode("utf-16"), "cannot read community: the file is UTF-16 text"),
        (PASSWORD.encode() + b"\xff\xfe", "cannot read community: not UTF-8 text (line 1"),
    ]

    async def reload_with(contents: bytes) -> list[str]:
        secret.write_bytes(contents)
        return await exporter.reload()

    for contents, expected in broken:
        with caplog.at_level(logging.INFO):
            errors = asyncio.run(reload_with(contents))
        assert len(errors) == 1 and expected in errors[0]
        text = render(exporter.store, exporter.stats).decode()
        assert samples_in(text, "tps_config_last_reload_successful") == {(): 0}
        assert len(exporter.inventory.sites) == 8
        # Neither the answer nor the log holds any part of the password.
        assert "hunter2" not in errors[0] and "hunter2" not in caplog.text
        assert caplog.text.count("reload refused") == 1
        caplog.clear()

    secret.unlink()
    secret.symlink_to("/dev/zero")
    errors = asyncio.run(exporter.reload())  # ends: the file is read up to 4 KiB, no further
    assert errors == [f"{config}:4:42: snmp.auths.lab.community.file: cannot read community: "
                      "larger than 4,096 bytes: is it the right file?"]  # fmt: skip


def test_an_inline_secret_is_refused_without_being_echoed(tmp_path: Path) -> None:
    root = targets(tmp_path)
    config = tmp_path / "c.yml"
    config.write_text(
        f"targets: [targets]\nsnmp:\n  auths:\n    lab: {{version: 2c, community: {PASSWORD}}}\n"
    )
    errors = errors_of(Source(config, (root,)))
    assert (
        len(errors) == 1 and "a secret written in the configuration itself is refused" in errors[0]
    )
    assert PASSWORD not in errors[0]
    done = subprocess.run([sys.executable, "-m", "exporter", "check", f"--config.file={config}"],
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode != 0 and PASSWORD not in done.stdout + done.stderr


class KilledSource(Source):
    """A source whose loading process is killed, as the OOM killer would."""

    def load(self) -> tuple[Config, Inventory]:
        """Die without a word."""
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("unreachable")


def test_a_killed_load_is_a_failed_reload(tmp_path: Path) -> None:
    root = targets(tmp_path)
    exporter = exporter_on(root)
    exporter.source = KilledSource(None, (root,))
    errors = asyncio.run(exporter.reload())
    assert errors == ["the process that reads the files stopped (killed, or out of memory)"]
    assert not exporter.stats.reload_ok and len(exporter.inventory.sites) == 8


def test_concurrent_reloads_share_one_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = targets(tmp_path)
    exporter = exporter_on(root)
    loads: list[int] = []

    def counted(source: Source) -> tuple[Config, Inventory]:
        loads.append(1)
        return load(None, source.targets)

    monkeypatch.setattr(Source, "load_isolated", counted)

    async def scenario() -> list[list[str]]:
        return await asyncio.gather(*(exporter.reload() for _ in range(100)))

    answers = asyncio.run(scenario())
    assert answers == [[]] * 100
    assert len(loads) == 1  # all asked before the first load began


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
            "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c]\n"
            "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e]\n",
            "invalid YAML: its aliases (*name) repeat the same parts too many times",
        ),
        ("devices: []\n".encode("utf-16"), "cannot read file: the file is UTF-16 text"),
        ("devices: []  # 東京\n".encode("shift_jis"), "cannot read file: not UTF-8 text (line 1"),
    ],
)
def test_files_that_would_cost_much_or_read_as_garbage_are_refused_by_name(
    tmp_path: Path, text: str | bytes, expected: str
) -> None:
    root = tmp_path / "targets"
    root.mkdir()
    path = root / "x.yaml"
    if isinstance(text, str):
        path.write_text(text)
    else:
        path.write_bytes(text)
    errors = errors_of(Source(None, (root,)))
    assert len(errors) == 1 and errors[0].startswith(f"{path}: {expected}"), errors


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("0.0.0.0", "the unspecified address (any host)"),
        ("::", "the unspecified address (any host)"),
        ("255.255.255.255", "the broadcast address"),
        ("224.0.0.1", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("fe80::1", "link-local without a zone (write it as fe80::1%eth0)"),
    ],
)
def test_addresses_that_are_not_one_device_are_refused(
    tmp_path: Path, address: str, why: str
) -> None:
    root = tmp_path / "targets"
    root.mkdir()
    (root / "x.yaml").write_text(f"devices:\n{device_yaml('rtr', repr(address))}")
    assert errors_of(Source(None, (root,))) == [
        f"{root}/x.yaml:4:14: devices[0].address: {address} is {why}, not the address of one device"
    ]


def test_a_huge_name_is_refused_and_not_echoed(tmp_path: Path) -> None:
    root = tmp_path / "targets"
    root.mkdir()
    (root / "x.yaml").write_text(
        "sites:\n" + site_yaml("tps-1", []).replace("TPS-1", "N" * 100_000)
    )
    errors = errors_of(Source(None, (root,)))
    assert errors == [f"{root}/x.yaml:3:11: sites[0].name: is 100,000 characters long; at most 200"]
