"""The drills ce-drill ships: their Chaos Toolkit experiments, what they expect, what can be broken.

An experiment file is plain Chaos Toolkit JSON; what the judge expects of it
(the alerts the manual raises for this fault, the severity when none fires,
the safety path it exercises) travels inside it, in its ``extensions``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ce_drill
from ce_drill.drill.experiment_check import check_experiment
from sim.errors import InputError

EXPERIMENTS = Path(ce_drill.__file__).resolve().parent.parent / "experiments" / "local"

# Safety paths a run can switch off on purpose, and the drills that exercise each.
BREAKS: dict[str, tuple[str, ...]] = {
    "detection": ("memory-leak", "db-lock-contention", "oom"),
    "rollback": ("memory-leak",),
    "lock-release": ("db-lock-contention",),
    "restart": ("oom",),
}


@dataclass(frozen=True)
class Drill:
    name: str
    path: Path
    experiment: dict[str, Any]

    @property
    def expect(self) -> dict[str, Any]:
        for ext in self.experiment.get("extensions") or []:
            if ext.get("name") == "ce-drill":
                return dict(ext.get("expect") or {})
        return {}


def known() -> list[str]:
    return sorted(p.stem for p in EXPERIMENTS.glob("*.json"))


def load(name: str) -> Drill:
    path = Path(name) if name.endswith(".json") else EXPERIMENTS / f"{name}.json"
    if not path.is_file():
        raise InputError(name, None, "", f"unknown scenario; known: {', '.join(known())}")
    # Checked in full here, before anything starts a stack.
    return Drill(path.stem, path, check_experiment(path))


def check_breaks(drill: Drill, breaks: tuple[str, ...]) -> None:
    for b in breaks:
        if b not in BREAKS or drill.name not in BREAKS[b]:
            valid = ", ".join(k for k, v in BREAKS.items() if drill.name in v)
            raise InputError(
                "--break", None, "", f"{b!r} is not a safety path of {drill.name}; choose from {valid}"
            )
