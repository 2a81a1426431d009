"""The world: how the platform and its people are assumed to behave.

Where the playbook holds what the manual promises, the world holds the
assumptions the simulation needs to test those promises: how often each
failure mode strikes and how its signals move, how long people take to
acknowledge, diagnose, fix and roll back, how often a fix or a rollback fails,
where the last durable copy of data is.  Every number here is an assumption,
meant to be calibrated from drills; none comes from the manual.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from sim.dists import Dist
from sim.fields import DateTime, Duration, Frozen, Identifier, Ratio, SeverityId

BUNDLED = "default.yaml"


class BusinessHours(Frozen):
    """When P3 and P4 work happens ("工作时间内处理", "下个工作日处理")."""

    open: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    close: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    weekdays: tuple[int, ...] = Field(min_length=1)

    @field_validator("weekdays")
    @classmethod
    def _weekdays(cls, days: tuple[int, ...]) -> tuple[int, ...]:
        if any(d < 0 or d > 6 for d in days):
            raise ValueError("weekdays are 0 (Monday) to 6 (Sunday)")
        return days


class Calendar(Frozen):
    start: DateTime
    business_hours: BusinessHours


class Monitoring(Frozen):
    evaluation_interval_s: Duration = Field(alias="evaluation_interval")
    deployer_check_interval_s: Duration = Field(alias="deployer_check_interval")
    noticed_after_s: Duration = Field(alias="noticed_after")
    """When neither an alert nor a user gives it away, someone notices the incident this late."""


class Responders(Frozen):
    """On-call people by role, and how long a page takes to be acknowledged."""

    commanders_primary: int = Field(ge=1)
    commanders_backup: int = Field(ge=0)
    teams: dict[Identifier, int]
    ack_delay: Dist
    all_hands_ack_delay: Dist

    @field_validator("teams")
    @classmethod
    def _teams(cls, teams: dict[str, int]) -> dict[str, int]:
        if any(n < 1 for n in teams.values()):
            raise ValueError("every team needs at least one person")
        return teams


class Stages(Frozen):
    """Assumed durations of each step of the manual's two response flows."""

    confirm: Dist
    war_room: Dist
    diagnose: Dist
    impact_analysis: Dist
    plan: Dist
    fix: Dist
    verify: Dist
    manual_rollback: Dist
    auto_rollback: Dist
    update_monitoring: Dist
    document: Dist
    recovery_notice: Dist
    status_update_gap_factor: Dist
    """Actual gap between status updates as a fraction of the cadence (unitless: 0.9 = 10 % early)."""
    user_email_delay: Dist


class Signal(Frozen):
    """How one metric moves during an incident: a step or a linear ramp from baseline to peak."""

    metric: str
    shape: Literal["step", "ramp"]
    baseline: float
    peak: float
    ramp_s: Duration | None = Field(default=None, alias="ramp")
    jitter: Ratio = 0.0
    """Relative spread of the peak from incident to incident (uniform ±jitter)."""


class Variant(Frozen):
    """One way a failure mode plays out; ``weight`` sets how often."""

    name: Identifier
    weight: float = Field(gt=0)
    reported_severity: SeverityId
    """The severity responders give it when no alert rule fires (found from user reports only)."""
    down: bool
    signals: tuple[Signal, ...] = ()


class DataLoss(Frozen):
    probability: Ratio
    service: Identifier


class UserReports(Frozen):
    probability: Ratio
    delay: Dist


class FailureMode(Frozen):
    id: Identifier
    name: str
    incidents_per_year: float = Field(gt=0, le=1_000_000)
    """At most a million a year (about two a minute, as the queueing oracles use): more is a
    typo, and would keep the simulation busy for hours."""
    team: Identifier
    services: tuple[Identifier, ...] = Field(min_length=1)
    deploy_related: bool
    """Incidents of this mode start during a deployment, so the auto-rollback watches them."""
    concurrent: bool = False
    """Whether a new incident of this mode may start while the last one is still unmitigated."""
    quick_fix_probability: Ratio
    fix_success_probability: Ratio
    rollback_success_probability: Ratio
    rollback_possible: bool
    user_reports: UserReports
    data_loss: DataLoss | None = None
    variants: tuple[Variant, ...] = Field(min_length=1)


class DurablePoints(Frozen):
    """How far back a data service's last durable copy is: continuous (replication lag) or periodic."""

    service: Identifier
    kind: Literal["replication", "backup"]
    lag: Dist | None = None
    interval_s: Duration | None = Field(default=None, alias="interval")


class Deployments(Frozen):
    """Which rollout phase a deploy-related incident starts in (weights), and auto-rollback odds."""

    phase_weights: dict[Identifier, float]
    auto_rollback_success_probability: Ratio


class World(Frozen):
    """Everything assumed about the system and its people.  Load with :meth:`default`."""

    calendar: Calendar
    monitoring: Monitoring
    responders: Responders
    stages: Stages
    deployments: Deployments
    durable_points: tuple[DurablePoints, ...]
    failure_modes: tuple[FailureMode, ...] = Field(min_length=1)
    notes: dict[str, str] = Field(default_factory=dict)

    @classmethod
    def default(cls) -> World:
        return cls.load(bundled_path())

    @classmethod
    def load(cls, path: str | Path) -> World:
        from sim.loader import load_model
        from sim.world_checks import world_problems

        return load_model(Path(path), World, world_problems)


def bundled_path() -> Path:
    return Path(str(resources.files("sim.worlds").joinpath(BUNDLED)))
