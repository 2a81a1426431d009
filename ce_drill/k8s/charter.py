"""A drill's charter: what its activities may act on, fixed when it starts, nothing secret.

The runner resolves the drill config once (context, API server, allowlist,
releases, Prometheus, kill switch), writes it as ``charter.json`` in the drill's
output directory, and hands its path to ``chaos run`` by environment
(``CE_DRILL_K8S_CHARTER``).  Every activity reads it back, so an edit to the
config file mid-drill changes nothing, and the allowlist an activity enforces is
the one that was checked.  Secrets are not in it: they come by environment
(:mod:`ce_drill.k8s.redact`).

Each activity writes what it did and saw to the drill's event timeline, a
JSON-lines file in the output directory (:func:`Charter.log`), redacted.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ce_drill.k8s.config import KillSwitch, Oom, Releases
from ce_drill.k8s.kube import Guard, KubeTarget, user_credentials
from ce_drill.k8s.redact import Redactor
from ce_drill.k8s.rollout import Workload
from ce_drill.plan import DrillPlan
from ce_drill.stack.timeline import record
from sim.fields import Frozen

ENV_CHARTER = "CE_DRILL_K8S_CHARTER"
CHARTER_FILE = "charter.json"
TIMELINE_FILE = "timeline.jsonl"
SOURCE = "drill"


class Charter(Frozen):
    scenario: str
    config_path: str
    kube: dict[str, Any]
    deployment: str
    container: str
    selector: str
    version_label: str | None
    releases: Releases
    prometheus_url: str
    prometheus_ca_file: str | None
    kill_switch: KillSwitch
    oom: Oom | None
    lock_table: str | None
    plan_path: str
    timeline_path: str
    breaks: tuple[str, ...] = ()

    @property
    def target(self) -> KubeTarget:
        return KubeTarget.from_json(self.kube)

    @property
    def namespace(self) -> str:
        return self.target.namespace

    @property
    def workload(self) -> Workload:
        return Workload(self.namespace, self.deployment, self.container, self.selector, self.version_label)

    @property
    def guard(self) -> Guard:
        return Guard(self.target)

    def plan(self) -> DrillPlan:
        return DrillPlan.load(Path(self.plan_path))

    def log(self, kind: str, **data: Any) -> dict[str, Any]:
        """Append an event to the drill's timeline, secrets masked."""
        target = self.target
        redactor = Redactor.from_env(user_credentials(target.kubeconfig, target.context))
        return record(Path(self.timeline_path), SOURCE, kind, **redactor.data(data))

    def save(self, path: Path) -> None:
        path.write_text(self.model_dump_json(indent=2), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Charter:
        return cls.model_validate_json(path.read_text(encoding="utf-8"))


def current(configuration: dict[str, Any] | None) -> Charter:
    """The charter of the running experiment (its configuration, else the environment)."""
    path = (configuration or {}).get("ce_drill_charter") or os.environ.get(ENV_CHARTER)
    if not path:
        raise RuntimeError(
            "no drill charter: run this experiment with `ce-drill run SCENARIO --target k8s --config FILE`"
        )
    return Charter.load(Path(str(path)))
