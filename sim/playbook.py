"""The manual's promises as typed, validated data.

A playbook is what an incident-response manual promises: severities with their
RTO/RPO and response times, the alert rules, the auto-rollback triggers and
phase delays, the response timeline, the communication cadence, per-service
recovery and availability targets, and the post-mortem deadlines.  It holds no
assumption about how systems or people behave; that is the world's job.

Every consumer — the simulation model, the Prometheus rule generator and the
drill judge — reads its numbers from here, so the manual is typed once.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from sim.fields import (
    Date,
    DateTime,
    Duration,
    Frozen,
    Identifier,
    ManualRef,
    Offset,
    Op,
    Quantity,
    Ratio,
    SeverityId,
    Unit,
    check_threshold,
)

BUNDLED = "claude-enhancer-5.1.yaml"


class _Thresholded(Frozen):
    """A ``metric op threshold`` statement: its threshold must make sense for its unit."""

    @field_validator("threshold", check_fields=False)
    @classmethod
    def _threshold_fits_unit(cls, value: float | None, info: ValidationInfo) -> float | None:
        return None if value is None else check_threshold(info.data.get("unit"), value)


class ManualInfo(Frozen):
    title: str
    version: str
    last_updated: Date
    maintainer: str
    review_cycle: str
    emergency_phone: str
    emergency_email: str
    source: ManualRef


class UsersAffected(Frozen):
    """Share of users affected that defines a severity: above, below or a band."""

    above: Ratio | None = None
    below: Ratio | None = None
    min: Ratio | None = None
    max: Ratio | None = None


class Response(Frozen):
    """How fast a severity must be picked up ("立即响应", "30分钟内响应", "下个工作日处理")."""

    kind: Literal["immediate", "within", "next_business_day"]
    within_s: Duration | None = Field(default=None, alias="within")
    text: str

    @field_validator("within_s")
    @classmethod
    def _within_needs_kind(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is not None and info.data.get("kind") != "within":
            raise ValueError("only a response of kind 'within' takes a time")
        return value


class Escalation(Frozen):
    mode: Literal["page_all_key_personnel", "notify_primary_team", "business_hours", "planned_maintenance"]
    text: str


class Severity(Frozen):
    id: SeverityId
    name: str
    definition: str
    criteria: tuple[str, ...]
    users_affected: UsersAffected | None = None
    response_time_above_s: Duration | None = Field(default=None, alias="response_time_above")
    error_rate_above: Ratio | None = None
    rto_s: Duration = Field(alias="rto")
    rpo_s: Offset = Field(alias="rpo")
    response: Response
    escalation: Escalation
    source: ManualRef


class Contact(Frozen):
    slot: Literal["primary", "backup", "lead"]
    name: str
    phone: str | None = None
    email: str | None = None
    slack: str | None = None


class Role(Frozen):
    id: Identifier
    name: str
    team: Literal["command", "technical", "business"]
    lead: str
    duties: tuple[str, ...]
    channel: str | None = None
    contacts: tuple[Contact, ...] = ()
    source: ManualRef


class ReportChannel(Frozen):
    kind: Literal["email", "slack", "status_page"]
    address: str


class UserReports(Frozen):
    channels: tuple[ReportChannel, ...]
    source: ManualRef


class DetectionRule(_Thresholded):
    """One of the manual's alert rules: ``metric op threshold`` held for ``for`` → severity."""

    name: Identifier
    group: Literal["core_business", "infrastructure"]
    metric: str
    op: Op
    unit: Unit
    threshold: Quantity
    for_s: Duration = Field(alias="for")
    severity: SeverityId
    summary: str
    runbook: ManualRef
    source: ManualRef


class MatrixCondition(_Thresholded):
    """A priority-matrix condition; without a threshold the metric is a 0/1 indicator."""

    signal: str
    metric: str
    covers: tuple[str, ...] = ()
    """The detection-rule metrics an aggregate condition stands for (resource_utilization)."""
    op: Op | None = None
    unit: Unit | None = None
    threshold: Quantity | None = None


