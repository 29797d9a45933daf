"""Per-client limits for the HTTP surface: a token bucket per address, bounded in memory."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_CLIENTS = 10_000  # addresses remembered; beyond, the oldest buckets are forgotten


@dataclass
class RateLimit:
    """Lets each client make `rate` requests a second on average and `burst` at once."""

    rate: float
    burst: float
    clock: Callable[[], float] = time.monotonic
    buckets: dict[str, tuple[float, float]] = field(default_factory=dict)  # tokens, when

    def allow(self, client: str) -> bool:
        """Take one token from the client's bucket; False when it is empty."""
        now = self.clock()
        tokens, when = self.buckets.pop(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - when) * self.rate)
        if len(self.buckets) >= MAX_CLIENTS:
            # Dicts keep insertion order and every use re-inserts: the first is the stalest.
            del self.buckets[next(iter(self.buckets))]
        if tokens < 1:
            self.buckets[client] = (tokens, now)
            return False
        self.buckets[client] = (tokens - 1, now)
        return True

    def wait(self, client: str) -> float:
        """Return the seconds until the client has a token again."""
        tokens, _ = self.buckets.get(client, (self.burst, 0.0))
        return max(0.0, (1 - tokens) / self.rate)

    def retry_after(self, client: str) -> str:
        """Return a Retry-After header's value for a refused client: whole seconds, at least 1."""
        return str(max(1, math.ceil(self.wait(client))))
