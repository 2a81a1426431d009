"""Probes: what a drill can observe of the stack, each with a timeout.

``verification_holds`` is the steady-state hypothesis of every drill: the
manual's own rollback verification checklist (回滚验证清单), the items that
name a metric, read from the playbook and evaluated in Prometheus.
"""

from __future__ import annotations

from typing import Any

import psycopg

from ce_drill.chaos.context import Configuration, plan, playbook, url
from ce_drill.prom import Prometheus
from ce_drill.stack.web import HttpError, get_json
from sim.compare import holds
from sim.playbook import Playbook


def prometheus_value(query: str, timeout_s: float = 5.0, configuration: Configuration = None) -> float | None:
    """The largest value of an instant query (None when it returns nothing, or only NaN)."""
    return Prometheus(url(configuration, "prometheus")).value(query, timeout_s)


def alert_state(alertname: str, configuration: Configuration = None) -> str:
    """``firing``, ``pending`` or ``inactive``, as Prometheus sees the alert now."""
    alerts = Prometheus(url(configuration, "prometheus")).alerts()
    states = {a.get("state") for a in alerts if a["labels"].get("alertname") == alertname}
    for state in ("firing", "pending"):
        if state in states:
            return state
    return "inactive"


def service_healthy(timeout_s: float = 3.0, configuration: Configuration = None) -> bool:
    """The service answers ``/health`` with 200 and a JSON body through its router."""
    try:
        return get_json(url(configuration, "service") + "/health", timeout_s) is not None
    except HttpError:
        return False


def verification_holds(area: str = "performance", configuration: Configuration = None) -> bool:
    """Every metric item of the manual's rollback verification checklist in ``area`` holds now."""
    checks = [c for c in plan(configuration).verification if c.area == area]
    for check in checks:
        value = prometheus_value(check.metric, configuration=configuration)
        if not holds(check.op, value, check.threshold):
            return False
    return bool(checks)


def error_rate_within(limit: float | str, configuration: Configuration = None) -> bool:
    """The drill's stop condition: False once the error rate passes ``limit`` (its planned blast radius).

    A lock on the hot table fails every write by design, so that drill's limit is 1.0.
    """
    detection = playbook(configuration).detection_rules
    metric = next(r.metric for r in detection if r.metric.endswith(":error_rate"))
    value = prometheus_value(metric, configuration=configuration)
    return value is None or value <= float(limit)


def lock_holders(configuration: Configuration = None) -> list[dict[str, Any]]:
    """Blocked and blocking backends, found with the manual's own lock-wait query (故障排查指南)."""
    return runbook_lock_waits(url(configuration, "postgres"), playbook(configuration))


def runbook_lock_waits(dsn: str, pb: Playbook) -> list[dict[str, Any]]:
    """The manual's lock-wait query (``troubleshooting.diagnoses[*].queries.lock_waits``) run on ``dsn``."""
    diagnosis = next(d for d in pb.troubleshooting.diagnoses if "lock_waits" in d.queries)
    with psycopg.connect(dsn, connect_timeout=5, autocommit=True) as conn:
        conn.execute("SET statement_timeout = '5s'")
        cursor = conn.execute(diagnosis.queries["lock_waits"])
        names = [d.name for d in cursor.description or ()]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    # The manual's query joins on lock type only, so it lists every pair; keep the real blockers.
    return [r for r in rows if r.get("blocking_pid") != r.get("blocked_pid")]
