"""BER for SNMPv1/v2c messages: requests out, responses in, and nothing else of ASN.1.

A focused codec for the hot path (GET, GETNEXT, GETBULK over a community); SNMPv3 stays on
pysnmp. Decoding is strict: every length is checked against its enclosing one, so a truncated,
oversized or malformed reply is a `BerError`, never an IndexError or a wrong value.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from exporter.pollers.snmp_client import SnmpType, VarBind

GET, GETNEXT, RESPONSE, GETBULK, REPORT = 0xA0, 0xA1, 0xA2, 0xA5, 0xA8
_SEQUENCE, _INTEGER, _OCTETS, _NULL, _OID, _COUNTER64 = 0x30, 0x02, 0x04, 0x05, 0x06, 0x46
_TYPES = {
    0x02: SnmpType.INTEGER, 0x04: SnmpType.OCTETS, 0x05: SnmpType.NULL, 0x06: SnmpType.OID,
    0x40: SnmpType.IP_ADDRESS, 0x41: SnmpType.COUNTER32, 0x42: SnmpType.GAUGE32,
    0x43: SnmpType.TIMETICKS, 0x44: SnmpType.OPAQUE, 0x46: SnmpType.COUNTER64,
    0x47: SnmpType.GAUGE32,  # UInteger32 (RFC 1442), read as Unsigned32 like pysnmp does
    0x80: SnmpType.NO_SUCH_OBJECT, 0x81: SnmpType.NO_SUCH_INSTANCE,
    0x82: SnmpType.END_OF_MIB_VIEW,
}  # fmt: skip
_UNSIGNED = frozenset({0x41, 0x42, 0x43, 0x46, 0x47})
_MAX_UNSIGNED = {0x41: 2**32 - 1, 0x42: 2**32 - 1, 0x43: 2**32 - 1, 0x46: 2**64 - 1,
                 0x47: 2**32 - 1}  # fmt: skip
_EMPTY = frozenset({0x05, 0x80, 0x81, 0x82})
_OID_TEXT: dict[bytes, str] = {}
_OID_TEXT_LIMIT = 50_000
_MAX_ARCS = 128  # sub-identifiers in an OID (RFC 2578 section 3.5)
_MAX_ARC = 2**32 - 1
_MAX_ARC_BYTES = 5  # base-128 digits of a 32-bit number
_MAX_OID_BYTES = _MAX_ARCS * _MAX_ARC_BYTES


class BerError(ValueError):
    """A message that is not a well-formed SNMPv1/v2c response."""


@dataclass(frozen=True, slots=True)
class Response:
    """A decoded Response-PDU; `oids` holds each varbind's name as BER bytes, for ordering."""

    version: int
    community: bytes
    request_id: int
    error_status: int
    error_index: int
    varbinds: list[VarBind]
    oids: list[bytes]
    size: int = 0  # bytes of the whole message, for a poll's budget


# ---------------------------------------------------------------- encoding


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(body),)) + body


def _tlv(tag: int, body: bytes) -> bytes:
    return bytes((tag,)) + _length(len(body)) + body


def _integer(value: int) -> bytes:
    return _tlv(_INTEGER, value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True))


@functools.lru_cache(maxsize=8192)
def encode_oid(oid: str) -> bytes:
    """Return the BER contents (no tag or length) of a dotted OID."""
    try:
        arcs = [int(part) for part in oid.strip(".").split(".")]
    except ValueError:
        raise BerError(f"not an OID: {oid!r}") from None
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] >= 40) or min(arcs) < 0:
        raise BerError(f"not an OID: {oid!r}")
    out = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        rest = arc >> 7
        while rest:
            chunk.append(0x80 | (rest & 0x7F))
            rest >>= 7
        out += bytes(reversed(chunk))
    return bytes(out)


@functools.lru_cache(maxsize=8192)
def _null_varbind(oid: str) -> bytes:
    return _tlv(_SEQUENCE, _tlv(_OID, encode_oid(oid)) + b"\x05\x00")


def encode_request(  # noqa: PLR0917 - the fields of the message, in its order
    version: int,
    community: bytes,
    pdu_type: int,
    request_id: int,
    oids: Sequence[str],
    max_repetitions: int = 0,
) -> bytes:
    """Return one request message; for GETBULK, every OID repeats (non-repeaters 0)."""
    varbinds = _tlv(_SEQUENCE, b"".join(_null_varbind(oid) for oid in oids))
    second, third = (0, max_repetitions) if pdu_type == GETBULK else (0, 0)
    pdu = _tlv(pdu_type, _integer(request_id) + _integer(second) + _integer(third) + varbinds)
    return _tlv(_SEQUENCE, _integer(version) + _tlv(_OCTETS, community) + pdu)


# ---------------------------------------------------------------- decoding


