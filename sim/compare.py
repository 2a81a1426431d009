"""How the manual compares things: a metric against its threshold, one severity against another.

Every rule, trigger and checklist item of the manual is a comparison
(``error_rate > 5%``, ``availability < 99.9%``); every place that evaluates
one — the model's signals, the deployer's auto-rollback triggers, the drills'
steady-state probes — uses :func:`holds`, so ``>=`` means the same everywhere.
Severities are ordered by :func:`severity_rank`: P1 is the most severe.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable
from typing import Final

from sim.fields import Op

OPS: Final[dict[str, Callable[[float, float], bool]]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}


def holds(op: Op | str, value: float | None, threshold: float) -> bool:
    """``value op threshold``; a missing or NaN value holds nothing (no data is not a breach)."""
    if value is None or math.isnan(value):
        return False
    return OPS[op](value, threshold)


def severity_rank(severity: str) -> int:
    """P1 → 1: the lower the rank, the more severe (and the higher the queue priority)."""
    return int(severity[1:])


def most_severe(severities: Iterable[str]) -> str | None:
    """The most severe of ``severities`` (None when there are none)."""
    return min(severities, key=severity_rank, default=None)
