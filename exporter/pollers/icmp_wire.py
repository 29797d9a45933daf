"""Build ICMP and ICMPv6 echo requests and recognise the replies and errors that answer them."""

from __future__ import annotations

import enum
import socket
import struct
from dataclasses import dataclass

ECHO_REQUEST_V4, ECHO_REPLY_V4 = 8, 0
ECHO_REQUEST_V6, ECHO_REPLY_V6 = 128, 129
# Errors that quote our request back to us, so they can be matched to it.
ERRORS_V4 = {3: "unreachable", 11: "time_exceeded"}
ERRORS_V6 = {1: "unreachable", 3: "time_exceeded"}

_HEADER = struct.Struct("!BBHHH")
COOKIE_SIZE = 8


class Answer(enum.Enum):
    """What an ICMP message says about one of our echo requests."""

    REPLY = "reply"
    UNREACHABLE = "unreachable"
    TIME_EXCEEDED = "time_exceeded"


@dataclass(frozen=True, slots=True)
class Parsed:
    """An ICMP message that answers an echo request: the target, identifier and sequence."""

    answer: Answer
    ident: int
    seq: int
    target: str | None  # set for errors: the address our request was sent to


def checksum(data: bytes) -> int:
    """Return the RFC 1071 Internet checksum of data."""
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


class EchoBuilder:
    """Make echo requests with a fixed cookie, updating the checksum cheaply per sequence."""

    def __init__(self, ident: int, cookie: bytes, v6: bool) -> None:
        if len(cookie) != COOKIE_SIZE:
            raise ValueError("cookie must be 8 bytes")
        self.ident = ident
        self.cookie = cookie
        self.v6 = v6
        self._type = ECHO_REQUEST_V6 if v6 else ECHO_REQUEST_V4
        # Sum of every 16-bit word but the sequence, so each packet needs one add and a fold.
        self._partial = sum(struct.unpack("!4H", cookie)) + (self._type << 8) + ident

    def build(self, seq: int) -> bytes:
        """Return an echo request for one sequence number."""
        if self.v6:
            # The kernel fills in the ICMPv6 checksum, which covers a pseudo-header we cannot see.
            return _HEADER.pack(self._type, 0, 0, self.ident, seq) + self.cookie
        total = self._partial + seq
        while total >> 16:
            total = (total & 0xFFFF) + (total >> 16)
        return _HEADER.pack(self._type, 0, ~total & 0xFFFF, self.ident, seq) + self.cookie


def parse(data: bytes, v6: bool, has_ip_header: bool, cookie: bytes) -> Parsed | None:
    """Return what a received ICMP message says about our echoes, or None if it is not ours."""
    if has_ip_header:
        if len(data) < 20:
            return None
        data = data[(data[0] & 0x0F) * 4 :]
    if len(data) < 8:
        return None
    kind, _code, _sum, ident, seq = _HEADER.unpack_from(data)
    if kind == (ECHO_REPLY_V6 if v6 else ECHO_REPLY_V4):
        if data[8 : 8 + COOKIE_SIZE] != cookie:
            return None
        return Parsed(Answer.REPLY, ident, seq, None)
    error = (ERRORS_V6 if v6 else ERRORS_V4).get(kind)
    if error is None:
        return None
    return _quoted_request(data[8:], v6, Answer(error))


def _quoted_request(quoted: bytes, v6: bool, answer: Answer) -> Parsed | None:
    """Return the echo request that an ICMP error quotes back: its target, id and sequence."""
    if v6:
        if len(quoted) < 48 or quoted[40] != ECHO_REQUEST_V6:
            return None
        target = socket.inet_ntop(socket.AF_INET6, quoted[24:40])
        _t, _c, _s, ident, seq = _HEADER.unpack_from(quoted, 40)
        return Parsed(answer, ident, seq, target)
    if len(quoted) < 20:
        return None
    ihl = (quoted[0] & 0x0F) * 4
    if len(quoted) < ihl + 8 or quoted[ihl] != ECHO_REQUEST_V4:
        return None
    target = socket.inet_ntop(socket.AF_INET, quoted[16:20])
    _t, _c, _s, ident, seq = _HEADER.unpack_from(quoted, ihl)
    return Parsed(answer, ident, seq, target)
