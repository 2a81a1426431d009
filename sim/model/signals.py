"""Signal trajectories and when Prometheus alert rules fire on them.

An incident moves each of its metrics from a baseline to a peak, either at
once (a step: a crash takes ``up`` to 0) or along a linear ramp (a leak fills
memory).  Prometheus evaluates a rule every evaluation interval; the first
evaluation at which the condition holds makes the alert *pending*, and it
*fires* at the first evaluation at least ``for`` later, provided the condition
held throughout.  Because trajectories are monotone until the incident is
mitigated, the crossing instant and the firing evaluation follow from the
trajectory alone: nothing is polled (polling every interval would cost ~170 k
events per rule per simulated month).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sim.compare import OPS

# A grid point within this of an instant counts as that instant (float noise in t/interval).
_EPS = 1e-9


@dataclass(frozen=True)
class Trajectory:
    """One metric during one incident, from its start: baseline → peak (step, or ramp over ``ramp_s``)."""

    metric: str
    baseline: float
    peak: float
    ramp_s: float = 0.0

    def value(self, t: float) -> float:
        """The metric ``t`` seconds after the incident started (the baseline before it)."""
        if t < 0:
            return self.baseline
        if self.ramp_s <= 0 or t >= self.ramp_s:
            return self.peak
        return self.baseline + (self.peak - self.baseline) * t / self.ramp_s

    def onset(self, op: str, threshold: float) -> tuple[float, bool] | None:
        """When ``value op threshold`` starts to hold, as (seconds from start, strictly after?).

        None when it never holds while the incident lasts.  A condition that
        already holds at the baseline is reported as holding from the start.
        """
        holds = OPS[op]  # the one comparison table (sim.compare)
        if holds(self.baseline, threshold):
            return 0.0, False
        if not holds(self.peak, threshold):
            return None
        if self.ramp_s <= 0 or self.peak == self.baseline:
            return 0.0, False
        # On the ramp the value crosses the threshold once; at the crossing itself the
        # condition holds only for the non-strict operators.
        t = self.ramp_s * (threshold - self.baseline) / (self.peak - self.baseline)
        t = min(max(t, 0.0), self.ramp_s)
        strict = not holds(self.value(t), threshold)
        return t, strict


def next_grid(at: float, interval: float, strictly_after: bool = False) -> float:
    """The first evaluation instant (multiples of ``interval``) at or after ``at``."""
    k = at / interval
    n = math.floor(k + _EPS) + 1 if strictly_after else math.ceil(k - _EPS)
    return n * interval


@dataclass(frozen=True)
class AlertTiming:
    rule: str
    severity: str
    pending_at: float
    firing_at: float


def alert_timing(
    *,
    rule: str,
    severity: str,
    op: str,
    threshold: float,
    for_s: float,
    trajectory: Trajectory,
    started_at: float,
    interval: float,
) -> AlertTiming | None:
    """When an alert on ``trajectory`` goes pending and fires, if the incident lasts long enough."""
    onset = trajectory.onset(op, threshold)
    if onset is None:
        return None
    offset, strict = onset
    pending = next_grid(started_at + offset, interval, strictly_after=strict)
    # Prometheus fires at the first evaluation where (now - activeAt) >= for.
    firing = pending + math.ceil(for_s / interval - _EPS) * interval
    return AlertTiming(rule, severity, pending, firing)
