"""The narrow SNMP client the poller uses: GET and walk, with failures as typed errors."""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from exporter.inventory.model import SnmpAuth


class SnmpType(enum.StrEnum):
    """The SMI type of a value, as far as the poller cares."""

    INTEGER = "integer"
    OCTETS = "octets"
    OID = "oid"
    IP_ADDRESS = "ip_address"
    COUNTER32 = "counter32"
    GAUGE32 = "gauge32"
    TIMETICKS = "timeticks"
    COUNTER64 = "counter64"
    OPAQUE = "opaque"
    NULL = "null"
    NO_SUCH_OBJECT = "no_such_object"
    NO_SUCH_INSTANCE = "no_such_instance"
    END_OF_MIB_VIEW = "end_of_mib_view"


MISSING = frozenset({SnmpType.NO_SUCH_OBJECT, SnmpType.NO_SUCH_INSTANCE, SnmpType.END_OF_MIB_VIEW,
                     SnmpType.NULL})  # fmt: skip


class VarBind(NamedTuple):
    """One OID and its value: int for numbers, bytes for octet strings, str for OIDs and IPs."""

    # A tuple, not a dataclass: thousands are made per second, and a tuple is made fastest.

    oid: str
    type: SnmpType
    value: int | bytes | str | None


@dataclass(frozen=True, slots=True)
class WalkLimits:
    """How much one poll of one device may bring back: an endless table must end somewhere."""

    rows: int = 10_000  # per table column
    values: int = 50_000  # per poll, every column together
    bytes: int = 8 << 20  # of replies, per poll
    seconds: float = 30.0  # from the poll's first request


class WalkBudget:
    """What is left of one poll's limits; the clients charge every reply they keep."""

    def __init__(self, limits: WalkLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.values = 0
        self.bytes = 0
        self._clock = clock
        self._deadline = clock() + limits.seconds

    def charge(self, values: int, size: int, longest_column: int = 0) -> None:
        """Count a reply's values and bytes; raise once any limit is passed."""
        self.values += values
        self.bytes += size
        limits = self.limits
        if longest_column > limits.rows:
            raise SnmpWalkTooLongError(f"walk too long: a table of more than {limits.rows} rows")
        if self.values > limits.values:
            raise SnmpWalkTooLongError(f"walk too long: more than {limits.values} values")
        if self.bytes > limits.bytes:
            raise SnmpWalkTooLongError(f"walk too long: more than {limits.bytes} bytes")
        if self._clock() > self._deadline:
            raise SnmpWalkTooLongError(f"walk too long: more than {limits.seconds:g} s")


@dataclass(frozen=True, slots=True)
class SnmpTarget:
    """Where and how to ask: the agent's address, credentials, deadline, retries and limits."""

    address: str
    port: int
    auth: SnmpAuth
    timeout: float
    retries: int
    max_repetitions: int
    budget: WalkBudget = field(default_factory=lambda: WalkBudget(WalkLimits()))


class SnmpError(Exception):
    """A request that got no usable answer; `reason` is the metrics' reason label."""

    reason = "bad_response"


class SnmpTimeoutError(SnmpError):
    """The agent did not answer in time (or ignored a wrong community, as agents do)."""

    reason = "timeout"


class SnmpAuthError(SnmpError):
    """The agent rejected the credentials (SNMPv3 wrong user, digest or decryption)."""

    reason = "auth"


class SnmpBadResponseError(SnmpError):
    """The agent answered with an error status or something that cannot be decoded."""

    reason = "bad_response"


class SnmpWalkTooLongError(SnmpBadResponseError):
    """A walk that passed a poll's limits (rows, values, bytes or time): a table without end."""

    reason = "walk_too_long"


class SnmpClient(Protocol):
    """What the poller needs from an SNMP engine; tests use a fake, production uses pysnmp."""

    async def get(self, target: SnmpTarget, oids: Sequence[str]) -> list[VarBind]:
        """Return the values of scalar OIDs, missing ones typed as no-such."""
        ...

    async def walk(self, target: SnmpTarget, oid: str) -> list[VarBind]:
        """Return every value under a table column, in OID order."""
        ...

    async def walk_columns(
        self, target: SnmpTarget, oids: Sequence[str]
    ) -> dict[str, list[VarBind]]:
        """Return every value under each column, walking them side by side where it can."""
        ...

    def close(self) -> None:
        """Release sockets and engine state."""
        ...
