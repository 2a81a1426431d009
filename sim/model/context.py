"""Everything the incident processes of one run share: the clock, the people, the rules, the seeds."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import simpy

from sim.model.calendar import Clock
from sim.model.responders import Team, make_team
from sim.model.state import IncidentState
from sim.playbook import Playbook
from sim.world import World

IC_PRIMARY = "commander"
IC_BACKUP = "commander-backup"


@dataclass
class Context:
    env: simpy.Environment
    playbook: Playbook
    world: World
    root: np.random.SeedSequence
    clock: Clock = field(init=False)
    teams: dict[str, Team] = field(init=False)
    incidents: list[IncidentState] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.clock = Clock(self.world.calendar.start, self.world.calendar.business_hours)
        r = self.world.responders
        self.teams = {IC_PRIMARY: make_team(self.env, IC_PRIMARY, r.commanders_primary)}
        if r.commanders_backup:
            self.teams[IC_BACKUP] = make_team(self.env, IC_BACKUP, r.commanders_backup)
        self.teams.update({name: make_team(self.env, name, size) for name, size in r.teams.items()})

    def stream(self, *key: int) -> np.random.Generator:
        """An independent random stream for one stochastic source, named by ``key``.

        Streams derive from the run's seed by key, not by draw order, so a
        what-if that changes one source leaves every other source's numbers
        as they were (common random numbers).
        """
        seq = np.random.SeedSequence(entropy=self.root.entropy, spawn_key=(*self.root.spawn_key, *key))
        return np.random.Generator(np.random.PCG64(seq))

    def response_window_s(self, severity: str) -> float | None:
        """How long an acknowledgement may take before it is escalated, from the playbook.

        "立即响应" (immediate) is held to the severity's flowchart confirmation
        deadline; a response "within" a time uses that time; "next working
        day" has no window of its own.
        """
        response = self.playbook.severity(severity).response
        if response.kind == "within":
            return response.within_s
        if response.kind == "immediate":
            flow = self.playbook.flow_for(severity)
            return flow.confirm_within_s if flow is not None else None
        return None
