"""Controls: every activity of a cluster drill on the drill's timeline, beside what it observed.

The judge reads one clock: the drill's timeline (``timeline.jsonl`` in its
output directory).  This control writes the experiment's start and end and
each activity's start and end there.
"""

from __future__ import annotations

from typing import Any

from ce_drill.k8s.session import current

Configuration = dict[str, Any] | None


def _recorded(context: dict[str, Any]) -> bool:
    # The safeguard's probe runs every second in the background: not part of the story.
    return not str(context.get("name", "")).endswith("-stop-condition")


def before_experiment_control(context: dict[str, Any], configuration: Configuration = None, **_: Any) -> None:
    current(configuration).log("drill_started", title=context.get("title"))


def after_experiment_control(
    context: dict[str, Any], state: Any, configuration: Configuration = None, **_: Any
) -> None:
    status = state.get("status") if isinstance(state, dict) else None
    current(configuration).log("drill_finished", title=context.get("title"), status=status)


def before_activity_control(context: dict[str, Any], configuration: Configuration = None, **_: Any) -> None:
    if _recorded(context):
        current(configuration).log("activity_started", name=context.get("name"), type=context.get("type"))


def after_activity_control(
    context: dict[str, Any], state: Any, configuration: Configuration = None, **_: Any
) -> None:
    status = state.get("status") if isinstance(state, dict) else None
    if _recorded(context):
        current(configuration).log(
            "activity_finished", name=context.get("name"), type=context.get("type"), status=status
        )
