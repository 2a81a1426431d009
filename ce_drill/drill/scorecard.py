"""A drill's scorecard: every check, what was measured, the target and where the manual promises it.

A check can *pass*, *fail* (the promise was broken) or *error* (the drill
could not measure it — never counted as passed).  Each check has a kind
(:class:`CheckKind`; an alert check also names its alert) so the report and
game day find the RTO check by what it is, not by its wording.  Durations
are kept in wall seconds and in manual time, both worked out by the drill
plan's clock when the check is made: a local drill runs compressed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal
from xml.etree import ElementTree as ET

from ce_drill.plan.timing import MANUAL_TIME, Timing
from sim.fields import ManualRef
from sim.units import format_duration

CheckStatus = Literal["passed", "failed", "error"]


class CheckKind(StrEnum):
    """What a check guards; its JSON ``id`` is the kind, or ``kind-subject`` for one alert."""

    STEADY_BEFORE = "steady-state-before"
    FAULT_LANDED = "fault-landed"
    ALERT = "alert"
    AUTO_ROLLBACK = "auto-rollback"
    STABLE_SERVING = "stable-version-serving"
    RUNBOOK_BLOCKER = "runbook-named-blocker"
    LOCK_RELEASED = "lock-released"
    OOM_SEEN = "oom-kill-observed"
    RESTARTED = "service-restarted"
    RTO = "recovered-within-rto"
    NO_LOST_WRITES = "no-acknowledged-write-lost"
    NO_FAULT_LEFT = "no-fault-left"
    STOP_CONDITION = "stop-condition"
    RAN_TO_END = "error"
    """The drill could not be judged at all (it crashed or was stopped)."""


@dataclass(frozen=True)
class Check:
    kind: CheckKind
    title: str
    status: CheckStatus
    measured: str
    target: str
    source: ManualRef | None = None
    detail: str = ""
    measured_wall_s: float | None = None
    target_wall_s: float | None = None
    measured_manual_s: float | None = None
    target_manual_s: float | None = None
    subject: str = ""
    """The alert an ``alert`` check is about."""

    @property
    def id(self) -> str:
        return f"{self.kind}-{self.subject}" if self.subject else str(self.kind)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "kind": str(self.kind),
            "subject": self.subject or None,
            "title": self.title,
            "status": self.status,
            "measured": self.measured,
            "target": self.target,
            "detail": self.detail,
            "measured_wall_s": self.measured_wall_s,
            "target_wall_s": self.target_wall_s,
            "measured_manual_s": self.measured_manual_s,
            "target_manual_s": self.target_manual_s,
        }
        if self.source is not None:
            out["manual_lines"] = [self.source.first_line, self.source.last_line]
            out["manual_section"] = self.source.section
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Check:
        lines = data.get("manual_lines")
        source = (
            ManualRef(first_line=lines[0], last_line=lines[1], section=str(data.get("manual_section") or ""))
            if lines
            else None
        )
        return cls(
            kind=CheckKind(data["kind"]),
            title=str(data["title"]),
            status=data["status"],
            measured=str(data["measured"]),
            target=str(data["target"]),
            source=source,
            detail=str(data.get("detail") or ""),
            measured_wall_s=data.get("measured_wall_s"),
            target_wall_s=data.get("target_wall_s"),
            measured_manual_s=data.get("measured_manual_s"),
            target_manual_s=data.get("target_manual_s"),
            subject=str(data.get("subject") or ""),
        )


def timed(
    kind: CheckKind,
    title: str,
    *,
    measured_wall_s: float | None,
    target_wall_s: float,
    timing: Timing,
    source: ManualRef | None,
    missing: str = "never happened",
    subject: str = "",
) -> Check:
    """A "within target" check, shown in manual time (the wall figure in the detail)."""
    target_manual_s = timing.manual_s(target_wall_s)
    target = f"≤ {format_duration(round(target_manual_s))} manual"
    if measured_wall_s is None:
        return Check(kind, title, "failed", missing, target, source, "", None, target_wall_s, None,
                     target_manual_s, subject)  # fmt: skip
    status: CheckStatus = "passed" if measured_wall_s <= target_wall_s else "failed"
    measured_manual_s = timing.manual_s(measured_wall_s)
    measured = f"{format_duration(round(measured_manual_s))} manual"
    detail = f"{measured_wall_s:.1f} s wall against {target_wall_s:.1f} s at scale {timing.scale:g}"
    return Check(kind, title, status, measured, target, source, detail, measured_wall_s, target_wall_s,
                 measured_manual_s, target_manual_s, subject)  # fmt: skip


@dataclass
class Scorecard:
    scenario: str
    timing: Timing
    checks: list[Check] = field(default_factory=list)
    broken: tuple[str, ...] = ()
    wall_s: float = 0.0
    interrupted: bool = False
    playbook: str | None = None
    """The playbook the drill was judged against (its path), from the stack's drill plan."""

    @property
    def scale(self) -> float:
        return self.timing.scale

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.status == "passed" for c in self.checks) and not self.interrupted

    def failed_checks(self) -> list[Check]:
        return [c for c in self.checks if c.status != "passed"]

    def check(self, kind: CheckKind) -> Check | None:
        return next((c for c in self.checks if c.kind is kind), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "verdict": "passed" if self.passed else "failed",
            "time_scale": self.timing.scale,
            "evaluation_interval_s": self.timing.scrape_s,
            "playbook": self.playbook,
            "break": list(self.broken),
            "wall_s": self.wall_s,
            "interrupted": self.interrupted,
            "checks": [c.to_json() for c in self.checks],
            "failed": [c.id for c in self.failed_checks()],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Scorecard:
        scale = float(data.get("time_scale") or MANUAL_TIME)
        scrape_s = float(data.get("evaluation_interval_s") or 1.0)
        return cls(
            scenario=str(data["scenario"]),
            timing=Timing(scale=scale, scrape_ms=max(1, round(scrape_s * 1000))),
            checks=[Check.from_json(c) for c in data.get("checks") or []],
            broken=tuple(str(b) for b in data.get("break") or ()),
            wall_s=float(data.get("wall_s") or 0.0),
            interrupted=bool(data.get("interrupted")),
            playbook=data.get("playbook"),
        )


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
