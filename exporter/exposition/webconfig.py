"""`--web.config.file`: TLS and basic auth in the Prometheus exporter-toolkit format.

tls_server_config:
  cert_file: server.crt            # relative paths are relative to this file
  key_file: server.key
  client_auth_type: NoClientCert   # or RequireAndVerifyClientCert, VerifyClientCertIfGiven
  client_ca_file: clients-ca.crt
  min_version: TLS12               # TLS10 .. TLS13
  max_version: TLS13
http_server_config:
  headers: {Strict-Transport-Security: max-age=31536000}
basic_auth_users:
  noc: $2y$10$...                  # bcrypt hashes (htpasswd -nBC 10 noc)
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from yaml.nodes import Node

from exporter.i18n import _
from exporter.inventory.nodes import (
    ConfigError,
    ConfigLoadError,
    Reader,
    compose_file,
    mapping_keys,
)

_TLS_KEYS = ("cert_file", "key_file", "client_auth_type", "client_ca_file", "min_version",
             "max_version")  # fmt: skip
_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
_CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
T = TypeVar("T")
# RFC 9110: a name is a token; a value is visible characters, spaces and tabs, on one line.
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")


@dataclass(frozen=True, slots=True)
class TlsSettings:
    """The server's certificate and what it asks of clients."""

    cert_file: Path
    key_file: Path
    client_auth: ssl.VerifyMode = ssl.CERT_NONE
    client_ca_file: Path | None = None
    min_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2
    max_version: ssl.TLSVersion | None = None


@dataclass(frozen=True, slots=True)
class WebConfig:
    """TLS (optional), basic-auth users with bcrypt hashes, extra response headers."""

    tls: TlsSettings | None = None
    users: Mapping[str, bytes] = field(default_factory=dict)
    headers: tuple[tuple[str, str], ...] = ()
    source: Path | None = None


def load_web_config(path: Path) -> WebConfig:
    """Read a web configuration file, or raise every error in it with its line."""
    errors: list[ConfigError] = []
    node = compose_file(path, errors)
    config = WebConfig(source=path)
    if node is not None and not Reader.is_null(node):
        config = _read(Reader(str(path), errors), node, path)
    if errors:
        raise ConfigLoadError(errors)
    return config


def _read(r: Reader, node: Node, path: Path) -> WebConfig:
    top = r.mapping(node, "", ("tls_server_config", "http_server_config", "basic_auth_users"))
    if top is None:
        return WebConfig(source=path)
    tls = _tls(r, top["tls_server_config"], path.parent) if "tls_server_config" in top else None
    users: dict[str, bytes] = {}
    if "basic_auth_users" in top and not r.is_null(top["basic_auth_users"]):
        for user, hash_node in _named(r, top["basic_auth_users"], "basic_auth_users").items():
            where = f"basic_auth_users.{user}"
            text = r.string(hash_node, where)
            if text is not None and not _is_bcrypt(text):
                r.error(
                    hash_node,
                    where,
                    _(
                        "must be a bcrypt hash ($2y$, $2b$ or $2a$), e.g. from "
                        "`htpasswd -nBC 10 USER`"
                    ),
                )
            elif text is not None:
                users[user] = text.encode()
    headers: list[tuple[str, str]] = []
    if "http_server_config" in top:
        server = r.mapping(top["http_server_config"], "http_server_config", ("headers",)) or {}
        if "headers" in server:
            for name, value_node in _named(
                r, server["headers"], "http_server_config.headers"
            ).items():
                where = f"http_server_config.headers.{name}"
                value = r.string(value_node, where)
                if not _HEADER_NAME.fullmatch(name):
                    r.error(value_node, where, _("a header name is letters, digits and - only"))
                elif value is not None and not _HEADER_VALUE.fullmatch(value):
                    # A CR or LF would end the header early: every answer would fail.
                    r.error(
                        value_node,
                        where,
                        _("a header value is one line of printable characters, with no CR or LF"),
                    )
                elif value is not None:
                    headers.append((name, value))
    return WebConfig(tls, users, tuple(headers), path)


def _tls(r: Reader, node: Node, base: Path) -> TlsSettings | None:
    where = "tls_server_config"
    tls = r.mapping(node, where, _TLS_KEYS, required=("cert_file", "key_file"))
    if tls is None or "cert_file" not in tls or "key_file" not in tls:
        return None

    def file(key: str) -> Path | None:
        text = r.string(tls[key], f"{where}.{key}")
        if text is None:
            return None
        found = base / text
        if not found.is_file():
            r.error(tls[key], f"{where}.{key}", _("no such file: {found}").format(found=found))
            return None
        return found

    cert, key = file("cert_file"), file("key_file")
    ca = file("client_ca_file") if "client_ca_file" in tls else None
    auth = _pick(r, tls, "client_auth_type", _CLIENT_AUTH, ssl.CERT_NONE)
    if auth is not ssl.CERT_NONE and "client_ca_file" not in tls:
        r.error(
            tls["client_auth_type"],
            f"{where}.client_auth_type",
            _("verifying client certificates needs client_ca_file"),
        )
    low = _pick(r, tls, "min_version", _VERSIONS, ssl.TLSVersion.TLSv1_2)
    high: ssl.TLSVersion | None = _pick(r, tls, "max_version", dict(_VERSIONS), None)
    if cert is None or key is None:
        return None
    settings = TlsSettings(cert, key, auth, ca, low, high)
    try:
        server_context(settings)
    except (ssl.SSLError, OSError, ValueError) as exc:
        r.error(
            tls["cert_file"], where, _("cannot use this certificate and key: {exc}").format(exc=exc)
        )
        return None
    return settings


def _pick(r: Reader, mapping: dict[str, Node], key: str, choices: Mapping[str, T],
          default: T) -> T:  # fmt: skip
    if key not in mapping:
        return default
    text = r.string(mapping[key], f"tls_server_config.{key}")
    if text is None:
        return default
    if text not in choices:
        r.error(
            mapping[key],
            f"tls_server_config.{key}",
            _("must be one of {values}, not {text!r}").format(values=", ".join(choices), text=text),
        )
        return default
    return choices[text]


def _named(r: Reader, node: Node, where: str) -> dict[str, Node]:
    """Return a mapping whose keys are names the operator chooses (users, header names)."""
    return r.mapping(node, where, mapping_keys(node)) or {}


def _is_bcrypt(text: str) -> bool:
    return text.startswith(("$2y$", "$2b$", "$2a$")) and len(text) == 60


def server_context(tls: TlsSettings) -> ssl.SSLContext:
    """Return the TLS context the web server listens with."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = tls.min_version
    if tls.max_version is not None:
        context.maximum_version = tls.max_version
    context.load_cert_chain(tls.cert_file, tls.key_file)
    context.verify_mode = tls.client_auth
    if tls.client_ca_file is not None:
        context.load_verify_locations(tls.client_ca_file)
    return context
