"""Controls: record every activity of the experiment on the stack's timeline.

The judge reads one clock: the stack's timeline.  This control writes the
experiment's start and end and each activity's start and end there, next to
what the stack itself recorded (alerts, phases, rollbacks, OOM kills).
"""

from __future__ import annotations

from typing import Any

from ce_drill.chaos.context import log

Configuration = dict[str, Any] | None


def before_experiment_control(context: dict[str, Any], configuration: Configuration = None, **_: Any) -> None:
    log(configuration, "drill_started", title=context.get("title"))


def after_experiment_control(
    context: dict[str, Any], state: Any, configuration: Configuration = None, **_: Any
) -> None:
    status = state.get("status") if isinstance(state, dict) else None
    log(configuration, "drill_finished", title=context.get("title"), status=status)


def _recorded(context: dict[str, Any]) -> bool:
    # The safeguard's probe runs every second in the background: not part of the story.
    return not str(context.get("name", "")).endswith("-stop-condition")


def before_activity_control(context: dict[str, Any], configuration: Configuration = None, **_: Any) -> None:
    if _recorded(context):
        log(configuration, "activity_started", name=context.get("name"), type=context.get("type"))


def after_activity_control(
    context: dict[str, Any], state: Any, configuration: Configuration = None, **_: Any
) -> None:
    status = state.get("status") if isinstance(state, dict) else None
    if _recorded(context):
        log(
            configuration,
            "activity_finished",
            name=context.get("name"),
            type=context.get("type"),
            status=status,
        )
