"""Poll a device over SNMP with its profiles, and turn the answers into metric samples."""

from __future__ import annotations

import fnmatch
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TypeVar

from exporter.inventory.model import Device, SnmpAuth
from exporter.inventory.profiles import Field, Info, Profile, Table
from exporter.metrics.text import escape
from exporter.pollers.resolver import ResolveError, Resolver
from exporter.pollers.results import Sample, SnmpResult
from exporter.pollers.snmp_client import (
    MISSING,
    SnmpAuthError,
    SnmpClient,
    SnmpError,
    SnmpTarget,
    SnmpTimeoutError,
    SnmpType,
    SnmpWalkTooLongError,
    VarBind,
    WalkBudget,
    WalkLimits,
)

T = TypeVar("T")
Lookup = Callable[[str], VarBind | None]
GET_BATCH = 10  # OIDs per GET: small enough that no agent answers tooBig
_NUMBER = re.compile(r"\s*([-+]?\d+(?:\.\d+)?)")
INTERFACE_INFO = "tps_interface_info"
INTERFACE_UP = "tps_interface_up"
UPTIME = "tps_device_uptime_seconds"
# Failures after which the rest of a poll's requests are not tried.
_FINAL = (SnmpTimeoutError.reason, SnmpAuthError.reason, SnmpWalkTooLongError.reason)


class SnmpPoller:
    """The SNMP check of one device: its auth, its profiles, its WAN interfaces."""

    protocol = "snmp"

    def __init__(
        self,
        client: SnmpClient,
        resolver: Resolver,
        auths: Mapping[str, SnmpAuth],
        profiles: Mapping[str, Profile],
    ) -> None:
        self.client = client
        self.resolver = resolver
        self.auths = auths
        self.profiles = profiles

    async def poll(self, device: Device) -> SnmpResult:
        """Ask the device's agent for every value of its profiles; keep what arrives."""
        assert device.snmp is not None
        started = time.monotonic()
        try:
            address = await self.resolver.resolve(device.address, device.family)
        except ResolveError as exc:
            return SnmpResult((), False, (("resolve_error", 1),), "resolve_error", str(exc))
        s = device.snmp.settings
        limits = WalkLimits(s.walk_max_rows, s.walk_max_values, s.walk_max_bytes,
                            min(s.walk_max_duration, s.interval))  # fmt: skip
        target = SnmpTarget(str(address), s.port, self.auths[device.snmp.auth], s.timeout,
                            s.retries, s.max_repetitions, WalkBudget(limits))  # fmt: skip
        profiles = [self.profiles[name] for name in device.snmp.profiles]
        fetch = _Fetch(self.client, target)
        await fetch.run(profiles)
        if fetch.too_long:
            return fetch.too_long_result(started)
        samples = [x for p in profiles for x in map_profile(p, fetch.values, fetch.columns)]
        fetch.count_missing(profiles)
        samples, wan_up = _mark_wan(samples, device.snmp.wan)
        uptime = next((x.value for x in samples if x.metric == UPTIME), None)
        failure = None if fetch.answered else (fetch.last_error or "timeout")
        return SnmpResult(
            samples=tuple(samples),
            answered=fetch.answered,
            errors=tuple(sorted(fetch.errors.items())),
            failure=failure,
            detail=fetch.detail,
            duration=time.monotonic() - started,
            wan_up=wan_up,
            uptime=uptime,
        )


