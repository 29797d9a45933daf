"""`make demo`: the chain comes up, a TPS goes down and back, alerts follow, Ctrl-C ends all."""

from __future__ import annotations

import json
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import pytest

from lab.sites import sh
from tests.conftest import REPO, require_binary, require_root
from tests.stack import free_port, get


def lines_of(process: subprocess.Popen[str]) -> queue.Queue[str]:
    """Read the demo's output in the background, line by line."""
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    return lines


def wait_line(lines: queue.Queue[str], pattern: str, seconds: float, seen: list[str]) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        seen.append(line)
        if re.search(pattern, line):
            return line
    raise TimeoutError(f"no line like {pattern!r}; got:\n" + "\n".join(seen))


def demo_status(port: int) -> dict[str, str]:
    """Each demo TPS's status, from the exporter's status page data."""
    view = json.loads(get(f"http://127.0.0.1:{port}/status.json?q=tps-demo")[1])
    return {m["id"]: m["status"] for m in view["matches"]}


@pytest.mark.timeout(300)
def test_demo_runs_the_chain_shows_a_fault_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    require_root()
    for binary in ("prometheus", "prometheus-alertmanager", "snmpd"):
        require_binary(binary)
    namespaces = sh("ip", "netns", "list").stdout
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "lab.demo", "--sites", "3", "--port", str(port), "--minutes", "5",
         "--fault-every", "4", "--fault-length", "20", "--interval", "2"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    seen: list[str] = []
    try:
        lines = lines_of(process)
        wait_line(lines, r"demo ready$", 120, seen)
        wait_line(lines, r"report +tps-exporter report --prometheus http://\S+ --province 21", 5,
                  seen)  # fmt: skip
        urls = dict(re.findall(r"^\S+ +(status page|metrics|alertmanager|prometheus) +(\S+)$",
                               "\n".join(seen), re.M))  # fmt: skip
        assert urls["status page"] == f"http://127.0.0.1:{port}/"
        assert set(urls) == {"status page", "metrics", "alertmanager", "prometheus"}
        prometheus = urls["prometheus"]
        fault = wait_line(lines, r"tps-demo-01: link down for 20 s", 30, seen)
        assert fault
        deadline = time.monotonic() + 30
        while demo_status(port).get("tps-demo-01") != "down":
            assert time.monotonic() < deadline, demo_status(port)
            time.sleep(0.5)
        others = demo_status(port)
        assert others["tps-demo-03"] == "up", others  # its own fault has not started yet
        assert len(others) == 3
        # Prometheus scrapes the exporter and the alert rules see the TPS down.
        deadline = time.monotonic() + 60
        alerts: list[dict[str, object]] = []
        while not alerts:
            assert time.monotonic() < deadline, "no alert for the TPS that is down"
            time.sleep(1)
            query = urllib.parse.urlencode({"query": 'ALERTS{site="tps-demo-01"}'})
            body = json.loads(get(f"{prometheus}/api/v1/query?{query}")[1])
            alerts = body["data"]["result"]
        assert alerts[0]["metric"]["alertname"] == "TPSSiteDown"  # type: ignore[index]
        wait_line(lines, r"tps-demo-01: link down ends", 40, seen)
        deadline = time.monotonic() + 30
        while demo_status(port).get("tps-demo-01") != "up":
            assert time.monotonic() < deadline, demo_status(port)
            time.sleep(0.5)
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=60)
        assert process.stdout is not None
        process.stdout.close()
    assert code == 0, "\n".join(seen)
    assert sh("ip", "netns", "list").stdout == namespaces  # every namespace it made is gone
    try:
        get(f"http://127.0.0.1:{port}/-/healthy")
        raise AssertionError("the exporter still answers after the demo stopped")
    except OSError:
        pass


@pytest.mark.timeout(180)
def test_demo_without_root_serves_the_recordings_on_loopback() -> None:
    # What a user without root gets (--loopback forces it as root): agents, exporter, no faults.
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "lab.demo", "--loopback", "--sites", "4", "--port", str(port),
         "--minutes", "2", "--interval", "2"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    seen: list[str] = []
    try:
        lines = lines_of(process)
        wait_line(lines, r"demo ready \(loopback agents, no faults", 120, seen)
        deadline = time.monotonic() + 60
        while set(demo_status(port).values()) != {"up"}:
            assert time.monotonic() < deadline, demo_status(port)
            time.sleep(0.5)
        assert len(demo_status(port)) == 4
        metrics = get(f"http://127.0.0.1:{port}/metrics")[1]
        assert 'tps_snmp_up{device="rtr-demo-04"} 1' in metrics  # pepwave's recording answers
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=60)
        assert process.stdout is not None
        process.stdout.close()
    assert code == 0, "\n".join(seen)
