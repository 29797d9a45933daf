"""The lab's link emulator: answers echoes late and relays SNMP with delay or damage.

This kernel has no netem, so latency is made in user space. One process serves every site: for
each site's namespace it opens a raw ICMP socket (the kernel's own echo reply is switched off
there while a delay is set) and a UDP socket on port 161 that relays to the site's agent on the
namespace's loopback. Loss is not made here but by nftables, before packets reach us.

Run as root: `python -m lab.link` reads the sites as one JSON line on stdin, prints `ready`,
then takes one JSON command a line ({"site": NAME, "delay": SECONDS} or {"site": NAME,
"snmp": MODE}) and answers `ok` to each.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import signal
import socket
import struct
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field

from exporter.pollers.icmp_wire import checksum

CLONE_NEWNET = 0x40000000
IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)
SNMP_MODES = ("pass", "drop", "malformed", "truncated", "wrong_id", "oversized")
OVERSIZE = 60_000  # bytes of junk after a valid reply: near the largest UDP datagram
_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))


@contextlib.contextmanager
def inside(namespace: str) -> Iterator[None]:
    """Run the block in a named network namespace: sockets made there stay there."""
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{namespace}", os.O_RDONLY)
    try:
        _setns(target)
        yield
    finally:
        _setns(home)
        os.close(target)
        os.close(home)


def echo_reply(icmp: bytes) -> bytes | None:
    """Return the echo reply for an ICMP echo request, or None for any other message."""
    if len(icmp) < 8 or icmp[0] != 8 or icmp[1] != 0:
        return None
    body = b"\0\0\0\0" + icmp[4:]
    return b"\0\0" + struct.pack("!H", checksum(body)) + icmp[4:]


def damage(reply: bytes, mode: str, previous: bytes | None) -> bytes:
    """Return what an agent in `mode` sends instead of a good reply."""
    if mode == "malformed":  # not a SEQUENCE at all
        return b"\x31" + reply[1:]
    if mode == "truncated":
        return reply[: len(reply) // 2]
    if mode == "wrong_id":  # a stale reply: another request's id
        return previous if previous is not None and previous != reply else reply[: len(reply) - 1]
    if mode == "oversized":
        return reply + b"\0" * OVERSIZE
    return reply


def _from(address: bytes) -> list[tuple[int, int, bytes]]:
    """Return the ancillary data that sends a datagram from `address` (4 bytes)."""
    return [(socket.IPPROTO_IP, IP_PKTINFO, struct.pack("I4s4s", 0, address, b"\0\0\0\0"))]


def _destination(ancillary: list[tuple[int, int, bytes]]) -> bytes | None:
    for level, kind, data in ancillary:
        if level == socket.IPPROTO_IP and kind == IP_PKTINFO and len(data) >= 12:
            return data[8:12]  # ipi_addr: where the datagram was sent
    return None


@dataclass
class SiteLink:
    """One site's emulated link: its delay, its agent's behaviour, and its sockets."""

    name: str
    agent_port: int
    delay: float = 0.0
    snmp: str = "pass"
    icmp: socket.socket | None = None
    udp: socket.socket | None = None
    upstream: dict[tuple[str, int], socket.socket] = field(default_factory=dict)
    previous: dict[tuple[str, int], bytes] = field(default_factory=dict)

    def open(self, loop: asyncio.AbstractEventLoop) -> None:
        """Open the site's sockets inside its namespace and start serving them."""
        with inside(self.name):
            self.icmp = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
            self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.udp.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
            self.udp.bind(("0.0.0.0", 161))
        for sock in (self.icmp, self.udp):
            sock.setblocking(False)
        loop.add_reader(self.icmp, self._on_icmp, loop)
        loop.add_reader(self.udp, self._on_request, loop)

    def _on_icmp(self, loop: asyncio.AbstractEventLoop) -> None:
        assert self.icmp is not None
        while True:
            try:
                packet, _ = self.icmp.recvfrom(65535)
            except BlockingIOError:
                return
            if self.delay <= 0:  # the kernel answers when there is no delay
                continue
            header = (packet[0] & 0x0F) * 4
            reply = echo_reply(packet[header:])
            if reply is not None:
                source, destination = socket.inet_ntoa(packet[12:16]), packet[16:20]
                loop.call_later(self.delay, self._send_icmp, reply, destination, source)

    def _send_icmp(self, reply: bytes, source: bytes, to: str) -> None:
        assert self.icmp is not None
        with contextlib.suppress(OSError):  # the link may be down by now
            self.icmp.sendmsg([reply], _from(source), 0, (to, 0))

    def _on_request(self, loop: asyncio.AbstractEventLoop) -> None:
        assert self.udp is not None
        while True:
            try:
                data, ancillary, _flags, peer = self.udp.recvmsg(65535, 256)
            except BlockingIOError:
                return
            if self.snmp == "drop":
                continue
            local = _destination(ancillary) or b"\0\0\0\0"
            upstream = self.upstream.get(peer)
            if upstream is None:
                upstream = self._open_upstream(loop, peer, local)
            with contextlib.suppress(OSError):
                upstream.send(data)

    def _open_upstream(
        self, loop: asyncio.AbstractEventLoop, peer: tuple[str, int], local: bytes
    ) -> socket.socket:
        """Open a socket to the agent for one manager, so its replies find their way back."""
        with inside(self.name):
            upstream = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        upstream.setblocking(False)
        upstream.connect(("127.0.0.1", self.agent_port))
        self.upstream[peer] = upstream
        loop.add_reader(upstream, self._on_reply, loop, upstream, peer, local)
        return upstream

    def _on_reply(
        self,
        loop: asyncio.AbstractEventLoop,
        upstream: socket.socket,
        peer: tuple[str, int],
        local: bytes,
    ) -> None:
        while True:
            try:
                reply = upstream.recv(65535)
            except (BlockingIOError, ConnectionRefusedError):
                return
            sent = damage(reply, self.snmp, self.previous.get(peer))
            self.previous[peer] = reply
            if self.delay > 0:
                loop.call_later(self.delay, self._send_udp, sent, local, peer)
            else:
                self._send_udp(sent, local, peer)

    def _send_udp(self, data: bytes, source: bytes, peer: tuple[str, int]) -> None:
        assert self.udp is not None
        with contextlib.suppress(OSError):
            self.udp.sendmsg([data], _from(source), 0, peer)

    def close(self) -> None:
        """Close every socket of the site."""
        for sock in (self.icmp, self.udp, *self.upstream.values()):
            if sock is not None:
                sock.close()


def apply(links: dict[str, SiteLink], command: dict[str, object]) -> None:
    """Change one site's delay or SNMP behaviour."""
    link = links[str(command["site"])]
    if "delay" in command:
        link.delay = float(command["delay"])  # type: ignore[arg-type]
    if "snmp" in command:
        mode = str(command["snmp"])
        if mode not in SNMP_MODES:
            raise ValueError(f"unknown SNMP mode {mode!r}; expected one of {SNMP_MODES}")
        link.snmp = mode


async def serve() -> None:
    """Serve the sites read from stdin until stdin closes."""
    loop = asyncio.get_running_loop()
    spec = json.loads(sys.stdin.readline())
    links = {s["name"]: SiteLink(s["name"], int(s["agent_port"])) for s in spec["sites"]}
    for link in links.values():
        link.open(loop)
    print("ready", flush=True)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        try:
            apply(links, json.loads(line))
            print("ok", flush=True)
        except (KeyError, ValueError) as exc:
            print(f"error {exc}", flush=True)
    for link in links.values():
        link.close()


if __name__ == "__main__":
    # A Ctrl-C reaches the whole process group: the lab that started this stops it (by
    # closing stdin) once it no longer needs it, not before.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    asyncio.run(serve())
