"""Checks that span more than one field of a world file."""

from __future__ import annotations

from collections.abc import Iterator

from sim.loader import Problem
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