def _header(data: bytes, pos: int, end: int, whole: bool = True) -> tuple[int, int, int]:
    """Return (tag, start, stop) of the element at `pos`, which must end by `end` if `whole`."""
    if pos + 2 > end:
        raise BerError(f"truncated at byte {pos}")
    tag = data[pos]
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        size = length & 0x7F
        if size == 0 or size > 4:  # indefinite lengths are not allowed in SNMP
            raise BerError(f"bad length form at byte {pos - 1}")
        if pos + size > end:
            raise BerError(f"truncated length at byte {pos}")
        length = int.from_bytes(data[pos : pos + size], "big")
        pos += size
    if whole and pos + length > end:
        raise BerError(f"element at byte {pos} runs past its container")
    return tag, pos, min(pos + length, end)


def _expect(data: bytes, pos: int, end: int, tag: int, what: str) -> tuple[int, int]:
    got, start, stop = _header(data, pos, end)
    if got != tag:
        raise BerError(f"expected {what} at byte {pos}, found tag 0x{got:02x}")
    return start, stop


def _int_at(data: bytes, pos: int, end: int, what: str) -> tuple[int, int]:
    start, stop = _expect(data, pos, end, _INTEGER, what)
    if start == stop or stop - start > 9:
        raise BerError(f"bad {what} length {stop - start}")
    return int.from_bytes(data[start:stop], "big", signed=True), stop


def oid_after(raw: bytes, than: bytes) -> bool:
    """Return whether OID `raw` comes after OID `than` (both BER contents), numerically."""
    if max(raw, default=0) < 0x80 and max(than, default=0) < 0x80:
        return raw > than  # one byte per arc: byte order is arc order
    return _arcs(raw) > _arcs(than)  # 16383 is ff 7f, 16384 is 81 80 00: bytes misorder them


def _arcs(raw: bytes) -> tuple[int, ...]:
    """Return the numbers of an OID's BER contents, each arc in base 128.

    Linear and bounded: SNMP allows 128 sub-identifiers of 32 bits each (RFC 2578), so a longer
    OID or a wider arc is an error here, not a big number to build and print.
    """
    if len(raw) > _MAX_OID_BYTES:
        raise BerError(f"OID of {len(raw)} bytes (at most {_MAX_OID_BYTES})")
    arcs: list[int] = []
    value = 0
    width = 0
    for byte in raw:
        if width == 0 and byte == 0x80:
            raise BerError("OID arc with a leading zero byte")
        value = (value << 7) | (byte & 0x7F)
        width += 1
        if width > _MAX_ARC_BYTES:
            raise BerError("OID arc wider than 32 bits")
        if byte < 0x80:
            arcs.append(value)
            value = width = 0
    if len(arcs) >= _MAX_ARCS or (len(arcs) > 1 and max(arcs[1:]) > _MAX_ARC):
        raise BerError("OID with more than 128 sub-identifiers or one above 4294967295")
    if arcs and arcs[0] > _MAX_ARC + 80:
        raise BerError("OID whose first sub-identifiers are too large")
    return tuple(arcs)


