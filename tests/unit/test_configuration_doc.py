"""docs/configuration.md names every key the loaders accept and every flag, with their defaults.

The keys are not listed here by hand: files that use every section are loaded with
`Reader.mapping` watched, which records the keys each mapping accepts. Every `.mapping(` call in
exporter/ must be reached, so a new section cannot hide from the check.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import pytest

from exporter.cli import build_parser
from exporter.exposition.webconfig import load_web_config
from exporter.inventory.load import load, load_config
from exporter.inventory.nodes import Node, Reader, parse_duration
from tests.tls import make_certificates

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "configuration.md"
# Sections that share another's keys; the page documents them once, under the second name.
SAME_KEYS_AS = {
    "devices[].icmp": "icmp",
    "profiles.<name>.tables[].columns[]": "profiles.<name>.scalars[]",
    "profiles.<name>.tables[].info": "profiles.<name>.info",
    "snmp.auths.<name>.auth_password": "snmp.auths.<name>.community",
    "snmp.auths.<name>.priv_password": "snmp.auths.<name>.community",
    "sites[].regency": "sites[].province",
    "sites[].district": "sites[].province",
    "sites[].village": "sites[].province",
}

CONFIG = """\
targets: [targets]
icmp: {interval: 30s, timeout: 2s, count: 3, spacing: 1s, max_loss_ratio: 0.1, max_rtt: 1s}
state: {down_after: 3, window: 10}
resolver: {refresh_interval: 5m, timeout: 5s}
reload: {max_drop_ratio: 0.1}
snmp:
  defaults: {interval: 60s, timeout: 3s, retries: 1, port: 161, max_repetitions: 25}
  max_concurrent: 64
  profiles: [profiles]
  auths:
    v2: {version: 2c, community: {env: TPS_DOC_COMMUNITY}}
    v3:
      version: "3"
      username: noc
      security_level: authPriv
      auth_protocol: SHA256
      auth_password: {file: auth.secret}
      priv_protocol: AES256
      priv_password: {env: TPS_DOC_PRIV}
      context_name: tps
election:
  days: [{date: 2024-11-27, name: Pilkada Serentak 2024}]
  rehearsals: [{date: 2024-11-20, name: Simulasi}]
  run_up: 14d
  recap: 7d
  voting_hours: {start: "07:00", end: "13:00"}
  counting_until: "24:00"
"""
INVENTORY = """\
devices:
  - {id: bts-21.03.04, kind: bts, address: 127.0.0.2, operator: BAKTI, name: BTS Midai}
  - id: rtr-21.03.04.2001
    name: Router Sebelat
    kind: router
    operator: Telkomsel
    address: localhost
    family: ipv4
    parent: bts-21.03.04
    checks: [icmp, snmp]
    icmp: {interval: 60s, timeout: 3s, count: 2, spacing: 1s, max_loss_ratio: 0.2, max_rtt: 2s}
    down_after: 5
    snmp: {auth: v3, profiles: [system, doc], wan: [wwan0], interval: 2m, timeout: 2s,
           retries: 2, port: 1161, max_repetitions: 10}
  - {id: ups-21.03.04.2001, kind: ups, address: 127.0.0.3, checks: [snmp],
     snmp: {auth: v2, profiles: [ups]}}
sites:
  - id: tps-21.03.04.2001-001
    name: TPS 001 Sebelat
    province: {code: "21", name: Kepulauan Riau}
    regency: {code: "21.03", name: Kabupaten Natuna}
    district: {code: "21.03.04", name: Midai}
    village: {code: "21.03.04.2001", name: Sebelat}
    timezone: WIB
    latitude: 3.01
    longitude: 107.74
    devices: [rtr-21.03.04.2001]
    power: [ups-21.03.04.2001]
"""
PROFILE = """\
metrics:
  - {name: tps_doc_state, type: gauge, help: "A state.", labels: [state]}
  - {name: tps_doc_panel_volts, type: gauge, help: "Panel voltage.", labels: [panel], unit: volts}
  - {name: tps_doc_board_info, type: gauge, help: "The board.", labels: [board, serial]}
  - {name: tps_doc_panel_info, type: gauge, help: "A panel.", labels: [panel, model, kind]}
