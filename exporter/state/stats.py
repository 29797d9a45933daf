"""Figures about the exporter itself: poll timing, schedule lag and reloads."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from exporter.metrics.histogram import Histogram

# From 1 ms (loopback) through 600 ms (a satellite hop) to a minute (a stuck cycle).
DURATION_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
LAG_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60)
LOOP_LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1)


_NONE_DISCARDED = {"malformed": 0, "unmatched": 0, "unsolicited": 0}


@dataclass
class RuntimeStats:
    """Counters and histograms about the exporter's own work, read by the scrape."""

    protocols: tuple[str, ...] = ("icmp", "snmp")
    started: float = field(default_factory=time.time)
    poll_duration: dict[str, Histogram] = field(default_factory=dict)
    poll_lag: dict[str, Histogram] = field(default_factory=dict)
    polls_skipped: Counter[str] = field(default_factory=Counter)
    overdue: dict[str, Callable[[], float]] = field(default_factory=dict)
    reload_ok: bool = True
    reload_time: float = 0.0
    reloads: Counter[str] = field(default_factory=Counter)
    socket_kinds: dict[str, str] = field(default_factory=dict)
    # The SNMP client's counts of datagrams it threw away, by reason; read at each scrape.
    snmp_discarded: Callable[[], dict[str, int]] = field(default=lambda: _NONE_DISCARDED)
    loop_lag: Histogram = field(default_factory=lambda: Histogram(LOOP_LAG_BUCKETS))

    def __post_init__(self) -> None:
        for protocol in self.protocols:
            self.poll_duration.setdefault(protocol, Histogram(DURATION_BUCKETS))
            self.poll_lag.setdefault(protocol, Histogram(LAG_BUCKETS))

    def reloaded(self, ok: bool) -> None:
        """Record the outcome of a configuration load."""
        self.reload_ok = ok
        self.reloads["success" if ok else "failure"] += 1
        if ok:
            self.reload_time = time.time()
