"""The web surface locked down: TLS and basic auth from --web.config.file, with real clients."""

from __future__ import annotations

import base64
import http.client
import socket
import ssl
import time
from pathlib import Path

import bcrypt
import pytest

from lab.local import free_port
from tests.conftest import require_root
from tests.stack import Prometheus, exporter_process, get
from tests.tls import make_certificates

USER, PASSWORD = "noc-kepri", "s3cret-for-tps-2029"


def https_get(port: int, path: str, ca: Path, auth: tuple[str, str] | None) -> tuple[int, str]:
    """GET over TLS, verifying the server against the test CA."""
    context = ssl.create_default_context(cafile=str(ca))
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
    headers = {}
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def wait_https(port: int, ca: Path, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if https_get(port, "/-/ready", ca, (USER, PASSWORD))[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"exporter not ready over TLS on port {port}")


def test_tls_and_basic_auth_with_real_clients_and_prometheus(tmp_path: Path) -> None:
    require_root()  # raw ICMP socket for the exporter's poller
    certs = make_certificates(tmp_path)
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(10)).decode()
    (tmp_path / "web.yml").write_text(
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
        f"basic_auth_users:\n  {USER}: '{hashed}'\n"
    )
    targets = tmp_path / "targets"
    targets.mkdir()
    (targets / "lab.yaml").write_text(
        "devices:\n  - {id: rtr-lo, kind: router, address: 127.0.0.1}\n"
    )
    port = free_port()
    log = tmp_path / "exporter.log"
    flags = ["--web.config.file", str(tmp_path / "web.yml")]
    with exporter_process(targets, port, log, flags=flags, wait=False):
        wait_https(port, certs.ca)
        status, text = https_get(port, "/metrics", certs.ca, (USER, PASSWORD))
        assert status == 200 and "tps_device_up" in text
        assert https_get(port, "/metrics", certs.ca, (USER, "wrong"))[0] == 401
        assert https_get(port, "/metrics", certs.ca, None)[0] == 401
        # Plain HTTP to the TLS port gets no page, and an unknown CA is refused by the client.
        plain = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        with pytest.raises((http.client.HTTPException, OSError)):
            plain.request("GET", "/metrics")
            plain.getresponse().read()
        plain.close()
        (tmp_path / "other").mkdir()
        other = make_certificates(tmp_path / "other")
        with pytest.raises(ssl.SSLCertVerificationError):
            https_get(port, "/metrics", other.ca, (USER, PASSWORD))

        (tmp_path / "password").write_text(PASSWORD)
        (tmp_path / "wrong-password").write_text("not-it")
        scrape = (
            "    scheme: https\n"
            f"    tls_config: {{ca_file: {certs.ca}}}\n"
            f"    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n"
        )
        prom = Prometheus(
            "global: {scrape_interval: 1s}\nscrape_configs:\n"
            f"  - job_name: tps\n    basic_auth: {{username: {USER}, password_file: "
            f"{tmp_path / 'password'}}}\n{scrape}"
            f"  - job_name: intruder\n    basic_auth: {{username: {USER}, password_file: "
            f"{tmp_path / 'wrong-password'}}}\n{scrape}",
            tmp_path,
        )
        try:
            deadline = time.monotonic() + 30
            ups: dict[str, str] = {}
            while time.monotonic() < deadline and len(ups) < 2:
                ups = {r["metric"]["job"]: r["value"][1] for r in prom.query("up")}
                time.sleep(0.5)
            assert ups == {"tps": "1", "intruder": "0"}
            assert prom.query('tps_device_up{job="tps",device="rtr-lo"}')
        finally:
            prom.stop()
    assert PASSWORD not in log.read_text()


def raw_request(port: int, data: bytes, timeout: float = 10) -> bytes:
    """Send bytes as they are and return what the server answers before closing or pausing."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
                if b"\r\n\r\n" in b"".join(chunks):
                    break
        except (TimeoutError, ConnectionResetError):
            pass
    return b"".join(chunks)


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.") else 0


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def test_hostile_http_gets_status_codes_and_scrapes_go_on(tmp_path: Path) -> None:
    require_root()  # raw ICMP socket for the exporter's poller
    targets = tmp_path / "targets"
    targets.mkdir()
    (targets / "lab.yaml").write_text(
        "devices:\n  - {id: rtr-lo, kind: router, address: 127.0.0.1}\n"
    )
    port = free_port()
    with exporter_process(targets, port, tmp_path / "exporter.log") as process:

        def ask(data: bytes) -> int:
            return status_of(raw_request(port, data))

        assert ask(b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n") == 404
        assert ask(b"DELETE /metrics HTTP/1.1\r\nHost: x\r\n\r\n") == 405
        assert ask(b"GET /-/reload HTTP/1.1\r\nHost: x\r\n\r\n") == 405
        big_header = b"X-Big: " + b"a" * 100_000 + b"\r\n"
        assert ask(b"GET /metrics HTTP/1.1\r\nHost: x\r\n" + big_header + b"\r\n") in (400, 431)
        assert ask(b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n") in (400, 414)
        assert ask(b"NOT-HTTP\r\n\r\n") == 400
        body = b"x" * 10_000_000
        head = f"POST /-/reload HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n"
        assert ask(head.encode() + body[:1_000_000]) == 413
        before = rss(process.pid)
        # Slow clients: 200 connections that trickle half a request and never finish it.
        slow = []
        for _ in range(200):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            slow.append(sock)
        try:
            for _ in range(5):
                # A server held up by the slow ones would let this time out.
                status, text = get(f"http://127.0.0.1:{port}/metrics")
                assert status == 200 and "tps_device_up" in text
                for sock in slow:
                    sock.sendall(b"X-Slow: 1\r\n")
                time.sleep(0.2)
            assert rss(process.pid) - before < 50 * 1024 * 1024
        finally:
            for sock in slow:
                sock.close()
        assert get(f"http://127.0.0.1:{port}/-/healthy")[0] == 200
