"""Memory across reloads: RSS and Python's arenas after each reload of an N-device inventory.

`python -m bench.reload_memory 10000 20` loads a benchmark inventory, then reloads it again and
again in this process (the exporter's own reload path, without polling, so nothing else moves
memory) and prints, per reload, RSS, the pymalloc arenas held and the objects frozen out of the
garbage collector. A leak climbs with every reload; fragmentation steps once and stays.
"""

from __future__ import annotations

import asyncio
import gc
import os
import re
import sys
import tempfile
import time
from pathlib import Path

from bench.common import addresses, inventory_yaml, process_rss
from exporter.pollers.icmp_socket import IcmpTransport
from exporter.pollers.snmp_udp import EngineClient
from exporter.runtime import Exporter, Source, release_memory


def arenas() -> int:
    """Return the pymalloc arenas allocated now (1 MiB each in CPython 3.11)."""
    read, write = os.pipe()
    saved = os.dup(2)
    os.dup2(write, 2)
    try:
        sys._debugmallocstats()
    finally:
        os.dup2(saved, 2)
        os.close(write)
        os.close(saved)
    chunks = []
    while chunk := os.read(read, 1 << 16):
        chunks.append(chunk)
    os.close(read)
    found = re.search(rb"# arenas allocated current\s+=\s+([\d,]+)", b"".join(chunks))
    return int(found[1].replace(b",", b"")) if found else -1


async def measure(source: Source, reloads: int) -> None:
    """Print RSS, arenas and frozen objects after the start and after each reload."""
    config, inventory = source.load_isolated()
    exporter = Exporter(source, config, inventory, IcmpTransport(), EngineClient())
    exporter._schedule(inventory)  # what start() does, without polling
    release_memory()
    del config, inventory
    print(f"{'':>8} {'RSS MB':>7} {'arenas':>7} {'frozen':>8} {'apply s':>8}")
    print(f"{'start':>8} {process_rss(os.getpid()) / 2**20:7.1f} {arenas():7d} "
          f"{gc.get_freeze_count():8d}")  # fmt: skip
    for n in range(1, reloads + 1):
        config, inventory = source.load_isolated()
        started = time.perf_counter()
        exporter._apply(config, inventory)
        took = time.perf_counter() - started
        del config, inventory
        print(f"{f'reload {n}':>8} {process_rss(os.getpid()) / 2**20:7.1f} {arenas():7d} "
              f"{gc.get_freeze_count():8d} {took:8.2f}", flush=True)  # fmt: skip


def main(devices: int, reloads: int) -> None:
    """Write an inventory of `devices` and measure `reloads` reloads of it."""
    with tempfile.TemporaryDirectory() as tmp:
        targets = Path(tmp, "targets")
        targets.mkdir()
        (targets / "bench.yaml").write_text(inventory_yaml(*addresses(devices)))
        asyncio.run(measure(Source(None, (targets,)), reloads))


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 10)
