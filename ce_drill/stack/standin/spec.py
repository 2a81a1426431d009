"""What a stand-in pod is started with: one JSON file the deployer writes and the pod reads."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ce_drill.stack.memlimit import MemoryLimit


@dataclass(frozen=True)
class Release:
    """A version of the coordinator and what it does by itself.

    The playbook's stable version does nothing wrong.  Any other release
    carries the self-optimisation leak of the post-mortem, at a rate chosen
    per deployment, and may in addition be a plain bad build that fails a
    share of agent coordinations outright.
    """

    version: str
    leak_bytes_per_request: int = 0
    leak_bytes_per_s: int = 0
    error_ratio: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PodSpec:
    name: str
    slot: str
    release: Release
    port: int
    db_port: int
    statement_timeout_s: float
    pool_size: int
    memory: MemoryLimit
    latency_buckets: tuple[float, ...]
    ready_file: Path
    data_dir: Path
    seed: int

    @property
    def version(self) -> str:
        return self.release.version

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["memory"] = self.memory.to_json()
        data["latency_buckets"] = list(self.latency_buckets)
        data["ready_file"] = str(self.ready_file)
        data["data_dir"] = str(self.data_dir)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PodSpec:
        values = dict(data)
        values["memory"] = MemoryLimit.from_json(values["memory"])
        values["release"] = Release(**values["release"])
        values["latency_buckets"] = tuple(float(b) for b in values["latency_buckets"])
        values["ready_file"] = Path(values["ready_file"])
        values["data_dir"] = Path(values["data_dir"])
        return cls(**values)

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=2))

    @classmethod
    def read(cls, path: Path) -> PodSpec:
        return cls.from_json(json.loads(path.read_text()))
