"""Distributions for assumed durations and delays, written as humans think of them.

Stage durations in incident response are positively skewed and heavy-tailed
(time-to-recover is best fitted by a lognormal in published data), so the
default is a lognormal given by its median and 90th percentile.  A
log-logistic, whose tail falls off as a power law, is there for worlds that
want heavier tails; ``exponential`` and ``fixed`` serve the analytic oracles.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from statistics import NormalDist
from typing import Any, Literal

import numpy as np
from pydantic import Field, PrivateAttr, model_validator

from sim.fields import Frozen, Offset

_STD_NORMAL = NormalDist()
_Z90 = _STD_NORMAL.inv_cdf(0.9)
_LOW, _HIGH = 1e-300, 1 - 1e-16


def _open_unit(u: float) -> float:
    """``u`` kept inside (0, 1), where the quantiles are finite (as ``min(max(u, low), high)``, cheaper)."""
    return _LOW if u < _LOW else _HIGH if u > _HIGH else u


class Dist(Frozen):
    """A non-negative random duration in seconds."""

    dist: Literal["fixed", "exponential", "lognormal", "loglogistic", "uniform"]
    value_s: Offset | None = Field(default=None, alias="value")
    mean_s: Offset | None = Field(default=None, alias="mean")
    median_s: Offset | None = Field(default=None, alias="median")
    p90_s: Offset | None = Field(default=None, alias="p90")
    shape: float | None = Field(default=None, gt=1.0)
    low_s: Offset | None = Field(default=None, alias="low")
    high_s: Offset | None = Field(default=None, alias="high")
    _quantile: Callable[[float], float] | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _parameters(self) -> Dist:
        need = {
            "fixed": ("value_s",),
            "exponential": ("mean_s",),
            "lognormal": ("median_s", "p90_s"),
            "loglogistic": ("median_s", "shape"),
            "uniform": ("low_s", "high_s"),
        }[self.dist]
        for name in need:
            if getattr(self, name) is None:
                raise ValueError(f"a {self.dist} distribution needs '{name.removesuffix('_s')}'")
        p90, median = self.p90_s, self.median_s
        if self.dist == "lognormal" and p90 is not None and median is not None and not p90 > median > 0:
            raise ValueError("a lognormal needs 0 < median < p90")
        low, high = self.low_s, self.high_s
        if self.dist == "uniform" and low is not None and high is not None and high < low:
            raise ValueError("a uniform needs low <= high")
        return self

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Dist:
        """A copy whose sampler follows the copied parameters (pydantic copies skip post-init)."""
        copy = super().model_copy(update=update, deep=deep)
        copy._quantile = None
        return copy

    def sample(self, rng: np.random.Generator) -> float:
        """One draw.  Every kind consumes exactly one uniform, so streams stay aligned across what-ifs."""
        return self.quantile(rng.random())

    def quantile(self, u: float) -> float:
        return self.quantile_function()(u)

    def quantile_function(self) -> Callable[[float], float]:
        """The quantile as a plain function, its constants fixed on first use.

        Sampling sits on the simulation's hot path, where even reading a
        pydantic private attribute per draw shows: the model holds on to this.
        """
        quantile = self._quantile
        if quantile is None:
            quantile = self._quantile = self._make_quantile()
        return quantile

    def _make_quantile(self) -> Callable[[float], float]:
        if self.dist == "fixed":
            value = float(self.value_s or 0.0)
            return lambda _u: value
        if self.dist == "exponential":
            mean = float(self.mean_s or 0.0)
            return lambda u: -mean * math.log1p(-u)
        if self.dist == "uniform":
            low, high = float(self.low_s or 0.0), float(self.high_s or 0.0)
            return lambda u: low + (high - low) * u
        median = float(self.median_s or 0.0)
        if self.dist == "lognormal":
            sigma = math.log(float(self.p90_s or 0.0) / median) / _Z90
            inv_cdf, exp = _STD_NORMAL.inv_cdf, math.exp
            return lambda u: median * exp(sigma * inv_cdf(_open_unit(u)))
        shape = float(self.shape or 2.0)

        def loglogistic(u: float) -> float:
            u = _open_unit(u)
            return float(median * (u / (1 - u)) ** (1 / shape))

        return loglogistic

    def mean(self) -> float:
        """The distribution's mean (infinite for a log-logistic with shape <= 1, excluded by validation)."""
        if self.dist == "fixed":
            return float(self.value_s or 0.0)
        if self.dist == "exponential":
            return float(self.mean_s or 0.0)
        if self.dist == "uniform":
            return (float(self.low_s or 0.0) + float(self.high_s or 0.0)) / 2
        median = float(self.median_s or 0.0)
        if self.dist == "lognormal":
            sigma = math.log(float(self.p90_s or 0.0) / median) / _Z90
            return median * math.exp(sigma * sigma / 2)
        b = float(self.shape or 2.0)
        return median * (math.pi / b) / math.sin(math.pi / b)

    def scaled(self, factor: float) -> Dist:
        """The same shape, every duration multiplied by ``factor`` (for what-ifs and sensitivities)."""
        update = {
            name: getattr(self, name) * factor
            for name in ("value_s", "mean_s", "median_s", "p90_s", "low_s", "high_s")
            if getattr(self, name) is not None
        }
        return self.model_copy(update=update)