def oid_text(raw: bytes) -> str:
    """Return the dotted text of an OID's BER contents."""
    if not raw or raw[-1] & 0x80:
        raise BerError("truncated OID")
    if max(raw) < 0x80:  # every arc below 128: the common case, one byte per arc
        if len(raw) >= _MAX_ARCS:  # the first byte holds two sub-identifiers
            raise BerError("OID with more than 128 sub-identifiers")
        first = raw[0]
        head = f"{first // 40}.{first % 40}" if first < 80 else f"2.{first - 80}"
        return head + "".join(f".{b}" for b in raw[1:]) if len(raw) > 1 else head
    arcs = _arcs(raw)
    first = arcs[0]
    numbers = [first // 40, first % 40] if first < 80 else [2, first - 80]
    return ".".join(map(str, [*numbers, *arcs[1:]]))


def _value(tag: int, body: bytes) -> int | bytes | str | None:
    if tag == _INTEGER:
        if not body or len(body) > 9:
            raise BerError(f"bad INTEGER length {len(body)}")
        return int.from_bytes(body, "big", signed=True)
    if tag in _UNSIGNED:
        # Unsigned, as net-snmp reads them: some agents drop the leading zero byte.
        if not body or len(body) > 9:
            raise BerError(f"bad unsigned length {len(body)}")
        number = int.from_bytes(body, "big")
        if number > _MAX_UNSIGNED[tag]:
            raise BerError(f"value {number} too large for tag 0x{tag:02x}")
        return number
    if tag in {_OCTETS, 0x44}:
        return body
    if tag == _OID:
        return oid_text(body)
    if tag == 0x40:
        if len(body) != 4:
            raise BerError(f"IpAddress of {len(body)} bytes")
        return ".".join(map(str, body))
    if tag in _EMPTY:
        if body:
            raise BerError(f"tag 0x{tag:02x} with contents")
        return None
    raise BerError(f"unknown value tag 0x{tag:02x}")


def decode_response(data: bytes) -> Response:
    """Decode a whole response message, or raise BerError saying what is wrong."""
    end = len(data)
    start, stop = _expect(data, 0, end, _SEQUENCE, "message")
    if stop != end:
        raise BerError(f"{end - stop} bytes after the message")
    version, pos = _int_at(data, start, stop, "version")
    c_start, pos = _expect(data, pos, stop, _OCTETS, "community")
    community = data[c_start:pos]
    pdu_tag, pos, pdu_stop = _header(data, pos, stop)
    if pdu_tag != RESPONSE:
        raise BerError(f"not a Response-PDU (tag 0x{pdu_tag:02x})")
    request_id, pos = _int_at(data, pos, pdu_stop, "request-id")
    error_status, pos = _int_at(data, pos, pdu_stop, "error-status")
    error_index, pos = _int_at(data, pos, pdu_stop, "error-index")
    pos, list_stop = _expect(data, pos, pdu_stop, _SEQUENCE, "varbind list")
    varbinds: list[VarBind] = []
    oids: list[bytes] = []
    while pos < list_stop:
        # The common shape, short lengths throughout, read inline; anything else the long way.
        if (
            pos + 4 <= list_stop
            and data[pos] == _SEQUENCE
            and data[pos + 1] < 0x80
            and data[pos + 2] == _OID
            and data[pos + 3] < 0x80
        ):
            vb_stop = pos + 2 + data[pos + 1]
            o_start = pos + 4
            o_stop = o_start + data[pos + 3]
            if vb_stop > list_stop or o_stop + 2 > vb_stop or data[o_stop + 1] >= 0x80:
                o_start, o_stop, tag, v_start, vb_stop = _varbind_at(data, pos, list_stop)
            else:
                tag, v_start = data[o_stop], o_stop + 2
                if v_start + data[o_stop + 1] != vb_stop:
                    raise BerError(f"varbind at byte {pos}: value and varbind lengths disagree")
        else:
            o_start, o_stop, tag, v_start, vb_stop = _varbind_at(data, pos, list_stop)
        kind = _TYPES.get(tag)
        if kind is None:
            raise BerError(f"unknown value tag 0x{tag:02x} at byte {o_stop}")
        raw = data[o_start:o_stop]
        text = _OID_TEXT.get(raw)
        if text is None:
            text = _remember(raw)
        body = data[v_start:vb_stop]
        if tag == _OCTETS:
            value: int | bytes | str | None = body
        elif tag in _UNSIGNED and 0 < len(body) < 9:  # the counters and gauges, inline
            value = int.from_bytes(body, "big")
            if value > 0xFFFFFFFF and tag != _COUNTER64:
                value = _value(tag, body)  # says why it is wrong
        else:
            value = _value(tag, body)
        varbinds.append(VarBind(text, kind, value))
        oids.append(raw)
        pos = vb_stop
    return Response(version, community, request_id, error_status, error_index, varbinds, oids,
                    end)  # fmt: skip


def _varbind_at(data: bytes, pos: int, end: int) -> tuple[int, int, int, int, int]:
    """Return (name start, name stop, value tag, value start, varbind stop), any length form."""
    pos, vb_stop = _expect(data, pos, end, _SEQUENCE, "varbind")
    o_start, o_stop = _expect(data, pos, vb_stop, _OID, "name")
    tag, v_start, v_stop = _header(data, o_stop, vb_stop)
    if v_stop != vb_stop:
        raise BerError(f"extra bytes in the varbind at byte {o_stop}")
    return o_start, o_stop, tag, v_start, vb_stop


def _remember(raw: bytes) -> str:
    """Return an OID's text and keep it: a fleet of alike devices repeats the same OIDs."""
    text = oid_text(raw)
    if len(_OID_TEXT) >= _OID_TEXT_LIMIT:
        _OID_TEXT.clear()  # bounded: at worst a few MB, then start again
    _OID_TEXT[raw] = text
    return text


def peek_request_id(data: bytes) -> int | None:
    """Return a message's request-id if that much of it decodes, to blame a broken reply."""
    try:
        # The containers' lengths may be what is broken: only the fields read must be whole.
        _, start, stop = _header(data, 0, len(data), whole=False)
        _, pos = _int_at(data, start, stop, "version")
        _, pos = _expect(data, pos, stop, _OCTETS, "community")
        _, pos, pdu_stop = _header(data, pos, stop, whole=False)
        return _int_at(data, pos, pdu_stop, "request-id")[0]
    except BerError:
        return None
