"""What-ifs on a real incident: re-run the rest of it from a decision, many times.

A replay knows what happened; a what-if asks what would have happened had a
decision been taken at another moment.  The decision is taken as given and
everything after it — how long the rollback takes, whether it works, the
escalation loop when it does not — is drawn from the world, once per
replication, with the same random numbers for every decision time compared
(common random numbers), so the difference between two decision times is not
noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import simpy

from sim.model.context import Context
from sim.model.incident import resume_from_decision
from sim.model.state import IncidentState
from sim.playbook import Playbook
from sim.world import World


@dataclass(frozen=True)
class Outcomes:
    decision_s: float
    restored_s: tuple[float, ...]
    """Seconds from the incident's start to service restored, one per replication."""


def continue_from_decision(
    playbook: Playbook,
    world: World,
    *,
    failure_mode: str,
    severity: str,
    decision_s: float,
    action: str,
    replications: int,
    seed: int,
) -> Outcomes:
    """Restoration times (from incident start) when ``action`` is decided ``decision_s`` in."""
    mode = next((m for m in world.failure_modes if m.id == failure_mode), None)
    if mode is None:
        known = ", ".join(m.id for m in world.failure_modes)
        raise ValueError(f"no failure mode {failure_mode!r} in the world; it has {known}")
    restored = []
    for i, child in enumerate(np.random.SeedSequence(seed).spawn(replications)):
        env = simpy.Environment(initial_time=decision_s)
        ctx = Context(env, playbook, world, child)
        inc = IncidentState(
            id=i,
            mode=mode,
            variant=mode.variants[0],
            started_s=0.0,
            trajectories={},
            content=ctx.stream(0),
            flow=ctx.stream(1),
            comms=ctx.stream(2),
            detected=env.event(),
            restored=env.event(),
            resolved=env.event(),
            severity=severity,
        )
        env.process(resume_from_decision(ctx, inc, action))
        env.run(until=inc.restored)
        assert inc.mitigated_s is not None
        restored.append(inc.mitigated_s)
    return Outcomes(decision_s, tuple(restored))
