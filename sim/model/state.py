"""One incident while it unfolds: what has happened to it so far.

The SimPy processes of :mod:`sim.model.incident` write here; at the end of a
run it becomes an immutable :class:`~sim.model.records.IncidentRecord`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import simpy

from sim.compare import severity_rank
from sim.model.records import IncidentRecord
from sim.model.signals import Trajectory
from sim.model.streams import Uniforms
from sim.playbook import Playbook
from sim.targets import effective_targets, incident_targets
from sim.world import FailureMode, Variant


@dataclass(slots=True)  # read and written on every step of an incident
class IncidentState:
    id: int
    mode: FailureMode
    variant: Variant
    started_s: float
    trajectories: dict[str, Trajectory]
    content: Uniforms
    flow: Uniforms
    comms: Uniforms
    detected: simpy.Event
    restored: simpy.Event
    resolved: simpy.Event
    severity: str | None = None
    initial_severity: str | None = None
    detected_s: float | None = None
    detected_by: str | None = None
    acknowledged_s: float | None = None
    acknowledged_by: str | None = None
    diagnosed_s: float | None = None
    mitigated_s: float | None = None
    mitigated_by: str | None = None
    resolved_s: float | None = None
    data_loss_s: float = 0.0
    data_service: str | None = None
    response_met: bool | None = None
    comms_met: bool | None = None
    escalations: int = 0
    fix_attempts: int = 0
    team_wait_s: float | None = None
    deploy_phase: str | None = None
    auto_rollback_s: float | None = None
    auto_rollback_in_time: bool | None = None
    status_updates: int = 0
    max_update_gap_s: float | None = None
    user_email_s: float | None = None
    alerts: list[tuple[str, str, float]] = field(default_factory=list)
    trace: list[tuple[float, str]] = field(default_factory=list)

    def log(self, now: float, event: str) -> None:
        self.trace.append((now, event))

    def detect(self, now: float, channel: str, severity: str) -> None:
        self.detected_s, self.detected_by = now, channel
        self.severity = self.initial_severity = severity
        self.log(now, f"detected by {channel} as {severity}")
        self.detected.succeed()

    def raise_severity(self, now: float, severity: str, why: str) -> None:
        if self.severity is None or severity_rank(severity) < severity_rank(self.severity):
            self.log(now, f"severity raised {self.severity} -> {severity} ({why})")
            self.severity = severity
            self.escalations += 1

    def restore(self, now: float, by: str) -> None:
        if self.restored.triggered:
            return
        self.mitigated_s, self.mitigated_by = now, by
        self.log(now, f"service restored by {by}")
        self.restored.succeed()

    def record(
        self, playbook: Playbook, horizon_s: float, targets: dict[tuple[Any, ...], tuple[float, float]]
    ) -> IncidentRecord:
        """The finished record; ``targets`` caches the (RTO, RPO) pairs of a run's many alike incidents."""
        severity = self.severity
        rto_met: bool | None = None
        rpo_met: bool | None = None
        if severity is not None:
            key = (severity, self.mode.services, self.data_service)
            if key not in targets:
                # The stricter of the severity's targets and the services': every service the
                # incident hits for the RTO, the one whose writes it lost for the RPO.
                targets[key] = (
                    incident_targets(playbook, severity, self.mode.services).rto.seconds,
                    effective_targets(playbook, severity, self.data_service)[1],
                )
            rto, rpo = targets[key]
            if self.mitigated_s is not None:
                rto_met = self.mitigated_s - self.started_s <= rto
            elif horizon_s - self.started_s > rto:
                rto_met = False  # still down at the end of the run, already past its RTO
            rpo_met = self.data_loss_s <= rpo
        end = self.mitigated_s if self.mitigated_s is not None else horizon_s
        return IncidentRecord(
            id=self.id,
            failure_mode=self.mode.id,
            variant=self.variant.name,
            severity=severity,
            initial_severity=self.initial_severity,
            started_s=self.started_s,
            detected_s=self.detected_s,
            detected_by=self.detected_by,
            acknowledged_s=self.acknowledged_s,
            acknowledged_by=self.acknowledged_by,
            diagnosed_s=self.diagnosed_s,
            mitigated_s=self.mitigated_s,
            mitigated_by=self.mitigated_by,
            resolved_s=self.resolved_s,
            down=self.variant.down,
            services=self.mode.services,
            downtime_s=(end - self.started_s) if self.variant.down else 0.0,
            data_loss_s=self.data_loss_s,
            rto_met=rto_met,
            rpo_met=rpo_met,
            response_met=self.response_met,
            comms_met=self.comms_met,
            escalations=self.escalations,
            fix_attempts=self.fix_attempts,
            team_wait_s=self.team_wait_s,
            deploy_phase=self.deploy_phase,
            auto_rollback_s=self.auto_rollback_s,
            auto_rollback_in_time=self.auto_rollback_in_time,
            status_updates=self.status_updates,
            max_update_gap_s=self.max_update_gap_s,
            user_email_s=self.user_email_s,
            alerts=tuple(self.alerts),
            trace=tuple(self.trace),
        )


Process = Any
"""A SimPy process generator (simpy ships no type information)."""
