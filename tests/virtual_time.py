"""An asyncio loop on virtual time: a wait for a timer jumps the clock instead of sleeping, so
schedules are tested exactly and a loaded machine cannot make them late."""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
EPOCH = 1_732_669_200.0  # 2024-11-27 01:00 UTC: 09:00 WITA on the Pilkada voting day


class _JumpingSelector(selectors.DefaultSelector):
    """Never blocks: a wait of `timeout` moves the loop's clock on by that much."""

    def __init__(self, loop: VirtualLoop) -> None:
        super().__init__()
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is None:
            raise RuntimeError("the loop would wait forever: nothing is scheduled")
        self._loop.now += max(0.0, timeout)
        return super().select(0)


class VirtualLoop(asyncio.SelectorEventLoop):
    """An event loop whose time() is virtual; `wall()` gives the same instant as a Unix time."""

    def __init__(self, epoch: float = EPOCH) -> None:
        self.now = 0.0
        self.epoch = epoch
        super().__init__(_JumpingSelector(self))

    def time(self) -> float:
        return self.now

    def wall(self) -> float:
        """Return the virtual instant as a Unix time, for stores and phases."""
        return self.epoch + self.now


def run_virtual(main: Coroutine[Any, Any, T], loop: VirtualLoop | None = None) -> T:
    """Run a coroutine to its end on a virtual-time loop."""
    loop = loop or VirtualLoop()
    try:
        return loop.run_until_complete(main)
    finally:
        loop.close()
