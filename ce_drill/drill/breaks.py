"""``--break``: switch one safety path off, so the check that guards it can be seen to fail.

``detection`` removes the drill's expected alerts from a copy of the playbook
(the stack then generates no such rule); ``rollback`` deploys with the
auto-rollback off; ``restart`` stops the stack restarting crashed pods;
``lock-release`` keeps the drill from releasing its lock.  The last three are
honoured by the activities and the stack (``CE_DRILL_BREAKS``, ``restart_pods``).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from ce_drill.rules.alerting import camel


def without_alerts(playbook_path: Path, alerts: Iterable[str]) -> str:
    """The playbook's YAML with the detection rules and matrix conditions behind ``alerts`` removed."""
    names = set(alerts)
    yaml = YAML(typ="rt")
    data: Any = yaml.load(playbook_path.read_text(encoding="utf-8"))
    data["detection_rules"] = [r for r in data["detection_rules"] if r["name"] not in names]
    for level in data["alert_priority_matrix"]:
        label = str(level["label"])
        level["conditions"] = [
            c for c in level["conditions"] if _matrix_name(c["signal"], label) not in names
        ]
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def _matrix_name(signal: str, label: str) -> str:
    """The generated alert name of a matrix condition (``<Signal><Level>``, e.g. SystemAvailabilityP2Major)."""
    return camel(signal) + camel(label)
