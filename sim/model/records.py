"""What a simulation run produces: one record per incident, and per-service downtime.

Records follow the lifecycle contract shared by every part of ce-drill:
``started_s, detected_s, acknowledged_s, mitigated_s`` (service restored),
``resolved_s`` — seconds from the run's calendar start, null when the run
ended first — plus the verdicts against the playbook: RTO (started →
mitigated), RPO, response time and communication cadence.
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from sim.model.calendar import month_bounds
from sim.model.responders import Assignment


@dataclass(frozen=True)
class IncidentRecord:
    id: int
    failure_mode: str
    variant: str
    severity: str | None
    initial_severity: str | None
    started_s: float
    detected_s: float | None
    detected_by: str | None
    acknowledged_s: float | None
    acknowledged_by: str | None
    diagnosed_s: float | None
    mitigated_s: float | None
    mitigated_by: str | None
    resolved_s: float | None
    down: bool
    services: tuple[str, ...]
    downtime_s: float
    data_loss_s: float
    rto_met: bool | None
    rpo_met: bool | None
    response_met: bool | None
    comms_met: bool | None
    escalations: int
    fix_attempts: int
    team_wait_s: float | None
    deploy_phase: str | None
    auto_rollback_s: float | None
    auto_rollback_in_time: bool | None
    status_updates: int
    max_update_gap_s: float | None
    user_email_s: float | None
    alerts: tuple[tuple[str, str, float], ...]
    trace: tuple[tuple[float, str], ...] = field(compare=False)

    def to_json(self, with_trace: bool = False) -> dict[str, Any]:
        out = asdict(self)
        out["services"] = list(self.services)
        out["alerts"] = [{"rule": r, "severity": s, "firing_s": t} for r, s, t in self.alerts]
        if with_trace:
            out["trace"] = [{"t_s": t, "event": e} for t, e in self.trace]
        else:
            del out["trace"]
        return out


@dataclass(frozen=True)
class ServiceMonth:
    service: str
    month: str
    length_s: float
    downtime_s: float
    target: float

    @property
    def availability(self) -> float:
        return 1.0 - self.downtime_s / self.length_s

    @property
    def met(self) -> bool:
        return self.availability >= self.target


@dataclass(frozen=True)
class SimResult:
    seed: int | str
    start: dt.datetime
    horizon_s: float
    records: tuple[IncidentRecord, ...]
    service_months: tuple[ServiceMonth, ...]
    events: int
    arrivals: dict[str, int] = field(default_factory=dict, compare=False)
    """Incidents each failure mode started, for accounting."""
    assignments: tuple[Assignment, ...] = field(default=(), compare=False)
    """Who worked which incident when (finished assignments)."""

    def to_frame(self) -> pd.DataFrame:
        """One row per incident (lifecycle, verdicts, stage durations)."""
        rows = [r.to_json() for r in self.records]
        frame = pd.DataFrame(rows)
        if frame.empty:
            return frame
        frame["detect_s"] = frame["detected_s"] - frame["started_s"]
        frame["acknowledge_s"] = frame["acknowledged_s"] - frame["detected_s"]
        frame["diagnose_s"] = frame["diagnosed_s"] - frame["acknowledged_s"]
        frame["mitigate_s"] = frame["mitigated_s"] - frame["diagnosed_s"]
        frame["time_to_restore_s"] = frame["mitigated_s"] - frame["started_s"]
        return frame

    def services_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            [{**asdict(m), "availability": m.availability, "met": m.met} for m in self.service_months]
        )

    def to_json(self, with_trace: bool = False) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "start": self.start.isoformat(),
            "horizon_s": self.horizon_s,
            "month_definition": "calendar months (UTC) from the world's calendar start, clipped to the run",
            "incidents": [r.to_json(with_trace) for r in self.records],
            "service_months": [
                {**asdict(m), "availability": m.availability, "met": m.met} for m in self.service_months
            ],
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), ensure_ascii=False, sort_keys=True)


def service_months(
    start: dt.datetime,
    horizon_s: float,
    records: tuple[IncidentRecord, ...],
    targets: dict[str, float],
) -> tuple[ServiceMonth, ...]:
    """Downtime per service per calendar month: overlapping outages of one service count once."""
    intervals: dict[str, list[tuple[float, float]]] = {s: [] for s in targets}
    for r in records:
        if not r.down:
            continue
        end = r.mitigated_s if r.mitigated_s is not None else horizon_s
        for service in r.services:
            intervals.setdefault(service, []).append((r.started_s, min(end, horizon_s)))
    out: list[ServiceMonth] = []
    months = month_bounds(start, horizon_s)
    for service, target in targets.items():
        merged = _merge(sorted(intervals.get(service, [])))
        if not merged:  # most services, most runs: a month of no downtime needs no search
            out.extend(ServiceMonth(service, name, hi - lo, 0.0, target) for name, lo, hi in months)
            continue
        starts, ends = [a for a, _ in merged], [b for _, b in merged]
        for name, lo, hi in months:
            # Only the outages overlapping the month add to it (the others would add exact zeros);
            # merged outages are disjoint, so they are a run found by bisection.
            overlapping = merged[bisect.bisect_right(ends, lo) : bisect.bisect_left(starts, hi)]
            down = sum((min(b, hi) - max(a, lo) for a, b in overlapping), 0.0)
            out.append(ServiceMonth(service, name, hi - lo, down, target))
    return tuple(out)


def _merge(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged
