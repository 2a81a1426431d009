"""The one ``--time-scale`` option: how many times faster than the manual a stack, drill or rule set runs.

Every command that takes it parses it here (a finite number >= 1, else one
located line and exit 2).  Without it, a drill or ``stack up`` starts a new
stack at :data:`~ce_drill.plan.timing.DEFAULT_DRILL_TIME_SCALE` and a stack
already up keeps its own; the rule generator writes rules for a real cluster,
in the manual's own time.  The drill plan does every compression after that.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ce_drill.plan.timing import DEFAULT_DRILL_TIME_SCALE, MANUAL_TIME
from sim.errors import InputError

F = TypeVar("F", bound=Callable[..., Any])


class TimeScale(click.ParamType):  # type: ignore[type-arg]
    name = "K"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:  # noqa: ARG002 - click's signature
        if isinstance(value, float):
            return value
        try:
            scale = float(value)
        except (TypeError, ValueError):
            scale = math.nan
        if not (scale >= 1 and math.isfinite(scale)):  # also refuses nan
            raise InputError("--time-scale", None, "", "expected a number >= 1", value)
        return scale


def drill_time_scale(help_text: str) -> Callable[[F], F]:
    """``--time-scale K`` for anything that starts or drills a stack (None: the stack's, or the default)."""
    return click.option(
        "--time-scale",
        "time_scale",
        type=TimeScale(),
        default=None,
        help=f"{help_text} A new stack starts at {DEFAULT_DRILL_TIME_SCALE:g}; a stack already up keeps its own.",
    )


def rules_time_scale() -> Callable[[F], F]:
    """``--time-scale K`` for generated rules: by default the manual's own timing, for a real cluster."""
    return click.option(
        "--time-scale",
        "time_scale",
        type=TimeScale(),
        default=MANUAL_TIME,
        show_default=True,
        help="Divide every duration (for, windows, Alertmanager intervals) by K.",
    )
