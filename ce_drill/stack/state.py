"""A running stack's state file: what was started, where it listens, how to find it again.

``up`` writes it as each component starts (so even a half-started stack can
be brought down), ``status`` and ``down`` read it.  Everything a later
command needs is in it: pids with their start times, ports and URLs, log
files, the memory-limit mechanism and the cgroup made for the pods, the time
scale and the playbook.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ce_drill.stack.procs import ProcRef


class StackError(Exception):
    """The stack could not do what was asked (a component failed); exit 1."""


@dataclass
class Component:
    name: str
    proc: ProcRef | None
    url: str | None
    log: str | None
    port: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "pid": None if self.proc is None else self.proc.pid,
            "start_ticks": None if self.proc is None else self.proc.start_ticks,
            "url": self.url,
            "port": self.port,
            "log": self.log,
        }

    @classmethod
    def from_json(cls, name: str, data: dict[str, Any]) -> Component:
        proc = None if data.get("pid") is None else ProcRef(int(data["pid"]), int(data["start_ticks"]))
        return cls(name, proc, data.get("url"), data.get("log"), data.get("port"))


@dataclass
class State:
    stack_id: str
    run_dir: str
    time_scale: float
    started_ts: float
    playbook: str | None
    memory_limit: dict[str, Any]
    """``mechanism`` and the stack's ``group`` directory (None without cgroups)."""
    urls: dict[str, str]
    postgres: dict[str, Any] | None = None
    components: dict[str, Component] = field(default_factory=dict)
    ready_s: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "stack_id": self.stack_id,
            "run_dir": self.run_dir,
            "time_scale": self.time_scale,
            "started_ts": self.started_ts,
            "ready_s": self.ready_s,
            "playbook": self.playbook,
            "memory_limit": self.memory_limit,
            "urls": self.urls,
            "postgres": self.postgres,
            "components": {name: c.to_json() for name, c in self.components.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> State:
        return cls(
            stack_id=data["stack_id"],
            run_dir=data["run_dir"],
            time_scale=float(data["time_scale"]),
            started_ts=float(data["started_ts"]),
            playbook=data.get("playbook"),
            memory_limit=dict(data["memory_limit"]),
            urls=dict(data["urls"]),
            postgres=data.get("postgres"),
            components={n: Component.from_json(n, c) for n, c in data.get("components", {}).items()},
            ready_s=data.get("ready_s"),
        )

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2))
        tmp.replace(path)


def load(path: Path) -> State | None:
    if not path.exists():
        return None
    try:
        return State.from_json(json.loads(path.read_text()))
    except (ValueError, KeyError, TypeError) as exc:
        raise StackError(
            f"{path}: unreadable stack state ({exc}); remove it after checking no stack runs"
        ) from exc
