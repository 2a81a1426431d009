"""Confidence intervals for attainment probabilities and for what-if differences.

* A probability estimated from ``k`` successes in ``n`` independent trials
  gets a 95 % **Wilson** score interval: unlike the textbook ``p ± 1.96·se``
  it stays inside [0, 1] and keeps its coverage near 0 and 1, where the
  manual's targets live (a service that is never down still gets an honest
  upper and lower bound).
* A what-if difference ``B − A`` is estimated over the same replications
  (common random numbers).  Each replication contributes ``x`` successes out
  of ``n`` trials (one month, or its incidents of a severity); the difference
  of the two pooled ratios gets a delta-method (linearised) standard error,
  computed from per-replication *paired* differences — or, for comparison,
  as if the two runs were independent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

Z95 = NormalDist().inv_cdf(0.975)
QUANTILES = (0.5, 0.9, 0.99)
"""The percentiles reported for downtime and time to restore (empirical, linear interpolation)."""

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Interval:
    """An estimate with its 95 % confidence interval."""

    estimate: float
    lo: float
    hi: float

    @property
    def half_width(self) -> float:
        return (self.hi - self.lo) / 2

    def to_json(self) -> dict[str, object]:
        return {"estimate": _num(self.estimate), "ci95": [_num(self.lo), _num(self.hi)]}


def wilson(successes: int | float, trials: int | float, z: float = Z95) -> Interval:
    """Wilson score interval for a binomial proportion; no trials gives (nan, [0, 1])."""
    n = float(trials)
    if n <= 0:
        return Interval(math.nan, 0.0, 1.0)
    p = float(successes) / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    return Interval(p, max(0.0, centre - half), min(1.0, centre + half))


def wilson_arrays(successes: FloatArray, trials: FloatArray, z: float = Z95) -> tuple[FloatArray, FloatArray]:
    """Vectorised :func:`wilson` bounds (for running estimates); zero trials give [0, 1]."""
    empty = trials <= 0
    n = np.where(empty, 1.0, trials)
    p = successes / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z * np.sqrt(np.maximum(p * (1 - p) / n + z2 / (4 * n * n), 0.0)) / denominator
    lo = np.where(empty, 0.0, np.maximum(0.0, centre - half))
    hi = np.where(empty, 1.0, np.minimum(1.0, centre + half))
    return lo, hi


def ratio_difference(
    x_a: FloatArray, n_a: FloatArray, x_b: FloatArray, n_b: FloatArray, *, paired: bool = True
) -> Interval:
    """``x_b.sum()/n_b.sum() − x_a.sum()/n_a.sum()`` with a 95 % CI, over replications.

    Replication ``i`` of A and of B ran on the same seed.  ``paired`` uses that
    (the variance of the per-replication difference of linearised ratios);
    ``paired=False`` treats the runs as independent, which is what the
    difference would cost without common random numbers.
    """
    reps = len(x_a)
    if reps < 2 or n_a.sum() <= 0 or n_b.sum() <= 0:
        return Interval(math.nan, math.nan, math.nan)
    p_a, p_b = x_a.sum() / n_a.sum(), x_b.sum() / n_b.sum()
    u_a = (x_a - p_a * n_a) / n_a.mean()
    u_b = (x_b - p_b * n_b) / n_b.mean()
    if paired:
        variance = float(np.var(u_b - u_a, ddof=1)) / reps
    else:
        variance = (float(np.var(u_a, ddof=1)) + float(np.var(u_b, ddof=1))) / reps
    diff = float(p_b - p_a)
    half = Z95 * math.sqrt(variance)
    return Interval(diff, diff - half, diff + half)


def quantiles(values: FloatArray) -> tuple[float, ...]:
    """The :data:`QUANTILES` of ``values`` (nan when there are none)."""
    if values.size == 0:
        return tuple(math.nan for _ in QUANTILES)
    return tuple(float(q) for q in np.quantile(values, QUANTILES))


def _num(value: float) -> float | None:
    return None if math.isnan(value) else float(value)
