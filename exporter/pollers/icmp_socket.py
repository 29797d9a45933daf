"""Ping any number of devices through one shared ICMP socket per address family."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import logging
import math
import os
import socket
import struct
import time
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from exporter.pollers import icmp_wire
from exporter.pollers.icmp_wire import Answer
from exporter.pollers.results import Failure, PingResult
from exporter.pollers.sockets import enlarge

log = logging.getLogger(__name__)

SocketMode = Literal["auto", "dgram", "raw"]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_SOL_RAW = 255
_ICMP_FILTER = 1  # linux/icmp.h: a bitmask of ICMP types a raw socket does not receive
_ICMP6_FILTER = 1  # linux/icmpv6.h
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
    """The echoes of one poll in flight, and what to call when it ends."""

    count: int
    timeout: float
    host: str
    fs: _FamilySocket
    on_done: Callable[[PingResult], None]
    sent_at: list[float] = field(default_factory=list)
    rtts: list[float | None] = field(default_factory=list)
    keys: list[tuple[str, int]] = field(default_factory=list)
    outstanding: int = 0
    all_sent: bool = False
    finished: bool = False
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
        """End the poll once every echo sent has been answered."""
        if self.all_sent and self.outstanding <= 0:
            self.finish()

    def finish(self) -> None:
        """End the poll now (all answered, or its deadline): forget its echoes, report."""
        if self.finished:
            return
        self.cancel()
        rtts = tuple(r for r in self.rtts if r is not None)
        failure = None if rtts else (self.failure or Failure.TIMEOUT)
        self.on_done(PingResult(sent=len(self.sent_at), rtts=rtts, failure=failure,
                                address=self.host, detail=self.detail))  # fmt: skip

    def cancel(self) -> None:
        """Stop without reporting: planned echoes become no-ops."""
        self.finished = True
        for key in self.keys:
            self.fs.pending.pop(key, None)


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
        # Planned echoes and deadlines by ticker slot: O(1) to plan and to run, where a heap of
        # 300,000 entries cost more than the sends themselves.
        self._slots: dict[int, list[_Action]] = {}
        self._cursor = 0  # the next slot to run
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
        assert self._loop is not None
        done: asyncio.Future[PingResult] = self._loop.create_future()
        probe = self.start(address, count, spacing, timeout, lambda r: _settle(done, r))
        try:
            return await done
        finally:
            if probe is not None and not probe.finished:  # cancelled: forget its echoes
                probe.cancel()

    def start(
        self,
        address: IPAddress,
        count: int,
        spacing: float,
        timeout: float,
        on_done: Callable[[PingResult], None],
    ) -> _Probe | None:
        """Start a poll without a task: `on_done` gets its result when it ends."""
        family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
        fs = self._sockets.get(family)
        host = str(address)
        if fs is None:
            reason = self._unavailable.get(family, "transport not open")
            on_done(PingResult.failed(Failure.SEND_ERROR, reason, host))
            return None
        assert self._loop is not None
        probe = _Probe(count, timeout, host, fs, on_done)
        start = self._loop.time()
        self._send(probe, count == 1)
        # Later echoes and the deadline go on the transport's agenda, not the loop's timers.
        for index in range(1, count):
            self._plan(start + index * spacing, (probe, index == count - 1))
        self._plan(start + (count - 1) * spacing + timeout, probe)
        return probe

    def _plan(self, when: float, action: _Action) -> None:
        """Do `action` (send an echo, or expire a poll) at `when`, on the shared ticker."""
        assert self._loop is not None
        if self._ticker is None:  # idle until now: nothing before this moment is left to run
            self._cursor = int(self._loop.time() / _TICK)
            self._ticker = self._loop.call_later(_TICK, self._tick)
        slot = max(math.ceil(when / _TICK), self._cursor)  # never early
        actions = self._slots.get(slot)
        if actions is None:
            self._slots[slot] = [action]
        else:
            actions.append(action)

    def _tick(self) -> None:
        """Run every planned action that is due; one wake-up serves every poll in flight."""
        assert self._loop is not None
        now_slot = int(self._loop.time() / _TICK)
        slots = self._slots
        while self._cursor <= now_slot and slots:
            actions = slots.pop(self._cursor, None)
            self._cursor += 1
            for action in actions or ():
                if isinstance(action, _Probe):
                    action.finish()
                else:
                    self._send(*action)
        self._ticker = self._loop.call_later(_TICK, self._tick) if slots else None

    def _send(self, probe: _Probe, last: bool) -> None:
        """Send one echo of a poll now; after the last, the poll ends once all are answered."""
        if probe.finished or probe.failure is Failure.SEND_ERROR:
            return
        fs, host = probe.fs, probe.host
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
        probe.keys.append(key)
        probe.sent_at.append(time.monotonic())
        probe.rtts.append(None)
        probe.outstanding += 1
        if last:
            probe.all_sent = True
            probe.finish_if_complete()


_Action = typing.Union["_Probe", tuple["_Probe", bool]]


def _settle(done: asyncio.Future[PingResult], result: PingResult) -> None:
    if not done.done():
        done.set_result(result)


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
    enlarge(sock, socket.SO_RCVBUF)
    enlarge(sock, socket.SO_SNDBUF)
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
