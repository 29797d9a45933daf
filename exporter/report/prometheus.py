"""A narrow client of Prometheus's HTTP API: instant queries, nothing else."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Protocol

from exporter.i18n import _


class PrometheusError(RuntimeError):
    """Prometheus could not be asked, or said no; the message says which and why."""


@dataclass(frozen=True, slots=True)
class Sample:
    """One series of an instant vector: its labels and value."""

    labels: dict[str, str]
    value: float


class Querier(Protocol):
    """What the report needs from Prometheus; tests may give a fake."""

    def query(self, promql: str, at: float) -> list[Sample]:
        """Return the instant vector of `promql` at Unix time `at`."""
        ...


@dataclass(frozen=True)
class Prometheus:
    """Prometheus at `url` (optionally with basic auth), asked over its HTTP API."""

    url: str
    timeout: float = 60.0
    auth: tuple[str, str] | None = None

    def query(self, promql: str, at: float) -> list[Sample]:
        """Return the instant vector of `promql` at Unix time `at`."""
        body = urllib.parse.urlencode({"query": promql, "time": f"{at:.3f}"}).encode()
        request = urllib.request.Request(
            self.url.rstrip("/") + "/api/v1/query",
            data=body,  # POST: a long selector does not fit a URL
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        if self.auth is not None:
            token = base64.b64encode(":".join(self.auth).encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        payload = self._fetch(request)
        if payload.get("status") != "success":
            raise PrometheusError(f"{self.url}: {payload.get('error', payload)}")
        data = payload["data"]
        if data.get("resultType") != "vector":
            raise PrometheusError(
                _("{url}: expected a vector for {query!r}").format(url=self.url, query=promql)
            )
        return [Sample(r["metric"], float(r["value"][1])) for r in data["result"]]

    def _fetch(self, request: urllib.request.Request) -> dict[str, Any]:
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return dict(json.load(response))
        except urllib.error.HTTPError as exc:
            try:  # Prometheus explains a bad query in a JSON body
                detail = json.load(exc).get("error", exc.reason)
            except ValueError:
                detail = exc.reason
            if exc.code == 401:
                detail = _("{detail}: a user and password are needed, or the ones given are "
                           "wrong").format(detail=detail)  # fmt: skip
            raise PrometheusError(f"{self.url}: HTTP {exc.code}: {detail}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise PrometheusError(f"{self.url}: {exc}") from None
