"""Load the exporter's configuration and its inventory files into immutable objects."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from exporter.i18n import _
from exporter.inventory import areas
from exporter.inventory.election import read_calendar
from exporter.inventory.model import (
    AddressFamily,
    Area,
    Check,
    Config,
    Device,
    DeviceKind,
    IcmpSettings,
    Inventory,
    Origin,
    Place,
    ResolverSettings,
    Site,
    StateSettings,
)
from exporter.inventory.nodes import (
    ConfigError,
    ConfigLoadError,
    Node,
    Reader,
    compose_file,
    did_you_mean,
    join,
)
from exporter.inventory.profiles import Profiles
from exporter.inventory.snmp_config import SnmpSection, read_device_block, read_section

ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/-]{0,127}")
_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")

_ICMP_KEYS = (
    "interval", "voting_interval", "timeout", "count", "spacing", "max_loss_ratio", "max_rtt",
)  # fmt: skip
_DEVICE_KEYS = (
    "id", "name", "kind", "operator", "address", "family", "parent", "checks", "icmp", "snmp",
    "down_after",
)  # fmt: skip
_SITE_KEYS = (
    "id", "name", "province", "regency", "district", "village", "timezone",
    "latitude", "longitude", "devices", "power",
)  # fmt: skip


def load_config(path: Path | None, targets: Sequence[Path] = ()) -> Config:
    """Read the exporter's configuration file; `targets` given on the command line win."""
    errors: list[ConfigError] = []
    config = Config(
        targets=tuple(targets) or (Path("targets"),),
        icmp=IcmpSettings(),
        state=StateSettings(),
        resolver=ResolverSettings(),
    )
    if path is not None:
        config = _read_config(path, config, errors)
        if targets:
            config = dataclasses.replace(config, targets=tuple(targets))
    else:
        config = _with_snmp(config, read_section(Reader("", errors), None, Path.cwd()))
    if errors:
        raise ConfigLoadError(errors)
    return config


def load(path: Path | None, targets: Sequence[Path] = ()) -> tuple[Config, Inventory]:
    """Read the configuration and the inventory it names, or raise every error found."""
    config = load_config(path, targets)
    return config, load_inventory(config)


@dataclass(frozen=True, slots=True)
class _Reference:
    """A device id named somewhere (a parent, a site's device), kept to check it exists."""

    target: str
    where: ConfigError


@dataclass
class _Merge:
    """What every inventory file adds up to while they are read."""

    config: Config
    errors: list[ConfigError]
    snmp: SnmpSection = field(default_factory=SnmpSection)
    devices: dict[str, Device] = field(default_factory=dict)
    sites: dict[str, Site] = field(default_factory=dict)
    references: list[_Reference] = field(default_factory=list)
    # Ids of devices written down, valid or not, so one bad device is one error, not many.
    declared: set[str] = field(default_factory=set)
    # Where each device's `parent:` is written, to point a cycle at the key to change.
    parent_keys: dict[str, ConfigError] = field(default_factory=dict)
    # One object per area and per village: the TPS of a village share them (at 100,000 TPS,
    # a copy each was most of the inventory's memory).
    areas: dict[tuple[str, str], Area] = field(default_factory=dict)
    places: dict[tuple[Area, ...], Place] = field(default_factory=dict)
    # The first name given to each area code, and where: one code has one name, or alerts
    # would be routed and counted under two.
    area_names: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)

    def area(self, code: str, name: str) -> Area:
        """Return the one Area object for this code and name."""
        key = (code, name)
        if key not in self.areas:
            self.areas[key] = Area(sys.intern(code), sys.intern(name))
        return self.areas[key]

    def place(self, found: dict[str, Area]) -> Place:
        """Return the one Place object for this province > regency > district > village."""
        key = tuple(found[level] for level in areas.LEVELS)
        if key not in self.places:
            self.places[key] = Place(*key)
        return self.places[key]

    def refer(self, r: Reader, node: Node, path: str, target: str) -> None:
        """Remember that `target` must be a device id, and where it was named."""
        line, column = node.start_mark.line + 1, node.start_mark.column + 1
        self.references.append(_Reference(target, ConfigError(r.file, line, column, path, "")))


