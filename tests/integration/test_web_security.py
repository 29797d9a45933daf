"""The web surface locked down: TLS and basic auth from --web.config.file, with real clients."""

from __future__ import annotations

import base64
import http.client
import ssl
import time
from pathlib import Path

import bcrypt
import pytest

from tests.conftest import require_root
from tests.stack import Prometheus, exporter_process, free_port
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
                ups = {r["metric"]["job"]: r["value"][1] for r in prom.query("up")}  # type: ignore[index]
                time.sleep(0.5)
            assert ups == {"tps": "1", "intruder": "0"}
            assert prom.query('tps_device_up{job="tps",device="rtr-lo"}')
        finally:
            prom.stop()
    assert PASSWORD not in log.read_text()