class PriorityLevel(Frozen):
    severity: SeverityId
    label: str
    conditions: tuple[MatrixCondition, ...]
    channels: tuple[Identifier, ...]
    source: ManualRef


class RollbackTrigger(_Thresholded):
    name: Identifier
    metric: str
    op: Op
    unit: Unit
    threshold: Quantity
    text: str
    source: ManualRef


class RollbackPhase(Frozen):
    """A deployment phase and how soon auto-rollback must fire in it."""

    phase: Identifier
    delay_s: Duration = Field(alias="delay")
    text: str
    source: ManualRef


class AutoRollback(Frozen):
    script: str
    triggers: tuple[RollbackTrigger, ...]
    phases: tuple[RollbackPhase, ...]
    source: ManualRef


class ManualRollback(Frozen):
    mode: Literal["emergency", "planned"]
    severities: tuple[SeverityId, ...]
    confirm: bool
    command: str
    stable_version: str | None = None
    source: ManualRef


class VerificationCheck(_Thresholded):
    area: Literal["functional", "performance", "data_integrity"]
    check: str
    metric: str | None = None
    op: Op | None = None
    unit: Unit | None = None
    threshold: Quantity | None = None
    source: ManualRef


class ResponseFlow(Frozen):
    id: Identifier
    severities: tuple[SeverityId, ...]
    confirm_within_s: Duration = Field(alias="confirm_within")
    diagnose_within_s: Duration | None = Field(default=None, alias="diagnose_within")
    stability_watch_s: Duration | None = Field(default=None, alias="stability_watch")
    steps: tuple[str, ...]
    source: ManualRef


class Milestone(Frozen):
    at_s: Offset = Field(alias="at")
    kind: Identifier
    text: str
    source: ManualRef


class SeverityTimeline(Frozen):
    severity: SeverityId
    milestones: tuple[Milestone, ...]


class HealthCheck(Frozen):
    stage: Identifier
    name: str
    budget_s: Duration = Field(alias="budget")
    commands: tuple[str, ...]
    source: ManualRef


class Diagnosis(Frozen):
    id: Identifier
    name: str
    symptoms: tuple[str, ...]
    solutions: tuple[str, ...]
    queries: dict[str, str] = Field(default_factory=dict)
    """The runbook's queries as ce-drill runs them."""
    manual_queries: dict[str, str] = Field(default_factory=dict)
    """Queries as the manual writes them, where that text does not run as written."""
    manual_queries_source: ManualRef | None = None
    source: ManualRef


class Troubleshooting(Frozen):
    health_checks: tuple[HealthCheck, ...]
    diagnoses: tuple[Diagnosis, ...]


class WarRoom(Frozen):
    channel: str
    video: str
    docs: str
    source: ManualRef


class Cadence(Frozen):
    severity: SeverityId
    every_s: Duration = Field(alias="every")
    source: ManualRef


class StatusPage(Frozen):
    url: str
    update: str
    owner: str
    source: ManualRef


class EmailRule(Frozen):
    severity: SeverityId
    when: Literal["immediately", "impact_exceeds", "planned_maintenance"]
    impact_over_s: Duration | None = Field(default=None, alias="impact_over")
    text: str
    source: ManualRef


class TemplatePromise(Frozen):
    """A time promised to readers inside one of the manual's message templates."""

    template: Identifier
    severity: SeverityId
    next_update_in_s: Duration | None = Field(default=None, alias="next_update_in")
    expected_recovery_in_s: Duration | None = Field(default=None, alias="expected_recovery_in")
    text: str
    source: ManualRef


class Communication(Frozen):
    war_room: WarRoom
    update_cadence: tuple[Cadence, ...]
    status_page: StatusPage
    user_email: tuple[EmailRule, ...]
    template_promises: tuple[TemplatePromise, ...]


class Service(Frozen):
    id: Identifier
    name: str
    category: Literal["core", "data", "monitoring"]
    rto_s: Duration = Field(alias="rto")
    rpo_s: Offset = Field(alias="rpo")
    availability: Ratio
    source: ManualRef


