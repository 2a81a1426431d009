"""Everything the incident processes of one run share: the clock, the people, the rules, the seeds."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import simpy

from sim.dists import Dist
from sim.model.calendar import Clock
from sim.model.responders import Team, make_team
from sim.model.state import IncidentState
from sim.model.streams import Seeds, Uniforms, shared_streams
from sim.playbook import Playbook, ResponseFlow, Severity
from sim.world import World

IC_PRIMARY = "commander"
IC_BACKUP = "commander-backup"

Quantile = Callable[[float], float]
"""A distribution's quantile function: a uniform draw in, a duration out."""


@dataclass
class Context:
    env: simpy.Environment
    playbook: Playbook
    world: World
    root: np.random.SeedSequence
    clock: Clock = field(init=False)
    teams: dict[str, Team] = field(init=False)
    seeds: Seeds = field(init=False)
    stages: dict[str, Quantile] = field(init=False)
    """The world's stage durations by name, as quantile functions."""
    incidents: list[IncidentState] = field(default_factory=list)
    # The playbook's and world's answers, looked up once per run rather than once per incident.
    _quantiles: dict[int, Quantile] = field(default_factory=dict, init=False, repr=False)
    _severities: dict[str, Severity] = field(default_factory=dict, init=False, repr=False)
    _flows: dict[str, ResponseFlow | None] = field(default_factory=dict, init=False, repr=False)
    _windows: dict[str, float | None] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.clock = Clock(plain_datetime(self.world.calendar.start), self.world.calendar.business_hours)
        r = self.world.responders
        self.teams = {IC_PRIMARY: make_team(self.env, IC_PRIMARY, r.commanders_primary)}
        if r.commanders_backup:
            self.teams[IC_BACKUP] = make_team(self.env, IC_BACKUP, r.commanders_backup)
        self.teams.update({name: make_team(self.env, name, size) for name, size in r.teams.items()})
        self.seeds = Seeds(self.root)
        stages = self.world.stages
        self.stages = {name: getattr(stages, name).quantile_function() for name in type(stages).model_fields}

    def stream(self, *key: int) -> Uniforms:
        """An independent random stream for one stochastic source, named by ``key``.

        Streams derive from the run's seed by key, not by draw order, so a
        what-if that changes one source leaves every other source's numbers
        as they were (common random numbers).
        """
        return Uniforms(self.seeds, *key)

    def incident_streams(self, *key: int) -> tuple[Uniforms, ...]:
        """An incident's content, flow and communication streams, opened from one generator keyed ``key``.

        Each source keeps its own numbers whatever the others draw, as with
        :meth:`stream` (see :func:`sim.model.streams.shared_streams`).
        """
        return shared_streams(self.seeds, *key)

    def quantile(self, dist: Dist) -> Quantile:
        """``dist``'s quantile function (sample it with ``quantile(stream.random())``)."""
        q = self._quantiles.get(id(dist))
        if q is None:
            q = self._quantiles[id(dist)] = dist.quantile_function()
        return q

    def severity(self, severity: str) -> Severity:
        if severity not in self._severities:
            self._severities[severity] = self.playbook.severity(severity)
        return self._severities[severity]

    def flow_for(self, severity: str) -> ResponseFlow | None:
        if severity not in self._flows:
            self._flows[severity] = self.playbook.flow_for(severity)
        return self._flows[severity]

    def response_window_s(self, severity: str) -> float | None:
        """How long an acknowledgement may take before it is escalated, from the playbook.

        "立即响应" (immediate) is held to the severity's flowchart confirmation
        deadline; a response "within" a time uses that time; "next working
        day" has no window of its own.
        """
        if severity not in self._windows:
            self._windows[severity] = self._response_window_s(severity)
        return self._windows[severity]

    def _response_window_s(self, severity: str) -> float | None:
        response = self.severity(severity).response
        if response.kind == "within":
            return response.within_s
        if response.kind == "immediate":
            flow = self.flow_for(severity)
            return flow.confirm_within_s if flow is not None else None
        return None


def plain_datetime(when: dt.datetime) -> dt.datetime:
    """``when`` as a plain datetime: YAML loaders hand out subclasses whose ``replace`` deep-copies."""
    return dt.datetime(
        when.year,
        when.month,
        when.day,
        when.hour,
        when.minute,
        when.second,
        when.microsecond,
        when.tzinfo,
        fold=when.fold,
    )
