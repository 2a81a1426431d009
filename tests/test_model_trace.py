"""Event traces worked out by hand: with fixed durations the model's timeline is exact.

Each test fixes every duration, reads the incident's random start from the
record, and then derives every later instant with arithmetic on the manual's
numbers (from the playbook) and the world's (typed here), asserting the trace
event by event.
"""

from __future__ import annotations

import datetime as dt
import math

from sim.model import simulate
from sim.playbook import Playbook
from sim.targets import effective_targets
from tests.worlds import build, fixed, mode, quiet_world

MIN = 60.0


def _grid(t: float, interval: float) -> float:
    return math.ceil(t / interval) * interval


def test_p1_error_burst_timeline(playbook: Playbook) -> None:
    step = {"metric": "claude_enhancer:error_rate", "shape": "step", "baseline": 0.002, "peak": 0.5}
    world = build(
        quiet_world(
            mode(
                user_reports={"probability": 0.0, "delay": fixed(0)},
                variants=[
                    {"name": "burst", "weight": 1, "reported_severity": "P2", "down": True, "signals": [step]}
                ],
            ),
            confirm=fixed("3m"),
            war_room=fixed("2m"),
            diagnose=fixed("5m"),
            fix=fixed("10m"),
            verify=fixed("4m"),
            recovery_notice=fixed("6m"),
            user_email_delay=fixed("5m"),
            status_update_gap_factor=fixed(0.5),
        )
    )
    responders = world.responders.model_copy(
        update={"all_hands_ack_delay": world.responders.ack_delay.model_copy(update={"value_s": 60.0})}
    )
    world = world.model_copy(update={"responders": responders})
    result = simulate(playbook, world, days=60, seed=11)
    first = result.records[0]
    s0 = first.started_s
    g = _grid(s0, world.monitoring.evaluation_interval_s)
    critical, high = playbook.rule("ErrorRateCritical"), playbook.rule("ErrorRateHigh")
    detected = g + critical.for_s  # 2m after the first evaluation that sees the step
    acked = detected + 60
    confirmed = acked + 3 * MIN
    war_room = confirmed + 2 * MIN
    diagnosed = war_room + 5 * MIN
    restored = diagnosed + 10 * MIN
    verified = restored + 4 * MIN
    watch = playbook.flow_for("P1")
    assert watch is not None
    assert watch.stability_watch_s is not None
    watched = verified + watch.stability_watch_s
    resolved = watched + 6 * MIN
    cadence = playbook.cadence_s("P1")
    assert cadence is not None
    updates = [detected + k * cadence / 2 for k in range(1, 20) if detected + k * cadence / 2 < resolved]
    expected = [
        (s0, "started"),
        (g, "alert ErrorRateHigh pending"),
        (g, "alert ErrorRateCritical pending"),
        (detected, "alert ErrorRateCritical firing (P1)"),
        (detected, "detected by alert:ErrorRateCritical as P1"),
        (detected, "paged all key personnel"),
        (acked, "acknowledged by commander-1"),
        (g + high.for_s, "alert ErrorRateHigh firing (P2)"),
        (confirmed, "confirm"),
        (acked + 5 * MIN, "users e-mailed"),
        (war_room, "war_room"),
        (war_room, "devops-1 engaged"),
        (diagnosed, "diagnose"),
        (diagnosed, "fix started"),
        (restored, "service restored by fix"),
        (verified, "verify"),
        (watched, "stability watch over"),
        (resolved, "recovery_notice"),
        (resolved, "resolved; post-mortem scheduled"),
    ]
    expected += [(t, "status update") for t in updates]
    expected.sort(key=lambda e: e[0])
    got = sorted(first.trace, key=lambda e: e[0])
    assert [(round(t, 6), e) for t, e in got] == [(round(t, 6), e) for t, e in expected]
    assert first.severity == first.initial_severity == "P1"
    assert first.detected_s == detected
    assert first.acknowledged_s == acked
    assert first.mitigated_s == restored
    assert first.resolved_s == resolved
    assert first.downtime_s == restored - s0
    # Held to the stricter of P1's RTO and that of the service it hit (api_gateway's 5m, L569).
    assert first.rto_met is (restored - s0 <= effective_targets(playbook, "P1", "api_gateway")[0])
    assert first.response_met is True
    assert first.comms_met is True
    assert first.status_updates == len(updates)


