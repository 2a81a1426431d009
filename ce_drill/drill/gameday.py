"""A game day: a suite of drills run one after another against the staging stack, scored together.

Each drill breaks the system the way the manual says it breaks — the
agent-coordinator's memory leak, lock contention in the database, a pod
killed for memory — and its scorecard says which promises held.  The game
day writes every drill's artefacts and report under ``OUT/<scenario>/``, one
JUnit ``testsuite`` per drill (so CI shows each promise as a test), an index
report linking the drills and ``gameday.json``.

Every experiment of the suite is checked before the first drill starts.  A
drill that crashes is a failed drill (one ``error`` check, the traceback in
``OUT/<scenario>/error.txt``), and the game day goes on with the next one;
an interrupt (Ctrl-C) stops it, after writing what it has.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ce_drill.drill.scorecard import Check, CheckKind, Scorecard, junit_xml
from ce_drill.drill.signals import sigterm_interrupts
from ce_drill.plan.timing import DEFAULT_DRILL_TIME_SCALE, Timing

SUITES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        # The manual's three failure modes, cheapest to most disruptive.
        "ci": ("memory-leak", "db-lock-contention", "oom"),
    }
)
DEFAULT_SUITE = "ci"
REPORT_FILES = ("report.html", "report.md")
TIMELINE_FILES = ("timeline.json", "timeline.jsonl")
"""Where a drill leaves its event timeline, in order of preference."""


class UnknownSuiteError(ValueError):
    """A suite name that is not in :data:`SUITES`."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown suite {name!r} (known: {', '.join(SUITES)})")
        self.name = name


def scenarios_of(suite: str) -> tuple[str, ...]:
    try:
        return SUITES[suite]
    except KeyError:
        raise UnknownSuiteError(suite) from None


@dataclass(frozen=True)
class DrillResult:
    """One drill of the game day: its scorecard, where its artefacts are, and the crash if it crashed."""

    scenario: str
    card: Scorecard
    out: Path
    report: Path | None
    error: str | None = None

    def to_json(self, root: Path) -> dict[str, Any]:
        card = self.card.to_json()
        return {
            "scenario": self.scenario,
            "verdict": card["verdict"],
            "interrupted": self.card.interrupted,
            "checks": len(self.card.checks),
            "failed": card["failed"],
            "failed_checks": [c for c in card["checks"] if c["status"] != "passed"],
            "wall_s": self.card.wall_s,
            "error": self.error,
            "out": _relative(self.out, root),
            "report": None if self.report is None else _relative(self.report, root),
            "scorecard": card,
        }


@dataclass
class GameDay:
    suite: str
    scenarios: tuple[str, ...]
    out: Path
    junit: Path
    time_scale: float | None
    results: list[DrillResult] = field(default_factory=list)
    interrupted: bool = False
    wall_s: float = 0.0

    @property
    def passed(self) -> bool:
        complete = len(self.results) == len(self.scenarios)
        return complete and not self.interrupted and all(r.card.passed for r in self.results)

    @property
    def not_run(self) -> list[str]:
        done = {r.scenario for r in self.results}
        return [s for s in self.scenarios if s not in done]

    def to_json(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "verdict": "passed" if self.passed else "failed",
            "interrupted": self.interrupted,
            "time_scale": self.time_scale,
            "wall_s": round(self.wall_s, 3),
            "scenarios": list(self.scenarios),
            "drills": [r.to_json(self.out) for r in self.results],
            "not_run": self.not_run,
            "junit": str(self.junit),
        }


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def error_card(
    scenario: str, timing: Timing, error: str, wall_s: float, *, interrupted: bool = False
) -> Scorecard:
    """The scorecard of a drill that could not be judged: one ``error`` check naming what went wrong."""
    if interrupted:
        check = Check(
            CheckKind.RAN_TO_END,
            "The drill ran to its end",
            "error",
            "interrupted",
            "ran to the end",
            detail=error,
        )
    else:
        check = Check(
            CheckKind.RAN_TO_END,
            "The drill ran to its end",
            "error",
            error,
            "no unexpected exception",
            detail=f"traceback in {scenario}/error.txt",
        )
    return Scorecard(scenario, timing, [check], wall_s=wall_s, interrupted=interrupted)


def read_timeline(out: Path, since: float) -> list[dict[str, Any]]:
    """The drill's event timeline as written in ``out`` during this run (older files are a previous run's)."""
    for name in TIMELINE_FILES:
        path = out / name
        if not path.is_file() or path.stat().st_mtime < since:
            continue
        text = path.read_text(encoding="utf-8")
        try:
            if name.endswith(".jsonl"):
                return [json.loads(line) for line in text.splitlines() if line.strip()]
            data = json.loads(text)
        except json.JSONDecodeError:
            return []
        found = data.get("events", []) if isinstance(data, dict) else data
        return [e for e in found if isinstance(e, dict)] if isinstance(found, list) else []
    return []


