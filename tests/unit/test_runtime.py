"""The running exporter's memory across reloads."""

from __future__ import annotations

import asyncio
import gc
import weakref
from pathlib import Path

from exporter.runtime import release_memory
from tests.fakes import FakeTransport
from tests.unit.test_web import make_exporter


class _Node:
    """Something that refers to itself, so only the cycle collector can free it."""

    def __init__(self) -> None:
        self.me = self


def test_a_cycle_frozen_by_one_load_is_collected_after_the_next() -> None:
    node = _Node()
    alive = weakref.ref(node)
    release_memory()  # freezes the node with everything else alive now
    del node
    release_memory()
    assert alive() is None


def test_reloads_leave_nothing_of_the_old_inventory_behind(tmp_path: Path) -> None:
    exporter = make_exporter(tmp_path, FakeTransport(replies={"127.0.0.1": [0.002, 0.003]}))

    async def scenario() -> list[int]:
        exporter.start()
        frozen = []
        try:
            for _ in range(4):
                old = weakref.ref(exporter.store)
                assert await exporter.reload() == []
                assert old() is None
                frozen.append(gc.get_freeze_count())
        finally:
            await exporter.stop()
        return frozen

    frozen = asyncio.run(scenario())
    # The first reload may add what starting left (tasks, caches); after it, nothing piles up.
    # A poll in flight at the moment of the freeze holds a few objects (its future, a
    # callback): a kept store would be hundreds more with every reload.
    assert max(frozen[1:]) - min(frozen[1:]) <= 8, frozen