def load_inventory(config: Config) -> Inventory:
    """Read and merge every inventory file, then check references across files."""
    section = SnmpSection(config.snmp, config.snmp_auths, Profiles(config.profiles))
    merge = _Merge(config, [], section)
    files = inventory_files(config.targets, merge.errors)
    for file in files:
        _read_inventory_file(file, merge)
    _check_references(merge)
    if merge.errors:
        raise ConfigLoadError(merge.errors)
    return Inventory(devices=merge.devices, sites=merge.sites, files=tuple(files))


def _read_config(path: Path, config: Config, errors: list[ConfigError]) -> Config:
    # Relative paths are relative to the config file, so it can be run from anywhere.
    config = dataclasses.replace(config, targets=(path.parent / "targets",), source=path)
    root = compose_file(path, errors)
    if root is None or Reader.is_null(root):
        return _with_snmp(config, read_section(Reader(str(path), errors), None, path.parent))
    r = Reader(str(path), errors)
    top = r.mapping(
        root, "", ("targets", "icmp", "state", "resolver", "snmp", "election", "reload")
    )
    if top is None:
        return config
    config = _with_snmp(config, read_section(r, top.get("snmp"), path.parent))
    if "targets" in top and (items := r.sequence(top["targets"], "targets")) is not None:
        paths = [r.string(n, join("targets", i), max_length=4096) for i, n in enumerate(items)]
        resolved = tuple(path.parent / p for p in paths if p is not None)
        config = dataclasses.replace(config, targets=resolved)
    if "icmp" in top:
        config = dataclasses.replace(config, icmp=_icmp(r, top["icmp"], "icmp", config.icmp))
    if "state" in top:
        config = dataclasses.replace(config, state=_state(r, top["state"], config.state))
    if "resolver" in top:
        config = dataclasses.replace(config, resolver=_resolver(r, top["resolver"]))
    if "election" in top:
        config = dataclasses.replace(config, election=read_calendar(r, top["election"]))
    if "reload" in top and (m := r.mapping(top["reload"], "reload", ("max_drop_ratio",))):
        ratio = r.number(m["max_drop_ratio"], "reload.max_drop_ratio", 0, 1)
        if ratio is not None:
            config = dataclasses.replace(config, reload_max_drop_ratio=ratio)
    return config


def _with_snmp(config: Config, section: SnmpSection) -> Config:
    return dataclasses.replace(
        config,
        snmp=section.settings,
        snmp_auths=section.auths,
        profiles=section.profiles.profiles,
        profile_metrics=tuple(section.profiles.metrics.values()),
        snmp_max_concurrent=section.max_concurrent,
    )


def _icmp(r: Reader, node: Node, path: str, base: IcmpSettings) -> IcmpSettings:
    m = r.mapping(node, path, _ICMP_KEYS)
    if m is None:
        return base
    durations = {
        "interval": (0.1, 86400.0),
        "voting_interval": (0.1, 86400.0),
        "timeout": (0.01, 60.0),
        "spacing": (0.01, 60.0),
        "max_rtt": (0.001, 60.0),
    }
    seconds = {
        key: r.duration(m[key], join(path, key), low, high)
        for key, (low, high) in durations.items()
        if key in m
    }
    count = r.integer(m["count"], join(path, "count"), 1, 100) if "count" in m else None
    loss = None
    if "max_loss_ratio" in m:
        loss = r.number(m["max_loss_ratio"], join(path, "max_loss_ratio"), 0, 1)
    settings = IcmpSettings(
        interval=seconds.get("interval") or base.interval,
        timeout=seconds.get("timeout") or base.timeout,
        count=count or base.count,
        spacing=seconds.get("spacing") or base.spacing,
        max_loss_ratio=base.max_loss_ratio if loss is None else loss,
        max_rtt=seconds.get("max_rtt") or base.max_rtt,
        voting_interval=seconds.get("voting_interval") or base.voting_interval,
    )
    if "voting_interval" in seconds and settings.busy_time >= settings.voting_interval:
        r.error(
            m["voting_interval"],
            join(path, "voting_interval"),
            _(
                "a poll takes up to (count-1) x spacing + timeout = "
                "{busy_time}s, which must be shorter than "
                "voting_interval ({voting_interval}s)"
            ).format(
                busy_time=format(settings.busy_time, "g"),
                voting_interval=format(settings.voting_interval, "g"),
            ),
        )
    if settings.busy_time >= settings.interval:
        r.error(
            node,
            path,
            _(
                "a poll takes up to (count-1) x spacing + timeout = "
                "{busy_time}s, which must be shorter than interval "
                "({interval}s)"
            ).format(
                busy_time=format(settings.busy_time, "g"), interval=format(settings.interval, "g")
            ),
        )
    return settings


