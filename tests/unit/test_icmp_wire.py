"""ICMP packets: checksums, echo requests, and matching replies and errors to our requests."""

from __future__ import annotations

import socket
import struct

from exporter.pollers import icmp_wire
from exporter.pollers.icmp_wire import Answer, EchoBuilder, checksum, parse

COOKIE = b"TPSXcook"


def ipv4_header(src: str, dst: str, payload_len: int) -> bytes:
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + payload_len, 0, 0, 64, 1, 0,
                       socket.inet_aton(src), socket.inet_aton(dst))  # fmt: skip


def test_checksum_of_a_request_verifies_to_zero() -> None:
    for seq in (0, 1, 255, 65535):
        packet = EchoBuilder(0x1234, COOKIE, v6=False).build(seq)
        assert checksum(packet) == 0, seq


def test_checksum_matches_rfc1071_example() -> None:
    # RFC 1071 section 3 example words: 0001 f203 f4f5 f6f7 sum to ddf2, complement 220d.
    assert checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0x220D
    assert checksum(b"\x01") == ~0x0100 & 0xFFFF  # odd length is padded


def test_v6_request_leaves_the_checksum_to_the_kernel() -> None:
    packet = EchoBuilder(7, COOKIE, v6=True).build(9)
    assert packet[0] == icmp_wire.ECHO_REQUEST_V6
    assert packet[2:4] == b"\0\0"
    assert struct.unpack("!HH", packet[4:8]) == (7, 9)


def test_reply_with_and_without_ip_header() -> None:
    request = EchoBuilder(0x4242, COOKIE, v6=False).build(17)
    reply = bytes([icmp_wire.ECHO_REPLY_V4]) + request[1:]
    parsed = parse(reply, v6=False, has_ip_header=False, cookie=COOKIE)
    assert parsed == icmp_wire.Parsed(Answer.REPLY, 0x4242, 17, None)
    with_header = ipv4_header("127.0.0.9", "127.0.0.1", len(reply)) + reply
    assert parse(with_header, v6=False, has_ip_header=True, cookie=COOKIE) == parsed


def test_foreign_replies_and_requests_are_ignored() -> None:
    request = EchoBuilder(1, b"otherpkt", v6=False).build(1)
    reply = bytes([icmp_wire.ECHO_REPLY_V4]) + request[1:]
    assert parse(reply, v6=False, has_ip_header=False, cookie=COOKIE) is None
    ours = EchoBuilder(1, COOKIE, v6=False).build(1)  # our own request looped back
    assert parse(ours, v6=False, has_ip_header=False, cookie=COOKIE) is None
    assert parse(b"\0\0", v6=False, has_ip_header=False, cookie=COOKIE) is None
    assert parse(b"\x45" + b"\0" * 10, v6=False, has_ip_header=True, cookie=COOKIE) is None


def test_unreachable_v4_quotes_our_request() -> None:
    request = EchoBuilder(0x0BAD, COOKIE, v6=False).build(300)
    quoted = ipv4_header("198.18.0.1", "198.18.0.2", len(request)) + request[:8]
    error = struct.pack("!BBHI", 3, 1, 0, 0) + quoted
    packet = ipv4_header("198.18.0.1", "198.18.0.1", len(error)) + error
    parsed = parse(packet, v6=False, has_ip_header=True, cookie=COOKIE)
    assert parsed == icmp_wire.Parsed(Answer.UNREACHABLE, 0x0BAD, 300, "198.18.0.2")


def test_time_exceeded_v6_quotes_our_request() -> None:
    request = EchoBuilder(5, COOKIE, v6=True).build(6)
    inner = struct.pack("!IHBB16s16s", 0x60000000, len(request), 58, 1,
                        socket.inet_pton(socket.AF_INET6, "2001:db8::1"),
                        socket.inet_pton(socket.AF_INET6, "2001:db8::2"))  # fmt: skip
    error = struct.pack("!BBHI", 3, 0, 0, 0) + inner + request[:8]
    parsed = parse(error, v6=True, has_ip_header=False, cookie=COOKIE)
    assert parsed == icmp_wire.Parsed(Answer.TIME_EXCEEDED, 5, 6, "2001:db8::2")


def test_truncated_errors_are_ignored() -> None:
    error = struct.pack("!BBHI", 3, 1, 0, 0) + b"\x45\0\0"
    assert parse(error, v6=False, has_ip_header=False, cookie=COOKIE) is None
    assert parse(struct.pack("!BBHI", 1, 0, 0, 0), v6=True, has_ip_header=False,
                 cookie=COOKIE) is None  # fmt: skip
