"""Where a stack keeps its files inside its run directory.

One run directory holds everything a stack is: its settings, its state (pids,
ports, cgroups), its event timeline, the generated rules, each component's
data and logs, and the load generator's record of acknowledged writes.
``down`` stops the processes and keeps the logs, the timeline and the record.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Layout:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.json"

    @property
    def state(self) -> Path:
        return self.root / "state.json"

    @property
    def plan(self) -> Path:
        """The drill plan the stack was started with (:mod:`ce_drill.plan`)."""
        return self.root / "plan.json"

    @property
    def timeline(self) -> Path:
        return self.root / "timeline.jsonl"

    @property
    def rules(self) -> Path:
        return self.root / "rules"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    @property
    def prometheus(self) -> Path:
        return self.root / "prometheus"

    @property
    def alertmanager(self) -> Path:
        return self.root / "alertmanager"

    @property
    def postgres(self) -> Path:
        return self.root / "postgres"

    @property
    def pods(self) -> Path:
        """Per-pod readiness markers and the deployer's pod table."""
        return self.root / "pods"

    @property
    def pod_table(self) -> Path:
        return self.pods / "pods.json"

    @property
    def routing(self) -> Path:
        """Traffic weights per slot: written by the deployer, read by the router."""
        return self.root / "routing.json"

    @property
    def acked(self) -> Path:
        """Every write the service acknowledged: one JSON object per line."""
        return self.root / "loadgen" / "acked.jsonl"

    @property
    def load_stats(self) -> Path:
        return self.root / "loadgen" / "stats.json"

    def make(self) -> None:
        for path in (self.root, self.rules, self.logs, self.prometheus, self.alertmanager, self.pods):
            path.mkdir(parents=True, exist_ok=True)
        self.acked.parent.mkdir(parents=True, exist_ok=True)
