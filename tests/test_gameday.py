"""``ce-drill gameday``: every drill of a suite in turn, one JUnit testsuite each, an index; exit 0/1/130/2.

The drill runner is replaced by fakes (no stack is started): the game day is
judged on what it does with passing, failing, crashing and interrupted drills.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from click.testing import CliRunner, Result

from ce_drill.cli import cli
from ce_drill.drill.gameday import SUITES, run_gameday
from ce_drill.drill.scorecard import Check, CheckKind, Scorecard
from ce_drill.plan.timing import Timing

Behaviour = Callable[[str, Path], Scorecard]


def passing(scenario: str, out: Path) -> Scorecard:
    timeline = [
        {"t_s": 0.0, "at": "2025-03-01T10:00:00Z", "source": "drill", "kind": "drill_started", "data": {}},
        {"t_s": 2.0, "at": "2025-03-01T10:00:02Z", "source": "drill", "kind": "fault_injected", "data": {}},
    ]
    (out / "timeline.json").write_text(json.dumps(timeline), encoding="utf-8")
    checks = [
        Check(
            CheckKind.ALERT, "Alert fires in time", "passed", "4m manual", "≤ 5m manual", subject="Detected"
        ),
        Check(CheckKind.RTO, "Service restored within RTO", "passed", "9m manual", "≤ 15m manual"),
    ]
    return Scorecard(scenario, Timing(scale=30.0, scrape_ms=1000), checks, wall_s=12.5)


def failing(scenario: str, out: Path) -> Scorecard:
    card = passing(scenario, out)
    card.checks.append(
        Check(CheckKind.NO_LOST_WRITES, "No acknowledged write lost", "failed", "3 lost", "0 lost")
    )
    return card


def crashing(scenario: str, _out: Path) -> Scorecard:
    raise RuntimeError(f"stack would not come up for {scenario}")


def interrupted(_scenario: str, _out: Path) -> Scorecard:
    raise KeyboardInterrupt


class FakeInterruptedError(Exception):
    """What the runner raises when a signal stopped a drill: the partial scorecard, faults removed."""

    def __init__(self, card: Scorecard) -> None:
        super().__init__("interrupted")
        self.card = card


def terminated(_scenario: str, _out: Path) -> Scorecard:
    """A CI job cancelled mid-drill: SIGTERM to this process."""
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(5)  # the handler interrupts this at once
    raise AssertionError("SIGTERM did not stop the drill")


def signalled(scenario: str, out: Path) -> Scorecard:
    card = passing(scenario, out)
    card.checks, card.interrupted = [], True
    raise FakeInterruptedError(card)


class FakeRunner:
    """Stands in for ``ce_drill.drill.runner``: each scenario behaves as told, every call is kept."""

    def __init__(self, behaviours: dict[str, Behaviour]) -> None:
        self.behaviours = behaviours
        self.calls: list[dict[str, Any]] = []

    def run_drill(
        self, scenario: str, *, time_scale: float | None, breaks: tuple[str, ...], out: Path, progress: bool
    ) -> Scorecard:
        self.calls.append(
            {
                "scenario": scenario,
                "time_scale": time_scale,
                "breaks": breaks,
                "out": out,
                "progress": progress,
            }
        )
        return self.behaviours.get(scenario, passing)(scenario, out)


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> Callable[..., FakeRunner]:
    """Install a fake runner module where the game day looks the runner up."""

    def install(**behaviours: Behaviour) -> FakeRunner:
        fake = FakeRunner({k.replace("_", "-"): v for k, v in behaviours.items()})
        module = types.ModuleType("ce_drill.drill.runner")
        module.run_drill = fake.run_drill  # type: ignore[attr-defined]
        module.DrillInterrupted = FakeInterruptedError  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, "ce_drill.drill.runner", module)
        return fake

    return install


def gameday(tmp_path: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["gameday", "--out", str(tmp_path / "gd"), *args])


def suites(path: Path) -> list[ET.Element]:
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    return list(root)


def test_every_drill_passes_exit_0(runner: Callable[..., FakeRunner], tmp_path: Path) -> None:
    fake = runner()
    result = gameday(tmp_path, "--time-scale", "30")
    assert result.exit_code == 0, result.output
    assert [c["scenario"] for c in fake.calls] == ["memory-leak", "db-lock-contention", "oom"]
    assert all(c["time_scale"] == 30.0 and c["breaks"] == () for c in fake.calls)
    assert [c["out"] for c in fake.calls] == [tmp_path / "gd" / s for s in SUITES["ci"]]
    junit = suites(tmp_path / "gd" / "junit.xml")
    assert [s.get("name") for s in junit] == [
        "ce-drill.memory-leak",
        "ce-drill.db-lock-contention",
        "ce-drill.oom",
    ]
    assert all(s.get("tests") == "2" and s.get("failures") == "0" and s.get("errors") == "0" for s in junit)
    assert [c.get("name") for c in junit[0].iter("testcase")] == ["alert-Detected", "recovered-within-rto"]
    assert "game day ci: passed — 3 of 3 drills passed" in result.output


def test_the_index_links_each_drill_report(runner: Callable[..., FakeRunner], tmp_path: Path) -> None:
    runner(oom=failing)
    assert gameday(tmp_path).exit_code == 1
    out = tmp_path / "gd"
    page = (out / "index.html").read_text(encoding="utf-8")
    assert [href.split('"')[0] for href in page.split('href="')[1:]] == [
        f"{s}/report.html" for s in SUITES["ci"]
    ]
    for scenario in SUITES["ci"]:
        assert (out / scenario / "report.html").is_file()
        assert (out / scenario / "timeline.png").is_file()
    assert '<div class="verdict at-risk"><div class="big">failed</div>' in page
    assert "oom: no-acknowledged-write-lost (3 lost, target 0 lost)" in page
    assert "http://" not in page
    assert "https://" not in page
    text = (out / "index.md").read_text(encoding="utf-8")
    assert "## Verdict: **FAILED**" in text
    assert "| oom | 🔴 failed | 2 / 3 | no-acknowledged-write-lost: No acknowledged write lost |" in text
    assert "[report](memory-leak/report.html)" in text
    drill_page = (out / "oom" / "report.html").read_text(encoding="utf-8")
    assert "fault_injected" in drill_page  # written from the drill's timeline


def test_a_failed_drill_fails_the_game_day_exit_1(runner: Callable[..., FakeRunner], tmp_path: Path) -> None:
    runner(db_lock_contention=failing)
    result = gameday(tmp_path, "--junit", str(tmp_path / "ci" / "results.xml"))
    assert result.exit_code == 1
    junit = suites(tmp_path / "ci" / "results.xml")
    assert [s.get("failures") for s in junit] == ["0", "1", "0"]
    case = next(c for c in junit[1].iter("testcase") if c.get("name") == "no-acknowledged-write-lost")
    failure = case.find("failure")
    assert failure is not None
    assert "3 lost" in (failure.get("message") or "")
    assert not (tmp_path / "gd" / "junit.xml").exists()
    payload = json.loads((tmp_path / "gd" / "gameday.json").read_text(encoding="utf-8"))
    assert payload["verdict"] == "failed"
    assert [d["verdict"] for d in payload["drills"]] == ["passed", "failed", "passed"]
    assert payload["drills"][1]["failed"] == ["no-acknowledged-write-lost"]
    assert payload["junit"] == str(tmp_path / "ci" / "results.xml")
    assert "not passed: db-lock-contention" in result.output


def test_a_crashing_drill_is_a_failed_drill_and_the_game_day_goes_on(
    runner: Callable[..., FakeRunner], tmp_path: Path
) -> None:
    fake = runner(memory_leak=crashing)
    result = gameday(tmp_path)
    assert result.exit_code == 1
    assert [c["scenario"] for c in fake.calls] == list(SUITES["ci"])
    junit = suites(tmp_path / "gd" / "junit.xml")
    assert [(s.get("tests"), s.get("errors")) for s in junit] == [("1", "1"), ("2", "0"), ("2", "0")]
    error = junit[0].find("testcase/error")
    assert error is not None
    assert "RuntimeError: stack would not come up for memory-leak" in (error.text or "")
    trace = (tmp_path / "gd" / "memory-leak" / "error.txt").read_text(encoding="utf-8")
    assert "Traceback" in trace
    assert "crashing" in trace
    assert "failed: RuntimeError: stack would not come up" in result.output


def test_a_missing_runner_counts_as_a_crash(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "ce_drill.drill.runner", None)  # import fails
    day = run_gameday("ci", out=tmp_path)
    assert not day.passed
    assert len(day.results) == 3
    assert all(r.error is not None and "ModuleNotFoundError" in r.error for r in day.results)


def test_an_interrupt_stops_the_game_day_with_130_after_writing_it(
    runner: Callable[..., FakeRunner], tmp_path: Path
) -> None:
    fake = runner(db_lock_contention=interrupted)
    result = gameday(tmp_path)
    assert result.exit_code == 130
    assert [c["scenario"] for c in fake.calls] == ["memory-leak", "db-lock-contention"]
    junit = suites(tmp_path / "gd" / "junit.xml")
    assert [s.get("name") for s in junit] == ["ce-drill.memory-leak", "ce-drill.db-lock-contention"]
    assert junit[1].find("testcase/error") is not None
    payload = json.loads((tmp_path / "gd" / "gameday.json").read_text(encoding="utf-8"))
    assert payload["interrupted"] is True
    assert payload["verdict"] == "failed"
    assert payload["not_run"] == ["oom"]
    assert 0 <= payload["drills"][1]["wall_s"] < 5
    page = (tmp_path / "gd" / "index.html").read_text(encoding="utf-8")
    assert '<div class="big">interrupted</div>' in page
    assert '<td>oom</td><td class="watch">not run</td>' in page
    assert (tmp_path / "gd" / "db-lock-contention" / "report.html").is_file()


def test_a_drill_stopped_by_a_signal_stops_the_game_day_with_130(
    runner: Callable[..., FakeRunner], tmp_path: Path
) -> None:
    fake = runner(db_lock_contention=signalled)
    result = gameday(tmp_path)
    assert result.exit_code == 130
    assert len(fake.calls) == 2
    junit = suites(tmp_path / "gd" / "junit.xml")
    assert [(s.get("tests"), s.get("errors")) for s in junit] == [("2", "0"), ("1", "1")]
    payload = json.loads((tmp_path / "gd" / "gameday.json").read_text(encoding="utf-8"))
    assert [d["interrupted"] for d in payload["drills"]] == [False, True]
    assert payload["not_run"] == ["oom"]
    assert "game day ci: interrupted" in result.output


def test_sigterm_stops_the_game_day_like_ctrl_c(runner: Callable[..., FakeRunner], tmp_path: Path) -> None:
    before = signal.getsignal(signal.SIGTERM)
    fake = runner(memory_leak=terminated)
    day = run_gameday("ci", out=tmp_path)
    assert day.interrupted
    assert len(fake.calls) == 1
    assert day.not_run == ["db-lock-contention", "oom"]
    assert (tmp_path / "junit.xml").is_file()
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_drill_that_reports_itself_interrupted_stops_the_game_day(
    runner: Callable[..., FakeRunner], tmp_path: Path
) -> None:
    def stopped(scenario: str, out: Path) -> Scorecard:
        card = passing(scenario, out)
        card.interrupted = True
        return card

    fake = runner(memory_leak=stopped)
    assert gameday(tmp_path).exit_code == 130
    assert len(fake.calls) == 1


def test_an_unknown_suite_is_exit_2_naming_the_known_ones(
    runner: Callable[..., FakeRunner], tmp_path: Path
) -> None:
    fake = runner()
    result = gameday(tmp_path, "--suite", "nightly")
    assert result.exit_code == 2
    assert result.stderr.strip() == "ce-drill: --suite: unknown suite (known: ci) (got nightly)"
    assert fake.calls == []
    assert not (tmp_path / "gd").exists()


@pytest.mark.parametrize("scale", ["0.5", "fast", "nan"])
def test_a_bad_time_scale_is_exit_2(runner: Callable[..., FakeRunner], tmp_path: Path, scale: str) -> None:
    runner()
    result = gameday(tmp_path, "--time-scale", scale)
    assert result.exit_code == 2
    assert result.stderr.startswith("ce-drill: --time-scale: expected a number >= 1")


def test_json_prints_the_game_day_document(runner: Callable[..., FakeRunner], tmp_path: Path) -> None:
    fake = runner(oom=failing)
    result = gameday(tmp_path, "--json")
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert payload == json.loads((tmp_path / "gd" / "gameday.json").read_text(encoding="utf-8"))
    assert payload["suite"] == "ci"
    assert payload["time_scale"] is None
    assert [d["report"] for d in payload["drills"]] == [f"{s}/report.html" for s in SUITES["ci"]]
    assert payload["drills"][2]["scorecard"]["failed"] == ["no-acknowledged-write-lost"]
    assert all(c["progress"] is False and c["time_scale"] is None for c in fake.calls)


def test_a_report_the_drill_wrote_itself_is_kept(runner: Callable[..., FakeRunner], tmp_path: Path) -> None:
    def reporting(scenario: str, out: Path) -> Scorecard:
        (out / "report.html").write_text("<p>the drill's own report</p>", encoding="utf-8")
        return passing(scenario, out)

    runner(memory_leak=reporting)
    assert gameday(tmp_path).exit_code == 0
    own = (tmp_path / "gd" / "memory-leak" / "report.html").read_text(encoding="utf-8")
    assert own == "<p>the drill's own report</p>"


def test_a_broken_experiment_is_bad_input_before_any_drill_runs(
    runner: Callable[..., FakeRunner], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ce_drill.drill import scenarios

    experiments = tmp_path / "experiments"
    experiments.mkdir()
    for scenario in SUITES["ci"]:
        text = (scenarios.EXPERIMENTS / f"{scenario}.json").read_text(encoding="utf-8")
        (experiments / f"{scenario}.json").write_text(text, encoding="utf-8")
    # The last drill of the suite is the broken one: the first two must not run either.
    oom = experiments / "oom.json"
    oom.write_text(oom.read_text(encoding="utf-8").replace('"method"', '"metod"', 1), encoding="utf-8")
    monkeypatch.setattr(scenarios, "EXPERIMENTS", experiments)
    fake = runner()
    result = gameday(tmp_path)
    assert result.exit_code == 2, result.output
    assert fake.calls == []
    assert "oom" in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "gd" / "junit.xml").exists()
