"""Human units for the manual's numbers.

The manual writes durations as ``15分钟``, ``1h``, ``60s`` or ``2000ms`` and
ratios as ``0.05`` or ``5%``.  The playbook accepts the same spellings (in
ASCII) and stores plain seconds and plain ratios, so every consumer — the
model, the rule generator, the drill judge — works in one unit.
"""

from __future__ import annotations

import math
import re

# Longest unit first so that "ms" is not read as "m" followed by garbage.
_DURATION_UNITS: dict[str, float] = {
    "ms": 0.001,
    "s": 1.0,
    "min": 60.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 7 * 86400.0,
}
MAX_DURATION_S = 100 * 365.25 * 86400.0
"""Longest duration accepted: a century.  No promise or assumption is longer, and
anything beyond would overflow the calendar arithmetic that turns offsets into dates."""
_TERM = re.compile(r"(\d+(?:\.\d+)?)(ms|min|s|m|h|d|w)")
_PERCENT = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*%\s*$")


def parse_duration(value: object) -> float:
    """Seconds from ``30s``, ``15m``, ``1h``, ``2h15m``, ``2000ms`` or a number of seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30s, 15m, 1h or 2000ms")
    if isinstance(value, int | float):
        return _bounded(_finite(value))
    if not isinstance(value, str):
        raise ValueError("expected a duration such as 30s, 15m, 1h or 2000ms")
    text = value.strip().replace(" ", "")
    negative = text.startswith("-")
    if negative:
        text = text[1:]
    terms = _TERM.findall(text)
    if not text or "".join(n + u for n, u in terms) != text:
        raise ValueError("expected a duration such as 30s, 15m, 1h or 2000ms")
    seconds = _bounded(sum(float(n) * _DURATION_UNITS[u] for n, u in terms))
    return -seconds if negative else seconds


def _finite(value: int | float) -> float:
    """``value`` as a float; NaN, infinities and integers past the float range are errors."""
    try:
        number = float(value)
    except OverflowError:
        raise ValueError("number too large") from None
    if not math.isfinite(number):
        raise ValueError("must be a finite number")
    return number


def _bounded(seconds: float) -> float:
    if not abs(seconds) <= MAX_DURATION_S:
        raise ValueError("must not be longer than 100 years")
    return seconds


def parse_ratio(value: object) -> float:
    """A ratio from ``0.05`` or ``5%``."""
    if isinstance(value, bool):
        raise ValueError("expected a ratio such as 0.05 or 5%")
    if isinstance(value, int | float):
        return _finite(value)
    if isinstance(value, str):
        match = _PERCENT.match(value)
        if match:
            return _finite(float(match.group(1)) / 100.0)
    raise ValueError("expected a ratio such as 0.05 or 5%")


def parse_quantity(value: object) -> float:
    """A metric threshold: a plain number, a percentage, or a duration (read as seconds)."""
    if isinstance(value, str) and "%" in value:
        return parse_ratio(value)
    return parse_duration(value)


def format_percent(ratio: float) -> str:
    """A ratio as the manual writes it: 0.9995 -> ``99.95%``, 0.05 -> ``5%``."""
    return f"{ratio * 100:.4f}".rstrip("0").rstrip(".") + "%"


def format_duration(seconds: float) -> str:
    """The shortest exact human spelling: 900 -> ``15m``, 8100 -> ``2h15m``, 2.5 -> ``2500ms``."""
    if seconds < 0:
        return "-" + format_duration(-seconds)
    if seconds == 0:
        return "0s"
    if seconds != int(seconds):
        return f"{round(seconds * 1000)}ms"
    rest = int(seconds)
    parts = []
    # Hours, not days: the manual speaks of "24小时" and "72小时".
    for unit, size in (("h", 3600), ("m", 60), ("s", 1)):
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