class _Fetch:
    """The requests of one poll; stops at the first timeout or auth failure, keeps the rest."""

    def __init__(self, client: SnmpClient, target: SnmpTarget) -> None:
        self.client = client
        self.target = target
        self.values: dict[str, VarBind] = {}
        self.columns: dict[str, list[VarBind]] = {}
        self.errors: Counter[str] = Counter()
        self.answered = False
        self.last_error: str | None = None
        self.detail = ""
        self.too_long = False  # a walk passed the poll's limits

    async def run(self, profiles: Iterable[Profile]) -> None:
        profiles = list(profiles)
        gets = list(dict.fromkeys(oid for p in profiles for oid in p.get_oids()))
        walks = list(dict.fromkeys(oid for p in profiles for oid in p.walk_oids()))
        for start in range(0, len(gets), GET_BATCH):
            batch = await self._ask(self.client.get(self.target, gets[start : start + GET_BATCH]))
            if batch is None:
                if self._hopeless():
                    return
                continue
            self.values.update((vb.oid, vb) for vb in batch)
        if walks:
            await self._walk(walks)

    async def _walk(self, columns: list[str]) -> None:
        """Walk all columns side by side (a GETBULK brings a row of each); one at a time if
        the agent fails that, so a column it cannot serve does not cost the others."""
        try:
            tables = await self.client.walk_columns(self.target, columns)
        except SnmpError as exc:
            if exc.reason in _FINAL or len(columns) == 1:
                await self._ask(_raise(exc))
                return
        else:
            self.answered = True
            self.columns.update(tables)
            return
        for column in columns:
            rows = await self._ask(self.client.walk(self.target, column))
            if rows is None:
                if self._hopeless():
                    return
                continue
            self.columns[column] = rows

    async def _ask(self, request: Awaitable[T]) -> T | None:
        try:
            answer = await request
        except SnmpWalkTooLongError as exc:
            self.errors[exc.reason] += 1
            self.too_long = True
            self.detail = str(exc)
            return None
        except SnmpError as exc:
            self.errors[exc.reason] += 1
            self.last_error = exc.reason
            self.detail = str(exc)
            return None
        self.answered = True
        return answer

    def too_long_result(self, started: float) -> SnmpResult:
        """The poll of an agent whose tables passed the limits: a bad response; what the walks
        read is dropped (an endless table is not data), and the poll is counted as failed."""
        self.columns.clear()
        return SnmpResult((), False, tuple(sorted(self.errors.items())), "bad_response",
                          self.detail, time.monotonic() - started)  # fmt: skip

    def count_missing(self, profiles: Iterable[Profile]) -> None:
        """Count scalars the agent answered with noSuchObject/noSuchInstance for every source."""
        for profile in profiles:
            for field in profile.scalars:
                answers = [self.values.get(s.oid) for s in field.sources]
                if all(vb is not None and vb.type in MISSING for vb in answers):
                    self.errors["no_such_object"] += 1

    def _hopeless(self) -> bool:
        # A silent or refusing agent would cost a full timeout per remaining request.
        return self.too_long or self.last_error in _FINAL


async def _raise(exc: SnmpError) -> None:
    """An awaitable that fails as a request did, to count it like any other."""
    raise exc


def map_profile(
    profile: Profile, values: Mapping[str, VarBind], columns: Mapping[str, list[VarBind]]
) -> list[Sample]:
    """Turn the values a device returned into samples, as the profile says."""
    out: list[Sample] = []
    for field in profile.scalars:
        vb = _first(values.get(s.oid) for s in field.sources)
        if vb is not None:
            scale = next(s.scale for s in field.sources if values.get(s.oid) is vb)
            out.extend(_samples(field, vb, scale, ""))
    if profile.info is not None:
        out.append(_info(profile.info, values.get, ""))
    for table in profile.tables:
        out.extend(_table(table, columns))
    return out


def _table(table: Table, columns: Mapping[str, list[VarBind]]) -> list[Sample]:
    by_column = {
        oid: {vb.oid[len(oid) + 1 :]: vb for vb in columns.get(oid, ())}
        for oid in {s.oid for f in table.columns for s in f.sources}
        | ({o for _, oids in table.info.labels for o in oids} if table.info else set())
    }
    indexes = sorted({i for rows in by_column.values() for i in rows}, key=_index_key)
    out: list[Sample] = []
    for index in indexes:
        index_label = f'{table.index_label}="{escape(index)}"'
        row = {oid: rows[index] for oid, rows in by_column.items() if index in rows}
        if table.info is not None:
            out.append(_info(table.info, row.get, index_label))
        for field in table.columns:
            present = [(s, row.get(s.oid)) for s in field.sources]
            found = next(((s, vb) for s, vb in present if vb and vb.type not in MISSING), None)
            if found is not None:
                out.extend(_samples(field, found[1], found[0].scale, index_label))
    return out


