"""The drill's Prometheus, asked over its HTTP API with a timeout (and, on a cluster, a bearer token).

Both targets ask through this one client: the local stack's Prometheus on
127.0.0.1, and a cluster's, usually behind an authenticating proxy (or the
API server's service proxy).  There the token comes from the drill config's
``prometheus`` section and, in an experiment's process, from the environment
(:data:`~ce_drill.k8s.redact.ENV_TOKEN`); TLS is verified, with the config's
CA bundle when one is given.
"""

from __future__ import annotations

import json
import math
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from typing import Any

from ce_drill.k8s.redact import ENV_TOKEN

TIMEOUT_S = 5.0
Series = tuple[dict[str, str], float]


class PrometheusError(Exception):
    """Prometheus could not be asked, or refused the query."""


class Prometheus:
    def __init__(self, url: str, token: str | None = None, ca_file: str | None = None) -> None:
        self.url = url.rstrip("/")
        self._token = token
        self._context = ssl.create_default_context(cafile=ca_file) if url.startswith("https") else None

    @classmethod
    def from_env(cls, url: str, ca_file: str | None = None) -> Prometheus:
        return cls(url, os.environ.get(ENV_TOKEN) or None, ca_file)

    def get(self, path: str, params: dict[str, Any] | None = None, timeout_s: float = TIMEOUT_S) -> Any:
        query = "?" + urllib.parse.urlencode(params) if params else ""
        request = urllib.request.Request(self.url + path + query)
        if self._token:
            request.add_header("Authorization", f"Bearer {self._token}")
        try:
            with urllib.request.urlopen(request, timeout=timeout_s, context=self._context) as response:
                payload = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise PrometheusError(f"{self.url}{path}: HTTP {exc.code} {exc.reason}") from None
        except (OSError, ValueError) as exc:
            raise PrometheusError(f"{self.url}{path}: {exc}") from None
        if not isinstance(payload, dict) or payload.get("status") != "success":
            error = payload.get("error") if isinstance(payload, dict) else payload
            raise PrometheusError(f"{self.url}{path}: {error}")
        return payload["data"]

    def query(self, expr: str, timeout_s: float = TIMEOUT_S) -> list[Series]:
        data = self.get("/api/v1/query", {"query": expr}, timeout_s)
        return [(dict(r["metric"]), float(r["value"][1])) for r in data["result"]]

    def value(self, expr: str, timeout_s: float = TIMEOUT_S) -> float | None:
        """The largest value of ``expr`` now; None when it has none (or only NaN)."""
        values = [v for _, v in self.query(expr, timeout_s) if not math.isnan(v)]
        return max(values) if values else None

    def query_range(
        self, expr: str, start: float, end: float, step_s: float
    ) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
        data = self.get(
            "/api/v1/query_range", {"query": expr, "start": start, "end": end, "step": step_s}, timeout_s=30.0
        )
        return [(dict(r["metric"]), [(float(t), float(v)) for t, v in r["values"]]) for r in data["result"]]

    def held(self, expr: str, start: float, end: float, step_s: float) -> tuple[float, ...]:
        """Evaluation instants in [start, end] at which ``expr`` returned something; none if unanswered.

        The judge reads this to tell whether a fault's effect landed: a
        Prometheus that cannot be asked is evidence of nothing, not an error.
        """
        try:
            series = self.query_range(expr, start, end, step_s)
        except PrometheusError:
            return ()
        return tuple(sorted({t for _, values in series for t, _ in values}))

    def fired(self, names: Iterable[str], start: float, end: float, step_s: float) -> set[str]:
        """Which of the alerts ``names`` were firing at some evaluation in [start, end] (Prometheus's ``ALERTS``)."""
        return {
            name
            for name in names
            if self.held(f'ALERTS{{alertname="{name}",alertstate="firing"}}', start, end, step_s)
        }

    def alerts(self) -> list[dict[str, Any]]:
        """Alerts Prometheus has pending or firing now."""
        alerts: list[dict[str, Any]] = self.get("/api/v1/alerts")["alerts"]
        return alerts
