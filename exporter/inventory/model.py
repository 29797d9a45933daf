"""Typed, immutable objects that the configuration and the inventory are parsed into."""

from __future__ import annotations

import datetime as dt
import enum
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from exporter.inventory.profiles import Profile
from exporter.metrics.catalogue import Metric


class DeviceKind(enum.StrEnum):
    """What a device is, as NOC staff name it."""

    ROUTER = "router"
    BTS = "bts"
    VSAT = "vsat"
    RADIO = "radio"
    UPS = "ups"
    OTHER = "other"


class AddressFamily(enum.StrEnum):
    """Which IP family to reach a hostname over; `auto` prefers IPv4, then IPv6."""

    AUTO = "auto"
    IPV4 = "ipv4"
    IPV6 = "ipv6"


class Check(enum.StrEnum):
    """A protocol a device is polled with."""

    ICMP = "icmp"
    SNMP = "snmp"


class Secret:
    """A credential that prints itself as `<secret>` everywhere: logs, errors, debug output."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the credential itself, for the SNMP engine only."""
        return self._value

    def __repr__(self) -> str:
        return "<secret>"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class SnmpVersion(enum.StrEnum):
    """The SNMP protocol version of an auth."""

    V1 = "1"
    V2C = "2c"
    V3 = "3"


class SecurityLevel(enum.StrEnum):
    """SNMPv3 security level."""

    NO_AUTH_NO_PRIV = "noAuthNoPriv"
    AUTH_NO_PRIV = "authNoPriv"
    AUTH_PRIV = "authPriv"


class AuthProtocol(enum.StrEnum):
    """SNMPv3 authentication protocols."""

    MD5 = "MD5"
    SHA = "SHA"
    SHA224 = "SHA224"
    SHA256 = "SHA256"
    SHA384 = "SHA384"
    SHA512 = "SHA512"


class PrivProtocol(enum.StrEnum):
    """SNMPv3 privacy protocols."""

    DES = "DES"
    AES = "AES"
    AES192 = "AES192"
    AES256 = "AES256"


@dataclass(frozen=True, slots=True)
class SnmpAuth:
    """Credentials to reach an SNMP agent, kept apart from what is polled (the profiles)."""

    name: str
    version: SnmpVersion
    community: Secret | None = None
    username: str = ""
    security_level: SecurityLevel = SecurityLevel.NO_AUTH_NO_PRIV
    auth_protocol: AuthProtocol | None = None
    auth_password: Secret | None = None
    priv_protocol: PrivProtocol | None = None
    priv_password: Secret | None = None
    context_name: str = ""


@dataclass(frozen=True, slots=True)
class SnmpSettings:
    """How one device is polled over SNMP."""

    interval: float = 60.0
    timeout: float = 3.0
    retries: int = 1
    port: int = 161
    max_repetitions: int = 25
    # Bounds on one poll, so an agent whose table never ends costs a bounded poll, not memory.
    walk_max_rows: int = 10_000
    walk_max_values: int = 50_000
    walk_max_bytes: int = 8 << 20
    walk_max_duration: float = 30.0


@dataclass(frozen=True, slots=True)
class DeviceSnmp:
    """A device's SNMP check: which auth, which profiles, and which interfaces are its WAN."""

    auth: str
    profiles: tuple[str, ...]
    settings: SnmpSettings
    wan: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a value came from: file and line, for error messages and debug output."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class IcmpSettings:
    """How one device is pinged and when its link counts as adequate."""

    interval: float = 30.0
    timeout: float = 2.0
    count: int = 3
    spacing: float = 1.0
    max_loss_ratio: float = 0.1
    max_rtt: float = 1.0
    voting_interval: float = 10.0  # while a TPS behind the device votes or counts

    @property
    def urgent_interval(self) -> float:
        """Return the interval used during voting and counting: never longer than `interval`,
        and never so short that one poll would still run when the next is due."""
        urgent = min(self.voting_interval, self.interval)
        return urgent if urgent > self.busy_time else self.interval

    @property
    def busy_time(self) -> float:
        """Return how long one poll can take, from first echo to the last deadline."""
        return (self.count - 1) * self.spacing + self.timeout


@dataclass(frozen=True, slots=True)
class StateSettings:
    """How poll results become states: damping and the averaging window."""

    down_after: int = 3
    window: int = 10
    # After a missed poll the next one comes this soon, until the device answers or is down:
    # an outage is confirmed in seconds instead of `down_after` whole intervals.
    confirm_interval: float = 5.0


@dataclass(frozen=True, slots=True)
class ResolverSettings:
    """How hostnames are resolved and how often they are looked up again."""

    refresh_interval: float = 300.0
    timeout: float = 5.0


@dataclass(frozen=True, slots=True)
class Area:
    """One level of the administrative hierarchy: Kemendagri code and name."""

    code: str
    name: str


@dataclass(frozen=True, slots=True)
class Place:
    """Where a site is: province > regency > district > village."""

    province: Area
    regency: Area
    district: Area
    village: Area


