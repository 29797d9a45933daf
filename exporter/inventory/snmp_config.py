"""Read the `snmp:` section of the configuration and the `snmp:` block of a device."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from exporter.i18n import _
from exporter.inventory.model import (
    AuthProtocol,
    DeviceSnmp,
    PrivProtocol,
    Secret,
    SecurityLevel,
    SnmpAuth,
    SnmpSettings,
    SnmpVersion,
)
from exporter.inventory.nodes import (
    ConfigError,
    Node,
    Reader,
    join,
    mapping_keys,
    read_text_file,
)
from exporter.inventory.profiles import Profiles, load_profiles

_SETTINGS = ("interval", "timeout", "retries", "port", "max_repetitions", "walk_max_rows",
             "walk_max_values", "walk_max_bytes", "walk_max_duration")  # fmt: skip
# The integer settings and their bounds; the rest are durations.
_INTEGERS = {"retries": (0, 10), "port": (1, 65535), "max_repetitions": (1, 500),
             "walk_max_rows": (1, 10_000_000), "walk_max_values": (1, 10_000_000),
             "walk_max_bytes": (1024, 1 << 30)}  # fmt: skip
_DURATIONS = {"interval": (1.0, 86400.0), "timeout": (0.05, 60.0),
              "walk_max_duration": (0.1, 3600.0)}  # fmt: skip
_INLINE_SECRET = (
    "must be {env: NAME} or {file: PATH}; a secret written in the configuration "
    "itself is refused, as it would be shown wherever the file is"
)
MAX_SECRET_BYTES = 4096  # a password or community; more is the wrong file (or /dev/zero)
_AUTH_KEYS = ("version", "community", "username", "security_level", "auth_protocol",
              "auth_password", "priv_protocol", "priv_password", "context_name")  # fmt: skip


@dataclass
class SnmpSection:
    """The `snmp:` section: defaults, credentials by name, and profiles by name."""

    settings: SnmpSettings = field(default_factory=SnmpSettings)
    auths: dict[str, SnmpAuth] = field(default_factory=dict)
    profiles: Profiles = field(default_factory=Profiles)
    max_concurrent: int = 64


def read_section(r: Reader, node: Node | None, base_dir: Path) -> SnmpSection:
    """Read the `snmp:` section; without one, only the built-in profiles exist."""
    section = SnmpSection()
    m = r.mapping(node, "snmp", ("defaults", "max_concurrent", "auths", "profiles")) if node else {}
    m = m or {}
    if "defaults" in m:
        section.settings = read_settings(r, m["defaults"], "snmp.defaults", SnmpSettings())
    if "max_concurrent" in m:
        section.max_concurrent = (
            r.integer(m["max_concurrent"], "snmp.max_concurrent", 1, 10000) or 64
        )
    if "auths" in m:
        auths = r.mapping(m["auths"], "snmp.auths", mapping_keys(m["auths"])) or {}
        for name, auth_node in auths.items():
            auth = _auth(r, auth_node, join("snmp.auths", name), name, base_dir)
            if auth is not None:
                section.auths[name] = auth
    paths: list[Path] = []
    if "profiles" in m:
        for i, item in enumerate(r.sequence(m["profiles"], "snmp.profiles") or ()):
            text = r.string(item, join("snmp.profiles", i))
            if text is not None:
                paths.extend(_yaml_files(base_dir / text, r, item, join("snmp.profiles", i)))
    section.profiles = load_profiles(paths, r.errors)
    return section


def read_settings(r: Reader, node: Node, path: str, base: SnmpSettings) -> SnmpSettings:
    """Read SNMP polling settings over a base (the defaults, or the built-in ones)."""
    m = r.mapping(node, path, _SETTINGS) or {}
    return _settings(r, node, m, path, base)


def _settings(
    r: Reader, node: Node, m: dict[str, Node], path: str, base: SnmpSettings
) -> SnmpSettings:
    values: dict[str, float | int] = {}
    for key, node_ in m.items():
        if key not in _SETTINGS or Reader.is_null(node_):
            continue  # a device's block also holds auth, profiles and wan
        where = join(path, key)
        if key in _INTEGERS:
            value: float | int | None = r.integer(node_, where, *_INTEGERS[key])
        else:
            value = r.duration(node_, where, *_DURATIONS[key])
        if value is not None:
            values[key] = value
    settings = dataclasses.replace(base, **values)  # type: ignore[arg-type]
    if settings.timeout * (settings.retries + 1) >= settings.interval:
        worst = settings.timeout * (settings.retries + 1)
        r.error(
            node,
            path,
            _(
                "timeout x (retries + 1) = {worst}s must be shorter than interval ({interval}s)"
            ).format(worst=format(worst, "g"), interval=format(settings.interval, "g")),
        )
    return settings


def read_device_block(r: Reader, node: Node, path: str, section: SnmpSection) -> DeviceSnmp | None:
    """Read a device's `snmp:` block; auth and profiles must name ones that exist."""
    keys = ("auth", "profiles", "wan", *_SETTINGS)
    m = r.mapping(node, path, keys, required=("auth", "profiles"))
    if m is None or "auth" not in m or "profiles" not in m:
        return None
    ok = len(r.errors)
    auth = r.string(m["auth"], join(path, "auth"))
    if auth is not None and auth not in section.auths:
        known = ", ".join(sorted(section.auths)) or "none defined under snmp.auths"
        r.error(
            m["auth"],
            join(path, "auth"),
            _("unknown auth {auth!r}; known: {known}").format(auth=auth, known=known),
        )
    profiles: list[str] = []
    for i, item in enumerate(r.sequence(m["profiles"], join(path, "profiles")) or ()):
        name = r.string(item, join(join(path, "profiles"), i))
        if name is not None and name not in section.profiles.profiles:
            known = ", ".join(sorted(section.profiles.profiles))
            r.error(
                item,
                join(join(path, "profiles"), i),
                _("unknown profile {name!r}; known: {known}").format(name=name, known=known),
            )
        elif name is not None:
            profiles.append(name)
    wan: list[str] = []
    if "wan" in m:
        for i, item in enumerate(r.sequence(m["wan"], join(path, "wan")) or ()):
            name = r.string(item, join(join(path, "wan"), i))
            if name is not None:
                wan.append(name)
    settings = _settings(r, node, m, path, section.settings)
    if len(r.errors) > ok or auth is None:
        return None
    return DeviceSnmp(auth, tuple(profiles), settings, tuple(wan))


