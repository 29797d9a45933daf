"""Ping any number of devices through one shared ICMP socket per address family."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import heapq
import ipaddress
import logging
import os
import socket
import struct
import time
import typing
from dataclasses import dataclass, field
from typing import Literal

from exporter.pollers import icmp_wire
from exporter.pollers.icmp_wire import Answer
from exporter.pollers.results import Failure, PingResult

log = logging.getLogger(__name__)

SocketMode = Literal["auto", "dgram", "raw"]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_SOL_RAW = 255
_ICMP_FILTER = 1  # linux/icmp.h: a bitmask of ICMP types a raw socket does not receive
_ICMP6_FILTER = 1  # linux/icmpv6.h
_BUFFER_BYTES = 4 * 1024 * 1024
_READS_PER_WAKEUP = 256
# Planned echoes and deadlines run on one ticker: 2 ms is finer than any spacing or timeout
# worth setting, and a poll's RTT is measured from when its echo really left.
_TICK = 0.002

PERMISSION_HELP = """\
cannot open an ICMP socket: {error}
tps-exporter needs one of:
  - unprivileged ICMP sockets: sysctl -w net.ipv4.ping_group_range="0 2147483647"
    (covers the exporter's group; in a container: --sysctl net.ipv4.ping_group_range=...)
  - raw sockets: run as root, or grant CAP_NET_RAW
    (setcap cap_net_raw+ep on the Python binary, or in a container: --cap-add NET_RAW)"""


class IcmpPermissionError(RuntimeError):
    """Neither an unprivileged nor a raw ICMP socket can be opened."""


@dataclass(slots=True)
class _Probe:
    """The echoes of one poll in flight."""

    count: int
    timeout: float
    done: asyncio.Future[None]
    sent_at: list[float] = field(default_factory=list)
    rtts: list[float | None] = field(default_factory=list)
    outstanding: int = 0
    all_sent: bool = False
    failure: Failure | None = None
    detail: str = ""

    def answered(self, index: int, now: float, answer: Answer) -> None:
        """Record the answer to echo `index`, late replies counting as lost."""
        if index >= len(self.sent_at) or self.rtts[index] is not None:
            return
        rtt = now - self.sent_at[index]
        if answer is Answer.REPLY and rtt <= self.timeout:
            self.rtts[index] = rtt
        elif answer is not Answer.REPLY:
            self.failure = Failure(answer.value)
        self.outstanding -= 1
        self.finish_if_complete()

    def finish_if_complete(self) -> None:
        """Wake the poll once every echo sent has been answered."""
        if self.all_sent and self.outstanding <= 0 and not self.done.done():
            self.done.set_result(None)


class _FamilySocket:
    """One ICMP socket for one address family, and the echoes waiting on it."""

    def __init__(self, family: int, mode: SocketMode, ident: int, cookie: bytes) -> None:
        self.v6 = family == socket.AF_INET6
        self.sock, self.raw = _open(family, mode)
        self.family = family
        # Datagram sockets get their identifier from the kernel, which also filters for it.
        self.ident = ident if self.raw else 0
        self.builder = icmp_wire.EchoBuilder(ident, cookie, self.v6)
        self.cookie = cookie
        self.pending: dict[tuple[str, int], tuple[_Probe, int]] = {}

    def on_readable(self) -> None:
        """Drain the socket and match each reply to the echo it answers."""
        for _ in range(_READS_PER_WAKEUP):
            try:
                data, source = self.sock.recvfrom(2048)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. ECONNREFUSED queued on a datagram socket
                log.debug("icmp receive error: %s", exc)
                continue
            now = time.monotonic()
            parsed = icmp_wire.parse(data, self.v6, has_ip_header=self.raw and not self.v6,
                                     cookie=self.cookie)  # fmt: skip
            if parsed is None or (self.raw and parsed.ident != self.ident):
                continue
            target = parsed.target or source[0]
            waiting = self.pending.pop((target, parsed.seq), None)
            if waiting is not None:
                probe, index = waiting
                probe.answered(index, now, parsed.answer)

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()


class IcmpTransport:
    """Send echo requests to many devices through shared sockets and wait for the replies."""

    def __init__(self, mode: SocketMode = "auto") -> None:
        self.mode = mode
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sockets: dict[socket.AddressFamily, _FamilySocket] = {}
        self._unavailable: dict[socket.AddressFamily, str] = {}
        self._agenda: list[tuple[float, int, _Action]] = []
        self._counter = 0
        self._ticker: asyncio.TimerHandle | None = None
        self._ident = os.getpid() & 0xFFFF
        self._cookie = os.urandom(icmp_wire.COOKIE_SIZE)
        self._seq = 0

    def open(self) -> None:
        """Open the IPv4 socket (required) and the IPv6 socket (if the host has IPv6)."""
        self._loop = asyncio.get_running_loop()
        for family in (socket.AF_INET, socket.AF_INET6):
            try:
                fs = _FamilySocket(family, self.mode, self._ident, self._cookie)
            except OSError as exc:  # IcmpPermissionError is not one: it always propagates
                if family == socket.AF_INET:
                    raise
                self._unavailable[family] = str(exc)
                log.warning("IPv6 ICMP unavailable, IPv6 devices will fail: %s", exc)
                continue
            self._sockets[family] = fs
            self._loop.add_reader(fs.sock.fileno(), fs.on_readable)

    @property
    def socket_kinds(self) -> dict[str, str]:
        """Return which kind of socket each family uses: dgram or raw."""
        names = {socket.AF_INET: "ipv4", socket.AF_INET6: "ipv6"}
        return {names[f]: "raw" if s.raw else "dgram" for f, s in self._sockets.items()}

    def close(self) -> None:
        """Stop listening and close the sockets."""
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        for fs in self._sockets.values():
            if self._loop is not None:
                self._loop.remove_reader(fs.sock.fileno())
            fs.close()
        self._sockets.clear()

    async def ping(
        self, address: IPAddress, count: int, spacing: float, timeout: float
    ) -> PingResult:
        """Send `count` echoes `spacing` apart; wait until each is answered or `timeout` passes."""
        family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
        fs = self._sockets.get(family)
        host = str(address)
        if fs is None:
            reason = self._unavailable.get(family, "transport not open")
            return PingResult.failed(Failure.SEND_ERROR, reason, host)
        loop = self._loop
        assert loop is not None
        probe = _Probe(count, timeout, loop.create_future())
        keys: list[tuple[str, int]] = []
        start = loop.time()
        self._send(fs, host, probe, keys, count == 1)
        # Later echoes and the deadline go on the transport's agenda, not the loop's timers.
        for index in range(1, count):
            self._plan(start + index * spacing, (fs, host, probe, keys, index == count - 1))
        self._plan(start + (count - 1) * spacing + timeout, probe)
        try:
            await probe.done
        finally:
            if not probe.done.done():  # cancelled: make its planned echoes no-ops
                probe.done.cancel()
            for key in keys:
                fs.pending.pop(key, None)
        return _result(probe, host)

    def _plan(self, when: float, action: _Action) -> None:
        """Do `action` (send an echo, or expire a poll) at `when`, on the shared ticker."""
        self._counter += 1
        heapq.heappush(self._agenda, (when, self._counter, action))
        if self._ticker is None and self._loop is not None:
            self._ticker = self._loop.call_later(_TICK, self._tick)

    def _tick(self) -> None:
        """Run every planned action that is due; one wake-up serves every poll in flight."""
        assert self._loop is not None
        now = self._loop.time()
        agenda = self._agenda
        while agenda and agenda[0][0] <= now:
            action = heapq.heappop(agenda)[2]
            if isinstance(action, _Probe):
                _expire(action.done)
            else:
                self._send(*action)
        self._ticker = self._loop.call_later(_TICK, self._tick) if agenda else None

    def _send(
        self, fs: _FamilySocket, host: str, probe: _Probe, keys: list[tuple[str, int]], last: bool
    ) -> None:
        """Send one echo of a poll now; after the last, the poll ends once all are answered."""
        if probe.done.done() or probe.failure is Failure.SEND_ERROR:
            return
        self._seq = (self._seq + 1) & 0xFFFF
        key = (host, self._seq)
        fs.pending[key] = (probe, len(probe.sent_at))
        try:
            fs.sock.sendto(fs.builder.build(self._seq), (host, 0))
        except OSError as exc:  # BlockingIOError too: a full 4 MB send buffer is overload
            del fs.pending[key]
            probe.failure = Failure.SEND_ERROR
            probe.detail = exc.strerror or str(exc)
            probe.all_sent = True
            probe.finish_if_complete()
            return
        keys.append(key)
        probe.sent_at.append(time.monotonic())
        probe.rtts.append(None)
        probe.outstanding += 1
        if last:
            probe.all_sent = True
            probe.finish_if_complete()


_Action = typing.Union["_Probe", tuple["_FamilySocket", str, "_Probe", list[tuple[str, int]], bool]]


def _expire(done: asyncio.Future[None]) -> None:
    if not done.done():
        done.set_result(None)


def _result(probe: _Probe, host: str) -> PingResult:
    rtts = tuple(r for r in probe.rtts if r is not None)
    failure = None if rtts else (probe.failure or Failure.TIMEOUT)
    return PingResult(
        sent=len(probe.sent_at), rtts=rtts, failure=failure, address=host, detail=probe.detail
    )


def _open(family: int, mode: SocketMode) -> tuple[socket.socket, bool]:
    """Open an ICMP socket for a family: datagram if the kernel allows it, else raw."""
    proto = socket.IPPROTO_ICMPV6 if family == socket.AF_INET6 else socket.IPPROTO_ICMP
    errors: list[str] = []
    kinds = {"auto": (False, True), "dgram": (False,), "raw": (True,)}[mode]
    for raw in kinds:
        try:
            sock = socket.socket(family, socket.SOCK_RAW if raw else socket.SOCK_DGRAM, proto)
        except PermissionError as exc:
            errors.append(f"{'raw' if raw else 'datagram'} socket: {exc.strerror}")
            continue
        except OSError as exc:
            if exc.errno in (errno.EAFNOSUPPORT, errno.EPROTONOSUPPORT):
                raise
            errors.append(f"{'raw' if raw else 'datagram'} socket: {exc.strerror}")
            continue
        _tune(sock, family, raw)
        return sock, raw
    raise IcmpPermissionError(PERMISSION_HELP.format(error="; ".join(errors)))


def _tune(sock: socket.socket, family: int, raw: bool) -> None:
    """Make a socket non-blocking, give it large buffers, and filter what a raw one receives."""
    sock.setblocking(False)
    for option, forced in ((socket.SO_RCVBUF, 33), (socket.SO_SNDBUF, 32)):
        # SO_RCVBUFFORCE/SO_SNDBUFFORCE pass the sysctl cap when privileged.
        try:
            sock.setsockopt(socket.SOL_SOCKET, forced, _BUFFER_BYTES)
        except OSError:
            sock.setsockopt(socket.SOL_SOCKET, option, _BUFFER_BYTES)
    if not raw:
        return
    with contextlib.suppress(OSError):
        if family == socket.AF_INET:
            keep = (1 << 0) | (1 << 3) | (1 << 11)  # echo reply, unreachable, time exceeded
            sock.setsockopt(_SOL_RAW, _ICMP_FILTER, struct.pack("I", ~keep & 0xFFFFFFFF))
        else:
            blocked = [0xFFFFFFFF] * 8
            for kind in (icmp_wire.ECHO_REPLY_V6, *icmp_wire.ERRORS_V6):
                blocked[kind >> 5] &= ~(1 << (kind & 31))
            sock.setsockopt(socket.IPPROTO_ICMPV6, _ICMP6_FILTER, struct.pack("8I", *blocked))
