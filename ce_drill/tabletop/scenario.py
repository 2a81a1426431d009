"""Tabletop scenarios as data: what the team sees, when, and what it must decide.

A scenario unfolds in simulated time.  *Injects* are what reaches the team —
alerts firing, users reporting, dashboard values, a restart that fails.  At
each *decision* the team says what it does: the severity, whom to page, fix
or roll back, what to tell users.  How long each step then takes is drawn
from the world, so the same answers and seed give the same exercise.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import Field

from sim.dists import Dist
from sim.fields import DateTime, Frozen, Identifier, Offset, SeverityId
from sim.loader import Problem, load_model, raise_first
from sim.playbook import Playbook
from sim.world import World


class Inject(Frozen):
    at_s: Offset = Field(alias="at")
    kind: Literal["dashboard", "alert", "user_report", "log", "note"]
    text: str
    rule: str | None = None
    """For an alert: the playbook detection rule that fires (its severity is the manual's)."""


class Option(Frozen):
    text: str
    works: bool = True
    """Whether this action restores service (a restart of a leaking 5.1 does not)."""
    stage: Literal["fix", "manual_rollback"] = "fix"
    """Which world stage its duration is drawn from, unless ``duration`` says otherwise."""
    duration: Dist | None = None
    """A duration of its own (a restart is quicker than a fix): an assumption of the scenario."""
    rollback: bool = False


class Scenario(Frozen):
    id: Identifier | str
    title: str
    failure_mode: Identifier
    incident: str
    start: DateTime
    expected_severity: SeverityId
    """The severity the manual's definitions give it (an alert inject of higher severity overrides)."""
    briefing: str
    root_cause: str
    injects: tuple[Inject, ...] = Field(min_length=1)
    decide_at_s: Offset = Field(alias="decide_at")
    """When the team first has to act (usually the first alert)."""
    actions: dict[Identifier, Option] = Field(min_length=2)
    failure_inject: str
    """What the team sees when an action does not restore service."""


def scenario_problems(scn: Scenario) -> Iterator[Problem]:
    if not any(o.works for o in scn.actions.values()):
        yield ("actions",), "at least one action must restore service", None
    times = [i.at_s for i in scn.injects]
    for i in range(1, len(times)):
        if times[i] < times[i - 1]:
            yield ("injects", i, "at"), "injects out of order", scn.injects[i].at_s


def load_scenario(path: Path) -> Scenario:
    return load_model(path, Scenario, scenario_problems)


def reference_problems(scn: Scenario, pb: Playbook, world: World) -> Iterator[Problem]:
    """What the scenario names that the playbook or the world does not have."""
    rules = {r.name for r in pb.detection_rules}
    for i, inject in enumerate(scn.injects):
        if inject.rule is not None and inject.rule not in rules:
            yield ("injects", i, "rule"), "no such detection rule in the playbook", inject.rule
    if scn.expected_severity not in {s.id for s in pb.severities}:
        known = ", ".join(s.id for s in pb.severities)
        yield ("expected_severity",), f"no such severity; the playbook defines {known}", scn.expected_severity
    modes = [m.id for m in world.failure_modes]
    if scn.failure_mode not in modes:
        yield ("failure_mode",), f"not a failure mode of the world ({', '.join(modes)})", scn.failure_mode


def check_references(path: Path, scn: Scenario, pb: Playbook, world: World) -> None:
    """Raise the first name the scenario uses that the playbook or world lacks, at its line."""
    raise_first(path, reference_problems(scn, pb, world))


def _folder() -> Path:
    return Path(str(resources.files("ce_drill.tabletop.scenarios")))


def bundled(name: str) -> Path | None:
    candidate = _folder() / f"{name}.yaml"
    return candidate if candidate.is_file() else None


def bundled_names() -> list[str]:
    return sorted(p.stem for p in _folder().glob("*.yaml"))
