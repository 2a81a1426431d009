"""What a forecast is judged against: the playbook's services, targets and severities, month by month.

Every target comes from the playbook; the months come from the period
(:data:`~sim.forecast.period.MONTH_DEFINITION`).  A month's error budget is
``(1 − target) × month length``: the downtime a service may have in that
month and still meet its availability target.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sim.forecast.period import Period
from sim.model.calendar import month_bounds
from sim.playbook import Playbook

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Layout:
    services: tuple[str, ...]
    service_names: tuple[str, ...]
    targets: tuple[float, ...]
    service_rto_s: tuple[float, ...]
    service_rpo_s: tuple[float, ...]
    months: tuple[str, ...]
    month_lengths_s: tuple[float, ...]
    severities: tuple[str, ...]
    rto_s: tuple[float, ...]
    rpo_s: tuple[float, ...]
    cadence_s: tuple[float | None, ...]

    @classmethod
    def of(cls, playbook: Playbook, period: Period) -> Layout:
        months = month_bounds(period.start, period.horizon_s)
        return cls(
            services=tuple(s.id for s in playbook.services),
            service_names=tuple(s.name for s in playbook.services),
            targets=tuple(s.availability for s in playbook.services),
            service_rto_s=tuple(s.rto_s for s in playbook.services),
            service_rpo_s=tuple(s.rpo_s for s in playbook.services),
            months=tuple(name for name, _, _ in months),
            month_lengths_s=tuple(hi - lo for _, lo, hi in months),
            severities=tuple(s.id for s in playbook.severities),
            rto_s=tuple(s.rto_s for s in playbook.severities),
            rpo_s=tuple(s.rpo_s for s in playbook.severities),
            cadence_s=tuple(playbook.cadence_s(s.id) for s in playbook.severities),
        )

    @property
    def lengths(self) -> FloatArray:
        """Month lengths broadcast to ``[service, month]``."""
        return np.broadcast_to(
            np.asarray(self.month_lengths_s, dtype=np.float64), (len(self.services), len(self.months))
        )

    @property
    def target_grid(self) -> FloatArray:
        return np.broadcast_to(
            np.asarray(self.targets, dtype=np.float64)[:, None], (len(self.services), len(self.months))
        )

    @property
    def budget_s(self) -> FloatArray:
        """Error budget ``[service, month]``: (1 − target) × month length."""
        return (1.0 - self.target_grid) * self.lengths

    def met(self, downtime_s: FloatArray) -> BoolArray:
        """Whether each month met its target — the model's own rule: availability ≥ target."""
        result: BoolArray = 1.0 - downtime_s / self.lengths >= self.target_grid
        return result