def _samples(field: Field, vb: VarBind, scale: float, index_label: str) -> list[Sample]:
    raw = _number(vb)
    if raw is None or raw in field.skip:
        return []
    labels = [index_label] if index_label else []
    labels += [f'{k}="{escape(v)}"' for k, v in field.fixed]
    if field.enum:
        text = dict(field.enum).get(int(raw), str(int(raw)))
        labels.append(f'{field.enum_label}="{escape(text)}"')
        return [Sample(field.metric, ",".join(labels), 1.0)]
    if field.mapping:
        mapped = dict(field.mapping).get(int(raw), field.default)
        return [] if mapped is None else [Sample(field.metric, ",".join(labels), mapped)]
    # Dividing by 100 rather than multiplying by 0.01: 70 ticks are 0.7 s, not 0.7000000000000001.
    value = raw * scale if scale >= 1 else raw / (1 / scale)
    return [Sample(field.metric, ",".join(labels), value)]


def _info(info: Info, lookup: Lookup, index_label: str) -> Sample:
    labels = [index_label] if index_label else []
    labels += [f'{k}="{escape(v)}"' for k, v in info.fixed]
    for name, oids in info.labels:
        vb = _first(lookup(oid) for oid in oids)
        labels.append(f'{name}="{escape(_text(vb) if vb is not None else "")}"')
    return Sample(info.metric, ",".join(labels), 1.0)


def _first(candidates: Iterable[VarBind | None]) -> VarBind | None:
    return next((vb for vb in candidates if vb is not None and vb.type not in MISSING), None)


def _number(vb: VarBind) -> float | None:
    """Return a value as a number; text such as "-87 dBm" or "-57.9" by its leading number."""
    if isinstance(vb.value, int):
        return float(vb.value)
    if vb.type is SnmpType.OCTETS and isinstance(vb.value, bytes):
        match = _NUMBER.match(vb.value.decode("utf-8", "replace"))
        return float(match.group(1)) if match else None
    return None


def _text(vb: VarBind) -> str:
    """Return a value as label text: printable, one line, no padding."""
    if isinstance(vb.value, bytes):
        text = vb.value.decode("utf-8", "replace").replace("\0", "")
    else:
        text = "" if vb.value is None else str(vb.value)
    return " ".join(text.split())


def _index_key(index: str) -> tuple[int, ...] | tuple[float]:
    try:
        return tuple(int(part) for part in index.split("."))
    except ValueError:
        return (float("inf"),)


def _mark_wan(samples: list[Sample], patterns: tuple[str, ...]) -> tuple[list[Sample], bool | None]:
    """Label each interface wan="true" or "false"; return whether any WAN interface is up."""
    wan_rows: set[str] = set()
    out: list[Sample] = []
    for sample in samples:
        if sample.metric != INTERFACE_INFO:
            out.append(sample)
            continue
        names = re.findall(r'(?:name|descr|alias)="((?:[^"\\]|\\.)*)"', sample.labels)
        is_wan = any(fnmatch.fnmatchcase(n, p) for n in names if n for p in patterns)
        row = sample.labels.split(",", 1)[0]
        if is_wan:
            wan_rows.add(row)
        out.append(Sample(sample.metric, f'{sample.labels},wan="{str(is_wan).lower()}"', 1.0))
    ups = [s.value for s in out if s.metric == INTERFACE_UP and s.labels in wan_rows]
    return out, (any(v == 1 for v in ups) if ups else None)
