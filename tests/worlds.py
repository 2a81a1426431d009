"""Small hand-made worlds for model tests, built as data and validated like any world file."""

from __future__ import annotations

import copy
from typing import Any

from ruamel.yaml import YAML

from sim.world import World, bundled_path

_DEFAULT: dict[str, Any] = YAML(typ="safe", pure=True).load(bundled_path().read_text(encoding="utf-8"))


def default_world_data() -> dict[str, Any]:
    return copy.deepcopy(_DEFAULT)


def fixed(value: str | float) -> dict[str, Any]:
    return {"dist": "fixed", "value": value}


ZERO = fixed(0)


def quiet_world(mode: dict[str, Any], **stage_overrides: Any) -> dict[str, Any]:
    """One failure mode, every stage and delay fixed (zero unless overridden)."""
    data = default_world_data()
    data["failure_modes"] = [mode]
    data["responders"]["ack_delay"] = ZERO
    data["responders"]["all_hands_ack_delay"] = ZERO
    for stage in data["stages"]:
        data["stages"][stage] = ZERO
    data["stages"]["status_update_gap_factor"] = fixed(1)
    data["stages"].update(stage_overrides)
    return data


def mode(**fields: Any) -> dict[str, Any]:
    """A failure mode with sensible fixed defaults: detected by users at once, fixed at first try."""
    base: dict[str, Any] = {
        "id": "crash",
        "name": "crash",
        "incidents_per_year": 12,
        "team": "devops",
        "services": ["api_gateway"],
        "deploy_related": False,
        "quick_fix_probability": 1.0,
        "fix_success_probability": 1.0,
        "rollback_success_probability": 1.0,
        "rollback_possible": True,
        "user_reports": {"probability": 1.0, "delay": ZERO},
        "variants": [{"name": "only", "weight": 1, "reported_severity": "P1", "down": True}],
    }
    base.update(fields)
    return base


def build(data: dict[str, Any]) -> World:
    return World.model_validate(data)
