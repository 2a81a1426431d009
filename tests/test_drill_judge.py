"""The drill judge as a pure function: plan + recorded evidence → scorecard, at the edges of every target.

The evidence is what a memory-leak drill leaves (fault, phases, auto-rollback,
notifications, recovery), written by hand on the plan's clock so each test
can move one instant across its target and see the check flip.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ce_drill.drill.evidence import Evidence, Journal, WriteAudit
from ce_drill.drill.judge import Expectation, condition_onset, judge
from ce_drill.drill.scorecard import CheckKind, Scorecard
from ce_drill.plan import DrillPlan
from ce_drill.stack.timeline import Event
from tests.conftest import MutatePlaybook

T0 = 1_800_000_000.0
"""The drill's start (Unix time)."""
FAULT = 10.0
ALERT = "SystemAvailabilityP2Major"
EXPECT = Expectation(alerts=(ALERT,), severity="P1", auto_rollback=True)


@pytest.fixture(scope="module")
def plan() -> DrillPlan:
    return DrillPlan.build(time_scale=10.0, scrape_interval_s=1.0)


def _iso(ts: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat().replace("+00:00", "Z")


def _event(t: float, source: str, kind: str, **data: Any) -> Event:
    return Event(T0 + t, t, source, kind, data)


def _notification(t: float, fired_t: float, name: str = ALERT, severity: str = "P2") -> Event:
    alert = {"alertname": name, "severity": severity, "status": "firing", "starts_at": _iso(T0 + fired_t)}
    return _event(t, "receiver", "notification", status="firing", alerts=[alert])


def evidence(
    plan: DrillPlan,
    *,
    onset: float = 20.0,
    fired: float | None = None,
    notified: float | None = None,
    severity: str = "P2",
    recovered: float | None = 60.0,
    rollback_after_phase: float = 3.0,
    extra: tuple[Event, ...] = (),
) -> Evidence:
    """A memory-leak drill: the condition holds from ``onset`` and the alert fires after its ``for``."""
    rule = plan.alert(ALERT)
    assert rule is not None
    fired = onset + rule.for_wall_s if fired is None else fired
    notified = fired + 0.5 if notified is None else notified
    events = [
        _event(FAULT, "drill", "fault_injected", fault="release"),
        _event(FAULT + 1, "deployer", "phase_started", phase="canary"),
        _event(FAULT + 1 + rollback_after_phase, "deployer", "rollback_started", mode="auto"),
        _notification(notified, fired, severity=severity),
        *extra,
        _event(80.0, "drill", "fault_removed", fault="release"),
    ]
    if recovered is not None:  # seconds after the outage began: the condition's onset
        events.append(_event(onset + recovered, "drill", "steady_state_met"))
    events.sort(key=lambda e: e.ts)
    journal = Journal({"status": "completed", "steady_states": {"before": {"steady_state_met": True}}})
    held = tuple(T0 + t for t in range(int(onset), 90))
    return Evidence(
        journal=journal,
        events=tuple(events),
        started_ts=T0,
        ended_ts=T0 + 90,
        held={rule.expr: held},
        pod_versions={"pod-blue": "5.0", "pod-green": "5.0"},
        writes=WriteAudit(acknowledged=400),
    )


def statuses(card: Scorecard) -> dict[str, str]:
    return {c.id: c.status for c in card.checks}


def test_a_clean_drill_passes_every_check(plan: DrillPlan) -> None:
    card = judge(plan, evidence(plan), EXPECT, scenario="memory-leak")
    assert statuses(card) == {
        "steady-state-before": "passed",
        "fault-landed": "passed",
        f"alert-{ALERT}": "passed",
        "auto-rollback": "passed",
        "stable-version-serving": "passed",
        "recovered-within-rto": "passed",
        "no-acknowledged-write-lost": "passed",
        "no-fault-left": "passed",
        "stop-condition": "passed",
    }
    assert card.passed
    assert card.playbook == plan.playbook_path


def test_an_alert_notified_at_its_for_plus_slack_passes_and_a_moment_later_fails(plan: DrillPlan) -> None:
    rule = plan.alert(ALERT)
    assert rule is not None
    on_time = judge(plan, evidence(plan, fired=20.0 + rule.notify_by_wall_s), EXPECT, scenario="m")
    late = judge(plan, evidence(plan, fired=20.0 + rule.notify_by_wall_s + 0.1), EXPECT, scenario="m")
    check = on_time.check(CheckKind.ALERT)
    assert check is not None
    assert check.status == "passed"
    assert check.measured_wall_s == pytest.approx(rule.notify_by_wall_s)
    assert check.target_manual_s == pytest.approx(rule.notify_by_wall_s * 10)
    assert statuses(late)[f"alert-{ALERT}"] == "failed"


def test_the_for_clock_restarts_when_the_condition_breaks(plan: DrillPlan) -> None:
    step = plan.evaluation_interval_s
    held = (T0 + 10, T0 + 11, T0 + 12, T0 + 20, T0 + 21, T0 + 22)
    assert condition_onset(held, T0 + 22, step) == T0 + 20
    assert condition_onset(held, T0 + 12, step) == T0 + 10
    assert condition_onset(held, T0 + 5, step) is None


def test_an_alert_with_the_wrong_severity_fails(plan: DrillPlan) -> None:
    card = judge(plan, evidence(plan, severity="P3"), EXPECT, scenario="m")
    check = card.check(CheckKind.ALERT)
    assert check is not None
    assert check.status == "failed"
    assert check.measured.startswith("P3")


def test_a_missing_alert_fails_and_says_so(plan: DrillPlan) -> None:
    ev = evidence(plan)
    silent = replace(ev, events=tuple(e for e in ev.events if e.kind != "notification"))
    check = judge(plan, silent, EXPECT, scenario="m").check(CheckKind.ALERT)
    assert check is not None
    assert (check.status, check.measured) == ("failed", "never fired")


def test_an_alert_the_plan_does_not_hold_fails(plan: DrillPlan) -> None:
    expect = Expectation(alerts=("NoSuchAlert",), severity="P1")
    check = judge(plan, evidence(plan), expect, scenario="m").check(CheckKind.ALERT)
    assert check is not None
    assert (check.status, check.measured) == ("failed", "no such rule is loaded")


def test_the_rto_is_the_most_severe_alert_fireds(plan: DrillPlan) -> None:
    p1 = plan.severity("P1").rto_wall_s
    p2 = plan.severity("P2").rto_wall_s
    assert p1 < p2
    # Only the P2 alert fired: the drill is judged on the P2 RTO, back a moment before it.
    expect_p2 = replace(EXPECT, severity="P2")
    card = judge(plan, evidence(plan, recovered=p2 - 0.1), expect_p2, scenario="m")
    rto = card.check(CheckKind.RTO)
    assert rto is not None
    assert (rto.status, rto.target_wall_s) == ("passed", p2)
    # A P1 alert fired as well: the P1 RTO applies and the same recovery is late.
    also_p1 = (_notification(30.0, 29.0, name="SystemAvailabilityP1Critical", severity="P1"),)
    card = judge(plan, evidence(plan, recovered=p2 - 0.1, extra=also_p1), expect_p2, scenario="m")
    rto = card.check(CheckKind.RTO)
    assert rto is not None
    assert (rto.status, rto.target_wall_s) == ("failed", p1)
    assert "P1 RTO" in rto.title


def test_recovery_at_the_rto_passes_and_after_it_fails(plan: DrillPlan) -> None:
    rto = plan.severity("P2").rto_wall_s
    expect = replace(EXPECT, severity="P2")
    assert statuses(judge(plan, evidence(plan, recovered=rto), expect, scenario="m"))[
        "recovered-within-rto"
    ] == ("passed")
    late = judge(plan, evidence(plan, recovered=rto + 0.1), expect, scenario="m")
    assert statuses(late)["recovered-within-rto"] == "failed"
    never = judge(plan, evidence(plan, recovered=None), expect, scenario="m").check(CheckKind.RTO)
    assert never is not None
    assert (never.status, never.measured) == ("failed", "steady state never met again")


def test_auto_rollback_is_judged_by_the_phase_deadline(plan: DrillPlan) -> None:
    canary = plan.phase("canary")
    assert canary is not None
    ok = judge(plan, evidence(plan, rollback_after_phase=canary.deadline_wall_s), EXPECT, scenario="m")
    late = judge(
        plan, evidence(plan, rollback_after_phase=canary.deadline_wall_s + 0.1), EXPECT, scenario="m"
    )
    assert statuses(ok)["auto-rollback"] == "passed"
    assert statuses(late)["auto-rollback"] == "failed"


def test_lost_writes_leftover_faults_and_a_stale_version_fail(plan: DrillPlan) -> None:
    ev = replace(
        evidence(plan),
        writes=WriteAudit(acknowledged=400, lost=(17,)),
        pod_faults={"green": {"leak_bytes_per_s": 1.0}},
        pod_versions={"pod-blue": "5.0", "pod-green": "5.1"},
        lock_sessions=(4242,),
    )
    s = statuses(judge(plan, ev, EXPECT, scenario="m"))
    assert s["no-acknowledged-write-lost"] == "failed"
    assert s["no-fault-left"] == "failed"
    assert s["stable-version-serving"] == "failed"
    unknown = judge(plan, replace(evidence(plan), lock_sessions=None), EXPECT, scenario="m")
    assert statuses(unknown)["no-fault-left"] == "error"


def test_the_judge_reads_the_plans_playbook_not_the_bundled_one(
    plan: DrillPlan, mutated_playbook: MutatePlaybook
) -> None:
    def shorter_p2_rto(data: Any) -> None:
        data["severities"][1]["rto"] = "30m"

    other = DrillPlan.build(mutated_playbook(shorter_p2_rto), time_scale=10.0, scrape_interval_s=1.0)
    expect = replace(EXPECT, severity="P2")
    recovered = plan.severity("P2").rto_wall_s - 1.0
    assert (
        statuses(judge(plan, evidence(plan, recovered=recovered), expect, scenario="m"))[
            "recovered-within-rto"
        ]
        == "passed"
    )
    card = judge(other, evidence(other, recovered=recovered), expect, scenario="m")
    rto = card.check(CheckKind.RTO)
    assert rto is not None
    assert (rto.status, rto.target_manual_s) == ("failed", 1800.0)
    assert card.playbook == str(Path(other.playbook_path))


def test_evidence_and_scorecards_survive_their_json(plan: DrillPlan) -> None:
    ev = evidence(plan)
    assert Evidence.from_json(ev.to_json()) == ev
    card = judge(plan, ev, EXPECT, scenario="m")
    assert Scorecard.from_json(card.to_json()) == card


def test_a_fault_that_never_showed_is_reported_as_not_landed_not_as_a_detection_failure(
    plan: DrillPlan,
) -> None:
    ev = evidence(plan)
    silent = replace(ev, held={}, events=tuple(e for e in ev.events if e.kind != "notification"))
    s = statuses(judge(plan, silent, EXPECT, scenario="m"))
    assert s["fault-landed"] == "failed"
    assert s[f"alert-{ALERT}"] == "error"
    # The fault landed but nothing fired: that is a detection failure.
    landed_silently = replace(ev, events=silent.events)
    s = statuses(judge(plan, landed_silently, EXPECT, scenario="m"))
    assert (s["fault-landed"], s[f"alert-{ALERT}"]) == ("passed", "failed")


def test_the_drilled_services_own_rto_binds_where_it_is_stricter(plan: DrillPlan) -> None:
    coordinator = plan.service("agent_coordinator")
    p1 = plan.severity("P1")
    assert coordinator.rto_wall_s < p1.rto_wall_s  # the manual's 10 min against P1's 15 min
    expect = replace(EXPECT, service="agent_coordinator")
    between = (coordinator.rto_wall_s + p1.rto_wall_s) / 2
    also_p1 = (_notification(30.0, 29.0, name="SystemAvailabilityP1Critical", severity="P1"),)
    # Back between the two targets: met by P1's RTO alone, broken by the service's.
    alone = judge(plan, evidence(plan, recovered=between, extra=also_p1), EXPECT, scenario="m").check(
        CheckKind.RTO
    )
    held = judge(plan, evidence(plan, recovered=between, extra=also_p1), expect, scenario="m").check(
        CheckKind.RTO
    )
    assert alone is not None
    assert held is not None
    assert alone.status == "passed"
    assert (held.status, held.target_wall_s, held.source) == (
        "failed",
        coordinator.rto_wall_s,
        coordinator.source,
    )
    assert "agent_coordinator's RTO" in held.title


def test_the_rto_clock_starts_when_the_fault_first_shows(plan: DrillPlan) -> None:
    rto = plan.severity("P2").rto_wall_s
    expect = replace(EXPECT, severity="P2")
    # Injected at 10 s, first hurting at 40 s, back 30 s + the RTO after injection: within the RTO.
    check = judge(plan, evidence(plan, onset=40.0, recovered=rto), expect, scenario="m").check(CheckKind.RTO)
    assert check is not None
    assert check.status == "passed"
    assert check.measured_wall_s == pytest.approx(rto)
    assert "30.0 s after injection" in check.detail
    # With no condition ever holding, the clock starts at the injection.
    ev = evidence(plan, onset=40.0, recovered=rto)
    blind = judge(plan, replace(ev, held={}), expect, scenario="m").check(CheckKind.RTO)
    assert blind is not None
    assert blind.measured_wall_s == pytest.approx(rto + 30.0)