def test_p2_missed_acknowledgement_escalates_to_the_backup(playbook: Playbook) -> None:
    data = quiet_world(mode(variants=[{"name": "v", "weight": 1, "reported_severity": "P2", "down": False}]))
    data["responders"]["ack_delay"] = fixed("40m")
    data["responders"]["all_hands_ack_delay"] = fixed("1m")
    result = simulate(playbook, build(data), days=60, seed=3)
    first = result.records[0]
    window = playbook.severity("P2").response.within_s
    assert window is not None
    s0 = first.started_s
    assert first.trace[:5] == (
        (s0, "started"),
        (s0, "detected by user_report as P2"),
        (s0, "paged primary commander"),
        (s0 + window, "acknowledgement missed: paged backup commander and key personnel"),
        (s0 + window + 60, "acknowledged by commander-backup-1"),
    )
    assert first.response_met is False
    assert first.escalations == 1


def test_p3_waits_for_working_hours(playbook: Playbook) -> None:
    data = quiet_world(mode(variants=[{"name": "v", "weight": 1, "reported_severity": "P3", "down": False}]))
    data["responders"]["ack_delay"] = fixed("2m")
    world = build(data)
    result = simulate(playbook, world, days=120, seed=5)
    start = world.calendar.start
    checked = 0
    for record in result.records:
        when = start + dt.timedelta(seconds=record.started_s)
        opening = when.replace(hour=9, minute=0, second=0, microsecond=0)
        if when.weekday() < 5 and 9 <= when.hour < 18:
            continue  # reported in working hours: paged at once
        if when.weekday() < 5 and when.hour < 9:
            next_open = opening
        else:
            next_open = opening + dt.timedelta(days=1)
            while next_open.weekday() >= 5:
                next_open += dt.timedelta(days=1)
        paged = (next_open - start).total_seconds()
        assert record.trace[2:4] == (
            (record.started_s, "waiting for working hours"),
            (paged, "paged primary commander"),
        )
        window = playbook.severity("P3").response.within_s
        assert window is not None
        if paged - record.started_s < window:
            assert (record.acknowledged_s, record.acknowledged_by) == (paged + 120, "commander-1")
        else:
            # The response window closed before working hours began: the escalation path
            # pages the backup and key personnel at once (all-hands delay is zero here).
            assert record.trace[4] == (
                paged,
                "acknowledgement missed: paged backup commander and key personnel",
            )
            assert (record.acknowledged_s, record.acknowledged_by) == (paged, "commander-backup-1")
        assert record.acknowledged_s is not None
        assert record.response_met is (record.acknowledged_s - record.started_s <= window)
        checked += 1
    assert checked >= 3


def test_deploy_regression_is_rolled_back_automatically_within_the_phase_delay(playbook: Playbook) -> None:
    step = {"metric": "claude_enhancer:error_rate", "shape": "step", "baseline": 0.002, "peak": 0.5}
    data = quiet_world(
        mode(deploy_related=True, user_reports={"probability": 0.0, "delay": fixed(0)},
             variants=[{"name": "v", "weight": 1, "reported_severity": "P1", "down": True, "signals": [step]}]),
        auto_rollback=fixed("90s"), fix=fixed("1h"),
    )  # fmt: skip
    data["deployments"]["phase_weights"] = {"canary": 1.0}
    data["deployments"]["auto_rollback_success_probability"] = 1.0
    world = build(data)
    first = simulate(playbook, world, days=365, seed=2).records[0]
    s0 = first.started_s
    check = world.monitoring.deployer_check_interval_s
    # The trigger (error rate above its rollback threshold) holds from the step on; the
    # deployer sees it at its next check, strictly after the step.
    noticed = (math.floor(s0 / check) + 1) * check
    assert first.deploy_phase == "canary"
    assert first.auto_rollback_s == noticed
    assert first.auto_rollback_in_time is True
    assert first.detected_by == "auto_rollback"
    assert first.mitigated_by == "auto_rollback"
    assert first.mitigated_s == noticed + 90
    assert (noticed, "auto-rollback triggered in canary") in first.trace
