"""Run the model: failure modes strike as Poisson processes, each incident runs its course.

``simulate(playbook, world, days, seed)`` is the whole public surface.  It is
pure: no files, no clock, no global random state.  The same seed gives the
same numbers, whatever else runs beside it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Generator
from typing import Any

import numpy as np
import simpy

from sim.model.context import Context, plain_datetime
from sim.model.incident import run_incident
from sim.model.records import SimResult, service_months
from sim.model.signals import Trajectory
from sim.model.state import IncidentState
from sim.model.streams import Exponentials
from sim.playbook import Playbook
from sim.world import FailureMode, World

YEAR_S = 365.25 * 86400.0
# Stream keys: (kind, mode index[, incident number]); an incident's sources are content, flow, comms.
_ARRIVALS, _INCIDENT = 0, 1


class ModelError(ValueError):
    """A world that does not fit the playbook (a service or team the playbook does not know)."""


def check_compatible(playbook: Playbook, world: World) -> None:
    services = {s.id for s in playbook.services}
    roles = {r.id for r in playbook.roles}
    phases = {p.phase for p in playbook.auto_rollback.phases}
    for mode in world.failure_modes:
        for service in mode.services:
            if service not in services:
                raise ModelError(f"failure mode {mode.id}: service {service!r} is not in the playbook")
        if mode.data_loss is not None and mode.data_loss.service not in services:
            raise ModelError(
                f"failure mode {mode.id}: data service {mode.data_loss.service!r} is not in the playbook"
            )
    for team in world.responders.teams:
        if team not in roles:
            raise ModelError(f"responders.teams: {team!r} is not a role of the playbook")
    for phase in world.deployments.phase_weights:
        if phase not in phases:
            raise ModelError(f"deployments.phase_weights: {phase!r} is not a rollout phase of the playbook")


def simulate(
    playbook: Playbook,
    world: World,
    days: float = 90.0,
    seed: int | np.random.SeedSequence = 0,
    start: dt.datetime | None = None,
) -> SimResult:
    """Simulate ``days`` of incidents and responses from ``start`` (default: the world's calendar start)."""
    check_compatible(playbook, world)
    if start is not None:
        world = world.model_copy(update={"calendar": world.calendar.model_copy(update={"start": start})})
    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    env = simpy.Environment()
    ctx = Context(env, playbook, world, root)
    horizon = days * 86400.0
    for index in range(len(world.failure_modes)):
        env.process(_arrivals(ctx, index))
    env.run(until=horizon)
    rto_rpo: dict[tuple[Any, ...], tuple[float, float]] = {}
    records = tuple(inc.record(playbook, horizon, rto_rpo) for inc in ctx.incidents)
    targets = {s.id: s.availability for s in playbook.services}
    label: int | str = seed if isinstance(seed, int) else f"{root.entropy}/{list(root.spawn_key)}"
    return SimResult(
        seed=label,
        start=world.calendar.start,
        horizon_s=horizon,
        records=records,
        service_months=service_months(plain_datetime(world.calendar.start), horizon, records, targets),
        events=next(env._eid),  # SimPy's own event counter: every scheduled event
        arrivals={mode.id: sum(1 for i in ctx.incidents if i.mode is mode) for mode in world.failure_modes},
        assignments=tuple(a for team in ctx.teams.values() for a in team.log),
    )


def _arrivals(ctx: Context, index: int) -> Generator[Any, Any, None]:
    mode = ctx.world.failure_modes[index]
    gaps = Exponentials(ctx.seeds.generator(_ARRIVALS, index), YEAR_S / mode.incidents_per_year)
    number = 0
    while True:
        yield ctx.env.timeout(gaps.next())
        inc = _new_incident(ctx, index, mode, number)
        number += 1
        ctx.incidents.append(inc)
        ctx.env.process(run_incident(ctx, inc))
        if not mode.concurrent:
            # A failure mode cannot strike again while its last incident is unmitigated;
            # with exponential gaps, drawing the next gap from restoration is exact.
            yield inc.restored


def _new_incident(ctx: Context, index: int, mode: FailureMode, number: int) -> IncidentState:
    content, flow, comms = ctx.incident_streams(_INCIDENT, index, number)
    weights = [v.weight for v in mode.variants]
    u = content.random() * sum(weights)
    variant = mode.variants[-1]
    for candidate in mode.variants:
        if u < candidate.weight:
            variant = candidate
            break
        u -= candidate.weight
    trajectories = {}
    for signal in variant.signals:
        spread = signal.jitter * (2 * content.random() - 1)
        peak = signal.baseline + (signal.peak - signal.baseline) * (1 + spread)
        trajectories[signal.metric] = Trajectory(signal.metric, signal.baseline, peak, signal.ramp_s or 0.0)
    env = ctx.env
    inc = IncidentState(
        id=len(ctx.incidents),
        mode=mode,
        variant=variant,
        started_s=env.now,
        trajectories=trajectories,
        content=content,
        flow=flow,
        comms=comms,
        detected=env.event(),
        restored=env.event(),
        resolved=env.event(),
    )
    _data_loss(ctx, inc)
    return inc


def _data_loss(ctx: Context, inc: IncidentState) -> None:
    """Lose the writes since the service's last durable point, if this incident loses data."""
    u = inc.content.random()
    loss = inc.mode.data_loss
    if loss is None:
        return
    point = next(p for p in ctx.world.durable_points if p.service == loss.service)
    if point.kind == "replication" and point.lag is not None:
        lost = ctx.quantile(point.lag)(inc.content.random())
    else:
        interval = point.interval_s or 0.0
        lost = inc.started_s % interval if interval else 0.0
    if u < loss.probability:
        inc.data_service = loss.service
        inc.data_loss_s = lost
        inc.log(inc.started_s, f"lost {lost:.1f}s of {loss.service} writes")