def _auth(r: Reader, node: Node, path: str, name: str, base_dir: Path) -> SnmpAuth | None:
    m = r.mapping(node, path, _AUTH_KEYS, required=("version",))
    if m is None or "version" not in m:
        return None
    ok = len(r.errors)
    version = r.choice(m["version"], join(path, "version"), SnmpVersion)
    if version in (SnmpVersion.V1, SnmpVersion.V2C):
        for key in _AUTH_KEYS[2:]:
            if key in m:
                r.error(
                    m[key],
                    join(path, key),
                    _("only for version 3, not {version}").format(version=version),
                )
        if "community" not in m:
            r.error(node, join(path, "community"), _("required key is missing"))
            return None
        community = _secret(r, m["community"], join(path, "community"), base_dir)
        if len(r.errors) > ok or community is None:
            return None
        return SnmpAuth(name, version, community=community)
    if version is None:
        return None
    return _v3(r, m, node, path, name=name, base_dir=base_dir)


def _v3(
    r: Reader, m: dict[str, Node], node: Node, path: str, *, name: str, base_dir: Path
) -> SnmpAuth | None:
    ok = len(r.errors)
    if "community" in m:
        r.error(
            m["community"], join(path, "community"), _("version 3 uses username, not community")
        )
    username = r.string(m["username"], join(path, "username")) if "username" in m else None
    if "username" not in m:
        r.error(node, join(path, "username"), _("required key is missing"))
    level = SecurityLevel.AUTH_PRIV
    if "security_level" in m:
        level = r.choice(m["security_level"], join(path, "security_level"), SecurityLevel) or level
    needs_auth = level in (SecurityLevel.AUTH_NO_PRIV, SecurityLevel.AUTH_PRIV)
    needs_priv = level is SecurityLevel.AUTH_PRIV
    auth_protocol = priv_protocol = None
    auth_password = priv_password = None
    for key, needed in (("auth_protocol", needs_auth), ("auth_password", needs_auth),
                        ("priv_protocol", needs_priv), ("priv_password", needs_priv)):  # fmt: skip
        if needed and key not in m:
            r.error(
                node, join(path, key), _("required for security_level {level}").format(level=level)
            )
        elif not needed and key in m:
            r.error(
                m[key],
                join(path, key),
                _("not used with security_level {level}").format(level=level),
            )
    if needs_auth and "auth_protocol" in m:
        auth_protocol = r.choice(m["auth_protocol"], join(path, "auth_protocol"), AuthProtocol)
    if needs_auth and "auth_password" in m:
        auth_password = _secret(r, m["auth_password"], join(path, "auth_password"), base_dir)
    if needs_priv and "priv_protocol" in m:
        priv_protocol = r.choice(m["priv_protocol"], join(path, "priv_protocol"), PrivProtocol)
    if needs_priv and "priv_password" in m:
        priv_password = _secret(r, m["priv_password"], join(path, "priv_password"), base_dir)
    for secret, key in ((auth_password, "auth_password"), (priv_password, "priv_password")):
        if secret is not None and len(secret.reveal()) < 8:
            r.error(m[key], join(path, key), _("SNMPv3 passwords must be at least 8 characters"))
    context = r.string(m["context_name"], join(path, "context_name")) if "context_name" in m else ""
    if len(r.errors) > ok or username is None:
        return None
    return SnmpAuth(name, SnmpVersion.V3, None, username, level, auth_protocol, auth_password,
                    priv_protocol, priv_password, context or "")  # fmt: skip


