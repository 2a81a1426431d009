"""A lint finding: one self-contradiction of the manual, with the places that disagree."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sim.fields import ManualRef


@dataclass(frozen=True)
class Cite:
    """One side of a contradiction: the playbook field, its manual lines, and what it says there."""

    path: str
    ref: ManualRef
    says: str

    def to_json(self) -> dict[str, Any]:
        return {
            "playbook_path": self.path,
            "manual_lines": [self.ref.first_line, self.ref.last_line],
            "manual_section": self.ref.section,
            "says": self.says,
        }


@dataclass(frozen=True)
class Finding:
    """Two or more places of the manual that cannot all hold, and what a maintainer could do."""

    code: str
    message: str
    cites: tuple[Cite, ...]
    fix: str

    def __post_init__(self) -> None:
        if len(self.cites) < 2:
            raise ValueError("a contradiction needs at least two places")

    def render(self) -> str:
        lines = [f"[{self.code}] {self.message}"]
        lines += [f"  - {c.ref} {c.path}: {c.says}" for c in self.cites]
        lines.append(f"  fix: {self.fix}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "sources": [c.to_json() for c in self.cites],
            "fix": self.fix,
        }