profiles:
  doc:
    scalars:
      - {metric: tps_doc_state, oid: 1.3.6.1.4.1.99999.1.0, enum: {1: ok}, enum_label: state}
      - {metric: tps_doc_panel_volts, oid: 1.3.6.1.4.1.99999.2.0, scale: 0.1, fixed: {panel: "0"}}
      - metric: tps_doc_panel_volts
        sources: [{oid: 1.3.6.1.4.1.99999.3.0, scale: 0.01}]
        map: {1: 12}
        default: 0
        skip: [-1]
        fixed: {panel: "9"}
    info: {metric: tps_doc_board_info, labels: {serial: 1.3.6.1.4.1.99999.4.0}, fixed: {board: x}}
    tables:
      - index_label: panel
        columns: [{metric: tps_doc_panel_volts, oid: 1.3.6.1.4.1.99999.5.1.2}]
        info:
          metric: tps_doc_panel_info
          labels: {model: [1.3.6.1.4.1.99999.5.1.3, 1.3.6.1.4.1.99999.5.1.4]}
          fixed: {kind: solar}
"""


@dataclass(frozen=True)
class Seen:
    """One mapping read: where in the code, at which key path, and the keys it accepts."""

    file: str
    line: int
    path: str
    allowed: tuple[str, ...]


@dataclass(frozen=True)
class CallSite:
    """A `.mapping(` call in the exporter's code; `names` when its keys are the operator's."""

    file: str
    first: int
    last: int
    names: bool


def call_sites() -> list[CallSite]:
    """Return every `.mapping(node, path, keys)` call in exporter/."""
    out = []
    for path in sorted((ROOT / "exporter").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            if node.func.attr != "mapping" or len(node.args) < 3:
                continue
            keys = node.args[2]
            names = isinstance(keys, ast.Call) and getattr(keys.func, "id", "") == "mapping_keys"
            out.append(CallSite(str(path), node.lineno, node.end_lineno or node.lineno, names))
    return out


@pytest.fixture
def seen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Seen]:
    """Load a configuration, inventory, profile and web configuration that use every section."""
    (tmp_path / "targets").mkdir()
    (tmp_path / "profiles").mkdir()
    (tmp_path / "tps-exporter.yml").write_text(CONFIG)
    (tmp_path / "targets" / "natuna.yaml").write_text(INVENTORY)
    (tmp_path / "profiles" / "doc.yaml").write_text(PROFILE)
    (tmp_path / "auth.secret").write_text("auth-secret-1\n")
    monkeypatch.setenv("TPS_DOC_COMMUNITY", "public-doc")
    monkeypatch.setenv("TPS_DOC_PRIV", "priv-secret-1")
    certs = make_certificates(tmp_path)
    digest = bcrypt.hashpw(b"kpu-noc-2029", bcrypt.gensalt(4)).decode()
    (tmp_path / "web.yml").write_text(
        f"tls_server_config:\n  cert_file: {certs.cert.name}\n  key_file: {certs.key.name}\n"
        f"  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {certs.ca.name}\n"
        "  min_version: TLS12\n  max_version: TLS13\n"
        "http_server_config:\n  headers: {Strict-Transport-Security: max-age=31536000}\n"
        f"basic_auth_users:\n  prometheus: '{digest}'\n"
    )
    records: list[Seen] = []
    original = Reader.mapping

    def watched(
        self: Reader, node: Node, path: str, allowed: object, required: object = ()
    ) -> object:
        allowed = tuple(allowed)  # type: ignore[arg-type]
        caller = sys._getframe(1)
        records.append(Seen(caller.f_code.co_filename, caller.f_lineno, path, allowed))
        return original(self, node, path, allowed, required)  # type: ignore[arg-type]

    monkeypatch.setattr(Reader, "mapping", watched)
    # Both must load cleanly: a fixture with mistakes would document mistakes.
    config, inventory = load(tmp_path / "tps-exporter.yml")
    assert len(inventory.sites) == 1 and "doc" in config.profiles
    assert load_web_config(tmp_path / "web.yml").tls is not None
    return records


def normalize(records: list[Seen], sites: list[CallSite]) -> Iterator[tuple[str, Seen]]:
    """Yield each schema mapping's key path as the page writes it: `sites[].province`."""
    by_line = {(s.file, line): s for s in sites for line in range(s.first, s.last + 1)}
    named: set[str] = set()  # paths whose children are names the operator chose
    for record in records:
        site = by_line[(record.file, record.line)]
        out = ""
        for written in record.path.split(".") if record.path else ():
            part = "<name>" if out in named else re.sub(r"\[\d+\]", "[]", written)
            out = f"{out}.{part}" if out else part
        if site.names:
            named.add(out)
        else:
            yield out, record


def canonical(path: str) -> str:
    """Return the path the page documents a key under: SAME_KEYS_AS for the keys inside."""
    for alias, target in SAME_KEYS_AS.items():
        if path.startswith(alias + "."):
            return target + path[len(alias) :]
    return path