def _report(out: Path, card: Scorecard, since: float) -> Path:
    """The drill's report: the one the drill wrote, else written here from its scorecard and timeline."""
    html = out / REPORT_FILES[0]
    if html.is_file() and html.stat().st_mtime >= since:
        return html
    from ce_drill.report.drill import write_drill_report

    return write_drill_report(out, card, read_timeline(out, since))["html"]


def _crashed(
    scenario: str, out: Path, exc: Exception, *, timing: Timing, wall_s: float, since: float
) -> DrillResult:
    error = f"{type(exc).__name__}: {exc}"
    (out / "error.txt").write_text("".join(traceback.format_exception(exc)), encoding="utf-8")
    card = error_card(scenario, timing, error, wall_s)
    return DrillResult(scenario, card, out, _report(out, card, since), error)


def run_one(scenario: str, out: Path, *, time_scale: float | None, progress: bool) -> DrillResult:
    """Run one drill.  A crash becomes a failed scorecard; a drill stopped by a signal comes back interrupted."""
    out.mkdir(parents=True, exist_ok=True)
    since = time.time() - 1.0  # file systems with coarse timestamps round down
    started = time.monotonic()
    # The clock of a drill that never got its stack's plan: the scale it asked for.
    timing = Timing.create(time_scale or DEFAULT_DRILL_TIME_SCALE)
    try:
        # Looked up when a drill starts: the runner pulls in Chaos Toolkit and the stack.
        from ce_drill.drill.runner import DrillInterrupted, run_drill
    except ImportError as exc:
        return _crashed(scenario, out, exc, timing=timing, wall_s=0.0, since=since)
    try:
        card = run_drill(scenario, time_scale=time_scale, breaks=(), out=out, progress=progress)
    except DrillInterrupted as exc:
        # Stopped by Ctrl-C or SIGTERM: the runner removed its faults and wrote what it had.
        report = _report(out, exc.card, since)
        card = exc.card
        if not card.checks:  # so that CI shows the interrupted drill as an error, not as nothing
            card = error_card(scenario, card.timing, "stopped by a signal", card.wall_s, interrupted=True)
        card.interrupted = True
        return DrillResult(scenario, card, out, report)
    except Exception as exc:  # a broken drill is a failed drill, not a broken game day
        return _crashed(scenario, out, exc, timing=timing, wall_s=time.monotonic() - started, since=since)
    return DrillResult(scenario, card, out, _report(out, card, since))


def run_gameday(
    suite: str = DEFAULT_SUITE,
    *,
    out: Path,
    junit: Path | None = None,
    time_scale: float | None = None,
    progress: bool = False,
    on_start: Callable[[str], None] | None = None,
    on_result: Callable[[DrillResult], None] | None = None,
) -> GameDay:
    """Run every drill of ``suite`` in turn, then write the JUnit XML, the index report and ``gameday.json``."""
    day = GameDay(suite, scenarios_of(suite), out, junit or out / "junit.xml", time_scale)
    # Every experiment is checked before the first drill starts: a broken one is bad input (exit 2,
    # its file and line), found now rather than after the drills before it have run.
    from ce_drill.drill import scenarios

    for scenario in day.scenarios:
        scenarios.load(scenario)
    started = time.monotonic()
    current: str | None = None
    drill_started = started
    with sigterm_interrupts():
        try:
            for scenario in day.scenarios:
                current, drill_started = scenario, time.monotonic()
                if on_start is not None:
                    on_start(scenario)
                result = run_one(scenario, out / scenario, time_scale=time_scale, progress=progress)
                day.results.append(result)
                current = None
                if on_result is not None:
                    on_result(result)
                if result.card.interrupted:
                    day.interrupted = True
                    break
        except KeyboardInterrupt:
            day.interrupted = True
            if current is not None:
                wall = time.monotonic() - drill_started
                card = error_card(
                    current,
                    Timing.create(time_scale or DEFAULT_DRILL_TIME_SCALE),
                    "interrupted",
                    wall,
                    interrupted=True,
                )
                since = time.time() - wall - 1.0
                day.results.append(
                    DrillResult(current, card, out / current, _report(out / current, card, since))
                )
    day.wall_s = time.monotonic() - started
    write_gameday(day)
    return day


def write_gameday(day: GameDay) -> dict[str, Path]:
    """Write ``junit.xml`` (one testsuite per drill), ``index.html``, ``index.md`` and ``gameday.json``."""
    from ce_drill.report.drill import write_gameday_index

    day.out.mkdir(parents=True, exist_ok=True)
    day.junit.parent.mkdir(parents=True, exist_ok=True)
    day.junit.write_text(junit_xml([r.card for r in day.results]), encoding="utf-8")
    payload = day.to_json()
    paths = {"junit": day.junit, **write_gameday_index(day.out, payload)}
    paths["json"] = day.out / "gameday.json"
    paths["json"].write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return paths
