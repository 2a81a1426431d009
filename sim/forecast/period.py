"""The stretch of calendar a forecast covers: a quarter, a month, a year, or N days.

Availability targets are judged per calendar month (UTC), so a forecast for
``2027Q1`` simulates from 1 January 2027 00:00 UTC to 1 April, and its months
are January, February and March in full.  A forecast of ``N`` days starts at
the world's calendar start; its first and last months may be partial, and are
then judged on the part simulated.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

_QUARTER = re.compile(r"^(\d{4})[Qq]([1-4])$")
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_YEAR = re.compile(r"^(\d{4})$")

MONTH_DEFINITION = (
    "calendar months in UTC (January has 31 days, February 28 or 29 ...); "
    "a month the run covers only in part is judged on the part simulated"
)


class PeriodError(ValueError):
    """A period that cannot be read (``2027Q5``, ``2027-13``)."""


@dataclass(frozen=True)
class Period:
    """``days`` of simulated time from ``start`` (UTC), named ``label`` in reports."""

    label: str
    start: dt.datetime
    days: float

    @property
    def end(self) -> dt.datetime:
        return self.start + dt.timedelta(days=self.days)

    @property
    def horizon_s(self) -> float:
        return self.days * 86400.0


def parse_period(text: str) -> Period:
    """``2027Q1`` (a calendar quarter), ``2027-03`` (a month) or ``2027`` (a year)."""
    text = text.strip()
    if match := _QUARTER.match(text):
        year, quarter = int(match.group(1)), int(match.group(2))
        first = _utc(year, 3 * quarter - 2)
        following = _utc(year + 1, 1) if quarter == 4 else _utc(year, 3 * quarter + 1)
        return _span(f"{year}Q{quarter}", first, following)
    if match := _MONTH.match(text):
        year, month = int(match.group(1)), int(match.group(2))
        following = _utc(year + 1, 1) if month == 12 else _utc(year, month + 1)
        return _span(text, _utc(year, month), following)
    if match := _YEAR.match(text):
        year = int(match.group(1))
        return _span(text, _utc(year, 1), _utc(year + 1, 1))
    raise PeriodError("expected a quarter like 2027Q1, a month like 2027-03 or a year like 2027")


def quarter_of(moment: dt.datetime) -> Period:
    """The calendar quarter that contains ``moment``."""
    return parse_period(f"{moment.year}Q{(moment.month - 1) // 3 + 1}")


def days_from(start: dt.datetime, days: float) -> Period:
    """``days`` from ``start`` (the world's calendar start)."""
    if not days > 0:
        raise PeriodError(f"the number of days must be positive (got {days:g})")
    return Period(f"{_as_utc(start):%Y-%m-%d}+{days:g}d", _as_utc(start), float(days))


def _utc(year: int, month: int) -> dt.datetime:
    if not 1 <= year <= 9998:
        raise PeriodError(f"year out of range (got {year})")
    return dt.datetime(year, month, 1, tzinfo=dt.UTC)


def _span(label: str, first: dt.datetime, following: dt.datetime) -> Period:
    return Period(label, first, (following - first).total_seconds() / 86400.0)


def _as_utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)