class PerformanceTargets(Frozen):
    api_response_time_p95_s: Duration = Field(alias="api_response_time_p95")
    page_load_time_p95_s: Duration = Field(alias="page_load_time_p95")
    error_rate_threshold: Ratio
    concurrent_users: int = Field(gt=0)
    source: ManualRef


class AvailabilityTargets(Frozen):
    monthly_uptime: Ratio
    daily_downtime_max_s: Duration = Field(alias="daily_downtime_max")
    incident_resolution_time_s: Duration = Field(alias="incident_resolution_time")
    source: ManualRef


class ResourceLimits(Frozen):
    cpu_utilization_max: Ratio
    memory_utilization_max: Ratio
    disk_utilization_max: Ratio
    network_bandwidth_reserve: Ratio
    source: ManualRef


class ScalingTriggers(Frozen):
    scale_up_cpu_threshold: Ratio
    scale_up_memory_threshold: Ratio
    scale_down_cpu_threshold: Ratio
    scale_down_memory_threshold: Ratio
    source: ManualRef


class Targets(Frozen):
    performance: PerformanceTargets
    availability: AvailabilityTargets
    resource_limits: ResourceLimits
    scaling_triggers: ScalingTriggers


class PostmortemStage(Frozen):
    stage: Literal["preparation", "meeting", "report"]
    within_s: Duration = Field(alias="within")
    duration_min_s: Duration | None = Field(default=None, alias="duration_min")
    duration_max_s: Duration | None = Field(default=None, alias="duration_max")
    owner: Identifier | None = None
    text: str
    source: ManualRef


class FollowUp(Frozen):
    monthly_review: str
    quarterly_summary: tuple[str, ...]
    source: ManualRef


class ExampleEvent(Frozen):
    at: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    kind: Identifier
    text: str
    by: str | None = None
    source: ManualRef


class ExampleClaim(Frozen):
    kind: Identifier
    within_s: Duration | None = Field(default=None, alias="within")
    duration_s: Duration | None = Field(default=None, alias="duration")
    text: str
    source: ManualRef


class ActionItem(Frozen):
    due: Date
    priority: Literal["high", "medium", "low"]
    owner: str
    text: str
    acceptance: str
    alert_metric: str | None = None
    alert_threshold: Ratio | None = None
    soak_s: Duration | None = Field(default=None, alias="soak")
    similarity: Ratio | None = None
    canary_window_s: Duration | None = Field(default=None, alias="canary_window")
    source: ManualRef


class ActionGroup(Frozen):
    horizon_s: Duration = Field(alias="horizon")
    text: str
    source: ManualRef
    items: tuple[ActionItem, ...]


class RootCause(Frozen):
    text: str
    source: ManualRef


class ExampleImpact(Frozen):
    outage_s: Duration = Field(alias="outage")
    users_affected: int = Field(gt=0)
    revenue_loss_usd: float = Field(ge=0)
    source: ManualRef


class ExampleReport(Frozen):
    author: str
    reviewers: tuple[str, ...]
    published: Date
    next_review: Date
    source: ManualRef


class PostmortemExample(Frozen):
    """The manual's worked post-mortem (INC-2024-001), kept so its claims can be checked."""

    incident_id: str
    title: str
    started: DateTime
    severity: SeverityId
    duration_s: Duration = Field(alias="duration")
    users_affected: int = Field(gt=0)
    users_affected_ratio: Ratio
    source: ManualRef
    root_cause: RootCause
    impact: ExampleImpact
    report: ExampleReport
    timeline: tuple[ExampleEvent, ...]
    claims: tuple[ExampleClaim, ...]
    action_items: tuple[ActionGroup, ...]


class Postmortem(Frozen):
    stages: tuple[PostmortemStage, ...]
    follow_up: FollowUp
    example: PostmortemExample


class ChecklistItem(Frozen):
    text: str
    kind: Identifier
    severities: tuple[SeverityId, ...] = ()
    """Severities the item is limited to; empty means every severity."""
    source: ManualRef | None = None
    """The item's own line; without it, its checklist's."""


