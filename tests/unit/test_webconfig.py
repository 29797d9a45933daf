"""`--web.config.file`: the exporter-toolkit format read strictly, and basic auth enforced."""

from __future__ import annotations

import asyncio
import base64
import ssl
from pathlib import Path

import bcrypt
import pytest
from aiohttp.test_utils import TestClient, TestServer

from exporter.exposition.web import make_app
from exporter.exposition.webconfig import load_web_config
from exporter.inventory.nodes import ConfigLoadError
from tests.fakes import FakeTransport
from tests.tls import Certificates, make_certificates
from tests.unit.test_web import make_exporter

# The messages are checked in English (the catalogue's keys); test_config_messages.py reads
# them in Bahasa Indonesia, as they are shown by default.
pytestmark = pytest.mark.usefixtures("english")

PASSWORD = "kpu-noc-2029"
HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()  # cost 4: fast tests


@pytest.fixture
def certs(tmp_path: Path) -> Certificates:
    return make_certificates(tmp_path)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "web.yml"
    path.write_text(text)
    return path


def test_a_full_config_is_read(tmp_path: Path, certs: Certificates) -> None:
    path = write(
        tmp_path,
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
        "  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: ca.crt\n"
        "  min_version: TLS13\n"
        f"basic_auth_users:\n  noc: '{HASH}'\n"
        "http_server_config:\n  headers: {X-Frame-Options: deny}\n",
    )
    config = load_web_config(path)
    assert config.tls is not None and config.tls.cert_file == certs.cert
    assert config.tls.client_auth is ssl.CERT_OPTIONAL
    assert config.tls.min_version is ssl.TLSVersion.TLSv1_3
    assert config.users == {"noc": HASH.encode()}
    assert config.headers == (("X-Frame-Options", "deny"),)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
         "  cipher_suite: x\n",
         "web.yml:4:3: tls_server_config.cipher_suite: unknown key"),
        ("basic_auth_users:\n  noc: hunter2\n",
         "web.yml:2:8: basic_auth_users.noc: must be a bcrypt hash"),
        ("tls_server_config:\n  cert_file: missing.crt\n  key_file: server.key\n",
         "web.yml:2:14: tls_server_config.cert_file: no such file"),
        ("tls_server_config:\n  key_file: server.key\n",
         "tls_server_config.cert_file: required key is missing"),
        ("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
         "  client_auth_type: Sometimes\n",
         "web.yml:4:21: tls_server_config.client_auth_type: must be one of NoClientCert"),
        ("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
         "  client_auth_type: RequireAndVerifyClientCert\n",
         "verifying client certificates needs client_ca_file"),
        ("tls_server_config:\n  cert_file: ca.crt\n  key_file: server.key\n",
         "web.yml:2:14: tls_server_config: cannot use this certificate and key"),
        ("basic_auth_users: [noc]\n", "web.yml:1:19: basic_auth_users: must be a mapping"),
        ("tls_server_config: {cert_file: server.crt\n", "web.yml:2:1: invalid YAML"),
        ('http_server_config:\n  headers: {X-Frame-Options: "DENY\\r\\nSet-Cookie: a=b"}\n',
         "web.yml:2:30: http_server_config.headers.X-Frame-Options: a header value is one line"),
        ("http_server_config:\n  headers: {X Frame: DENY}\n",
         "web.yml:2:22: http_server_config.headers.X Frame: a header name is letters, digits"),
    ],
)  # fmt: skip
def test_bad_configs_name_file_line_and_key(
    tmp_path: Path, certs: Certificates, text: str, error: str
) -> None:
    with pytest.raises(ConfigLoadError) as caught:
        load_web_config(write(tmp_path, text))
    messages = [str(e) for e in caught.value.errors]
    assert any(error in m for m in messages), messages
    assert not any("hunter2" in m for m in messages)  # a plain password is not echoed back


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_basic_auth_guards_every_path_and_reload(tmp_path: Path) -> None:
    config_path = write(tmp_path, f"basic_auth_users:\n  noc: '{HASH}'\n")
    exporter = make_exporter(tmp_path, FakeTransport(replies={"127.0.0.1": [0.002, 0.003]}))
    app = make_app(exporter, load_web_config(config_path))

    async def scenario() -> None:
        async with TestClient(TestServer(app)) as client:
            for path in ("/metrics", "/", "/-/healthy", "/-/ready"):
                response = await client.get(path)
                assert response.status == 401, path
                assert response.headers["WWW-Authenticate"].startswith("Basic realm=")
            assert (await client.get("/metrics", headers=basic("noc", "wrong"))).status == 401
            assert (await client.get("/metrics", headers=basic("nobody", PASSWORD))).status == 401
            no_colon = "Basic " + base64.b64encode(b"no-colon").decode()
            bad_headers = ({"Authorization": "Basic !!!"}, {"Authorization": "Bearer x"},
                           {"Authorization": no_colon})  # fmt: skip
            for headers in bad_headers:
                assert (await client.get("/metrics", headers=headers)).status == 401
            good = basic("noc", PASSWORD)
            assert (await client.get("/metrics", headers=good)).status == 200
            assert (await client.get("/metrics", headers=good)).status == 200  # remembered
            assert (await client.post("/-/reload")).status == 401
            assert (await client.post("/-/reload", headers=good)).status == 200
            assert (await client.get("/-/reload", headers=good)).status == 405

    asyncio.run(scenario())


def test_configured_headers_are_sent(tmp_path: Path) -> None:
    path = write(tmp_path, "http_server_config:\n  headers: {X-Content-Type-Options: nosniff}\n")
    exporter = make_exporter(tmp_path, FakeTransport())

    async def scenario() -> None:
        async with TestClient(TestServer(make_app(exporter, load_web_config(path)))) as client:
            response = await client.get("/-/healthy")
            assert response.headers["X-Content-Type-Options"] == "nosniff"

    asyncio.run(scenario())


def test_the_exporter_does_not_start_with_a_broken_web_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from exporter.cli import EXIT_CONFIG, main  # noqa: PLC0415

    path = write(tmp_path, "basic_auth_users:\n  noc: plain-text-password\n")
    (tmp_path / "targets").mkdir()
    assert main(["--web.config.file", str(path), "--targets", str(tmp_path / "targets")]) == (
        EXIT_CONFIG
    )
    err = capsys.readouterr().err
    assert "web.yml:2:8: basic_auth_users.noc: must be a bcrypt hash" in err
    assert "plain-text-password" not in err
