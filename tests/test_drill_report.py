"""A drill's report: verdict first, every check with its manual lines, the timeline drawn and tabled, offline."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib import image
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ce_drill.drill.scorecard import Check, CheckKind, Scorecard, timed
from ce_drill.plan.timing import Timing
from ce_drill.report.drill import rto_deadline, write_drill_report
from ce_drill.report.drill_charts import drill_timeline, events
from sim.fields import ManualRef


def ev(t_s: float, source: str, kind: str, **data: Any) -> dict[str, Any]:
    return {"t_s": t_s, "at": f"2025-03-01T10:00:{t_s:06.3f}Z", "source": source, "kind": kind, "data": data}


def alert(status: str, name: str = "AgentCoordinatorMemoryHigh", severity: str = "P2") -> dict[str, Any]:
    return {"alertname": name, "severity": severity, "status": status}


TIMELINE = [
    ev(0.0, "drill", "drill_started", scenario="memory-leak"),
    ev(0.2, "drill", "activity_started", name="steady-state", type="probe"),
    ev(1.0, "deployer", "deploy_started", release="5.1", auto_rollback=True),
    ev(1.0, "deployer", "phase_started", phase="canary", hold_s=10.0, deadline_s=10.0),
    ev(2.0, "drill", "fault_injected", fault="memory-leak"),
    ev(11.0, "deployer", "phase_started", phase="blue_green", hold_s=10.0, deadline_s=10.0),
    ev(14.0, "receiver", "notification", channel="p2", status="firing", alerts=[alert("firing")]),
    ev(15.0, "deployer", "trigger_held", trigger="memory_usage", value=0.91, threshold=0.9),
    ev(15.5, "deployer", "rollback_started", reason="memory_usage", mode="auto", phase="blue_green"),
    ev(17.0, "deployer", "rollback_finished", duration_s=1.5, traffic_restored_s=1.2),
    ev(20.0, "deployer", "pod_oom_killed", pod="blue", exit_code=137),
    ev(21.0, "deployer", "pod_restarted", pod="blue", restarts=1),
    ev(22.0, "drill", "lock_held", table="workflows"),
    ev(24.0, "drill", "lock_released", table="workflows"),
    ev(25.0, "receiver", "notification", channel="p2", status="resolved", alerts=[alert("resolved")]),
    ev(30.0, "drill", "fault_removed", fault="memory-leak"),
    ev(31.0, "drill", "steady_state_met", met=True),
    ev(31.5, "drill", "quiet_period_observed", seconds=3),
    ev(32.0, "drill", "drill_finished"),
]
T30 = Timing(scale=30.0, scrape_ms=1000)
DETECTED = "alert-AgentCoordinatorMemoryHigh"
RTO = "recovered-within-rto"
LOST = "no-acknowledged-write-lost"
STEADY = "steady-state-before"
SOURCE = ManualRef(first_line=145, last_line=146, section="检测与报警 › 自动监控告警")


def card(*, detected_wall_s: float | None = 12.0, broken: tuple[str, ...] = ()) -> Scorecard:
    checks = [
        timed(
            CheckKind.ALERT,
            "Alert fires within the detection target",
            measured_wall_s=detected_wall_s,
            target_wall_s=20.0,
            timing=T30,
            source=SOURCE,
            subject="AgentCoordinatorMemoryHigh",
        ),
        timed(
            CheckKind.RTO,
            "Service restored within the P1 RTO",
            measured_wall_s=29.0,
            target_wall_s=30.0,
            timing=T30,
            source=None,
        ),
        Check(CheckKind.NO_LOST_WRITES, "No acknowledged write lost", "passed", "0 lost of 140", "0 lost"),
    ]
    return Scorecard("memory-leak", T30, checks, broken=broken, wall_s=32.0)


@pytest.fixture(scope="module")
def passed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_drill_report(tmp_path_factory.mktemp("passed"), card(), TIMELINE)


@pytest.fixture(scope="module")
def failed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    broken = card(detected_wall_s=None, broken=("detection",))
    broken.checks.append(
        Check(CheckKind.STEADY_BEFORE, "Steady state met again", "error", "probe failed", "met")
    )
    return write_drill_report(tmp_path_factory.mktemp("failed"), broken, TIMELINE)


def test_the_report_files_are_written_side_by_side(passed: dict[str, Path]) -> None:
    assert {k: p.name for k, p in passed.items()} == {
        "timeline": "timeline.png",
        "html": "report.html",
        "md": "report.md",
    }
    assert len({p.parent for p in passed.values()}) == 1
    pixels = image.imread(passed["timeline"])
    assert pixels.shape[0] > 200
    assert pixels.shape[1] > 600


def test_the_html_loads_nothing_from_anywhere(passed: dict[str, Path]) -> None:
    page = passed["html"].read_text(encoding="utf-8")
    for remote in ("<script", "<link", "@import", "url(", "http://", "https://"):
        assert remote not in page
    sources = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert len(sources) == 1
    assert sources[0].startswith("data:image/png;base64,")


def test_the_html_leads_with_the_verdict_then_every_check(passed: dict[str, Path]) -> None:
    page = passed["html"].read_text(encoding="utf-8")
    verdict = page.index('<div class="verdict on-track"><div class="big">passed</div>')
    scorecard = page.index("<h2>Scorecard</h2>")
    assert verdict < scorecard < page.index("<h2>Timeline</h2>")
    for check_id in (DETECTED, RTO, LOST):
        assert f"<td>{check_id}</td>" in page[scorecard:]
    assert "L145–146 检测与报警 › 自动监控告警" in page  # where the manual promises it
    assert "6m manual" in page
    assert "≤ 10m manual" in page
    assert "Every check passed." in page
    assert "30× (manual time = wall × 30)" in page
    assert "breaks applied</dt><dd>none" in page


def test_the_event_table_has_every_event_even_unknown_kinds(passed: dict[str, Path]) -> None:
    page = passed["html"].read_text(encoding="utf-8")
    table = page[page.index("<h3>Events</h3>") :]
    assert table.count("<tr>") == len(TIMELINE) + 1  # + the header row
    assert "<td>quiet_period_observed</td>" in table
    assert "firing: AgentCoordinatorMemoryHigh P2 firing" in table
    assert "trigger=memory_usage, value=0.91, threshold=0.9" in table
    assert "<td>15.0\u00a0min</td>" in table  # 30 s wall at 30x: fault removed


def test_a_failed_drill_says_so_and_names_the_failed_checks(failed: dict[str, Path]) -> None:
    page = failed["html"].read_text(encoding="utf-8")
    head = page[: page.index("<h2>Scorecard</h2>")]
    assert '<div class="verdict at-risk"><div class="big">failed</div>' in head
    assert "2 passed, 1 failed, 1 error" in head
    assert f"{DETECTED} — Alert fires within the detection target: never happened" in head
    assert f"{STEADY} — Steady state met again: probe failed" in head
    assert f"{RTO} —" not in head
    assert "detection — disabled on purpose; the drill is expected to fail" in page
    assert f'<td class="at-risk">failed</td><td>{DETECTED}</td>' in page
    assert f'<td class="watch">error</td><td>{STEADY}</td>' in page


def test_an_interrupted_drill_without_checks_is_not_a_pass(tmp_path: Path) -> None:
    stopped = Scorecard("oom", Timing(scale=10.0, scrape_ms=1000), [], wall_s=4.0, interrupted=True)
    paths = write_drill_report(tmp_path, stopped, TIMELINE[:3])
    page = paths["html"].read_text(encoding="utf-8")
    assert '<div class="big">failed</div><div><b>no checks</b>' in page
    assert "No check was judged — the drill was interrupted." in page
    assert "Every check passed" not in page
    assert "interrupted</dt><dd>yes" in page


def test_the_markdown_carries_the_same_and_links_the_chart(failed: dict[str, Path]) -> None:
    text = failed["md"].read_text(encoding="utf-8")
    assert text.startswith("# Drill · memory-leak\n\n## Verdict: **FAILED**")
    assert "![Timeline of the drill](timeline.png)" in text
    assert f"- not passed: {DETECTED} — Alert fires within the detection target" in text
    for check_id in (DETECTED, RTO, LOST, STEADY):
        assert f"| {check_id} |" in text
    assert "| 31.5 | 15.8\u00a0min |" in text
    assert "quiet_period_observed" in text


def test_the_rto_deadline_counts_from_the_fault() -> None:
    scorecard = card()
    assert rto_deadline(scorecard, events(TIMELINE)) == pytest.approx(2.0 + 30.0)
    assert rto_deadline(scorecard, []) == pytest.approx(30.0)
    scorecard.checks = [c for c in scorecard.checks if c.kind is not CheckKind.RTO]
    assert rto_deadline(scorecard, events(TIMELINE)) is None


def test_the_rto_check_is_found_by_its_kind_not_its_words() -> None:
    scorecard = card()
    scorecard.checks = [
        Check(CheckKind.RAN_TO_END, "restored? RTO?", "error", "x", "y", target_wall_s=5.0),
        *scorecard.checks,
    ]
    assert rto_deadline(scorecard, events(TIMELINE)) == pytest.approx(2.0 + 30.0)


def test_a_scorecard_reads_back_as_it_was_written() -> None:
    written = card(broken=("detection",))
    assert Scorecard.from_json(written.to_json()) == written


def _axes() -> Any:
    figure = Figure()
    FigureCanvasAgg(figure)
    return figure.add_subplot()


def test_the_chart_draws_one_lane_per_kind_of_happening() -> None:
    ax = _axes()
    drawn = drill_timeline(ax, TIMELINE, timing=T30, rto_deadline_s=32.0)
    assert drawn["lanes"] == [
        "fault",
        "database lock",
        "alerts",
        "deploy phase",
        "rollback trigger",
        "rollback",
        "pods",
        "steady state",
    ]
    assert [t.get_text() for t in ax.get_yticklabels()] == drawn["lanes"]
    markers: dict[str, Line2D] = drawn["markers"]
    expected = {
        "fault injected": [2.0],
        "fault removed": [30.0],
        "lock held": [22.0],
        "lock released": [24.0],
        "alert firing": [14.0],
        "alert resolved": [25.0],
        "trigger held": [15.0],
        "rollback started": [15.5],
        "rollback finished": [17.0],
        "pod OOM-killed": [20.0],
        "pod restarted": [21.0],
        "steady state met": [31.0],
    }
    assert {label: list(np.asarray(line.get_xdata())) for label, line in markers.items()} == expected
    assert np.asarray(markers["alert firing"].get_ydata())[0] == drawn["lanes"].index("alerts")
    assert np.asarray(drawn["rto"].get_xdata())[0] == pytest.approx(32.0)
    legend = ax.get_legend()
    assert legend is not None
    assert [t.get_text() for t in legend.get_texts()] == [*expected, "RTO deadline"]


def test_the_chart_spans_run_from_start_to_end() -> None:
    ax = _axes()
    spans = drill_timeline(ax, TIMELINE, timing=T30)["spans"]
    assert set(spans) == {"fault", "database lock", "alerts", "deploy phase", "rollback"}

    def extents(lane: str) -> list[tuple[float, float]]:
        return [
            (float(p.vertices[:, 0].min()), float(p.vertices[:, 0].max())) for p in spans[lane].get_paths()
        ]

    assert extents("fault") == [(2.0, 30.0)]
    assert extents("alerts") == [(14.0, 25.0)]
    assert extents("deploy phase") == [(1.0, 11.0), (11.0, 15.5)]  # the rollback ends the blue-green phase
    texts = {t.get_text() for t in ax.texts}
    assert {"canary", "blue_green", "AgentCoordinatorMemoryHigh (P2)", "memory_usage", "memory-leak"} <= texts


def test_the_top_axis_is_manual_time() -> None:
    ax = _axes()
    drawn = drill_timeline(ax, TIMELINE, timing=T30)
    manual = drawn["manual_axis"]
    assert "wall × 30" in manual.get_xlabel()
    ax.figure.canvas.draw()  # a secondary axis follows its parent when drawn
    low, high = manual.get_xlim()
    assert low == pytest.approx(0.0)
    assert high == pytest.approx(ax.get_xlim()[1] * 30 / 60)  # minutes
    assert drawn["rto"] is None


def test_the_chart_skips_what_it_does_not_know_and_takes_flat_stack_events() -> None:
    ax = _axes()
    flat: list[dict[str, Any]] = [
        {"t_s": 3.0, "at": "x", "source": "deployer", "kind": "pod_oom_killed", "pod": "green"},
        {"t_s": 1.0, "at": "x", "source": "drill", "kind": "something_new", "data": {"x": 1}},
        {"at": "x", "source": "drill", "kind": "no_time"},
    ]
    assert [e.kind for e in events(flat)] == ["something_new", "pod_oom_killed"]
    assert events(flat)[1].data == {"pod": "green"}
    drawn = drill_timeline(ax, flat, timing=Timing(scale=1.0, scrape_ms=1000))
    assert drawn["lanes"] == ["pods"]
    assert list(drawn["markers"]) == ["pod OOM-killed"]


def test_an_empty_timeline_still_draws() -> None:
    drawn = drill_timeline(_axes(), [], timing=Timing(scale=10.0, scrape_ms=1000))
    assert drawn["lanes"] == []
    assert drawn["markers"] == {}
    assert drawn["spans"] == {}
