"""Judge a drill: a pure function of the stack's drill plan and the evidence the drill left.

The checks: the steady state held before the fault; the fault landed (its
effect — the condition of an alert the manual raises for it — showed while
it was on; a drill that could not land its fault says so, and its alert
checks are errors, not detection failures); each alert the manual
expects for the fault fired, with the right severity, within its ``for``
plus the plan's notification slack; the scenario's own safety path worked
(auto-rollback within its phase's deadline and the stable version back, the
runbook query naming the blocker and the lock released, the OOM kill seen
and the pod restarted); service was back with the steady state met again
within the RTO of the most severe alert that fired; no acknowledged write
was lost; no fault was left behind; the stop condition never tripped.

Every target is the plan's (so a stack started with another playbook is
judged against that playbook) and every figure is shown in manual time by
the plan's clock.  No I/O happens here: see :mod:`ce_drill.drill.evidence`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ce_drill.drill.evidence import Evidence, fired_at
from ce_drill.drill.scorecard import Check, CheckKind, CheckStatus, Scorecard, timed
from ce_drill.plan import DrillPlan
from sim.compare import most_severe
from sim.units import format_duration

ONSET_GAP_EVALUATIONS = 1.5
"""Two instants at which a condition held belong to one unbroken stretch when they are closer
than this many evaluation intervals (one evaluation missed to jitter does not break it)."""


@dataclass(frozen=True)
class Expectation:
    """What a drill's experiment says the manual expects of its fault (its ``extensions``)."""

    alerts: tuple[str, ...] = ()
    service: str | None = None
    """The service the fault hits: its own RTO binds when stricter than the severity's."""
    severity: str = "P1"
    """The severity judged when no alert fired at all."""
    auto_rollback: bool = False
    runbook_names_blocker: bool = False
    oom_restart: bool = False
    audit_writes: bool = True
    """Judge "no acknowledged write lost".  A target with no load generator (a staging cluster)
    has no acknowledged writes to audit: its experiments say ``"audit_writes": false``."""

    @classmethod
    def from_extension(cls, expect: dict[str, Any]) -> Expectation:
        return cls(
            alerts=tuple(str(a) for a in expect.get("alerts") or ()),
            service=None if expect.get("service") is None else str(expect["service"]),
            severity=str(expect.get("severity", "P1")),
            auto_rollback=bool(expect.get("auto_rollback")),
            runbook_names_blocker=bool(expect.get("runbook_names_blocker")),
            oom_restart=bool(expect.get("oom_restart")),
            audit_writes=bool(expect.get("audit_writes", True)),
        )


def judge(
    plan: DrillPlan, ev: Evidence, expect: Expectation, *, scenario: str, broken: tuple[str, ...] = ()
) -> Scorecard:
    """The scorecard of one drill."""
    j = _Judge(plan, ev, expect)
    landed = j.fault_landed()
    checks = [j.steady_before(), landed]
    checks += [j.alert_fired(name, landed=landed.status != "failed") for name in expect.alerts]
    if expect.auto_rollback:
        checks += [j.auto_rollback(), j.stable_serving()]
    if expect.runbook_names_blocker:
        checks += [j.runbook_named_blocker(), j.lock_released()]
    if expect.oom_restart:
        checks += [j.oom_seen(), j.restarted()]
    checks.append(j.recovered_within_rto())
    if expect.audit_writes:
        checks.append(j.no_lost_writes())
    checks += [j.no_fault_left(), j.stop_condition()]
    return Scorecard(
        scenario,
        plan.timing,
        checks,
        broken=broken,
        wall_s=ev.ended_ts - ev.started_ts,
        playbook=plan.playbook_path,
    )


def condition_onset(held: tuple[float, ...], before_ts: float, step_s: float) -> float | None:
    """Start of the unbroken stretch in which a condition held, up to ``before_ts``.

    An alert's ``for`` restarts whenever its condition stops holding, so its clock
    runs from the start of the stretch that led to the alert.
    """
    stamps = [t for t in held if t <= before_ts]
    if not stamps:
        return None
    onset = stamps[-1]
    for earlier in reversed(stamps[:-1]):
        if onset - earlier > ONSET_GAP_EVALUATIONS * step_s:
            break
        onset = earlier
    return onset


