"""The monitoring stack for end-to-end tests: Prometheus, Alertmanager and a webhook receiver."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml

from lab.local import free_port, serve_http, wait_ready
from lab.telegram import receivers_to
from tests.conftest import REPO, require_binary

ALERTS = REPO / "alerts"


def get(url: str, data: bytes | None = None) -> tuple[int, str]:
    """Return (status, body) of a GET, or of a POST when `data` is given."""
    request = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@contextlib.contextmanager
def exporter_process(
    source: Path,
    port: int,
    log: Path,
    env: dict[str, str] | None = None,
    flags: Sequence[str] = (),
    *,
    wait: bool = True,
    wrap: Sequence[str] = (),
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `tps-exporter` on a targets directory or a config file until the block ends;
    with `wait`, only once it is ready (over plain HTTP); `wrap` is a command that runs it."""
    option = "--config.file" if source.is_file() else "--targets"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                *wrap,
                sys.executable,
                "-m",
                "exporter",
                option,
                str(source),
                *flags,
                f"--web.listen-address=127.0.0.1:{port}",
                "--icmp.socket=raw",
            ],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
        try:
            if wait:
                wait_ready(f"http://127.0.0.1:{port}/-/ready")
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=10)


def _decode(body: bytes) -> object:
    """Return a JSON body, or the form fields of a Telegram API call."""
    try:
        return json.loads(body or b"{}")
    except ValueError:
        return dict(urllib.parse.parse_qsl(body.decode()))


class Webhook:
    """A webhook receiver on loopback that records every notification."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        received = self.received

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append({"path": self.path, "body": _decode(body), "at": time.monotonic()})
                # Telegram's API answers with the message it sent; Alertmanager checks for ok.
                reply = (
                    b'{"ok":true,"result":{"message_id":1,"date":0,"chat":{"id":1,"type":"group"}}}'
                )
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: object) -> None:
                pass

        self.server, self.url = serve_http(Handler)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def alertmanager_config_for_tests(
    webhook: Webhook, group_wait: str, group_interval: str, telegram_url: str = ""
) -> str:
    """Return the shipped config with every receiver sent to the test's webhook (and Telegram
    to the webhook too, through api_url, or to `telegram_url`), and short waits; routes,
    grouping and inhibition unchanged."""
    config = yaml.safe_load((ALERTS / "alertmanager.yml").read_text())
    config["templates"] = [str(ALERTS / "templates" / "*.tmpl")]
    config["route"]["group_wait"] = group_wait
    config["route"]["group_interval"] = group_interval
    for route in config["route"].get("routes", []):
        route.pop("group_wait", None)
        route.pop("group_interval", None)
        for child in route.get("routes", []):
            child.pop("group_wait", None)
            child.pop("group_interval", None)
            child.pop("mute_time_intervals", None)
    return receivers_to(config, webhook.url, telegram_url or f"{webhook.url}/telegram")


class _Server:
    """A Prometheus-family server on loopback, started from a config, logging to a file."""

    def __init__(
        self,
        binary: str,
        config: str,
        workdir: Path,
        name: str,
        flags: list[str],
        *,
        ready_headers: dict[str, str] | None = None,
    ) -> None:
        (workdir / f"{name}.yml").write_text(config)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = (workdir / f"{name}.log").open("wb")
        self.process = subprocess.Popen(
            [
                require_binary(binary),
                f"--config.file={workdir / f'{name}.yml'}",
                *flags,
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_ready(f"{self.url}/-/ready", 30, ready_headers)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()


class Alertmanager(_Server):
    """A real Alertmanager on loopback, no clustering."""

    def __init__(self, config: str, workdir: Path) -> None:
        flags = [f"--storage.path={workdir / 'am'}", "--cluster.listen-address="]
        super().__init__("prometheus-alertmanager", config, workdir, "am", flags)

    def post(self, alerts: list[dict[str, object]]) -> None:
        request = urllib.request.Request(
            f"{self.url}/api/v2/alerts",
            data=json.dumps(alerts).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200

    def alerts(self) -> list[dict[str, Any]]:
        status, body = get(f"{self.url}/api/v2/alerts")
        assert status == 200
        return list(json.loads(body))


def prometheus_config(port: int, rules: Path | None = REPO / "alerts" / "tps-rules.yml") -> str:
    """A Prometheus scraping 127.0.0.1:`port` every second and evaluating `rules` as often."""
    rule_files = f"rule_files: [{rules}]\n" if rules else ""
    target = f"{{targets: ['127.0.0.1:{port}']}}"
    return (
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        + rule_files
        + f"scrape_configs: [{{job_name: tps, static_configs: [{target}]}}]\n"
    )


class Prometheus(_Server):
    """A real Prometheus on loopback with the given configuration (and web configuration)."""

    def __init__(
        self,
        config: str,
        workdir: Path,
        web_config: str = "",
        ready_headers: dict[str, str] | None = None,
    ) -> None:
        flags = [f"--storage.tsdb.path={workdir / 'tsdb'}"]
        if web_config:
            (workdir / "prometheus-web.yml").write_text(web_config)
            flags.append(f"--web.config.file={workdir / 'prometheus-web.yml'}")
        super().__init__(
            "prometheus", config, workdir, "prometheus", flags, ready_headers=ready_headers
        )

    def query(self, promql: str) -> list[dict[str, Any]]:
        """Return the result of an instant query."""
        status, body = get(f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": promql}))
        assert status == 200, body
        payload = json.loads(body)
        assert payload["status"] == "success", payload
        return list(payload["data"]["result"])
