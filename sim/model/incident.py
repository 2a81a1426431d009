"""The life of one incident, as SimPy processes and timeout callbacks: signals, detection, paging, the response flow.

An incident starts, its metrics move, and several things race to notice it:
each alert rule (Prometheus semantics, from :mod:`sim.model.signals`), users
reporting it, and — for incidents born of a deployment — the deployer's
auto-rollback triggers.  Once detected, the incident commander is paged and
the manual's flowchart for the severity runs: the P1 flow (confirm, war room,
diagnose, quick fix or immediate rollback, verify, escalate and loop, 30-minute
stability watch, recovery notice, post-mortem) or the P2/P3 flow (confirm,
impact analysis, plan, fix, verify, re-analyse, update monitoring, document).
Status updates follow the severity's cadence meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from functools import partial
from typing import Any

import simpy

from sim.compare import severity_rank
from sim.model.context import IC_BACKUP, IC_PRIMARY, Context
from sim.model.responders import Claim, Page
from sim.model.signals import AlertTiming, alert_timing, next_grid
from sim.model.state import IncidentState

Proc = Generator[Any, Any, Any]


def run_incident(ctx: Context, inc: IncidentState) -> Proc:
    env, world = ctx.env, ctx.world
    inc.log(env.now, "started")
    interval = world.monitoring.evaluation_interval_s
    # Watchers are timeouts with callbacks rather than processes: an incident sets a dozen of
    # them and most never matter, so they must be cheap.
    for rule in ctx.playbook.detection_rules:
        trajectory = inc.trajectories.get(rule.metric)
        if trajectory is None:
            continue
        timing = alert_timing(
            rule=rule.name,
            severity=rule.severity,
            op=rule.op,
            threshold=rule.threshold,
            for_s=rule.for_s,
            trajectory=trajectory,
            started_at=inc.started_s,
            interval=interval,
        )
        if timing is not None:
            _after(ctx, timing.pending_at - env.now, partial(_alert_pending, ctx, inc, timing))
    reports = inc.mode.user_reports
    reported = inc.content.random() < reports.probability
    delay = ctx.quantile(reports.delay)(inc.content.random())
    if reported:
        _after(ctx, delay, partial(_user_report, ctx, inc))
    _after(ctx, world.monitoring.noticed_after_s, partial(_noticed, ctx, inc))
    if inc.mode.deploy_related:
        env.process(_deployer(ctx, inc))
    yield inc.detected
    yield from _respond(ctx, inc)


def _after(ctx: Context, delay: float, action: Callable[[simpy.Event], None]) -> None:
    """Call ``action`` (with the timeout event, which it ignores) ``delay`` seconds from now."""
    ctx.env.timeout(delay).callbacks.append(action)


def _alert_pending(ctx: Context, inc: IncidentState, timing: AlertTiming, _at: simpy.Event) -> None:
    if inc.restored.triggered:
        return
    now = ctx.env.now
    inc.log(now, f"alert {timing.rule} pending")
    _after(ctx, timing.firing_at - now, partial(_alert_firing, ctx, inc, timing))


def _alert_firing(ctx: Context, inc: IncidentState, timing: AlertTiming, _at: simpy.Event) -> None:
    now = ctx.env.now
    if inc.restored.triggered:
        inc.log(now, f"alert {timing.rule} cleared before firing")
        return
    inc.alerts.append((timing.rule, timing.severity, now))
    inc.log(now, f"alert {timing.rule} firing ({timing.severity})")
    if not inc.detected.triggered:
        inc.detect(now, f"alert:{timing.rule}", timing.severity)
    else:
        inc.raise_severity(now, timing.severity, f"alert {timing.rule}")


def _user_report(ctx: Context, inc: IncidentState, _at: simpy.Event) -> None:
    if not inc.restored.triggered and not inc.detected.triggered:
        inc.detect(ctx.env.now, "user_report", inc.variant.reported_severity)


def _noticed(ctx: Context, inc: IncidentState, _at: simpy.Event) -> None:
    if not inc.detected.triggered:
        inc.detect(ctx.env.now, "review", inc.variant.reported_severity)


def _deployer(ctx: Context, inc: IncidentState) -> Proc:
    """The deployment pipeline's automatic rollback, watching the manual's triggers in this phase."""
    env, world = ctx.env, ctx.world
    phases = [p for p in ctx.playbook.auto_rollback.phases if p.phase in world.deployments.phase_weights]
    weights = [world.deployments.phase_weights[p.phase] for p in phases]
    u_phase, u_success = inc.content.random(), inc.content.random()
    duration = ctx.stages["auto_rollback"](inc.content.random())
    if not phases:
        return
    phase = phases[_pick(weights, u_phase)]
    inc.deploy_phase = phase.phase
    check = world.monitoring.deployer_check_interval_s
    notices = []
    for trigger in ctx.playbook.auto_rollback.triggers:
        trajectory = inc.trajectories.get(trigger.metric)
        onset = trajectory.onset(trigger.op, trigger.threshold) if trajectory is not None else None
        if onset is not None:
            at = inc.started_s + onset[0]
            notices.append((next_grid(at, check, strictly_after=onset[1]), at))
    if not notices:
        return
    notice, onset_at = min(notices)
    yield env.timeout(notice - env.now)
    if inc.restored.triggered:
        return
    inc.auto_rollback_s = env.now
    inc.auto_rollback_in_time = env.now - onset_at <= phase.delay_s
    inc.log(env.now, f"auto-rollback triggered in {phase.phase}")
    if not inc.detected.triggered:
        inc.detect(env.now, "auto_rollback", inc.variant.reported_severity)
    yield env.timeout(duration)
    if u_success < world.deployments.auto_rollback_success_probability:
        inc.restore(env.now, "auto_rollback")
    else:
        inc.escalations += 1
        inc.log(env.now, "auto-rollback failed: escalated")


def _pick(weights: list[float], u: float) -> int:
    total, acc = sum(weights), 0.0
    for i, w in enumerate(weights):
        acc += w / total
        if u < acc:
            return i
    return len(weights) - 1


def _stage(ctx: Context, inc: IncidentState, name: str) -> Proc:
    yield ctx.env.timeout(ctx.stages[name](inc.flow.random()))
    inc.log(ctx.env.now, name)


def _respond(ctx: Context, inc: IncidentState) -> Proc:
    env = ctx.env
    claim = yield from _acknowledge(ctx, inc)
    _comms(ctx, inc)
    assert inc.severity is not None
    flow = ctx.flow_for(inc.severity)
    if flow is not None and flow.stability_watch_s is not None:
        yield from _p1_flow(ctx, inc, flow.stability_watch_s)
    else:
        yield from _p2_p3_flow(ctx, inc)
    ctx.teams[claim.team.name].release(claim)
    inc.resolved_s = env.now
    inc.log(env.now, "resolved; post-mortem scheduled")
    inc.resolved.succeed()


def _acknowledge(ctx: Context, inc: IncidentState) -> Generator[Any, Any, Claim]:
    """Page the incident commander per the severity's escalation path; the first to acknowledge leads."""
    env, clock = ctx.env, ctx.clock
    assert inc.severity is not None
    assert inc.detected_s is not None
    severity = ctx.severity(inc.severity)
    responders = ctx.world.responders
    primary_delay = ctx.quantile(responders.ack_delay)(inc.flow.random())
    all_hands_delay = ctx.quantile(responders.all_hands_ack_delay)
    all_hands_delays = (all_hands_delay(inc.flow.random()), all_hands_delay(inc.flow.random()))
    priority = severity_rank(inc.severity)
    page_at = env.now
    if severity.escalation.mode == "business_hours":
        page_at = clock.next_open(env.now)
    elif severity.response.kind == "next_business_day":
        page_at = clock.next_day_open(env.now)
    if page_at > env.now:
        inc.log(env.now, "waiting for working hours")
        yield env.timeout(page_at - env.now)
    won = env.event()
    backup = ctx.teams.get(IC_BACKUP)
    if severity.escalation.mode == "page_all_key_personnel":
        inc.log(env.now, "paged all key personnel")
        Page(env, ctx.teams[IC_PRIMARY], priority, inc.id, all_hands_delays[0], won)
        if backup is not None:
            Page(env, backup, priority, inc.id, all_hands_delays[1], won)
    else:
        inc.log(env.now, "paged primary commander")
        Page(env, ctx.teams[IC_PRIMARY], priority, inc.id, primary_delay, won)
        window = ctx.response_window_s(inc.severity)
        if window is not None and backup is not None:
            escalate = partial(
                _escalate, ctx, inc, partial(Page, env, backup, priority, inc.id, all_hands_delays[1]), won
            )
            deadline = inc.detected_s + window
            if deadline > env.now:
                _after(ctx, deadline - env.now, escalate)
            else:
                escalate(None)
    claim: Claim = yield won
    inc.acknowledged_s, inc.acknowledged_by = env.now, claim.person
    inc.log(env.now, f"acknowledged by {claim.person}")
    inc.response_met = _response_met(ctx, inc)
    return claim


