"""Numbers as people read them: percentages with their intervals, durations in human units.

A number and its unit are joined by a no-break space, so tables never split
them.  Missing numbers (None or nan) show as a dash.
"""

from __future__ import annotations

import math

NBSP = "\u00a0"
DASH = "–"


def missing(value: float | None) -> bool:
    return value is None or math.isnan(value)


def pct(p: float | None, digits: int = 1) -> str:
    if p is None or math.isnan(p):
        return DASH
    return f"{100 * p:.{digits}f}{NBSP}%"


def ci(lo: float | None, hi: float | None) -> str:
    if lo is None or hi is None or math.isnan(lo) or math.isnan(hi):
        return ""
    return f"{100 * lo:.1f}–{100 * hi:.1f}{NBSP}%"


def target(ratio: float) -> str:
    """An availability target as the manual writes it: 99.95 %."""
    return f"{100 * ratio:.10g}{NBSP}%"


def duration(seconds: float | None) -> str:
    """``45 s``, ``12.5 min``, ``5.2 h``, ``3.1 d``."""
    if seconds is None or math.isnan(seconds):
        return DASH
    s = float(seconds)
    if s < 90:
        return f"{s:.0f}{NBSP}s"
    if s < 90 * 60:
        return f"{s / 60:.1f}{NBSP}min"
    if s < 48 * 3600:
        return f"{s / 3600:.1f}{NBSP}h"
    return f"{s / 86400:.1f}{NBSP}d"


def points(diff: float | None) -> str:
    """A difference of probabilities in percentage points, signed."""
    if diff is None or math.isnan(diff):
        return DASH
    return f"{_tenths(100 * diff):+.1f}{NBSP}pp"


def points_range(lo: float | None, hi: float | None) -> str:
    """An interval of differences in percentage points: ``+1.1 to +2.3 pp``."""
    if lo is None or hi is None or math.isnan(lo) or math.isnan(hi):
        return ""
    return f"{_tenths(100 * lo):+.1f} to {_tenths(100 * hi):+.1f}{NBSP}pp"


def _tenths(value: float) -> float:
    # Adding 0.0 turns a rounded -0.0 into 0.0, so no difference shows as "-0.0".
    return round(value, 1) + 0.0
