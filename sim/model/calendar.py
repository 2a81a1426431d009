"""Simulation time against the wall calendar: working hours and calendar months.

Simulation time is seconds from the world's calendar start (UTC).  The manual
defers P3 work to working hours and P4 work to the next working day, and
availability targets are judged per calendar month, so the model needs both.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

from sim.world import BusinessHours

_DAY = 86400.0


@functools.cache  # asked on every paging decision, of a handful of distinct times
def _clock(text: str) -> float:
    hours, minutes = text.split(":")
    return int(hours) * 3600.0 + int(minutes) * 60.0


@dataclass(frozen=True)
class Clock:
    start: dt.datetime
    hours: BusinessHours

    def at(self, t: float) -> dt.datetime:
        return self.start + dt.timedelta(seconds=t)

    def sim_time(self, when: dt.datetime) -> float:
        return (when - self.start).total_seconds()

    def _day_start(self, t: float) -> tuple[float, int]:
        """Sim time of the midnight starting the day that contains ``t``, and that day's weekday."""
        moment = self.at(t)
        midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        return self.sim_time(midnight), midnight.weekday()

    def in_hours(self, t: float) -> bool:
        midnight, weekday = self._day_start(t)
        return weekday in self.hours.weekdays and _clock(self.hours.open) <= t - midnight < _clock(
            self.hours.close
        )

    def next_open(self, t: float) -> float:
        """``t`` itself if within working hours, else the next opening."""
        if self.in_hours(t):
            return t
        return self.next_day_open(t, include_today=True)

    def next_day_open(self, t: float, include_today: bool = False) -> float:
        """The opening of the next working day after ``t`` (or today's, if still to come)."""
        midnight, weekday = self._day_start(t)
        for days in range(0, 15):
            day = midnight + days * _DAY
            opening = day + _clock(self.hours.open)
            if (weekday + days) % 7 not in self.hours.weekdays:
                continue
            if days == 0 and not (include_today and opening > t):
                continue
            return opening
        raise ValueError("business hours name no working day")

    def close_of(self, t: float) -> float:
        """The closing time of the working day that opens at or before ``t``."""
        midnight, _ = self._day_start(t)
        return midnight + _clock(self.hours.close)


@functools.lru_cache(maxsize=64)  # every run of a forecast asks it of the same period
def month_bounds(start: dt.datetime, horizon_s: float) -> tuple[tuple[str, float, float], ...]:
    """Calendar months (``YYYY-MM``) overlapping [0, horizon), as sim-time [from, to) clipped to the run."""
    out = []
    first = start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    cursor = first
    while (cursor - start).total_seconds() < horizon_s:
        following = (cursor + dt.timedelta(days=32)).replace(day=1)
        lo = max(0.0, (cursor - start).total_seconds())
        hi = min(horizon_s, (following - start).total_seconds())
        if hi > lo:
            out.append((cursor.strftime("%Y-%m"), lo, hi))
        cursor = following
    return tuple(out)
