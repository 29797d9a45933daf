"""Real SNMP agents on loopback for tests: snmpsim serving the recordings, and net-snmp's snmpd."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lab.agents import Agent, free_udp_port, snmpsim, wait_until_answering
from lab.sites import stop_process

__all__ = ["SNMPD_COMMUNITY", "SNMPD_USERS", "Agent", "snmpd", "snmpsim"]

SNMPD_COMMUNITY = "tps-lab-community"
SNMPD_USERS = {  # user: (auth protocol, auth password, priv protocol, priv password)
    "tpssha": ("SHA", "authpass-sha1", "AES", "privpass-aes1"),
    "tpssha256": ("SHA-256", "authpass-sha256", "AES-256", "privpass-aes256"),
}


@contextmanager
def snmpd() -> Iterator[Agent]:
    """Run net-snmp's snmpd on loopback with a v2c community and SNMPv3 users."""
    binary = shutil.which("snmpd") or "/usr/sbin/snmpd"
    work = Path(tempfile.mkdtemp(prefix="tps-snmpd-"))
    port = free_udp_port()
    users = "".join(
        f'createUser {u} {a} "{ap}" {p} "{pp}"\nrouser {u} priv\n'
        for u, (a, ap, p, pp) in SNMPD_USERS.items()
    )
    (work / "snmpd.conf").write_text(
        f"agentAddress udp:127.0.0.1:{port}\n"
        f"rocommunity {SNMPD_COMMUNITY} 127.0.0.1\n{users}"
        "dontLogTCPWrappersConnects yes\n"  # else a log line per request
    )
    env = {**os.environ, "SNMP_PERSISTENT_DIR": str(work / "persist"), "MIBS": ""}
    log = work / "snmpd.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [binary, "-f", "-Lo", "-C", "-c", str(work / "snmpd.conf"), "-p", str(work / "pid")],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        wait_until_answering(port, SNMPD_COMMUNITY)
        yield Agent(port, log)
    finally:
        stop_process(process)
        shutil.rmtree(work, ignore_errors=True)
