"""Typed building blocks shared by every validated file (playbook, world, timeline).

Durations are stored in seconds and ratios as fractions; a field that holds a
duration is named ``*_s`` in Python and JSON and keeps the manual's own key
(``rto``, ``for``, ``within``) as its YAML alias.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, model_validator

from sim.units import parse_duration, parse_quantity, parse_ratio


class Frozen(BaseModel):
    """Immutable, closed record: unknown keys are errors, YAML keys are the aliases.

    No number may be NaN or infinite: ``rto: .nan`` compares false with every
    bound, so it would pass each range check and break whatever reads it next.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, allow_inf_nan=False)


def _positive(seconds: float) -> float:
    if seconds <= 0:
        raise ValueError("must be a positive duration")
    return seconds


def _non_negative(seconds: float) -> float:
    if seconds < 0:
        raise ValueError("must not be a negative duration")
    return seconds


def _unit_interval(ratio: float) -> float:
    if not 0.0 <= ratio <= 1.0:
        raise ValueError("must be a ratio between 0 and 1")
    return ratio


def _non_negative_number(value: float) -> float:
    if value < 0:
        raise ValueError("must not be negative")
    return value


Duration = Annotated[float, BeforeValidator(parse_duration), AfterValidator(_positive)]
"""A positive duration in seconds (``0`` is rejected: a zero RTO or ``for`` is a typo)."""

Offset = Annotated[float, BeforeValidator(parse_duration), AfterValidator(_non_negative)]
"""A duration that may be zero: an RPO of 0 minutes, the T+0 milestone."""

Ratio = Annotated[float, BeforeValidator(parse_ratio), AfterValidator(_unit_interval)]
"""A fraction in [0, 1], written ``0.05`` or ``5%``."""

Quantity = Annotated[float, BeforeValidator(parse_quantity), AfterValidator(_non_negative_number)]
"""A metric threshold; its ``unit`` field says whether it is a ratio, seconds, a count or a bool."""

EARLIEST = dt.date(1900, 1, 1)
LATEST = dt.date(8999, 12, 31)
"""Dates outside these are typos; and the calendar arithmetic that adds deadlines,
simulated years and what-if delays to a date must stay well short of year 9999."""


def in_era(value: dt.date) -> dt.date:
    day = value.date() if isinstance(value, dt.datetime) else value
    if not EARLIEST <= day <= LATEST:
        raise ValueError(f"must be a date from {EARLIEST.year} to {LATEST.year}")
    return value


Date = Annotated[dt.date, AfterValidator(in_era)]
"""A calendar date between 1900 and 8999."""

DateTime = Annotated[dt.datetime, AfterValidator(in_era)]
"""An instant between 1900 and 8999."""

SeverityId = Annotated[str, AfterValidator(lambda s: _match(r"P[1-9]", s, "a severity id like P1"))]
Identifier = Annotated[str, AfterValidator(lambda s: _match(r"[A-Za-z_][A-Za-z0-9_]*", s, "an identifier"))]

Unit = Literal["ratio", "seconds", "count", "bool"]
Op = Literal[">", ">=", "<", "<=", "==", "!="]


def _match(pattern: str, value: str, what: str) -> str:
    if not re.fullmatch(pattern, value):
        raise ValueError(f"must be {what}")
    return value


def check_threshold(unit: str | None, threshold: float) -> float:
    """Reject thresholds that cannot be meant for their unit (a ratio of 5, a bool of 2)."""
    if unit == "ratio" and not 0.0 <= threshold <= 1.0:
        raise ValueError("a ratio threshold must be between 0 and 1")
    if unit == "bool" and threshold not in (0.0, 1.0):
        raise ValueError("a bool threshold must be 0 or 1")
    return threshold


_REF = re.compile(r"^L(\d+)(?:-(\d+))?\s+(\S.*)$")


class ManualRef(Frozen):
    """Where in the manual a promise is written: a line range and its section path.

    Written in YAML as ``"L145-146 检测与报警 › 自动监控告警 › 核心业务指标"``.
    """

    first_line: int
    last_line: int
    section: str

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, data: Any) -> Any:
        if isinstance(data, str):
            match = _REF.match(data.strip())
            if not match:
                raise ValueError('expected "L<line>[-<line>] <section path>"')
            first = int(match.group(1))
            last = int(match.group(2) or first)
            if last < first:
                raise ValueError("the line range runs backwards")
            return {"first_line": first, "last_line": last, "section": match.group(3)}
        return data

    def __str__(self) -> str:
        lines = (
            f"L{self.first_line}"
            if self.first_line == self.last_line
            else f"L{self.first_line}-{self.last_line}"
        )
        return f"manual {lines} ({self.section})"
