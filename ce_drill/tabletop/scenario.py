"""Tabletop scenarios as data: what the team sees, when, and what it must decide.

A scenario unfolds in simulated time.  *Injects* are what reaches the team —
alerts firing, users reporting, dashboard values, a restart that fails.  At
each *decision* the team says what it does: the severity, whom to page, fix
or roll back, what to tell users.  How long each step then takes is drawn
from the world, so the same answers and seed give the same exercise.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import Field

from sim.dists import Dist
from sim.fields import Frozen, Identifier, Offset, SeverityId
from sim.loader import Problem, load_model


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
    start: dt.datetime
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


def _folder() -> Path:
    return Path(str(resources.files("ce_drill.tabletop.scenarios")))


def bundled(name: str) -> Path | None:
    candidate = _folder() / f"{name}.yaml"
    return candidate if candidate.is_file() else None


def bundled_names() -> list[str]:
    return sorted(p.stem for p in _folder().glob("*.yaml"))
