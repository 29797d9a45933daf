"""The lab's link emulator: the echo replies it builds and the damage it does to SNMP replies."""

from __future__ import annotations

import struct

import pytest

from exporter.pollers.icmp_wire import checksum
from exporter.pollers.snmp_ber import BerError, decode_response, peek_request_id
from lab.link import OVERSIZE, damage, echo_reply
from tests.fakes import pysnmp_response


def test_an_echo_request_becomes_a_reply_with_a_valid_checksum() -> None:
    body = struct.pack("!HH", 0x1234, 7) + b"payload-of-the-probe"
    request = b"\x08\x00" + struct.pack("!H", checksum(b"\x08\x00\x00\x00" + body)) + body
    reply = echo_reply(request)
    assert reply is not None and reply[0] == 0 and reply[4:] == body
    assert checksum(reply) == 0  # a correct checksum sums to zero
    assert echo_reply(b"\x00" + request[1:]) is None  # a reply is not answered
    assert echo_reply(request[:6]) is None


def test_every_damage_mode_breaks_a_reply_the_way_it_says() -> None:
    good = pysnmp_response([], request_id=41, version=1, community=b"tps-lab")
    older = pysnmp_response([], request_id=40, version=1, community=b"tps-lab")
    assert decode_response(good).request_id == 41
    for mode in ("malformed", "truncated", "oversized"):
        with pytest.raises(BerError):
            decode_response(damage(good, mode, older))
    # The id can still be read from a damaged reply: its request fails at once, not at timeout.
    assert peek_request_id(damage(good, "malformed", None)) == 41
    assert len(damage(good, "oversized", None)) == len(good) + OVERSIZE
    assert decode_response(damage(good, "wrong_id", older)).request_id == 40
    assert damage(good, "pass", older) == good
