"""Real SNMP agents on loopback: snmpsim serving recordings, for the demo and the tests."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from exporter.inventory.model import Secret, SnmpAuth, SnmpVersion
from exporter.pollers.snmp_client import SnmpError, SnmpTarget
from exporter.pollers.snmp_udp import EngineClient
from lab.sites import stop_process


@dataclass(frozen=True)
class Agent:
    """A running agent: where it listens, and its log."""

    port: int
    log: Path


def free_udp_port() -> int:
    """Return a UDP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_answering(port: int, community: str, seconds: float = 30) -> None:
    """Block until an agent answers a GET of sysUpTime, or raise after `seconds`."""
    target = SnmpTarget(
        "127.0.0.1",
        port,
        SnmpAuth("probe", SnmpVersion.V2C, Secret(community)),
        timeout=0.5,
        retries=0,
        max_repetitions=10,
    )

    async def attempt() -> bool:
        client = EngineClient()
        try:
            await client.get(target, ["1.3.6.1.2.1.1.3.0"])
            return True
        except SnmpError:
            return False
        finally:
            client.close()

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if asyncio.run(attempt()):
            return
        time.sleep(0.2)
    raise TimeoutError(f"no SNMP agent answered on 127.0.0.1:{port}")


@contextmanager
def snmpsim(recordings: Path) -> Iterator[Agent]:
    """Serve every recording under its own community (the file's name) on a loopback port."""
    responder = Path(sys.executable).parent / "snmpsim-command-responder"
    work = Path(tempfile.mkdtemp(prefix="tps-snmpsim-"))
    data = work / "data"
    data.mkdir()
    for path in recordings.glob("*.snmprec"):
        shutil.copy(path, data / path.name)
    port = free_udp_port()
    command = [
        str(responder),
        f"--data-dir={data}",
        f"--cache-dir={work / 'cache'}",
        f"--agent-udpv4-endpoint=127.0.0.1:{port}",
        # It logs every request otherwise: hundreds of MB and much more CPU.
        "--logging-method=null",
    ]
    if os.geteuid() == 0:
        # snmpsim refuses to run as root unless told which user to be; staying root keeps
        # its data readable wherever the checkout is.
        command += ["--process-user=root", "--process-group=root"]
    log = work / "snmpsim.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until_answering(port, "riello")
        yield Agent(port, log)
    finally:
        stop_process(process)
        shutil.rmtree(work, ignore_errors=True)