def _escalate(
    ctx: Context, inc: IncidentState, page_backup: Callable[[simpy.Event], Page], won: simpy.Event, _at: Any
) -> None:
    """The response window has passed: unless someone acknowledged, page the backup commander too."""
    if not won.triggered:
        inc.escalations += 1
        inc.log(ctx.env.now, "acknowledgement missed: paged backup commander and key personnel")
        page_backup(won)


def _response_met(ctx: Context, inc: IncidentState) -> bool:
    assert inc.severity is not None
    assert inc.detected_s is not None
    assert inc.acknowledged_s is not None
    window = ctx.response_window_s(inc.severity)
    if window is not None:
        return inc.acknowledged_s - inc.detected_s <= window
    # "下个工作日处理": picked up before the next working day is over.
    next_day = ctx.clock.next_day_open(inc.detected_s)
    return inc.acknowledged_s <= ctx.clock.close_of(next_day)


def _hold_team(ctx: Context, inc: IncidentState) -> Generator[Any, Any, Claim]:
    team = ctx.teams[inc.mode.team]
    asked = ctx.env.now
    assert inc.severity is not None
    claim = yield from team.hold(severity_rank(inc.severity), inc.id)
    inc.team_wait_s = ctx.env.now - asked
    inc.log(ctx.env.now, f"{claim.person} engaged")
    return claim


