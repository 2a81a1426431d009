"""The manual's auto-rollback triggers, checked against what Prometheus records now.

Each trigger of ``pb.auto_rollback.triggers`` names a recorded metric of the
rule generator (``claude_enhancer:error_rate``…), a comparison and a
threshold in the metric's unit.  A trigger *holds* when the recorded metric's
current value satisfies the comparison; a metric with no value yet (no
traffic, nothing scraped) holds nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ce_drill.rules import contract
from sim.compare import OPS, holds
from sim.errors import InputError
from sim.playbook import Playbook, RollbackTrigger


@dataclass(frozen=True)
class Check:
    trigger: str
    metric: str
    op: str
    threshold: float
    value: float | None
    holds: bool

    def to_json(self) -> dict[str, object]:
        return {
            "trigger": self.trigger,
            "metric": self.metric,
            "op": self.op,
            "threshold": self.threshold,
            "value": self.value,
        }


def validate(pb: Playbook, origin: str = "playbook") -> tuple[RollbackTrigger, ...]:
    """The triggers, each checked to name a metric the recording rules produce."""
    for i, trigger in enumerate(pb.auto_rollback.triggers):
        if contract.recorded_metric(trigger.metric) is None:
            raise InputError(
                origin, None, f"auto_rollback.triggers[{i}].metric", "not a recorded metric", trigger.metric
            )
        if trigger.op not in OPS:
            raise InputError(
                origin, None, f"auto_rollback.triggers[{i}].op", "unknown comparison", trigger.op
            )
    return pb.auto_rollback.triggers


def check(trigger: RollbackTrigger, value: float | None) -> Check:
    return Check(
        trigger.name,
        trigger.metric,
        trigger.op,
        trigger.threshold,
        value,
        holds(trigger.op, value, trigger.threshold),
    )


def evaluate(triggers: Sequence[RollbackTrigger], value_of: Callable[[str], float | None]) -> list[Check]:
    """Every trigger against the current value of its metric (``value_of`` asks Prometheus)."""
    return [check(t, value_of(t.metric)) for t in triggers]