class TimedChecklist(Frozen):
    within_s: Duration = Field(alias="within")
    source: ManualRef
    items: tuple[ChecklistItem, ...]


class RollbackChecklist(Frozen):
    before: tuple[str, ...]
    during: tuple[str, ...]
    after: tuple[str, ...]
    source: ManualRef


class CommunicationChecklist(Frozen):
    internal: tuple[str, ...]
    external: tuple[str, ...]
    source: ManualRef


class Checklists(Frozen):
    first_response: tuple[TimedChecklist, ...]
    rollback: RollbackChecklist
    communication: CommunicationChecklist


class Dashboard(Frozen):
    refresh_interval_s: Duration = Field(alias="refresh_interval")
    source: ManualRef


class Training(Frozen):
    incident_response_drills: str
    tabletop_exercises: str
    source: ManualRef


class Playbook(Frozen):
    """Everything the manual promises.  Load with :meth:`default` or :func:`sim.load_playbook`."""

    manual: ManualInfo
    severities: tuple[Severity, ...]
    roles: tuple[Role, ...]
    user_reports: UserReports
    detection_rules: tuple[DetectionRule, ...]
    alert_priority_matrix: tuple[PriorityLevel, ...]
    auto_rollback: AutoRollback
    manual_rollback: tuple[ManualRollback, ...]
    rollback_verification: tuple[VerificationCheck, ...]
    response_flows: tuple[ResponseFlow, ...]
    response_timeline: tuple[SeverityTimeline, ...]
    troubleshooting: Troubleshooting
    communication: Communication
    services: tuple[Service, ...]
    targets: Targets
    postmortem: Postmortem
    checklists: Checklists
    dashboard: Dashboard
    training: Training

    @classmethod
    def default(cls) -> Playbook:
        """The bundled Claude Enhancer 5.1 playbook."""
        from sim.loader import load_playbook

        return load_playbook(bundled_path())

    @classmethod
    def load(cls, path: str | Path) -> Playbook:
        from sim.loader import load_playbook

        return load_playbook(Path(path))

    def severity(self, severity_id: str) -> Severity:
        for severity in self.severities:
            if severity.id == severity_id:
                return severity
        raise KeyError(severity_id)

    def service(self, service_id: str) -> Service:
        for service in self.services:
            if service.id == service_id:
                return service
        raise KeyError(service_id)

    def rule(self, name: str) -> DetectionRule:
        for rule in self.detection_rules:
            if rule.name == name:
                return rule
        raise KeyError(name)

    def cadence_s(self, severity_id: str) -> float | None:
        """Internal update cadence for a severity, or None where the manual sets none."""
        for cadence in self.communication.update_cadence:
            if cadence.severity == severity_id:
                return cadence.every_s
        return None

    def flow_for(self, severity_id: str) -> ResponseFlow | None:
        for flow in self.response_flows:
            if severity_id in flow.severities:
                return flow
        return None

    def timeline_for(self, severity_id: str) -> tuple[Milestone, ...]:
        for timeline in self.response_timeline:
            if timeline.severity == severity_id:
                return timeline.milestones
        return ()

    def sources(self) -> Iterator[tuple[str, ManualRef]]:
        """Every manual reference in the playbook, with the field path that carries it."""
        yield from _walk_refs(self, "")


def bundled_path() -> Path:
    """Filesystem path of the playbook shipped inside the package."""
    return Path(str(resources.files("sim.playbooks").joinpath(BUNDLED)))


def _walk_refs(node: object, path: str) -> Iterator[tuple[str, ManualRef]]:
    if isinstance(node, ManualRef):
        yield path, node
    elif isinstance(node, Frozen):
        for name in type(node).model_fields:
            yield from _walk_refs(getattr(node, name), f"{path}.{name}" if path else name)
    elif isinstance(node, tuple):
        for index, item in enumerate(node):
            yield from _walk_refs(item, f"{path}[{index}]")