def _attempt(ctx: Context, inc: IncidentState, force: str | None = None) -> Proc:
    """One go at restoring service: a quick fix, or an immediate rollback when none is at hand."""
    mode = inc.mode
    u_quick, u_success = inc.flow.random(), inc.flow.random()
    inc.fix_attempts += 1
    quick = u_quick < mode.quick_fix_probability if force is None else force == "fix"
    if quick or not mode.rollback_possible:
        action, p = "fix", mode.fix_success_probability
    else:
        action, p = "manual_rollback", mode.rollback_success_probability
    duration = ctx.stages[action](inc.flow.random())
    inc.log(ctx.env.now, f"{action} started")
    yield ctx.env.timeout(duration)
    if u_success < p:
        inc.restore(ctx.env.now, action)
    else:
        inc.log(ctx.env.now, f"{action} failed")


def _p1_flow(ctx: Context, inc: IncidentState, stability_watch_s: float) -> Proc:
    yield from _stage(ctx, inc, "confirm")
    yield from _stage(ctx, inc, "war_room")
    team = yield from _hold_team(ctx, inc)
    while True:
        yield from _stage(ctx, inc, "diagnose")
        if inc.diagnosed_s is None:
            inc.diagnosed_s = ctx.env.now
        if not inc.restored.triggered:
            yield from _attempt(ctx, inc)
        yield from _stage(ctx, inc, "verify")
        if inc.restored.triggered:
            break
        inc.escalations += 1
        inc.log(ctx.env.now, "not recovered: escalated, back to diagnosis")
    team.team.release(team)
    yield ctx.env.timeout(stability_watch_s)
    inc.log(ctx.env.now, "stability watch over")
    yield from _stage(ctx, inc, "recovery_notice")


def resume_from_decision(ctx: Context, inc: IncidentState, action: str) -> Proc:
    """The rest of a P1 response from the moment ``action`` (``fix`` or ``manual_rollback``) was decided.

    Used by what-if replays: the decision is taken as given, everything after it
    (how long it takes, whether it works, the escalation loop) is drawn from the world.
    """
    team = yield from _hold_team(ctx, inc)
    yield from _attempt(ctx, inc, force=action)
    while True:
        yield from _stage(ctx, inc, "verify")
        if inc.restored.triggered:
            break
        inc.escalations += 1
        inc.log(ctx.env.now, "not recovered: escalated, back to diagnosis")
        yield from _stage(ctx, inc, "diagnose")
        if not inc.restored.triggered:
            yield from _attempt(ctx, inc)
    team.team.release(team)


