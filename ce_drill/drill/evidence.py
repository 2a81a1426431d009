"""What a finished drill left behind, gathered once: journal, timeline, Prometheus history, stack state.

The journal says what the experiment did (and its exit code says nothing:
``chaos run`` exits 0 even when the method failed); the stack's timeline says
what the system did and when, on one clock; Prometheus's range queries say
when each alert's condition held; the stack itself says which version its
pods serve, which faults they still carry, which lock sessions remain and
whether PostgreSQL has every write the service acknowledged.

:func:`gather` does all the I/O; :class:`Evidence` is plain data, written as
``evidence.json`` beside the scorecard, so the judge
(:func:`ce_drill.drill.judge.judge`) is a pure function of plan and evidence
and can be tested on recorded drills.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from ce_drill.plan import DrillPlan
from ce_drill.prom import Prometheus
from ce_drill.stack import Stack
from ce_drill.stack.timeline import Event
from ce_drill.stack.web import HttpError, get_json


@dataclass(frozen=True)
class Journal:
    data: dict[str, Any]

    @classmethod
    def load(cls, path: Path) -> Journal | None:
        try:
            return cls(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            return None

    @property
    def status(self) -> str:
        return str(self.data.get("status"))

    def steady_state_met(self, when: str) -> bool | None:
        state = (self.data.get("steady_states") or {}).get(when)
        return None if not state else bool(state.get("steady_state_met"))

    def output(self, activity: str) -> Any:
        for run in self.data.get("run") or []:
            if run.get("activity", {}).get("name") == activity:
                return run.get("output")
        return None


@dataclass(frozen=True)
class WriteAudit:
    """Acknowledged writes against PostgreSQL; ``error`` when the database could not be asked."""

    acknowledged: int = 0
    lost: tuple[int, ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class Evidence:
    journal: Journal | None
    events: tuple[Event, ...]
    started_ts: float
    ended_ts: float
    held: dict[str, tuple[float, ...]] = field(default_factory=dict)
    """Per alert condition (PromQL), the evaluation instants (Unix time) at which it held."""
    pod_versions: dict[str, str | None] = field(default_factory=dict)
    pod_faults: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Faults still set on each pod after the drill (empty where none or the pod is down)."""
    lock_sessions: tuple[int, ...] | None = ()
    """Drill lock sessions still in PostgreSQL; None when the database could not be asked."""
    writes: WriteAudit = field(default_factory=WriteAudit)

    # --- the timeline ---------------------------------------------------------------

    def of(self, kind: str, **match: Any) -> list[Event]:
        return [
            e for e in self.events if e.kind == kind and all(e.data.get(k) == v for k, v in match.items())
        ]

    def first(self, kind: str, **match: Any) -> Event | None:
        found = self.of(kind, **match)
        return found[0] if found else None

    def notifications(self, alertname: str, status: str = "firing") -> list[tuple[Event, dict[str, Any]]]:
        """Every receiver notification carrying ``alertname`` in ``status``, with the alert itself."""
        return [
            (event, alert)
            for event in self.of("notification")
            for alert in event.get("alerts") or []
            if alert.get("alertname") == alertname and alert.get("status", event.get("status")) == status
        ]

    def severities_fired(self, since_ts: float) -> set[str]:
        """Severities of every alert notified as firing from ``since_ts`` on."""
        return {
            str(alert["severity"])
            for event in self.of("notification", status="firing")
            if event.ts >= since_ts
            for alert in event.get("alerts") or []
            if alert.get("status", "firing") == "firing" and alert.get("severity")
        }

    # --- storage ---------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "journal": None if self.journal is None else self.journal.data,
            "events": [
                {"ts": e.ts, "t_s": e.t_s, "source": e.source, "kind": e.kind, "data": e.data}
                for e in self.events
            ],
            "started_ts": self.started_ts,
            "ended_ts": self.ended_ts,
            "held": {expr: list(ts) for expr, ts in self.held.items()},
            "pod_versions": self.pod_versions,
            "pod_faults": self.pod_faults,
            "lock_sessions": None if self.lock_sessions is None else list(self.lock_sessions),
            "writes": {
                "acknowledged": self.writes.acknowledged,
                "lost": list(self.writes.lost),
                "error": self.writes.error,
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Evidence:
        writes = data.get("writes") or {}
        return cls(
            journal=None if data.get("journal") is None else Journal(data["journal"]),
            events=tuple(Event(e["ts"], e["t_s"], e["source"], e["kind"], e["data"]) for e in data["events"]),
            started_ts=float(data["started_ts"]),
            ended_ts=float(data["ended_ts"]),
            held={expr: tuple(ts) for expr, ts in (data.get("held") or {}).items()},
            pod_versions=dict(data.get("pod_versions") or {}),
            pod_faults=dict(data.get("pod_faults") or {}),
            lock_sessions=None if data.get("lock_sessions") is None else tuple(data["lock_sessions"]),
            writes=WriteAudit(
                int(writes.get("acknowledged", 0)), tuple(writes.get("lost") or ()), writes.get("error")
            ),
        )


def fired_at(alert: dict[str, Any], fallback_ts: float) -> float:
    """When Prometheus started firing an alert (its ``startsAt``), Unix time."""
    text = str(alert.get("starts_at") or "")
    if not text:
        return fallback_ts
    # Go writes nanoseconds; Python's parser takes microseconds.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text.replace("Z", "+00:00"))
    try:
        return dt.datetime.fromisoformat(text).timestamp()
    except ValueError:
        return fallback_ts


def gather(
    stack: Stack,
    plan: DrillPlan,
    journal: Journal | None,
    *,
    started_ts: float,
    ended_ts: float,
    alerts: tuple[str, ...],
) -> Evidence:
    """Read everything the judge needs from the stack, once, right after the drill."""
    events = stack.timeline().since(started_ts).events
    state = stack.state()
    held: dict[str, tuple[float, ...]] = {}
    if state is not None:
        prometheus = Prometheus(state.urls["prometheus"])
        for name in alerts:
            rule = plan.alert(name)
            if rule is not None:
                held[rule.expr] = prometheus.held(rule.expr, started_ts, ended_ts, plan.evaluation_interval_s)
    status = stack.status().to_json()
    versions = {c["name"]: c.get("version") for c in status["components"] if c["name"].startswith("pod-")}
    faults: dict[str, dict[str, Any]] = {}
    for slot, base in stack.pod_urls().items():
        fault = _get_json(base + "/-/fault")
        if isinstance(fault, dict) and any(fault.values()):
            faults[slot] = fault
    return Evidence(
        journal=journal,
        events=events,
        started_ts=started_ts,
        ended_ts=ended_ts,
        held=held,
        pod_versions=versions,
        pod_faults=faults,
        lock_sessions=_lock_sessions(stack),
        writes=_writes(stack),
    )


def _get_json(address: str) -> Any:
    try:
        return get_json(address, timeout_s=3.0)
    except HttpError:
        return None  # a pod that is down carries no fault


def _lock_sessions(stack: Stack) -> tuple[int, ...] | None:
    from ce_drill.chaos.lockholder import lock_sessions

    state = stack.state()
    return () if state is None else lock_sessions(state.urls["postgres"])


def _writes(stack: Stack) -> WriteAudit:
    try:
        lost = stack.lost_writes()
        return WriteAudit(len(stack.acknowledged_writes()), tuple(lost))
    except (OSError, psycopg.Error, ValueError) as exc:
        return WriteAudit(error=str(exc))
