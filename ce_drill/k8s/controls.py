"""Controls: every activity of a cluster drill on the drill's timeline, and the drill stopped when it must be.

The judge reads one clock: the drill's timeline (``timeline.jsonl`` in its
output directory).  This control writes the experiment's start and end and
each activity's start and end there.

It also stops the method when the drill must stop: the runner pulled it (kill
switch, SIGINT/SIGTERM: ``drill_stopped``), the guard refused a change
(``target_refused``) or an activity found the kill switch engaged.  Chaos
Toolkit turns whatever a Python activity raises — its own SIGTERM interruption
included — into a failed activity and goes on with the next; only an
``InterruptExecution`` raised by a control ends the method, and then, run with
``--rollback-strategy always``, the rollbacks play.  They are never stopped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chaoslib.exceptions import InterruptExecution

from ce_drill.k8s.charter import current
from ce_drill.stack.timeline import read

Configuration = dict[str, Any] | None
STOPS = ("drill_stopped", "target_refused", "kill_switch_engaged")
"""Timeline events after which no activity of the method may run."""

_rolling_back: list[bool] = []
"""Set once the rollbacks started (one experiment per process)."""


def _recorded(context: dict[str, Any]) -> bool:
    # The safeguard's probe runs every second in the background: not part of the story.
    return not str(context.get("name", "")).endswith("-stop-condition")


def _stop_if_asked(configuration: Configuration) -> None:
    if _rolling_back:
        return
    events = read(Path(current(configuration).timeline_path)).events
    stop = next((e for e in events if e.kind in STOPS), None)
    if stop is not None:
        why = stop.get("reason") or stop.get("message") or stop.kind
        raise InterruptExecution(f"drill stopped ({why}): no further fault, the rollbacks play")


def before_experiment_control(context: dict[str, Any], configuration: Configuration = None, **_: Any) -> None:
    current(configuration).log("drill_started", title=context.get("title"))


def after_experiment_control(
    context: dict[str, Any], state: Any, configuration: Configuration = None, **_: Any
) -> None:
    status = state.get("status") if isinstance(state, dict) else None
    current(configuration).log("drill_finished", title=context.get("title"), status=status)


def before_rollback_control(configuration: Configuration = None, **_: Any) -> None:
    _rolling_back.append(True)
    current(configuration).log("rollbacks_started")


def before_activity_control(context: dict[str, Any], configuration: Configuration = None, **_: Any) -> None:
    if _recorded(context):
        _stop_if_asked(configuration)
        current(configuration).log("activity_started", name=context.get("name"), type=context.get("type"))


def after_activity_control(
    context: dict[str, Any], state: Any, configuration: Configuration = None, **_: Any
) -> None:
    status = state.get("status") if isinstance(state, dict) else None
    if _recorded(context):
        current(configuration).log(
            "activity_finished", name=context.get("name"), type=context.get("type"), status=status
        )
        _stop_if_asked(configuration)