def _p2_p3_flow(ctx: Context, inc: IncidentState) -> Proc:
    yield from _stage(ctx, inc, "confirm")
    team = yield from _hold_team(ctx, inc)
    while True:
        yield from _stage(ctx, inc, "impact_analysis")
        yield from _stage(ctx, inc, "plan")
        if inc.diagnosed_s is None:
            inc.diagnosed_s = ctx.env.now
        if not inc.restored.triggered:
            yield from _attempt(ctx, inc)
        yield from _stage(ctx, inc, "verify")
        if inc.restored.triggered:
            break
        inc.log(ctx.env.now, "not solved: re-analysing")
    team.team.release(team)
    yield from _stage(ctx, inc, "update_monitoring")
    yield from _stage(ctx, inc, "document")


def _comms(ctx: Context, inc: IncidentState) -> None:
    """Status updates at the severity's cadence until resolved, and the user e-mail where due.

    Each update is a timeout whose callback schedules the next: a chain of
    callbacks, not a process, since nothing else waits on it and an incident
    can run dozens of updates.
    """
    assert inc.severity is not None
    assert inc.detected_s is not None
    cadence = ctx.playbook.cadence_s(inc.severity)
    # The first gap is drawn before the e-mail's delay: the comms stream's order of draws.
    if cadence is not None:
        _StatusUpdates(ctx, inc, cadence).next_from(inc.detected_s)
    _user_email(ctx, inc)


class _StatusUpdates:
    """One incident's status updates: each due a gap of cadence x factor after the last."""

    __slots__ = ("cadence", "ctx", "factor", "inc", "last", "worst")

    def __init__(self, ctx: Context, inc: IncidentState, cadence: float) -> None:
        self.ctx, self.inc, self.cadence = ctx, inc, cadence
        self.factor = ctx.stages["status_update_gap_factor"]
        self.last, self.worst = 0.0, 0.0

    def next_from(self, last: float) -> None:
        self.last = last
        # At least a second apart, so a degenerate factor cannot stall the clock.
        due = last + max(self.cadence * self.factor(self.inc.comms.random()), 1.0)
        now = self.ctx.env.now
        if due > now:
            # A plain timeout, checked on waking, is much cheaper than racing the resolution.
            self.ctx.env.timeout(due - now).callbacks.append(self._due)
        else:
            self._due(None)

    def _due(self, _at: simpy.Event | None) -> None:
        inc, now = self.inc, self.ctx.env.now
        if inc.resolved_s is not None:
            inc.max_update_gap_s = max(self.worst, inc.resolved_s - self.last)
            inc.comms_met = inc.max_update_gap_s <= self.cadence
            return
        inc.status_updates += 1
        inc.log(now, "status update")
        self.worst = max(self.worst, now - self.last)
        self.next_from(now)


def _user_email(ctx: Context, inc: IncidentState) -> None:
    """E-mail the users when the playbook's rule for the severity says so: at once, or once the impact lasts."""
    assert inc.severity is not None
    delay = ctx.stages["user_email_delay"](inc.comms.random())
    rule = next((r for r in ctx.playbook.communication.user_email if r.severity == inc.severity), None)
    if rule is None:
        return
    if rule.when == "immediately":
        _after(ctx, delay, partial(_email_sent, ctx, inc))
    elif rule.when == "impact_exceeds" and rule.impact_over_s is not None:
        wait = inc.started_s + rule.impact_over_s - ctx.env.now
        if wait > 0:
            # Checked when the impact threshold passes: an incident restored before then needs no e-mail.
            _after(ctx, wait, partial(_email_due, ctx, inc, delay))
        else:
            _email_due(ctx, inc, delay, None)


def _email_due(ctx: Context, inc: IncidentState, delay: float, _at: simpy.Event | None) -> None:
    if not inc.restored.triggered:
        _after(ctx, delay, partial(_email_sent, ctx, inc))


def _email_sent(ctx: Context, inc: IncidentState, _at: simpy.Event) -> None:
    inc.user_email_s = ctx.env.now
    inc.log(ctx.env.now, "users e-mailed")
