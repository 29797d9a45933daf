"""What one poll of one device found, independent of how it was asked."""

from __future__ import annotations

import enum
import itertools
from dataclasses import dataclass, field
from typing import NamedTuple


class Failure(enum.StrEnum):
    """Why a poll got no answer; the values are the `reason` label of the metrics."""

    TIMEOUT = "timeout"
    UNREACHABLE = "unreachable"
    TIME_EXCEEDED = "time_exceeded"
    SEND_ERROR = "send_error"
    RESOLVE_ERROR = "resolve_error"


@dataclass(frozen=True, slots=True)
class PingResult:
    """The echoes of one ICMP poll: round-trip times of the replies that came back in time."""

    sent: int
    rtts: tuple[float, ...]
    failure: Failure | None = None
    address: str = ""
    detail: str = ""
    # Computed once when the poll ends, not on every scrape that shows them.
    rtt_min: float | None = field(init=False, default=None)
    rtt_avg: float | None = field(init=False, default=None)
    rtt_max: float | None = field(init=False, default=None)
    jitter: float | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        rtts = self.rtts
        if not rtts:
            return
        object.__setattr__(self, "rtt_min", min(rtts))
        object.__setattr__(self, "rtt_avg", sum(rtts) / len(rtts))
        object.__setattr__(self, "rtt_max", max(rtts))
        if len(rtts) > 1:
            # Mean absolute difference between successive round trips (RFC 3550 style).
            steps = [abs(b - a) for a, b in itertools.pairwise(rtts)]
            object.__setattr__(self, "jitter", sum(steps) / len(steps))

    @classmethod
    def failed(cls, failure: Failure, detail: str = "", address: str = "") -> PingResult:
        """Return a poll that sent nothing or heard nothing, for one reason."""
        return cls(sent=0, rtts=(), failure=failure, address=address, detail=detail)

    @property
    def received(self) -> int:
        """Return how many echoes came back."""
        return len(self.rtts)

    @property
    def ok(self) -> bool:
        """Return whether at least one echo came back."""
        return bool(self.rtts)

    @property
    def loss_ratio(self) -> float:
        """Return the share of echoes lost in this poll (1 when nothing could be sent)."""
        return 1.0 if self.sent == 0 else 1.0 - len(self.rtts) / self.sent


class Sample(NamedTuple):
    """One value for the exposition: metric, label text (without `device`), value."""

    # A tuple of str, str, float: quick to make, and the collector stops tracking it.

    metric: str
    labels: str
    value: float


@dataclass(frozen=True, slots=True)
class SnmpResult:
    """What one SNMP poll of one device brought back, including how it failed."""

    samples: tuple[Sample, ...]
    answered: bool  # at least one request got an answer
    errors: tuple[tuple[str, int], ...] = ()  # reason -> requests that failed for it
    failure: str | None = None  # why nothing was answered: timeout, auth, resolve_error, ...
    detail: str = ""
    duration: float = 0.0
    wan_up: bool | None = None  # None when no WAN interface is marked or found
    uptime: float | None = None
