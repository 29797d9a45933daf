"""The project's SNMPv1/v2c codec against pysnmp's encoder and decoder, and against broken input."""

from __future__ import annotations

import random
from typing import Any

import pytest
from pyasn1.codec.ber import decoder as ber_decoder
from pyasn1.codec.ber import encoder as ber_encoder
from pysnmp.proto import api, rfc1902

from exporter.pollers.snmp_ber import (
    GET,
    GETBULK,
    GETNEXT,
    BerError,
    decode_response,
    encode_oid,
    encode_request,
    oid_after,
    oid_text,
    peek_request_id,
)
from exporter.pollers.snmp_client import SnmpType, VarBind
from tests import snmp_expectations as ex
from tests.conftest import require
from tests.fakes import parse_snmprec, pysnmp_response


@pytest.mark.parametrize("name", sorted(ex.PROFILES))
def test_every_recorded_value_decodes_as_pysnmp_encodes_it(name: str) -> None:
    require(ex.RECORDINGS.is_dir(), "needs ../shared/snmprec")
    recorded = list(parse_snmprec((ex.RECORDINGS / f"{name}.snmprec").read_text()).values())
    assert len(recorded) > 20
    for start in range(0, len(recorded), 50):
        chunk = recorded[start : start + 50]
        response = decode_response(pysnmp_response(chunk, request_id=start + 1))
        assert response.request_id == start + 1
        assert response.community == b"tps-lab"
        assert response.varbinds == chunk
        assert [oid_text(raw) for raw in response.oids] == [vb.oid for vb in chunk]


def test_exceptions_and_edge_values_decode() -> None:
    varbinds = [
        VarBind("1.3.6.1.2.1.1.1.0", SnmpType.NO_SUCH_OBJECT, None),
        VarBind("1.3.6.1.2.1.1.2.0", SnmpType.NO_SUCH_INSTANCE, None),
        VarBind("1.3.6.1.2.1.1.3.0", SnmpType.END_OF_MIB_VIEW, None),
        VarBind("1.3.6.1.2.1.31.1.1.1.6.1", SnmpType.COUNTER64, 2**64 - 1),
        VarBind("1.3.6.1.2.1.2.2.1.10.1", SnmpType.COUNTER32, 2**32 - 1),
        VarBind("1.3.6.1.4.1.2.99", SnmpType.INTEGER, -(2**31)),
        VarBind("1.3.6.1.4.1.4294967295.1", SnmpType.GAUGE32, 0),
        VarBind("2.999.1", SnmpType.OID, "1.3.6.1.4.1.14988.1"),
        VarBind("1.3.6.1.4.1.1", SnmpType.OCTETS, bytes(range(256)) * 4),
        VarBind("1.3.6.1.4.1.2", SnmpType.IP_ADDRESS, "10.255.0.1"),
    ]
    assert decode_response(pysnmp_response(varbinds)).varbinds == varbinds


@pytest.mark.parametrize(
    ("version", "pdu_type"), [(0, GET), (0, GETNEXT), (1, GET), (1, GETNEXT), (1, GETBULK)]
)
def test_requests_are_byte_for_byte_what_pysnmp_encodes(version: int, pdu_type: int) -> None:
    oids = ["1.3.6.1.2.1.1.3.0", "1.3.6.1.2.1.2.2.1.10", "1.3.6.1.4.1.14988.1.1.1.3.1.4.1"]
    module = api.v1 if version == 0 else api.v2c
    pdu = {GET: module.GetRequestPDU, GETNEXT: module.GetNextRequestPDU}.get(pdu_type)
    pdu = pdu() if pdu else api.v2c.GetBulkRequestPDU()
    if pdu_type == GETBULK:
        api.v2c.apiBulkPDU.set_defaults(pdu)
        api.v2c.apiBulkPDU.set_max_repetitions(pdu, 25)
    else:
        module.apiPDU.set_defaults(pdu)
    module.apiPDU.set_request_id(pdu, 1_000_000_007)
    module.apiPDU.set_varbinds(pdu, [(rfc1902.ObjectName(o), module.Null("")) for o in oids])
    message = module.Message()
    module.apiMessage.set_defaults(message)
    module.apiMessage.set_community(message, b"public")
    module.apiMessage.set_pdu(message, pdu)
    theirs = bytes(ber_encoder.encode(message))
    ours = encode_request(version, b"public", pdu_type, 1_000_000_007, oids, 25)
    assert ours == theirs
    decoded, rest = ber_decoder.decode(ours, asn1Spec=module.Message())
    assert rest == b""
    assert str(module.apiMessage.get_community(decoded)) == "public"