def _state(r: Reader, node: Node, base: StateSettings) -> StateSettings:
    m = r.mapping(node, "state", ("down_after", "window", "confirm_interval"))
    if m is None:
        return base
    down_after = window = confirm = None
    if "down_after" in m:
        down_after = r.integer(m["down_after"], "state.down_after", 1, 100)
    if "window" in m:
        window = r.integer(m["window"], "state.window", 1, 1000)
    if "confirm_interval" in m:
        confirm = r.duration(m["confirm_interval"], "state.confirm_interval", 0.1, 3600)
    return StateSettings(
        down_after=down_after or base.down_after,
        window=window or base.window,
        confirm_interval=confirm or base.confirm_interval,
    )


def _resolver(r: Reader, node: Node) -> ResolverSettings:
    m = r.mapping(node, "resolver", ("refresh_interval", "timeout"))
    base = ResolverSettings()
    if m is None:
        return base
    refresh = timeout = None
    if "refresh_interval" in m:
        refresh = r.duration(m["refresh_interval"], "resolver.refresh_interval", 1, 86400)
    if "timeout" in m:
        timeout = r.duration(m["timeout"], "resolver.timeout", 0.1, 60)
    return ResolverSettings(
        refresh_interval=refresh or base.refresh_interval, timeout=timeout or base.timeout
    )


def inventory_files(targets: Sequence[Path], errors: list[ConfigError]) -> list[Path]:
    """Return the inventory files of `targets`: files as given, directories' YAML not hidden.

    Whatever would make TPS vanish without a word is an error: a directory that cannot be read,
    a YAML name that is not a readable file (a dangling link), a directory with no YAML at all.
    """
    files: list[Path] = []
    for target in targets:
        if target.is_dir():
            found = _directory_files(target, errors)
            if not found:
                errors.append(
                    ConfigError(
                        str(target),
                        0,
                        0,
                        "",
                        _("no inventory files (*.yaml, *.yml) in this directory"),
                    )
                )
            files.extend(found)
        else:
            _take_file(target, files, errors, "no such file or directory")
    return files


def _take_file(path: Path, files: list[Path], errors: list[ConfigError], otherwise: str) -> None:
    """Add a file to read, or say why it cannot be one (a dangling link, say)."""
    if path.is_file():
        files.append(path)
    elif path.is_symlink():
        errors.append(ConfigError(str(path), 0, 0, "", _("a link to nothing (dangling)")))
    else:
        errors.append(ConfigError(str(path), 0, 0, "", otherwise))


