"""What every activity needs: the stack it acts on, its drill plan and playbook, the drill's breaks, an event log.

Durations an experiment needs (how long to hold a fault) arrive as its
configuration, passed by ``ce-drill run`` from the drill plan with
``chaos run --var``; what an activity must know beyond that it reads from
the plan of the stack it acts on, never from a playbook of its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ce_drill.plan import DrillPlan
from ce_drill.stack import Stack
from ce_drill.stack.timeline import record
from sim.playbook import Playbook

Configuration = dict[str, Any] | None


def stack(configuration: Configuration) -> Stack:
    run_dir = (configuration or {}).get("ce_drill_run_dir")
    return Stack(Path(run_dir) if run_dir else None)


def breaks(configuration: Configuration) -> set[str]:
    raw = str((configuration or {}).get("ce_drill_breaks") or "")
    return {b.strip() for b in raw.split(",") if b.strip()}


def plan(configuration: Configuration) -> DrillPlan:
    return stack(configuration).plan()


def playbook(configuration: Configuration) -> Playbook:
    """The playbook the stack was started with (and the drill is judged against)."""
    return Playbook.load(plan(configuration).playbook_path)


def seconds(value: float | str, what: str) -> float:
    """A duration argument, substituted from the configuration the drill plan passed
    (``chaos run --var ce_drill_fault_hold_s:float=S``); a clear error when it was not."""
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"{what} is {value!r}: run this experiment with `ce-drill run`, "
            "which passes its durations from the drill plan"
        ) from None
    if not (result > 0 and result < float("inf")):
        raise ValueError(f"{what} must be a positive number of seconds (got {value!r})")
    return result


def log(configuration: Configuration, kind: str, **data: Any) -> None:
    """Append a drill event to the stack's timeline (what the judge reads)."""
    record(stack(configuration).layout.timeline, "drill", kind, **data)


def url(configuration: Configuration, component: str) -> str:
    state = stack(configuration).state()
    if state is None:
        raise RuntimeError("no stack is up")
    return str(state.urls[component]).rstrip("/")