@dataclass(frozen=True, slots=True)
class Device:
    """A device a TPS depends on for connectivity: router, BTS, VSAT modem, radio, UPS."""

    id: str
    kind: DeviceKind
    operator: str
    address: str
    checks: frozenset[Check]
    icmp: IcmpSettings
    state: StateSettings
    family: AddressFamily = AddressFamily.AUTO
    parent: str | None = None
    name: str = ""
    snmp: DeviceSnmp | None = None
    origin: Origin = field(default=Origin("", 0), compare=False)


@dataclass(frozen=True, slots=True)
class Site:
    """A polling station (TPS) and the devices it can send its results through."""

    id: str
    name: str
    place: Place
    timezone: str
    devices: tuple[str, ...]
    latitude: float | None = None
    longitude: float | None = None
    power: tuple[str, ...] = ()  # UPS or solar controllers that keep the site's devices on
    origin: Origin = field(default=Origin("", 0), compare=False)

    @property
    def is_blank_spot(self) -> bool:
        """Return whether no device connects this site."""
        return not self.devices


@dataclass(frozen=True, slots=True, eq=False)
class Inventory:
    """All sites and devices, merged from every inventory file, ids unique."""

    devices: dict[str, Device]
    sites: dict[str, Site]
    files: tuple[Path, ...] = ()
    # Compared and hashed by identity: each load is its own inventory, and caches key on it.

    def children(self) -> dict[str, tuple[str, ...]]:
        """Return, for each device, the devices whose parent it is."""
        out: dict[str, list[str]] = {}
        for device in self.devices.values():
            if device.parent is not None:
                out.setdefault(device.parent, []).append(device.id)
        return {k: tuple(v) for k, v in out.items()}

    def sites_behind(self) -> dict[str, tuple[str, ...]]:
        """Return, for each device, every site that needs it: directly or through a child."""
        out: dict[str, dict[str, None]] = {}
        for site in self.sites.values():
            for device_id in site.devices:
                current: str | None = device_id
                # Parents are validated acyclic, so each walk ends at a root.
                while current is not None:
                    out.setdefault(current, {})[site.id] = None
                    current = self.devices[current].parent
        return {device: tuple(sites) for device, sites in out.items()}

    def shard(self, index: int, count: int) -> Inventory:
        """Return shard `index` of `count` (1-based): its sites, and every device they need.

        Sites go by a stable hash of their district: a site and the routers, BTS and VSAT hub it
        shares with its neighbours stay together, so a field device is polled by one shard. A
        device that sites of several shards still need is polled by each of them.
        """
        if count == 1:
            return self
        sites = {
            i: s for i, s in self.sites.items() if shard_of(s.place.district.code, count) == index
        }
        needed: set[str] = set()
        for site in sites.values():
            for device_id in (*site.devices, *site.power):
                current: str | None = device_id
                while current is not None and current not in needed:
                    needed.add(current)
                    current = self.devices[current].parent
        # Devices no site needs are split by their own id, so each is polled exactly once.
        orphans = (
            {d for d in self.devices if shard_of(d, count) == index}
            - set(self.sites_behind())
            - {p for s in self.sites.values() for p in s.power}
        )
        devices = {i: d for i, d in self.devices.items() if i in needed or i in orphans}
        return Inventory(devices=devices, sites=sites, files=self.files)

    def topological_devices(self) -> list[Device]:
        """Return devices with every parent before its children."""
        depth: dict[str, int] = {}
        for device_id in self.devices:
            trail = []
            current: str | None = device_id
            # Parents are validated acyclic, so each walk ends at a root or a known depth.
            while current is not None and current not in depth:
                trail.append(current)
                current = self.devices[current].parent
            base = -1 if current is None else depth[current]
            for offset, walked in enumerate(reversed(trail), start=1):
                depth[walked] = base + offset
        return sorted(self.devices.values(), key=lambda d: depth[d.id])


def shard_of(identifier: str, count: int) -> int:
    """Return the 1-based shard an id belongs to, the same in every process and release."""
    return zlib.crc32(identifier.encode()) % count + 1


@dataclass(frozen=True, slots=True)
class ElectionDay:
    """A voting day, or a rehearsal (simulasi) of one."""

    date: dt.date
    name: str
    rehearsal: bool = False


@dataclass(frozen=True, slots=True)
class ElectionCalendar:
    """Voting days and the hours and windows around them, in each site's local time."""

    days: tuple[ElectionDay, ...] = ()
    run_up_days: int = 14
    recap_days: int = 7
    voting_start: dt.time = dt.time(7, 0)
    voting_end: dt.time = dt.time(13, 0)
    counting_end: dt.time | None = None  # None: until midnight, local time


@dataclass(frozen=True, slots=True)
class Config:
    """The exporter's configuration: defaults, and the inventory it points at."""

    targets: tuple[Path, ...]
    icmp: IcmpSettings
    state: StateSettings
    resolver: ResolverSettings
    source: Path | None = None
    snmp: SnmpSettings = SnmpSettings()
    snmp_auths: dict[str, SnmpAuth] = field(default_factory=dict)
    profiles: dict[str, Profile] = field(default_factory=dict)
    profile_metrics: tuple[Metric, ...] = ()  # declared by operators' own profile files
    snmp_max_concurrent: int = 64
    election: ElectionCalendar = ElectionCalendar()
    # A reload that would drop more than this share of the TPS is refused unless forced.
    reload_max_drop_ratio: float = 0.1