def _directory_files(top: Path, errors: list[ConfigError]) -> list[Path]:
    """Return the YAML files below a directory, in name order; unreadable parts are errors."""

    def unreadable(exc: OSError) -> None:
        where = exc.filename or str(top)
        errors.append(
            ConfigError(
                str(where),
                0,
                0,
                "",
                _("cannot read directory: {strerror}").format(strerror=exc.strerror),
            )
        )

    found: list[Path] = []
    for root, dirs, names in os.walk(top, onerror=unreadable, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in names:
            if name.startswith(".") or not name.endswith((".yaml", ".yml")):
                continue
            _take_file(Path(root) / name, found, errors, "not a regular file")
    return sorted(found)


def _read_inventory_file(file: Path, merge: _Merge) -> None:
    root = compose_file(file, merge.errors)
    if root is None or Reader.is_null(root):
        return
    r = Reader(str(file), merge.errors)
    top = r.mapping(root, "", ("devices", "sites"))
    if top is None:
        return
    for i, item in _items(r, top, "devices"):
        device = _device(r, item, join("devices", i), merge)
        if device is not None and _unique(r, item, join("devices", i), device, merge.devices):
            merge.devices[device.id] = device
    for i, item in _items(r, top, "sites"):
        site = _site(r, item, join("sites", i), merge)
        if site is not None and _unique(r, item, join("sites", i), site, merge.sites):
            merge.sites[site.id] = site


def _items(r: Reader, top: dict[str, Node], key: str) -> list[tuple[int, Node]]:
    if key not in top or Reader.is_null(top[key]):
        return []
    return list(enumerate(r.sequence(top[key], key) or ()))


def _unique(
    r: Reader, node: Node, path: str, obj: Device | Site, seen: Mapping[str, Device | Site]
) -> bool:
    first = seen.get(obj.id)
    if first is not None:
        r.error(
            node,
            join(path, "id"),
            _("duplicate id {id!r} (first at {origin})").format(id=obj.id, origin=first.origin),
        )
    return first is None


def _device(r: Reader, node: Node, path: str, merge: _Merge) -> Device | None:
    m = r.mapping(node, path, _DEVICE_KEYS, required=("id", "kind", "address"))
    if m is None:
        return None
    ok = len(r.errors)
    device_id = r.string(m["id"], join(path, "id"), ID_PATTERN) if "id" in m else None
    if device_id is not None:
        merge.declared.add(device_id)
    kind = r.choice(m["kind"], join(path, "kind"), DeviceKind) if "kind" in m else None
    family = AddressFamily.AUTO
    if "family" in m:
        family = r.choice(m["family"], join(path, "family"), AddressFamily) or family
    address = _address(r, m["address"], join(path, "address"), family) if "address" in m else None
    config = merge.config
    parent = _optional_string(r, m, "parent", path)
    if parent is not None and device_id is not None:
        merge.refer(r, m["parent"], join(path, "parent"), parent)
        merge.parent_keys[device_id] = merge.references[-1].where
    snmp = None
    if "snmp" in m and not Reader.is_null(m["snmp"]):
        snmp = read_device_block(r, m["snmp"], join(path, "snmp"), merge.snmp)
    default_checks = {Check.ICMP, Check.SNMP} if "snmp" in m else {Check.ICMP}
    checks = _checks(r, m["checks"], join(path, "checks")) if "checks" in m else default_checks
    if Check.SNMP in checks and "snmp" not in m:
        r.error(m["checks"], join(path, "checks"), _("the snmp check needs an snmp: block"))
    if Check.SNMP not in checks and "snmp" in m:
        r.error(m["snmp"], join(path, "snmp"), _("set, but checks does not include snmp"))
    icmp = _icmp(r, m["icmp"], join(path, "icmp"), config.icmp) if "icmp" in m else config.icmp
    state = config.state
    if "down_after" in m and (n := r.integer(m["down_after"], join(path, "down_after"), 1, 100)):
        state = dataclasses.replace(state, down_after=n)
    if len(r.errors) > ok or device_id is None or kind is None or address is None:
        return None
    if Check.SNMP in checks and snmp is None:
        return None
    return Device(
        id=device_id,
        name=_optional_string(r, m, "name", path) or "",
        kind=kind,
        operator=sys.intern(_optional_string(r, m, "operator", path) or ""),
        address=address,
        family=family,
        parent=parent,
        checks=frozenset(checks),
        icmp=icmp,
        snmp=snmp,
        state=state,
        origin=Origin(r.file, r.line(node)),
    )


def _checks(r: Reader, node: Node, path: str) -> set[Check]:
    items = r.sequence(node, path)
    if items == []:
        r.error(node, path, _("must name at least one check (icmp, snmp)"))
    return {c for i, n in enumerate(items or ()) if (c := r.choice(n, join(path, i), Check))}


def _address(r: Reader, node: Node, path: str, family: AddressFamily) -> str | None:
    text = r.string(node, path)
    if text is None:
        return None
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        if is_hostname(text):
            return text.rstrip(".").lower()
        r.error(
            node,
            path,
            _("{text!r} is not an IPv4 address, an IPv6 address or a valid hostname").format(
                text=text
            ),
        )
        return None
    unusable = _unusable(ip)
    if unusable:
        r.error(
            node,
            path,
            _("{text} is {unusable}, not the address of one device").format(
                text=text, unusable=unusable
            ),
        )
        return None
    if ip.version == 4 and family is AddressFamily.IPV6:
        r.error(node, path, _("{text} is an IPv4 address but family is ipv6").format(text=text))
        return None
    if ip.version == 6 and family is AddressFamily.IPV4:
        r.error(node, path, _("{text} is an IPv6 address but family is ipv4").format(text=text))
        return None
    return str(ip)


def _unusable(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """Say why an address cannot be one device's (any, broadcast, multicast, bare link-local)."""
    if ip.is_unspecified:
        return "the unspecified address (any host)"
    if ip.version == 4 and int(ip) == 0xFFFFFFFF:
        return "the broadcast address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.version == 6 and ip.is_link_local and not getattr(ip, "scope_id", None):
        return "link-local without a zone (write it as fe80::1%eth0)"
    return ""


def is_hostname(text: str) -> bool:
    """Return whether `text` is a valid DNS hostname (not a mistyped IPv4 address)."""
    name = text.rstrip(".")
    labels = name.split(".")
    # An all-numeric last label is a mistyped IPv4 address, not a hostname (RFC 3696).
    return (
        0 < len(name) <= 253
        and all(_HOST_LABEL.fullmatch(label) for label in labels)
        and not labels[-1].isdigit()
    )


def _site(r: Reader, node: Node, path: str, merge: _Merge) -> Site | None:
    m = r.mapping(node, path, _SITE_KEYS, required=("id", "name", *areas.LEVELS))
    if m is None:
        return None
    ok = len(r.errors)
    site_id = r.string(m["id"], join(path, "id"), ID_PATTERN) if "id" in m else None
    name = r.string(m["name"], join(path, "name"), max_length=200) if "name" in m else None
    place = _place(r, m, path, merge)
    timezone = _timezone(r, m, path, place)
    latitude, longitude = _coordinates(r, m, node, path)
    devices = _device_list(r, m, "devices", path, merge)
    power = _device_list(r, m, "power", path, merge)
    if len(r.errors) > ok or site_id is None or name is None or place is None or not timezone:
        return None
    return Site(
        id=site_id,
        name=sys.intern(name),  # "TPS 001" recurs in every village
        place=place,
        timezone=sys.intern(timezone),
        devices=tuple(devices),
        latitude=latitude,
        longitude=longitude,
        power=tuple(power),
        origin=Origin(r.file, r.line(node)),
    )


def _device_list(r: Reader, m: dict[str, Node], key: str, path: str, merge: _Merge) -> list[str]:
    """Read a site's list of device ids, each checked later to exist."""
    out: list[str] = []
    if key not in m or Reader.is_null(m[key]):
        return out
    for i, item in enumerate(r.sequence(m[key], join(path, key)) or ()):
        item_path = join(join(path, key), i)
        device_id = r.string(item, item_path)
        if device_id in out:
            r.error(
                item, item_path, _("device {device_id!r} listed twice").format(device_id=device_id)
            )
        elif device_id is not None:
            out.append(device_id)
            merge.refer(r, item, item_path, device_id)
    return out


def _place(r: Reader, m: dict[str, Node], path: str, merge: _Merge) -> Place | None:
    found: dict[str, Area] = {}
    parent_code = ""
    for level in areas.LEVELS:
        if level not in m:
            return None
        area = _area(r, m[level], join(path, level), level, merge)
        if area is None:
            return None
        if parent_code and not area.code.startswith(parent_code + "."):
            r.error(
                m[level],
                join(path, level) + ".code",
                _("{level} code {code} is not inside {parent_code}").format(
                    level=level, code=area.code, parent_code=parent_code
                ),
            )
            return None
        found[level] = area
        parent_code = area.code
    return merge.place(found)


def _area(r: Reader, node: Node, path: str, level: str, merge: _Merge) -> Area | None:
    m = r.mapping(node, path, ("code", "name"), required=("code", "name"))
    if m is None or "code" not in m or "name" not in m:
        return None
    code = r.string(m["code"], join(path, "code"), areas.CODE_PATTERNS[level])
    name = r.string(m["name"], join(path, "name"), max_length=200)
    if not code or not name:
        return None
    if not _area_name_agrees(r, m["name"], join(path, "name"), level=level, code=code,
                             name=name, merge=merge):  # fmt: skip
        return None
    return merge.area(code, name)


def _area_name_agrees(
    r: Reader, node: Node, path: str, *, level: str, code: str, name: str, merge: _Merge
) -> bool:
    """Check a name against its code: a province's official name, and the name the same code
    got elsewhere in the inventory."""
    official = areas.PROVINCE_NAMES.get(code) if level == "province" else None
    if official is not None and name != official:
        r.error(
            node,
            path,
            _("province {code} is {official!r}, not {name!r}").format(
                code=code, official=official, name=name
            ),
        )
        return False
    first = merge.area_names.get((level, code))
    if first is None:  # the place is written out once per area, not once per TPS
        merge.area_names[level, code] = (name, f"{r.file}:{node.start_mark.line + 1}")
        return True
    first_name, first_where = first
    if first_name != name:
        r.error(
            node,
            path,
            _("{level} {code} is named {first_name!r} at {first_where}, not {name!r}").format(
                level=level, code=code, first_name=first_name, first_where=first_where, name=name
            ),
        )
        return False
    return True


def _timezone(r: Reader, m: dict[str, Node], path: str, place: Place | None) -> str | None:
    if "timezone" in m:
        text = r.string(m["timezone"], join(path, "timezone"))
        zone = areas.normalize_timezone(text) if text else None
        if text and zone is None:
            r.error(
                m["timezone"],
                join(path, "timezone"),
                _("unknown time zone {text!r}").format(text=text),
            )
        return zone
    if place is None:
        return None
    zone = areas.province_timezone(place.province.code)
    if zone is None:
        r.error(
            m["province"],
            join(path, "province.code"),
            _("unknown province {code}; set timezone for this site").format(
                code=place.province.code
            ),
        )
    return zone


def _coordinates(
    r: Reader, m: dict[str, Node], node: Node, path: str
) -> tuple[float | None, float | None]:
    lat = r.number(m["latitude"], join(path, "latitude"), -90, 90) if "latitude" in m else None
    lon = r.number(m["longitude"], join(path, "longitude"), -180, 180) if "longitude" in m else None
    if ("latitude" in m) != ("longitude" in m):
        r.error(node, path, _("latitude and longitude go together: set both or neither"))
    return lat, lon


def _optional_string(r: Reader, m: dict[str, Node], key: str, path: str) -> str | None:
    node = m.get(key)
    if node is None or Reader.is_null(node):
        return None
    return r.string(node, join(path, key))


def _check_references(merge: _Merge) -> None:
    unknown = [ref for ref in merge.references if ref.target not in merge.declared]
    declared = list(merge.declared) if unknown else []
    for n, ref in enumerate(unknown):
        # Device ids are typed by hand like keys are: say which one was meant (for the first
        # few: each look is a pass over every id, and a national file may have 800,000).
        hint = did_you_mean(ref.target, declared, cutoff=0.8) if n < 20 else ""
        message = _("unknown device {id!r}").format(id=ref.target) + hint
        merge.errors.append(dataclasses.replace(ref.where, message=message))
    for cycle in _parent_cycles(merge.devices):
        chain = " -> ".join([*cycle, cycle[0]])
        where = merge.parent_keys[cycle[0]]
        message = _("parent cycle: {chain}").format(chain=chain)
        merge.errors.append(dataclasses.replace(where, message=message))


def _parent_cycles(devices: dict[str, Device]) -> list[list[str]]:
    """Return each cycle in the parent graph once, starting from its smallest id."""
    cycles: list[list[str]] = []
    done: set[str] = set()
    for start in sorted(devices):
        trail: list[str] = []
        on_trail: set[str] = set()
        current: str | None = start
        while current is not None and current in devices and current not in done:
            if current in on_trail:
                cycle = trail[trail.index(current) :]
                shift = cycle.index(min(cycle))
                cycles.append(cycle[shift:] + cycle[:shift])
                break
            trail.append(current)
            on_trail.add(current)
            current = devices[current].parent
        done.update(trail)
    return cycles
