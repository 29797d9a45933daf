"""Property-based: no input crashes the inventory loader, the web config or the SNMP decoder;
each rejection is a clear error (a ConfigLoadError with file and line, or a BerError)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporter.exposition.webconfig import load_web_config
from exporter.inventory.load import load
from exporter.inventory.nodes import ConfigLoadError
from exporter.pollers.snmp_ber import BerError, Response, decode_response
from exporter.pollers.snmp_client import SnmpType, VarBind
from tests.fakes import pysnmp_response

# Keys the loaders know, so generated documents reach deep into them rather than stopping at
# the first unknown key.
KEYS = ["devices", "sites", "id", "name", "kind", "operator", "address", "family", "parent",
        "checks", "icmp", "snmp", "down_after", "province", "regency", "district", "village",
        "timezone", "latitude", "longitude", "power", "code", "interval", "timeout", "count",
        "spacing", "auth", "profiles", "wan", "port", "tls_server_config", "cert_file",
        "key_file", "basic_auth_users", "http_server_config", "headers", "min_version"]  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [
            "router",
            "bts",
            "vsat",
            "127.0.0.1",
            "::1",
            "21",
            "21.71",
            "2s",
            "-1ms",
            "icmp",
            "snmp",
            "TLS12",
            "$2y$10$" + "a" * 53,
            "",
            "\0",
            "🙂",
        ]
    ),
    st.text(max_size=20),
)
DOCUMENTS = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), children, max_size=5
        ),
    ),
    max_leaves=25,
)
# Shaped like the real files at the top, anything below: most of the tests reach past the
# first level instead of stopping at "must be a mapping".
ENTRIES = st.lists(st.dictionaries(st.sampled_from(KEYS), DOCUMENTS, max_size=6), max_size=3)
INVENTORIES = st.fixed_dictionaries({}, optional={"devices": ENTRIES, "sites": ENTRIES})
WEB_CONFIGS = st.dictionaries(
    st.sampled_from(["tls_server_config", "http_server_config", "basic_auth_users", "x"]),
    st.one_of(DOCUMENTS, st.dictionaries(st.sampled_from(KEYS), DOCUMENTS, max_size=4)),
    max_size=3,
)
FEW = settings(max_examples=150, deadline=None,
               suppress_health_check=[HealthCheck.too_slow])  # fmt: skip


def _dump(document: Any) -> str:
    return yaml.safe_dump(document, allow_unicode=True)


def _assert_clear(exc: ConfigLoadError) -> None:
    assert exc.errors
    for error in exc.errors:
        assert error.file and error.message, error  # every error names its file and says why


@FEW
@given(st.one_of(INVENTORIES, DOCUMENTS))
def test_no_inventory_document_crashes_the_loader(document: Any) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "inv.yaml").write_text(_dump(document))
        try:
            load(None, [Path(tmp)])
        except ConfigLoadError as exc:
            _assert_clear(exc)


@FEW
@given(st.text(max_size=300))
def test_no_text_crashes_the_loader(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "inv.yaml").write_text(text)
        try:
            load(None, [Path(tmp)])
        except ConfigLoadError as exc:
            _assert_clear(exc)


@FEW
@given(st.one_of(WEB_CONFIGS, DOCUMENTS))
def test_no_document_crashes_the_web_config(document: Any) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "web.yml"
        path.write_text(_dump(document))
        try:
            load_web_config(path)
        except ConfigLoadError as exc:
            _assert_clear(exc)


@settings(max_examples=2000, deadline=None)
@given(st.binary(max_size=300))
def test_no_datagram_crashes_the_snmp_decoder(data: bytes) -> None:
    try:
        assert isinstance(decode_response(data), Response)
    except BerError as exc:
        assert str(exc)


VALID = pysnmp_response(
    [
        VarBind("1.3.6.1.2.1.1.5.0", SnmpType.OCTETS, b"BTS Tanjung Pinang"),
        VarBind("1.3.6.1.2.1.2.2.1.10.3", SnmpType.COUNTER32, 4_000_000_000),
        VarBind("1.3.6.1.2.1.31.1.1.1.6.3", SnmpType.COUNTER64, 2**63),
        VarBind("1.3.6.1.2.1.1.2.0", SnmpType.OID, "1.3.6.1.4.1.14988.1"),
        VarBind("1.3.6.1.2.1.4.20.1.1.1", SnmpType.IP_ADDRESS, "10.0.0.1"),
        VarBind("1.3.6.1.2.1.1.9.0", SnmpType.NO_SUCH_INSTANCE, None),
    ]
)


@settings(max_examples=2000, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255)), max_size=6),
       st.integers(0, len(VALID)), st.binary(max_size=20))  # fmt: skip
def test_no_damaged_reply_crashes_the_snmp_decoder(
    flips: list[tuple[int, int]], cut: int, tail: bytes
) -> None:
    data = bytearray(VALID)
    for where, byte in flips:
        data[where] = byte
    try:
        decode_response(bytes(data[:cut]) + tail)
    except BerError as exc:
        assert str(exc)