def test_oid_round_trip_and_order() -> None:
    rng = random.Random(7)
    oids = ["0.0", "1.39", "2.40", "2.999.3", "1.3.6.1.4.1.4294967295"]
    for _ in range(2000):
        arcs = [rng.choice([0, 1, 2])]
        arcs.append(rng.randrange(40) if arcs[0] < 2 else rng.randrange(300))
        arcs += [rng.choice([0, 1, 127, 128, 129, 16383, 16384, rng.randrange(2**32)])
                 for _ in range(rng.randrange(0, 6))]  # fmt: skip
        oids.append(".".join(map(str, arcs)))
    for oid in oids:
        assert oid_text(encode_oid(oid)) == oid
        assert bytes(ber_encoder.encode(rfc1902.ObjectName(oid)))[2:] == encode_oid(oid)
    key = {o: tuple(int(p) for p in o.split(".")) for o in oids}
    for _ in range(5000):
        a, b = rng.choice(oids), rng.choice(oids)
        assert oid_after(encode_oid(a), encode_oid(b)) == (key[a] > key[b]), (a, b)
    assert oid_after(encode_oid("1.3.6.1.16384"), encode_oid("1.3.6.1.16383.5"))


@pytest.mark.parametrize("bad", ["", "1", "3.1", "1.40", "1.3.x", "1.-3"])
def test_bad_oids_are_refused(bad: str) -> None:
    with pytest.raises(BerError):
        encode_oid(bad)


def valid_reply() -> bytes:
    return pysnmp_response(
        [
            VarBind("1.3.6.1.2.1.1.5.0", SnmpType.OCTETS, b"BTS Belian"),
            VarBind("1.3.6.1.2.1.1.3.0", SnmpType.TIMETICKS, 123456),
            VarBind("1.3.6.1.2.1.4.20.1.1.1", SnmpType.IP_ADDRESS, "127.0.0.1"),
        ]
    )


def test_every_truncation_is_a_clear_error() -> None:
    data = valid_reply()
    for cut in range(len(data)):
        with pytest.raises(BerError):
            decode_response(data[:cut])


def test_random_corruption_never_raises_anything_but_a_clear_error() -> None:
    rng = random.Random(11)
    data = valid_reply()
    decoded = 0
    for _ in range(5000):
        broken = bytearray(data)
        for _ in range(rng.randrange(1, 4)):
            broken[rng.randrange(len(broken))] = rng.randrange(256)
        try:
            decode_response(bytes(broken))
            decoded += 1
        except BerError:
            pass
    assert 0 < decoded < 5000  # some flips hit only values; the rest must be refused cleanly


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d + b"\x00", "after the message"),
        (lambda d: d.replace(b"\xa2", b"\xa0", 1), "not a Response-PDU"),
        (lambda d: b"\x30\x80" + d[2:], "bad length form"),
        (lambda d: b"\x30\x84\xff\xff\xff\xff" + d[2:], "runs past"),
        (lambda d: d.replace(b"\x04\x0aBTS", b"\x40\x0aBTS"), "IpAddress of 10 bytes"),
        (lambda d: d.replace(b"\x04\x0aBTS", b"\x04\x0bBTS"), "lengths disagree"),
        (lambda d: d.replace(b"\x43\x03", b"\x49\x03"), "unknown value tag 0x49"),
    ],
)
def test_specific_malformations_are_named(mutate: Any, message: str) -> None:
    with pytest.raises(BerError, match=message):
        decode_response(mutate(valid_reply()))


def test_a_counter_beyond_its_range_is_refused() -> None:
    data = valid_reply().replace(b"\x43\x03\x01\xe2\x40", b"\x41\x05\x01\x00\x00\x00\x00")
    data = bytes([data[0], data[1] + 2]) + data[2:]
    with pytest.raises(BerError):
        decode_response(data)


def test_the_request_id_of_a_broken_reply_can_still_be_read() -> None:
    data = valid_reply()
    assert peek_request_id(data[:-3]) == 4242
    assert peek_request_id(b"\x30\x03\x02\x01") is None