def _status(ok: bool) -> CheckStatus:
    return "passed" if ok else "failed"


class _Judge:
    def __init__(self, plan: DrillPlan, ev: Evidence, expect: Expectation) -> None:
        self.plan, self.ev, self.expect = plan, ev, expect
        fault = ev.first("fault_injected")
        self.fault_ts = fault.ts if fault is not None else ev.started_ts

    def steady_before(self) -> Check:
        met = None if self.ev.journal is None else self.ev.journal.steady_state_met("before")
        status: CheckStatus = "passed" if met else ("error" if met is None else "failed")
        return Check(CheckKind.STEADY_BEFORE, "steady state held before the fault", status,
                     "met" if met else ("unknown" if met is None else "not met"), "met",
                     self.plan.sources.get("verification"))  # fmt: skip

    def fault_landed(self) -> Check:
        kind, title = CheckKind.FAULT_LANDED, "the fault landed: its effect showed while it was on"
        rules = [r for n in self.expect.alerts if (r := self.plan.alert(n)) is not None]
        if not rules:
            return Check(kind, title, "error", "no alert of the drill in the plan", "an alert condition held",
                         None, "the stack's playbook holds none of the alerts this fault raises")  # fmt: skip
        # The effect may lag the fault by a range window, so it counts until the drill ended.
        held = {r.name: sum(1 for t in self.ev.held.get(r.expr, ()) if t >= self.fault_ts) for r in rules}
        landed = any(held.values())
        measured = ", ".join(f"{name}'s condition held {n} evaluation(s)" for name, n in held.items())
        return Check(kind, title, _status(landed), measured, "held at least once after the fault", rules[0].source,
                     "" if landed else "the drill could not land its fault; its alert checks are not judged")  # fmt: skip

    def alert_fired(self, name: str, *, landed: bool = True) -> Check:
        kind, plan = CheckKind.ALERT, self.plan
        rule = plan.alert(name)
        if rule is None:
            return Check(kind, f"alert {name} fired", "failed", "no such rule is loaded", "fires", None,
                         "the rule is missing from the stack's playbook (detection broken?)", subject=name)  # fmt: skip
        notified = self.ev.notifications(name)
        target = f"{rule.severity}, ≤ {rule.notify_by_wall_s:.1f} s wall"
        for_text = f"for {format_duration(round(rule.for_manual_s))} manual = {rule.for_wall_s:g} s wall"
        if not notified and not landed:
            return Check(kind, f"{name} ({rule.severity}) fired", "error", "fault did not land", target, rule.source,
                         f"{for_text}; the condition {rule.expr!r} never held", subject=name)  # fmt: skip
        if not notified:
            return Check(kind, f"{name} ({rule.severity}) fired", "failed", "never fired", target, rule.source,
                         f"{for_text}; the condition {rule.expr!r}", subject=name)  # fmt: skip
        event, alert = notified[0]
        severity = str(alert.get("severity"))
        fired_ts = fired_at(alert, event.ts)
        onset = condition_onset(self.ev.held.get(rule.expr, ()), fired_ts, plan.evaluation_interval_s)
        delay = None if onset is None else fired_ts - onset
        ok = severity == rule.severity and delay is not None and delay <= rule.notify_by_wall_s
        measured = f"{severity}, {delay:.1f} s after the condition held" if delay is not None else severity
        slack = rule.notify_by_wall_s - rule.for_wall_s
        return Check(
            kind, f"{name} fired with severity {rule.severity} within its for + slack", _status(ok), measured,
            target, rule.source,
            f"{for_text}, slack {slack:.1f} s (evaluations + group_wait + delivery); "
            f"notified {event.ts - fired_ts:.1f} s after firing",
            delay, rule.notify_by_wall_s, None if delay is None else plan.manual_s(delay),
            plan.manual_s(rule.notify_by_wall_s), subject=name,
        )  # fmt: skip

    def auto_rollback(self) -> Check:
        kind, title = CheckKind.AUTO_ROLLBACK, "automatic rollback started within the phase delay"
        source = self.plan.sources.get("auto_rollback")
        started = [e for e in self.ev.of("rollback_started") if e.get("mode") == "auto"]
        if not started:
            return Check(kind, title, "failed", "never started", "within the phase's delay", source,
                         "the deployer rolled nothing back (auto-rollback off, or no trigger held)")  # fmt: skip
        rollback = started[0]
        entered = [e for e in self.ev.of("phase_started") if e.ts <= rollback.ts]
        phase = None if not entered else self.plan.phase(str(entered[-1].get("phase")))
        if phase is None:
            return Check(kind, title, "error", "no known phase", "within the phase's delay", source)
        return timed(kind, f"automatic rollback started within the {phase.phase} phase delay",
                     measured_wall_s=rollback.ts - entered[-1].ts, target_wall_s=phase.deadline_wall_s,
                     timing=self.plan.timing, source=phase.source)  # fmt: skip

    def stable_serving(self) -> Check:
        stable = set(self.plan.stable_versions)
        versions = self.ev.pod_versions
        ok = bool(versions) and all(v in stable for v in versions.values())
        wanted = "/".join(sorted(stable))
        return Check(CheckKind.STABLE_SERVING, f"{wanted} serving again", _status(ok),
                     ", ".join(f"{k} {v}" for k, v in sorted(versions.items())) or "no pods",
                     f"all pods on {wanted}", self.plan.sources.get("stable_version"))  # fmt: skip

    def runbook_named_blocker(self) -> Check:
        kind, title = CheckKind.RUNBOOK_BLOCKER, "the runbook's lock-wait query named the blocking backend"
        fault = self.ev.first("fault_injected", fault="lock")
        rows = None if self.ev.journal is None else self.ev.journal.output("runbook-lock-wait-query")
        source = self.plan.sources.get("diagnosis.database_performance")
        if fault is None or not isinstance(rows, list):
            return Check(kind, title, "error", "no query result", "names the blocker", source)
        blocker = fault.get("backend_pid")
        named = sorted(
            {int(r["blocking_pid"]) for r in rows if isinstance(r, dict) and r.get("blocking_pid")}
        )
        return Check(kind, title, _status(blocker in named), f"blocking pids {named}", f"includes pid {blocker}",
                     source, f"{len(rows)} blocked/blocking pairs")  # fmt: skip

    def lock_released(self) -> Check:
        fault = self.ev.first("fault_injected", fault="lock")
        released = self.ev.first("lock_released")
        blocker = None if fault is None else fault.get("backend_pid")
        ok = released is not None and blocker in (released.get("backends") or [])
        measured = "released" if ok else ("skipped" if self.ev.first("release_skipped") else "still held")
        return Check(CheckKind.LOCK_RELEASED, "the drill released the lock (terminated the blocker)",
                     _status(ok), measured, f"backend {blocker} terminated",
                     self.plan.sources.get("diagnosis.database_performance"))  # fmt: skip

    def _kills(self) -> list[Any]:
        return [e for e in self.ev.of("pod_oom_killed") if e.ts >= self.fault_ts]

    def oom_seen(self) -> Check:
        kills = self._kills()
        mechanism = kills[0].get("memory_limit_mechanism") if kills else None
        return Check(CheckKind.OOM_SEEN, "the OOM kill was observed", _status(bool(kills)),
                     f"{len(kills)} OOM kill(s) ({mechanism})" if kills else "none", "at least one",
                     self.plan.sources.get("diagnosis.memory_leak"))  # fmt: skip

    def restarted(self) -> Check:
        kills = self._kills()
        restarts = [e for e in self.ev.of("pod_restarted") if e.ts >= self.fault_ts]
        last = kills[-1] if kills else None
        ok = last is not None and any(r.ts >= last.ts and r.get("slot") == last.get("slot") for r in restarts)
        return Check(CheckKind.RESTARTED, "the OOM-killed pod was restarted", _status(ok),
                     f"{len(restarts)} restart(s) after {len(kills)} kill(s)", "restarted after the last kill",
                     self.plan.sources.get("diagnosis.memory_leak"))  # fmt: skip

    def recovered_within_rto(self) -> Check:
        # The severity is the most severe of every alert that fired, expected or not; the
        # drilled service's own RTO binds where it is stricter (the manual's per-service targets).
        known = {s.id for s in self.plan.severities}
        severity = most_severe(self.ev.severities_fired(self.fault_ts) & known) or self.expect.severity
        sev = self.plan.severity(severity)
        target_s, source, whose = sev.rto_wall_s, sev.source, f"the {severity} RTO"
        if self.expect.service is not None:
            service = self.plan.service(self.expect.service)
            if service.rto_wall_s < target_s:
                target_s, source = service.rto_wall_s, service.source
                whose = f"{service.id}'s RTO (stricter than {severity}'s)"
        # The outage begins when the fault first shows (an expected alert's condition holds),
        # not when it is injected: a leaking release is no outage until it hurts.
        impact = self._impact_ts()
        met = [e for e in self.ev.of("steady_state_met") if e.ts >= self.fault_ts]
        check = timed(CheckKind.RTO, f"service back, steady state met again, within {whose}",
                      measured_wall_s=met[0].ts - impact if met else None, target_wall_s=target_s,
                      timing=self.plan.timing, source=source, missing="steady state never met again")  # fmt: skip
        shown = "" if impact == self.fault_ts else f"{impact - self.fault_ts:.1f} s after injection"
        start = f"counted from the outage's start ({shown or 'the fault injection'})"
        return replace(check, detail=f"{check.detail}; {start}".lstrip("; "))

    def _impact_ts(self) -> float:
        exprs = [r.expr for n in self.expect.alerts if (r := self.plan.alert(n)) is not None]
        held = [t for expr in exprs for t in self.ev.held.get(expr, ()) if t >= self.fault_ts]
        return min(held, default=self.fault_ts)

    def no_lost_writes(self) -> Check:
        kind, audit = CheckKind.NO_LOST_WRITES, self.ev.writes
        source = self.plan.sources.get("data_integrity")
        if audit.error is not None:
            return Check(kind, "no acknowledged write lost", "error", audit.error, "0 lost", source)
        return Check(kind, "no acknowledged write lost (checked in PostgreSQL)", _status(not audit.lost),
                     f"{len(audit.lost)} lost of {audit.acknowledged} acknowledged", "0 lost", source)  # fmt: skip

    def no_fault_left(self) -> Check:
        """Every fault the drill injected was removed: pods clean, no lock held."""
        injected = {str(e.get("fault")) for e in self.ev.of("fault_injected")}
        removed = {str(e.get("fault")) for e in self.ev.of("fault_removed")}
        left = [f"{f} not removed" for f in sorted(injected - removed)]
        left += [f"{slot} fault {fault}" for slot, fault in sorted(self.ev.pod_faults.items())]
        if self.ev.lock_sessions:
            left.append(f"lock sessions {list(self.ev.lock_sessions)}")
        status: CheckStatus = "failed" if left else ("error" if self.ev.lock_sessions is None else "passed")
        measured = "; ".join(left) or ("lock sessions unknown" if self.ev.lock_sessions is None else "none")
        return Check(CheckKind.NO_FAULT_LEFT, "no fault left behind", status, measured, "none", None)

    def stop_condition(self) -> Check:
        status = None if self.ev.journal is None else self.ev.journal.status
        interrupted = status == "interrupted"
        return Check(CheckKind.STOP_CONDITION, "the drill ran to its end without hitting its stop condition",
                     "failed" if interrupted else ("passed" if status == "completed" else "error"),
                     f"experiment {status}", "completed", None,
                     "the error-rate safeguard aborted the drill" if interrupted else "")  # fmt: skip
