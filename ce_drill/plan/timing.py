"""How long things take on a drill's clock: the manual's durations, compressed.

A drill at ``--time-scale K`` replays the manual K times faster: an alert the
manual wants held for 5 minutes is held for ``5m / K``.  Compression cannot go
below what Prometheus can observe, so every compressed duration has a floor:

* the scrape (= rule evaluation) interval is the manual-time one — the world's
  ``monitoring.evaluation_interval``, which the simulation detects with too —
  divided by K, but never below :data:`MIN_SCRAPE_INTERVAL_S`;
* a range window (``rate(x[5m])``) is rounded up to whole scrape intervals and
  never holds fewer than :data:`WINDOW_FLOOR_SCRAPES` of them — ``rate`` needs
  two samples and a margin for a missed scrape;
* a ``for`` is never shorter than one evaluation interval, the shortest hold
  Prometheus can tell apart from "fires at once";
* Alertmanager re-notifies no faster than rules are evaluated.

Everything is kept in whole milliseconds, Prometheus's finest duration unit,
so test times computed here are exact.  This is the only place a duration is
compressed: the drill plan (:mod:`ce_drill.plan`) holds a ``Timing`` and every
other part of ce-drill asks it.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from sim.units import format_duration

Seconds = TypeVar("Seconds", float, npt.NDArray[np.float64])
"""Durations in seconds: one, or an array of them (a chart's axis)."""

DEFAULT_DRILL_TIME_SCALE = 10.0
"""Drills and their stack run the manual 10x faster unless told otherwise: the shortest
``for`` (1 min) is 6 s, a P1 RTO 90 s, the rollout phases 6/12/30 s (long enough for the
deployer's checks) — a drill takes minutes, and every floor below stays out of the way."""

MANUAL_TIME = 1.0
"""Time scale 1: the manual's own timing (rules for a real cluster, a staging cluster's drills)."""


@functools.cache
def default_evaluation_interval_s() -> float:
    """Scrape and evaluation interval at manual time: the default world's, so the
    simulation detects on the same grid as the rules it is compared with."""
    from sim.world import World

    return World.default().monitoring.evaluation_interval_s


MIN_SCRAPE_INTERVAL_S = 1.0
"""The shortest interval the local stack scrapes and evaluates at (measured to work)."""

RATE_WINDOW_S = 300.0
"""Window of every rate/increase/average over time at manual time.  The manual names
no window; 5 minutes is the usual Prometheus choice for request rates."""

WINDOW_FLOOR_SCRAPES = 4
"""A compressed range window spans at least this many scrape intervals."""

ALERTMANAGER_GROUP_WAIT_S = 30.0
ALERTMANAGER_GROUP_INTERVAL_S = 300.0
ALERTMANAGER_REPEAT_INTERVAL_S = 4 * 3600.0
"""Alertmanager's own defaults at manual time; compressed like every other duration.
The repeat interval is used only where the playbook sets no update cadence at all."""


def prom_duration(ms: int) -> str:
    """A Prometheus duration string for whole milliseconds: ``5m``, ``1m30s``, ``1500ms``."""
    if ms < 0:
        raise ValueError(f"negative duration: {ms}ms")
    return format_duration(ms / 1000)


@dataclass(frozen=True)
class Timing:
    """The clock rules, tests and routes are generated for."""

    scale: float
    scrape_ms: int

    @classmethod
    def create(cls, scale: float = 1.0, scrape_interval_s: float | None = None) -> Timing:
        """Timing at ``scale``; the scrape interval is compressed too unless given in wall time."""
        if not math.isfinite(scale) or scale < 1.0:
            raise ValueError(f"time scale must be a number >= 1 (got {scale})")
        if scrape_interval_s is None:
            scrape_s = max(default_evaluation_interval_s() / scale, MIN_SCRAPE_INTERVAL_S)
        else:
            if not math.isfinite(scrape_interval_s) or scrape_interval_s <= 0:
                raise ValueError(f"scrape interval must be positive (got {scrape_interval_s})")
            scrape_s = scrape_interval_s
        return cls(scale=scale, scrape_ms=max(1, round(scrape_s * 1000)))

    def compress_ms(self, seconds: float) -> int:
        """A manual-time duration in wall milliseconds, before any floor."""
        return round(self.wall_s(seconds) * 1000)

    def wall_s(self, manual_s: Seconds) -> Seconds:
        """A manual-time duration on the drill's clock (wall seconds), before any floor."""
        return manual_s / self.scale

    def manual_s(self, wall_s: Seconds) -> Seconds:
        """A wall-clock duration of a drill in manual time."""
        return wall_s * self.scale

    @property
    def scrape_s(self) -> float:
        return self.scrape_ms / 1000

    @property
    def window_ms(self) -> int:
        """The range window: whole scrape intervals, at least WINDOW_FLOOR_SCRAPES of them."""
        scrapes = max(math.ceil(self.compress_ms(RATE_WINDOW_S) / self.scrape_ms), WINDOW_FLOOR_SCRAPES)
        return scrapes * self.scrape_ms

    def for_ms(self, for_s: float) -> int:
        """A rule's ``for``, floored at one evaluation interval."""
        return max(self.compress_ms(for_s), self.scrape_ms)

    def steps_until_firing(self, for_ms: int) -> int:
        """Evaluations after the first true one until an alert with ``for_ms`` fires.

        Prometheus fires at the first evaluation at least ``for`` after the alert
        became pending, so a ``for`` between two evaluations rounds up.
        """
        return max(1, math.ceil(for_ms / self.scrape_ms))

    @property
    def group_wait_ms(self) -> int:
        return self.compress_ms(ALERTMANAGER_GROUP_WAIT_S)

    @property
    def group_interval_ms(self) -> int:
        return max(self.compress_ms(ALERTMANAGER_GROUP_INTERVAL_S), self.scrape_ms)

    def repeat_ms(self, cadence_s: float) -> int:
        """Re-notification interval: the manual's update cadence, never below the group interval."""
        return max(self.compress_ms(cadence_s), self.group_interval_ms)
