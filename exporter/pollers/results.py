"""What one poll of one device found, independent of how it was asked."""

from __future__ import annotations

import enum
import itertools
import statistics
from dataclasses import dataclass


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
        return 1.0 if self.sent == 0 else 1.0 - self.received / self.sent

    @property
    def rtt_min(self) -> float | None:
        """Return the fastest reply's round trip, in seconds."""
        return min(self.rtts) if self.rtts else None

    @property
    def rtt_avg(self) -> float | None:
        """Return the mean round trip, in seconds."""
        return statistics.fmean(self.rtts) if self.rtts else None

    @property
    def rtt_max(self) -> float | None:
        """Return the slowest reply's round trip, in seconds."""
        return max(self.rtts) if self.rtts else None

    @property
    def jitter(self) -> float | None:
        """Return the mean absolute difference between successive round trips (RFC 3550 style)."""
        if len(self.rtts) < 2:
            return None
        return statistics.fmean(abs(b - a) for a, b in itertools.pairwise(self.rtts))
