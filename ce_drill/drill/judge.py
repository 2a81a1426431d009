"""Judge a drill against the playbook: every check with its measured value, target and manual source.

The checks: the steady state held before the fault; each alert the manual
expects for the fault fired, with the right severity, within its ``for``
plus evaluation slack; the scenario's own safety path worked (auto-rollback
in its phase, the runbook query naming the blocker and the lock released,
the OOM kill seen and the pod restarted); service was back with the steady
state met again within the RTO of the severity that fired; no acknowledged
write was lost; no fault was left behind.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import psycopg

from ce_drill.drill.evidence import Evidence
from ce_drill.drill.scorecard import Check, CheckStatus, timed
from ce_drill.rules.alerting import AlertRule
from sim.fields import ManualRef
from sim.playbook import Playbook
from sim.units import format_duration


class Judge:
    def __init__(self, pb: Playbook, ev: Evidence, *, scenario: str, expect: dict[str, Any], scale: float,
                 alerts: dict[str, AlertRule], eval_interval_s: float, group_wait_s: float) -> None:  # fmt: skip
        self.pb, self.ev, self.scenario, self.expect, self.scale = pb, ev, scenario, expect, scale
        self.alerts, self.eval_s, self.group_wait_s = alerts, eval_interval_s, group_wait_s
        fault = ev.first("fault_injected")
        self.fault_ts = fault.ts if fault is not None else ev.started_ts

    def checks(self) -> list[Check]:
        out = [self.steady_before()]
        out += [self.alert_fired(name) for name in self.expect.get("alerts", [])]
        if self.expect.get("auto_rollback"):
            out += [self.auto_rollback(), self.stable_serving()]
        if self.expect.get("runbook_names_blocker"):
            out += [self.runbook_named_blocker(), self.lock_released()]
        if self.expect.get("oom_restart"):
            out += [self.oom_seen(), self.restarted()]
        out += [
            self.recovered_within_rto(),
            self.no_lost_writes(),
            self.no_fault_left(),
            self.stop_condition(),
        ]
        return out

    # --- the checks ---------------------------------------------------------------

    def steady_before(self) -> Check:
        met = None if self.ev.journal is None else self.ev.journal.steady_state_met("before")
        status: CheckStatus = "passed" if met else ("error" if met is None else "failed")
        source = self._verification_source()
        return Check("steady-state-before", "steady state held before the fault", status,
                     "met" if met else ("unknown" if met is None else "not met"), "met", source)  # fmt: skip

    def alert_fired(self, name: str) -> Check:
        rule = self.alerts.get(name)
        check_id = f"alert-{name}"
        if rule is None:
            return Check(check_id, f"alert {name} fired", "failed", "no such rule is loaded", "fires", None,
                         "the rule is missing from the generated rules (detection broken?)")  # fmt: skip
        source = self._rule_source(rule)
        fired = self.ev.firing(name)
        window = rule.for_ms / 1000 + 2 * self.eval_s + self.group_wait_s + 1.0
        target = f"fires as {rule.severity} within for + slack"
        if fired is None:
            return Check(check_id, f"{name} ({rule.severity}) fired", "failed", "never fired", target, source,
                         f"for {rule.for_ms / 1000:g} s wall; the condition {rule.expr!r}")  # fmt: skip
        severity = self.ev.severity_of(name)
        fired_ts = self.ev.fired_at(name) or fired.ts
        onset = self.ev.condition_onset(rule.expr, self.eval_s, before_ts=fired_ts)
        delay = None if onset is None else fired_ts - onset
        ok = severity == rule.severity and delay is not None and delay <= window
        measured = (
            f"{severity}, {delay:.1f} s after the condition held" if delay is not None else f"{severity}"
        )
        return Check(
            check_id, f"{name} fired with severity {rule.severity} within its for + slack",
            "passed" if ok else "failed", measured, f"{rule.severity}, ≤ {window:.1f} s wall", source,
            f"for {format_duration(round(rule.for_ms / 1000 * self.scale))} manual = {rule.for_ms / 1000:g} s wall, "
            f"slack 2 evaluations + group_wait + 1 s; notified {fired.ts - fired_ts:.1f} s after firing", delay, window,
        )  # fmt: skip

    def auto_rollback(self) -> Check:
        phases = {p.phase: p for p in self.pb.auto_rollback.phases}
        started = [e for e in self.ev.events("rollback_started") if e.get("mode") == "auto"]
        if not started:
            return Check("auto-rollback", "automatic rollback started within the phase delay", "failed",
                         "never started", "within the phase's delay", self.pb.auto_rollback.source,
                         "the deployer rolled nothing back (auto-rollback off, or no trigger held)")  # fmt: skip
        rollback = started[0]
        phase_event = [e for e in self.ev.events("phase_started") if e.ts <= rollback.ts][-1:]
        if not phase_event:
            return Check("auto-rollback", "automatic rollback started within the phase delay", "error",
                         "no phase", "within the phase's delay", self.pb.auto_rollback.source)  # fmt: skip
        phase = phase_event[0]
        name = str(phase.get("phase"))
        deadline = float(phase.get("deadline_s") or phases[name].delay_s / self.scale)
        return timed("auto-rollback", f"automatic rollback started within the {name} phase delay",
                     measured_wall_s=rollback.ts - phase.ts, target_wall_s=deadline, scale=self.scale,
                     source=phases[name].source)  # fmt: skip

    def stable_serving(self) -> Check:
        stable = {m.stable_version for m in self.pb.manual_rollback if m.stable_version}
        status = self.ev.stack.status().to_json()
        versions = {c["name"]: c.get("version") for c in status["components"] if c["name"].startswith("pod-")}
        ok = bool(versions) and all(v in stable for v in versions.values())
        source = next(m.source for m in self.pb.manual_rollback if m.stable_version)
        return Check("stable-version-serving", f"{'/'.join(sorted(stable))} serving again", "passed" if ok else "failed",
                     ", ".join(f"{k} {v}" for k, v in sorted(versions.items())), f"all pods on {'/'.join(sorted(stable))}",
                     source)  # fmt: skip

    def runbook_named_blocker(self) -> Check:
        fault = self.ev.first("fault_injected", fault="lock")
        rows = None if self.ev.journal is None else self.ev.journal.output("runbook-lock-wait-query")
        source = self._diagnosis_source()
        if fault is None or not isinstance(rows, list):
            return Check("runbook-named-blocker", "the runbook's lock-wait query named the blocking backend",
                         "error", "no query result", "names the blocker", source)  # fmt: skip
        blocker = fault.get("backend_pid")
        named = sorted(
            {int(r["blocking_pid"]) for r in rows if isinstance(r, dict) and r.get("blocking_pid")}
        )
        ok = blocker in named
        return Check("runbook-named-blocker", "the runbook's lock-wait query named the blocking backend",
                     "passed" if ok else "failed", f"blocking pids {named}", f"includes pid {blocker}",
                     source, f"{len(rows)} blocked/blocking pairs")  # fmt: skip

    def lock_released(self) -> Check:
        fault = self.ev.first("fault_injected", fault="lock")
        released = self.ev.first("lock_released")
        source = self._diagnosis_source()
        blocker = None if fault is None else fault.get("backend_pid")
        ok = released is not None and blocker in (released.get("backends") or [])
        return Check("lock-released", "the drill released the lock (terminated the blocker)",
                     "passed" if ok else "failed",
                     "released" if ok else ("skipped" if self.ev.first("release_skipped") else "still held"),
                     f"backend {blocker} terminated", source)  # fmt: skip

    def oom_seen(self) -> Check:
        kills = [e for e in self.ev.events("pod_oom_killed") if e.ts >= self.fault_ts]
        ok = bool(kills)
        mechanism = kills[0].get("memory_limit_mechanism") if kills else None
        return Check("oom-kill-observed", "the OOM kill was observed", "passed" if ok else "failed",
                     f"{len(kills)} OOM kill(s) ({mechanism})" if kills else "none", "at least one",
                     self._diagnosis_source("memory_leak"))  # fmt: skip

    def restarted(self) -> Check:
        kills = [e for e in self.ev.events("pod_oom_killed") if e.ts >= self.fault_ts]
        restarts = [e for e in self.ev.events("pod_restarted") if e.ts >= self.fault_ts]
        last_kill = kills[-1] if kills else None
        ok = last_kill is not None and any(r.ts >= last_kill.ts and r.get("slot") == last_kill.get("slot")
                                           for r in restarts)  # fmt: skip
        return Check("service-restarted", "the OOM-killed pod was restarted", "passed" if ok else "failed",
                     f"{len(restarts)} restart(s) after {len(kills)} kill(s)", "restarted after the last kill",
                     self._diagnosis_source("memory_leak"))  # fmt: skip

    def recovered_within_rto(self) -> Check:
        # The severity is the highest of every alert that fired, expected or not.
        fired = [
            s for s in self.ev.severities_fired(self.fault_ts) if s in {x.id for x in self.pb.severities}
        ]
        severity = min(fired, key=lambda s: int(s[1:])) if fired else str(self.expect.get("severity", "P1"))
        sev = self.pb.severity(severity)
        met = [e for e in self.ev.events("steady_state_met") if e.ts >= self.fault_ts]
        measured = met[0].ts - self.fault_ts if met else None
        return timed("recovered-within-rto", f"service back, steady state met again, within the {severity} RTO",
                      measured_wall_s=measured, target_wall_s=sev.rto_s / self.scale, scale=self.scale,
                      source=sev.source, missing="steady state never met again")  # fmt: skip

    def no_lost_writes(self) -> Check:
        source = next((c.source for c in self.pb.rollback_verification if c.area == "data_integrity"), None)
        try:
            lost = self.ev.stack.lost_writes()
            acked = len(self.ev.stack.acknowledged_writes())
        except (OSError, psycopg.Error, ValueError) as exc:
            return Check(
                "no-acknowledged-write-lost",
                "no acknowledged write lost",
                "error",
                str(exc),
                "0 lost",
                source,
            )
        return Check("no-acknowledged-write-lost", "no acknowledged write lost (checked in PostgreSQL)",
                     "passed" if not lost else "failed", f"{len(lost)} lost of {acked} acknowledged", "0 lost",
                     source)  # fmt: skip

    def no_fault_left(self) -> Check:
        """Every fault the drill injected was removed: pods clean, no lock held, stable version live."""
        left = []
        injected = {e.get("fault") for e in self.ev.events("fault_injected")}
        removed = {e.get("fault") for e in self.ev.events("fault_removed")}
        left += [f"{f} not removed" for f in sorted(str(f) for f in injected - removed)]
        for slot, base in self.ev.stack.pod_urls().items():
            fault = _get_json(base + "/-/fault")
            if isinstance(fault, dict) and any(v for v in fault.values()):
                left.append(f"{slot} fault {fault}")
        holders = _lock_sessions(self.ev)
        if holders:
            left.append(f"lock sessions {holders}")
        return Check("no-fault-left", "no fault left behind", "failed" if left else "passed",
                     "; ".join(left) or "none", "none", None)  # fmt: skip

    def stop_condition(self) -> Check:
        status = None if self.ev.journal is None else self.ev.journal.status
        interrupted = status == "interrupted"
        return Check("stop-condition", "the drill ran to its end without hitting its stop condition",
                     "failed" if interrupted else ("passed" if status == "completed" else "error"),
                     f"experiment {status}", "completed", None,
                     "the error-rate safeguard aborted the drill" if interrupted else "")  # fmt: skip

    # --- manual sources -------------------------------------------------------------

    def _verification_source(self) -> ManualRef | None:
        return next((c.source for c in self.pb.rollback_verification if c.area == "performance"), None)

    def _diagnosis_source(self, diagnosis: str = "database_performance") -> ManualRef | None:
        return next((d.source for d in self.pb.troubleshooting.diagnoses if d.id == diagnosis), None)

    def _rule_source(self, rule: AlertRule) -> ManualRef | None:
        if rule.kind == "detection":
            return self.pb.rule(rule.name).source
        level = next((lv for lv in self.pb.alert_priority_matrix if lv.severity == rule.severity), None)
        return None if level is None else level.source


def _get_json(address: str) -> Any:
    try:
        with urllib.request.urlopen(address, timeout=3) as response:
            return json.loads(response.read())
    except (OSError, ValueError):
        return None  # a pod that is down carries no fault


def _lock_sessions(ev: Evidence) -> list[int]:
    from ce_drill.chaos.lockholder import APPLICATION_NAME

    state = ev.stack.state()
    if state is None:
        return []
    with psycopg.connect(state.urls["postgres"], connect_timeout=5, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (APPLICATION_NAME,)
        ).fetchall()
    return [int(r[0]) for r in rows]
