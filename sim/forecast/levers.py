"""The world's main assumptions as levers, for a sensitivity (tornado) analysis.

Each lever turns one assumption down and up — durations and rates scaled
×0.5 and ×2, success probabilities moved by halving or doubling their
*failure* odds — and the forecast is run again on the same seeds (common
random numbers), so the change in P(SLA met) is the lever's effect, not noise.
Every lever derives its worlds from the world it is given: the numbers come
from the world file, never from here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sim.world import FailureMode, World

LOW, HIGH = 0.5, 2.0
"""How far each lever is turned: half and double."""


@dataclass(frozen=True)
class Lever:
    name: str
    label: str
    """What is changed, in words ("fix duration ×f")."""
    apply: Callable[[World, float], World]


def _stages(*names: str) -> Callable[[World, float], World]:
    def apply(world: World, factor: float) -> World:
        update = {name: getattr(world.stages, name).scaled(factor) for name in names}
        return world.model_copy(update={"stages": world.stages.model_copy(update=update)})

    return apply


def _ack_delay(world: World, factor: float) -> World:
    r = world.responders
    responders = r.model_copy(
        update={
            "ack_delay": r.ack_delay.scaled(factor),
            "all_hands_ack_delay": r.all_hands_ack_delay.scaled(factor),
        }
    )
    return world.model_copy(update={"responders": responders})


def _modes(update: Callable[[FailureMode, float], dict[str, float]]) -> Callable[[World, float], World]:
    def apply(world: World, factor: float) -> World:
        modes = tuple(m.model_copy(update=update(m, factor)) for m in world.failure_modes)
        return world.model_copy(update={"failure_modes": modes})

    return apply


def failure_odds(success: float, factor: float) -> float:
    """A success probability whose failure probability is multiplied by ``factor`` (kept in [0, 1])."""
    return 1.0 - min(1.0, (1.0 - success) * factor)


def _auto_rollback_failure(world: World, factor: float) -> World:
    d = world.deployments
    p = failure_odds(d.auto_rollback_success_probability, factor)
    return world.model_copy(
        update={"deployments": d.model_copy(update={"auto_rollback_success_probability": p})}
    )


LEVERS: tuple[Lever, ...] = (
    Lever(
        "incident_rate",
        "incident rates ×f",
        _modes(lambda m, f: {"incidents_per_year": m.incidents_per_year * f}),
    ),
    Lever("ack_delay", "acknowledgement delay ×f", _ack_delay),
    Lever("diagnosis", "diagnosis and impact analysis ×f", _stages("diagnose", "impact_analysis", "plan")),
    Lever("fix", "fix duration ×f", _stages("fix")),
    Lever("manual_rollback", "manual rollback duration ×f", _stages("manual_rollback")),
    Lever("auto_rollback", "auto-rollback duration ×f", _stages("auto_rollback")),
    Lever(
        "fix_failure",
        "fix failure odds ×f",
        _modes(lambda m, f: {"fix_success_probability": failure_odds(m.fix_success_probability, f)}),
    ),
    Lever("auto_rollback_failure", "auto-rollback failure odds ×f", _auto_rollback_failure),
)