def documented() -> dict[str, str]:
    """Return each key or flag the page has a table row for, with its default cell."""
    rows = re.findall(r"^\| `([^`]+)` \|([^|]*)\|", DOC.read_text(encoding="utf-8"), re.M)
    return {key: default.strip() for key, default in rows}


def accepted_keys(seen: list[Seen]) -> set[str]:
    """Return every key path the loaders accepted while reading the full fixture."""
    keys: set[str] = set()
    for path, record in normalize(seen, call_sites()):
        keys.update(canonical(f"{path}.{key}" if path else key) for key in record.allowed)
    return keys


def test_every_mapping_in_the_code_was_read(seen: list[Seen]) -> None:
    reached = {(r.file, r.line) for r in seen}
    missed = [
        f"{Path(s.file).relative_to(ROOT)}:{s.first}"
        for s in call_sites()
        if not any((s.file, line) in reached for line in range(s.first, s.last + 1))
    ]
    assert not missed, f"extend the fixture files so these are read: {missed}"


def test_every_accepted_key_is_documented(seen: list[Seen]) -> None:
    missing = sorted(accepted_keys(seen) - set(documented()))
    assert not missing, f"add these keys to {DOC.name}: {missing}"


def test_every_documented_key_is_accepted(seen: list[Seen]) -> None:
    keys = {k for k in documented() if not k.startswith("--")}
    stale = sorted(keys - accepted_keys(seen))
    assert not stale, f"{DOC.name} documents keys no loader accepts: {stale}"


def test_defaults_on_the_page_are_the_loaders() -> None:
    config = load_config(None)
    election = config.election
    expected = {
        "icmp.interval": config.icmp.interval,
        "icmp.timeout": config.icmp.timeout,
        "icmp.count": config.icmp.count,
        "icmp.spacing": config.icmp.spacing,
        "icmp.max_loss_ratio": config.icmp.max_loss_ratio,
        "icmp.max_rtt": config.icmp.max_rtt,
        "state.down_after": config.state.down_after,
        "state.window": config.state.window,
        "resolver.refresh_interval": config.resolver.refresh_interval,
        "resolver.timeout": config.resolver.timeout,
        "snmp.defaults.interval": config.snmp.interval,
        "snmp.defaults.timeout": config.snmp.timeout,
        "snmp.defaults.retries": config.snmp.retries,
        "snmp.defaults.port": config.snmp.port,
        "snmp.defaults.max_repetitions": config.snmp.max_repetitions,
        "snmp.max_concurrent": config.snmp_max_concurrent,
        "snmp.defaults.walk_max_rows": config.snmp.walk_max_rows,
        "snmp.defaults.walk_max_values": config.snmp.walk_max_values,
        "snmp.defaults.walk_max_bytes": config.snmp.walk_max_bytes,
        "snmp.defaults.walk_max_duration": config.snmp.walk_max_duration,
        "reload.max_drop_ratio": config.reload_max_drop_ratio,
        "election.run_up": election.run_up_days * 86400,
        "election.recap": election.recap_days * 86400,
    }
    rows = documented()
    for key, value in expected.items():
        written = rows[key].strip("`")
        assert parse_duration(written) == value, f"{key}: the page says {written}, not {value}"
    assert rows["election.voting_hours.start"] == f"`{election.voting_start:%H:%M}`"
    assert rows["election.voting_hours.end"] == f"`{election.voting_end:%H:%M}`"
    assert election.counting_end is None and rows["election.counting_until"] == "`24:00`"


def flags() -> Iterator[argparse.Action]:
    """Yield every option of the command line and of each of its commands."""
    parsers = [build_parser()]
    while parsers:
        parser = parsers.pop()
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                parsers.extend(action.choices.values())
            elif action.option_strings and action.dest != "help":
                yield action


def test_every_flag_is_documented_with_its_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TPS_AREAS", raising=False)
    monkeypatch.delenv("PROMETHEUS_URL", raising=False)
    rows = documented()
    for action in flags():
        name = max(action.option_strings, key=len)
        assert name in rows, f"add {name} to {DOC.name}"
        default = action.default
        if default == argparse.SUPPRESS or isinstance(default, bool):
            continue
        if isinstance(default, str | int | Path):
            # `$VAR, else X` rows name the variable first and the built-in default after it.
            assert f"`{default}`" in rows[name], f"{name}: the page says {rows[name]!r}"


def test_every_command_and_flag_says_what_it_is_for() -> None:
    parsers = [build_parser()]
    while parsers:
        parser = parsers.pop()
        assert parser.description, f"{parser.prog} has no description"
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                parsers.extend(action.choices.values())
            else:
                assert action.help, f"{parser.prog} {action.option_strings or action.dest}"
