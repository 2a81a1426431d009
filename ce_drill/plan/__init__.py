"""The drill plan: every duration a drill lives by, derived once from the playbook and the clock.

A stack comes up with a playbook, a time scale and a scrape interval; from
those three the plan works out, once, everything the drill's parts must agree
on: each alert's condition and ``for`` (manual and wall time) and the latest
moment its notification may arrive, each rollout phase's hold and deadline,
each severity's RTO, the pods' restart back-off, how long a fault must hold
for its alerts to fire, and where in the manual each promise is written.
The plan is written into the stack's run directory (``plan.json``) and read
back by the deployer, the pods' supervisor, the chaos activities, the judge,
the scorecard and the report.  Nothing else compresses time
(:class:`~ce_drill.plan.timing.Timing` is the plan's clock) or reads the
playbook for a drill's timing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from pydantic import ValidationError

from ce_drill.plan.timing import MANUAL_TIME, Timing
from ce_drill.stack import config as cfg
from sim.compare import severity_rank
from sim.fields import Frozen, ManualRef, Op
from sim.playbook import Playbook, bundled_path

PLAN_FILE = "plan.json"

NOTIFY_SLACK_EVALUATIONS = 2
"""An alert counts as on time when notified within its ``for`` plus two evaluations (one for
the condition to be seen, one for ``for`` to be seen expired), Alertmanager's group wait and
:data:`NOTIFY_SLACK_S` of delivery."""

NOTIFY_SLACK_S = 1.0
"""Delivery from Alertmanager to the receiver and the receiver's write (measured well under 1 s)."""

ROLLBACK_DEADLINE_EVALUATIONS = 2
"""A compressed phase delay cannot be shorter than two evaluations: one for the recorded
metric to cross, one for the deployer to see it."""

FAULT_HOLD_MARGIN_EVALUATIONS = 3
"""A fault is held this many evaluations past the latest notification deadline of its alerts,
so an alert that is on time (if late within its slack) still finds the fault in place."""


RECOVERY_WAIT_RTOS = 2
"""A drill waits for recovery this many RTOs before it stops waiting (and fails)."""


class PlanError(Exception):
    """A plan file that cannot be read (a stack started by another version, a damaged file)."""


class PlannedAlert(Frozen):
    """One generated alerting rule as a drill judges it."""

    name: str
    severity: str
    kind: str
    """``detection`` (the manual's alert rules) or ``matrix`` (its priority matrix)."""
    expr: str
    for_manual_s: float
    for_wall_s: float
    notify_by_wall_s: float
    """Latest notification after the condition began to hold: ``for`` plus the slack."""
    source: ManualRef | None


class PlannedPhase(Frozen):
    """A rollout phase: how long the deployer watches it and by when it must have rolled back."""

    phase: str
    delay_manual_s: float
    hold_wall_s: float
    deadline_wall_s: float
    source: ManualRef


class PlannedSeverity(Frozen):
    id: str
    rank: int
    rto_manual_s: float
    rto_wall_s: float
    rpo_manual_s: float
    source: ManualRef


class PlannedService(Frozen):
    """A service's own recovery target (the manual's per-service RTO)."""

    id: str
    rto_manual_s: float
    rto_wall_s: float
    source: ManualRef


class VerificationItem(Frozen):
    """An item of the manual's rollback verification checklist that names a metric."""

    area: str
    metric: str
    op: Op
    threshold: float
    source: ManualRef


