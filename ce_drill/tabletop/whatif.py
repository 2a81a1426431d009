"""``--what-if rollback_decided=14:40``: the rest of a real incident, re-run from another decision."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ce_drill.tabletop.timeline import Event, Timeline
from ce_drill.tabletop.verdicts import onset
from sim.errors import InputError
from sim.forecast.stats import wilson
from sim.model.whatif import continue_from_decision
from sim.playbook import Playbook
from sim.targets import incident_targets
from sim.world import World

# Decisions a what-if can move, and the action each one starts.
DECISIONS = {"rollback_decided": "manual_rollback"}


@dataclass(frozen=True)
class Scenario:
    label: str
    decision_s: float
    restored_s: tuple[float, ...]
    rto_s: float

    @property
    def met(self) -> int:
        return sum(1 for r in self.restored_s if r <= self.rto_s)

    def to_json(self) -> dict[str, Any]:
        n = len(self.restored_s)
        interval = wilson(self.met, n)
        p50, p90 = np.percentile(self.restored_s, [50, 90])
        return {
            "label": self.label,
            "decision_s": self.decision_s,
            "replications": n,
            "p_rto_met": self.met / n,
            "ci95": [interval.lo, interval.hi],
            "restore_p50_s": float(p50),
            "restore_p90_s": float(p90),
        }


def parse(spec: str, where: str) -> tuple[str, str]:
    key, sep, value = spec.partition("=")
    if not sep or key not in DECISIONS:
        known = ", ".join(f"{k}=HH:MM" for k in DECISIONS)
        raise InputError(where, None, "--what-if", f"expected {known}", repr(spec))
    return key, value.strip()


def run(
    pb: Playbook, world: World, tl: Timeline, spec: str, *, where: str, replications: int, seed: int
) -> dict[str, Any]:
    key, value = parse(spec, where)
    severity = tl.severity()
    if tl.failure_mode is None or severity is None:
        raise InputError(
            where, None, "failure_mode", "a what-if needs the timeline's failure_mode and severity"
        )
    try:
        moved = tl.when(Event(at=value, kind="rollback_decided"))[0]
    except ValueError:
        raise InputError(where, None, "--what-if", "expected a time such as 14:40", repr(value)) from None
    # Times count from the outage's start, as the replay's RTO verdict does.
    started = onset(pb, tl).at
    actual_event = tl.first(key)
    target = incident_targets(pb, severity, tl.services).rto
    rto = target.seconds
    decisions = [("what-if", (moved - started).total_seconds())]
    if actual_event is not None:
        decisions.append(("as decided", (tl.when(actual_event)[0] - started).total_seconds()))
    scenarios = []
    for label, decision_s in decisions:
        if decision_s < 0:
            raise InputError(where, None, "--what-if", "the decision is before the incident started", value)
        try:
            outcomes = continue_from_decision(
                pb, world, failure_mode=tl.failure_mode, severity=severity, decision_s=decision_s,
                action=DECISIONS[key], replications=replications, seed=seed,
            )  # fmt: skip
        except ValueError as exc:
            raise InputError(where, None, "failure_mode", str(exc)) from None
        scenarios.append(Scenario(label, decision_s, outcomes.restored_s, rto).to_json())
    recovered = tl.first("recovered")
    return {
        "decision": key,
        "at": value,
        "severity": severity,
        "rto_s": rto,
        "rto_of": target.holder,
        "actual_restore_s": None if recovered is None else (tl.when(recovered)[0] - started).total_seconds(),
        "seed": seed,
        "scenarios": scenarios,
        "note": "same seeds for every decision time (common random numbers); durations from the world",
    }
