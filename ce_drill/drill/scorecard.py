"""A drill's scorecard: every check, what was measured, the target and where the manual promises it.

A check can *pass*, *fail* (the promise was broken) or *error* (the drill
could not measure it — never counted as passed).  Durations are reported in
wall seconds and in manual time (wall × time scale), because a local drill
runs compressed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal
from xml.etree import ElementTree as ET

from sim.fields import ManualRef
from sim.units import format_duration

CheckStatus = Literal["passed", "failed", "error"]


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    status: CheckStatus
    measured: str
    target: str
    source: ManualRef | None = None
    detail: str = ""
    measured_wall_s: float | None = None
    target_wall_s: float | None = None

    def to_json(self, scale: float) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "status": self.status,
            "measured": self.measured,
            "target": self.target,
            "detail": self.detail,
            "measured_wall_s": self.measured_wall_s,
            "target_wall_s": self.target_wall_s,
            "measured_manual_s": None if self.measured_wall_s is None else self.measured_wall_s * scale,
            "target_manual_s": None if self.target_wall_s is None else self.target_wall_s * scale,
        }
        if self.source is not None:
            out["manual_lines"] = [self.source.first_line, self.source.last_line]
            out["manual_section"] = self.source.section
        return out


def timed(
    id: str,
    title: str,
    *,
    measured_wall_s: float | None,
    target_wall_s: float,
    scale: float,
    source: ManualRef | None,
    missing: str = "never happened",
) -> Check:
    """A "within target" check, shown in manual time (the wall figure in the detail)."""
    target = f"≤ {format_duration(round(target_wall_s * scale))} manual"
    if measured_wall_s is None:
        return Check(id, title, "failed", missing, target, source, "", None, target_wall_s)
    status: CheckStatus = "passed" if measured_wall_s <= target_wall_s else "failed"
    measured = f"{format_duration(round(measured_wall_s * scale))} manual"
    detail = f"{measured_wall_s:.1f} s wall against {target_wall_s:.1f} s at scale {scale:g}"
    return Check(id, title, status, measured, target, source, detail, measured_wall_s, target_wall_s)


@dataclass
class Scorecard:
    scenario: str
    scale: float
    checks: list[Check] = field(default_factory=list)
    broken: tuple[str, ...] = ()
    wall_s: float = 0.0
    interrupted: bool = False

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.status == "passed" for c in self.checks) and not self.interrupted

    def failed_checks(self) -> list[Check]:
        return [c for c in self.checks if c.status != "passed"]

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "verdict": "passed" if self.passed else "failed",
            "time_scale": self.scale,
            "break": list(self.broken),
            "wall_s": self.wall_s,
            "interrupted": self.interrupted,
            "checks": [c.to_json(self.scale) for c in self.checks],
            "failed": [c.id for c in self.failed_checks()],
        }


def junit_suite(card: Scorecard) -> ET.Element:
    """One JUnit ``testsuite`` for a drill, one ``testcase`` per check."""
    suite = ET.Element(
        "testsuite",
        name=f"ce-drill.{card.scenario}",
        tests=str(len(card.checks)),
        failures=str(sum(1 for c in card.checks if c.status == "failed")),
        errors=str(sum(1 for c in card.checks if c.status == "error")),
        time=f"{card.wall_s:.3f}",
    )
    for check in card.checks:
        case = ET.SubElement(suite, "testcase", classname=f"ce-drill.{card.scenario}", name=check.id)
        text = f"{check.title}: measured {check.measured}, target {check.target}. {check.detail}".strip()
        if check.source is not None:
            text += f" ({check.source})"
        if check.status == "failed":
            ET.SubElement(
                case, "failure", message=f"{check.title}: {check.measured} (target {check.target})"
            ).text = text
        elif check.status == "error":
            ET.SubElement(case, "error", message=f"{check.title}: could not be measured").text = text
        else:
            ET.SubElement(case, "system-out").text = text
    return suite


def junit_xml(cards: list[Scorecard]) -> str:
    root = ET.Element("testsuites", name="ce-drill")
    for card in cards:
        root.append(junit_suite(card))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