class DrillPlan(Frozen):
    """Everything a drill's timing depends on, for one stack; see the module docstring."""

    playbook_path: str
    playbook_sha256: str
    playbook_title: str
    time_scale: float
    scrape_ms: int
    group_wait_wall_s: float
    range_window_wall_s: float
    alerts: tuple[PlannedAlert, ...]
    phases: tuple[PlannedPhase, ...]
    severities: tuple[PlannedSeverity, ...]
    services: tuple[PlannedService, ...] = ()
    verification: tuple[VerificationItem, ...]
    stable_versions: tuple[str, ...]
    pod_restart_backoff_wall_s: tuple[float, ...]
    pod_stable_after_wall_s: float
    sources: dict[str, ManualRef]
    """Where the manual promises what a check guards: ``verification``, ``data_integrity``,
    ``stable_version``, ``auto_rollback``, ``diagnosis.<id>``."""

    # --- the clock ----------------------------------------------------------------

    @property
    def timing(self) -> Timing:
        return Timing(scale=self.time_scale, scrape_ms=self.scrape_ms)

    @property
    def evaluation_interval_s(self) -> float:
        return self.scrape_ms / 1000

    def wall_s(self, manual_s: float) -> float:
        return self.timing.wall_s(manual_s)

    def manual_s(self, wall_s: float) -> float:
        return self.timing.manual_s(wall_s)

    # --- look-ups -----------------------------------------------------------------

    def alert(self, name: str) -> PlannedAlert | None:
        return next((a for a in self.alerts if a.name == name), None)

    def severity(self, severity_id: str) -> PlannedSeverity:
        for severity in self.severities:
            if severity.id == severity_id:
                return severity
        raise KeyError(severity_id)

    def service(self, service_id: str) -> PlannedService:
        for service in self.services:
            if service.id == service_id:
                return service
        raise KeyError(service_id)

    def phase(self, name: str) -> PlannedPhase | None:
        return next((p for p in self.phases if p.phase == name), None)

    def fault_hold_wall_s(self, alert_names: Iterable[str]) -> float:
        """How long a fault must hold for every alert in ``alert_names`` to have been notified.

        A rate or ratio needs a range window of bad samples before it crosses, then the
        alert its ``for`` and slack; alerts this plan does not hold add nothing.
        """
        deadlines = [a.notify_by_wall_s for n in alert_names if (a := self.alert(n)) is not None]
        margin = FAULT_HOLD_MARGIN_EVALUATIONS * self.evaluation_interval_s
        return self.range_window_wall_s + max(deadlines, default=0.0) + margin

    def experiment_vars(self, alert_names: Iterable[str], severity: str) -> dict[str, float]:
        """The durations an experiment runs by, passed as ``chaos run --var KEY:float=S``.

        * ``ce_drill_fault_hold_s`` — how long the fault holds for its alerts to fire;
        * ``ce_drill_lock_cap_s`` — the longest a lock is held if nothing releases it: the
          hold plus a range window for the runbook's diagnosis;
        * ``ce_drill_rollout_timeout_s`` — every phase's hold plus the pods' start-up;
        * ``ce_drill_recovery_timeout_s`` — twice the severity's RTO: a drill later than
          that has failed whatever it waits for, and its report still says by how much.
        """
        hold = self.fault_hold_wall_s(alert_names)
        return {
            "ce_drill_fault_hold_s": round(hold, 3),
            "ce_drill_lock_cap_s": round(hold + self.range_window_wall_s, 3),
            "ce_drill_rollout_timeout_s": round(
                sum(p.hold_wall_s for p in self.phases) + len(self.phases) * cfg.READY_TIMEOUT_S, 3
            ),
            "ce_drill_recovery_timeout_s": round(RECOVERY_WAIT_RTOS * self.severity(severity).rto_wall_s, 3),
        }

    # --- build, store, load -------------------------------------------------------

    @classmethod
    def build(
        cls,
        playbook: Path | None = None,
        *,
        time_scale: float = MANUAL_TIME,
        scrape_interval_s: float | None = None,
    ) -> DrillPlan:
        """The plan for ``playbook`` (the bundled one by default) at ``time_scale``.

        ``scrape_interval_s`` is wall time (the stack's); without it the manual-time
        evaluation interval is compressed like every other duration.
        """
        from ce_drill.rules.generate import build

        path = (playbook or bundled_path()).resolve()
        pb = Playbook.load(path)
        rules = build(pb, scale=time_scale, scrape_interval_s=scrape_interval_s, origin=str(path))
        t = rules.timing
        slack_s = NOTIFY_SLACK_EVALUATIONS * t.scrape_s + t.group_wait_ms / 1000 + NOTIFY_SLACK_S
        alerts = tuple(
            PlannedAlert(
                name=a.name,
                severity=a.severity,
                kind=a.kind,
                expr=a.expr,
                for_manual_s=a.for_manual_s,
                for_wall_s=a.for_ms / 1000,
                notify_by_wall_s=a.for_ms / 1000 + slack_s,
                source=_alert_source(pb, a.kind, a.name, a.severity),
            )
            for a in rules.alerts
        )
        floor_s = ROLLBACK_DEADLINE_EVALUATIONS * t.scrape_s
        phases = tuple(
            PlannedPhase(
                phase=p.phase,
                delay_manual_s=p.delay_s,
                hold_wall_s=t.wall_s(p.delay_s),
                deadline_wall_s=max(t.wall_s(p.delay_s), floor_s),
                source=p.source,
            )
            for p in pb.auto_rollback.phases
        )
        severities = tuple(
            PlannedSeverity(
                id=s.id,
                rank=severity_rank(s.id),
                rto_manual_s=s.rto_s,
                rto_wall_s=t.wall_s(s.rto_s),
                rpo_manual_s=s.rpo_s,
                source=s.source,
            )
            for s in sorted(pb.severities, key=lambda s: severity_rank(s.id))
        )
        verification = tuple(
            VerificationItem(area=c.area, metric=c.metric, op=c.op, threshold=c.threshold, source=c.source)
            for c in pb.rollback_verification
            if c.metric is not None and c.op is not None and c.threshold is not None
        )
        return cls(
            playbook_path=str(path),
            playbook_sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
            playbook_title=pb.manual.title,
            time_scale=t.scale,
            scrape_ms=t.scrape_ms,
            group_wait_wall_s=t.group_wait_ms / 1000,
            range_window_wall_s=t.window_ms / 1000,
            alerts=alerts,
            phases=phases,
            severities=severities,
            services=tuple(
                PlannedService(id=s.id, rto_manual_s=s.rto_s, rto_wall_s=t.wall_s(s.rto_s), source=s.source)
                for s in pb.services
            ),
            verification=verification,
            stable_versions=tuple(m.stable_version for m in pb.manual_rollback if m.stable_version),
            pod_restart_backoff_wall_s=tuple(t.wall_s(b) for b in cfg.POD_RESTART_BACKOFF_S),
            pod_stable_after_wall_s=t.wall_s(cfg.POD_STABLE_AFTER_S),
            sources=_sources(pb),
        )

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.model_dump_json(indent=2), encoding="utf-8")
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> DrillPlan:
        try:
            return cls.model_validate_json(path.read_text(encoding="utf-8"))
        except (OSError, ValidationError) as exc:
            first = str(exc).splitlines()[0]
            raise PlanError(f"{path}: unreadable drill plan ({first}); restart the stack") from None


def _alert_source(pb: Playbook, kind: str, name: str, severity: str) -> ManualRef | None:
    if kind == "detection":
        return next((r.source for r in pb.detection_rules if r.name == name), None)
    return next((lv.source for lv in pb.alert_priority_matrix if lv.severity == severity), None)


def _sources(pb: Playbook) -> dict[str, ManualRef]:
    out: dict[str, ManualRef] = {"auto_rollback": pb.auto_rollback.source}
    for check in pb.rollback_verification:
        key = {"performance": "verification", "data_integrity": "data_integrity"}.get(check.area)
        if key is not None and key not in out:
            out[key] = check.source
    stable = next((m for m in pb.manual_rollback if m.stable_version), None)
    if stable is not None:
        out["stable_version"] = stable.source
    for diagnosis in pb.troubleshooting.diagnoses:
        out[f"diagnosis.{diagnosis.id}"] = diagnosis.source
    return out