def _secret(r: Reader, node: Node, path: str, base_dir: Path) -> Secret | None:
    """Read a secret from `{env: NAME}` or `{file: PATH}`; never from the config text itself.

    Whatever is wrong, the error names the key and the file, never the value: configuration
    errors are printed by `check`, logged, and sent back to whoever asked for a reload.
    """
    if not isinstance(node, yaml.MappingNode):
        r.error(node, path, _INLINE_SECRET)
        return None
    m = r.mapping(node, path, ("env", "file"))
    if m is None:
        return None
    if len(m) != 1:
        r.error(node, path, _("give exactly one of env: or file:"))
        return None
    if "env" in m:
        name = r.string(m["env"], join(path, "env"))
        if name is None:
            return None
        value = os.environ.get(name)
        if not value:
            r.error(
                m["env"],
                join(path, "env"),
                _("environment variable {name} is not set").format(name=name),
            )
            return None
        return Secret(value)
    text = r.string(m["file"], join(path, "file"), max_length=4096)
    if text is None:
        return None
    try:
        value = read_text_file(base_dir / text, MAX_SECRET_BYTES).rstrip("\r\n")
    except OSError as exc:
        r.error(
            m["file"],
            join(path, "file"),
            _("cannot read {text}: {value}").format(text=text, value=exc.strerror or exc),
        )
        return None
    except ValueError as exc:  # its words never quote the file's contents
        r.error(
            m["file"], join(path, "file"), _("cannot read {text}: {exc}").format(text=text, exc=exc)
        )
        return None
    if not value:
        r.error(m["file"], join(path, "file"), _("{text} is empty").format(text=text))
        return None
    return Secret(value)


def _yaml_files(target: Path, r: Reader, node: Node, path: str) -> list[Path]:
    if target.is_dir():
        return sorted(p for p in target.rglob("*") if p.suffix in (".yaml", ".yml"))
    if target.is_file():
        return [target]
    r.error(node, path, _("no such file or directory: {target}").format(target=target))
    return []


__all__ = ["ConfigError", "SnmpSection", "read_device_block", "read_section", "read_settings"]
