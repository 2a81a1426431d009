"""Checks that span more than one field of a world file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from sim.loader import Problem, raise_first
from sim.playbook import Playbook
from sim.world import World


def world_problems(world: World) -> Iterator[Problem]:
    seen: set[str] = set()
    for i, mode in enumerate(world.failure_modes):
        if mode.id in seen:
            yield ("failure_modes", i, "id"), "duplicate failure mode", mode.id
        seen.add(mode.id)
        if mode.team not in world.responders.teams:
            known = ", ".join(sorted(world.responders.teams))
            yield ("failure_modes", i, "team"), f"no such team; responders.teams has {known}", mode.team
        for j, variant in enumerate(mode.variants):
            for k, signal in enumerate(variant.signals):
                if signal.shape == "ramp" and signal.ramp_s is None:
                    yield (
                        ("failure_modes", i, "variants", j, "signals", k, "ramp"),
                        "a ramp needs its ramp time",
                        None,
                    )
    durable = {d.service for d in world.durable_points}
    for i, mode in enumerate(world.failure_modes):
        if mode.data_loss is not None and mode.data_loss.service not in durable:
            yield (
                ("failure_modes", i, "data_loss", "service"),
                "no durable_points entry",
                mode.data_loss.service,
            )
    for i, point in enumerate(world.durable_points):
        if point.kind == "replication" and point.lag is None:
            yield ("durable_points", i, "lag"), "replication needs a lag distribution", None
        if point.kind == "backup" and point.interval_s is None:
            yield ("durable_points", i, "interval"), "backups need an interval", None


def fit_problems(world: World, playbook: Playbook) -> Iterator[Problem]:
    """What the world names that the playbook does not have: services, teams (roles), rollout phases."""
    services = {s.id for s in playbook.services}
    roles = {r.id for r in playbook.roles}
    phases = {p.phase for p in playbook.auto_rollback.phases}
    for i, mode in enumerate(world.failure_modes):
        for j, service in enumerate(mode.services):
            if service not in services:
                yield ("failure_modes", i, "services", j), "not a service of the playbook", service
        if mode.data_loss is not None and mode.data_loss.service not in services:
            yield (
                ("failure_modes", i, "data_loss", "service"),
                "not a service of the playbook",
                mode.data_loss.service,
            )
    for team in world.responders.teams:
        if team not in roles:
            yield ("responders", "teams", team), "not a role of the playbook", team
    for phase in world.deployments.phase_weights:
        if phase not in phases:
            yield ("deployments", "phase_weights", phase), "not a rollout phase of the playbook", phase


def check_fits(path: Path, world: World, playbook: Playbook) -> None:
    """Raise the first thing the world names that the playbook lacks, at its line in ``path``."""
    raise_first(path, fit_problems(world, playbook))
