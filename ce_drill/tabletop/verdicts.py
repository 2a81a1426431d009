"""Judge an incident timeline against the playbook, promise by promise.

Every promise the manual makes about one incident gets a verdict: *met*,
*broken*, or *not evidenced* when the timeline does not say enough to judge
(a promise is never passed for lack of evidence).  Each verdict carries what
was measured, the target and the manual lines the target comes from.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from ce_drill.tabletop.timeline import Event, Timeline
from sim.fields import ManualRef
from sim.playbook import Playbook
from sim.units import format_duration

Status = Literal["met", "broken", "not_evidenced"]

# Which timeline events show each response-timeline milestone of the manual; "all" means
# every kind listed must have happened (确认事故，组建战情室 is two things).
MILESTONE_EVENTS: dict[str, tuple[Literal["all", "any"], tuple[str, ...]]] = {
    "confirmed_war_room": ("all", ("confirmed", "war_room_open")),
    "diagnosis_done": ("any", ("diagnosis_done",)),
    "fix_started": ("any", ("fix_attempted", "rollback_started")),
    "fix_done_or_escalated": ("any", ("rollback_finished", "recovered", "escalated")),
    "recovery_notice": ("any", ("recovery_notice",)),
    "impact_assessed": ("any", ("impact_assessed",)),
    "investigation_started": ("any", ("investigation_started",)),
    "plan_made": ("any", ("plan_made",)),
    "fix_verified": ("any", ("fix_verified",)),
    "queued": ("any", ("queued",)),
    "work_started": ("any", ("work_started",)),
}
_POSTMORTEM_EVENTS = {
    "preparation": "postmortem_prepared",
    "meeting": "postmortem_meeting",
    "report": "postmortem_report",
}


@dataclass(frozen=True)
class Verdict:
    promise: str
    status: Status
    target: str
    measured: str
    source: ManualRef
    detail: str = ""
    target_s: float | None = None
    measured_s: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "promise": self.promise,
            "verdict": self.status,
            "target": self.target,
            "target_s": self.target_s,
            "measured": self.measured,
            "measured_s": self.measured_s,
            "manual_lines": [self.source.first_line, self.source.last_line],
            "manual_section": self.source.section,
            "detail": self.detail,
        }


def _fd(seconds: float) -> str:
    return format_duration(round(seconds))


def _deadline(  # noqa: PLR0917 - every verdict passes the same six facts
    promise: str,
    source: ManualRef,
    origin: dt.datetime,
    target_s: float,
    at: tuple[dt.datetime, bool] | None,
    what: str,
) -> Verdict:
    """Did ``what`` happen within ``target_s`` of ``origin``?  A date-only instant is the whole day."""
    target = f"≤ {_fd(target_s)}"
    if at is None:
        return Verdict(
            promise, "not_evidenced", target, "-", source, f"the timeline records no {what}", target_s
        )
    moment, date_only = at
    if date_only:
        earliest = (moment - origin).total_seconds()
        latest = earliest + 86400 - 1
        if latest <= target_s:
            return Verdict(
                promise, "met", target, f"{moment.date()} (date only)", source, "", target_s, latest
            )
        if earliest > target_s:
            return Verdict(
                promise, "broken", target, f"{moment.date()} (date only)", source, "", target_s, earliest
            )
        return Verdict(
            promise, "not_evidenced", target, f"{moment.date()} (date only)", source,
            "the deadline falls on that day; the timeline gives no time", target_s,
        )  # fmt: skip
    measured = (moment - origin).total_seconds()
    status: Status = "met" if measured <= target_s else "broken"
    return Verdict(promise, status, target, _fd(measured), source, "", target_s, measured)


class _Judge:
    def __init__(self, pb: Playbook, tl: Timeline) -> None:
        self.pb, self.tl = pb, tl
        self.severity = tl.severity()
        times = [tl.when(e) for e in tl.events]
        self.started = min(t for t, _ in times)
        self.last = max(t for t, _ in times)
        alert = tl.first("alert_fired")
        detected = tl.first("alert_fired", "user_reports")
        self.detected = tl.when(detected)[0] if detected else self.started
        # The response timeline counts from T+0 "告警触发"; without an alert, from the first report.
        self.t0 = tl.when(alert)[0] if alert else self.detected
        recovered = tl.first("recovered")
        self.recovered = tl.when(recovered)[0] if recovered else None
        resolved = tl.first("resolved")
        self.resolved = tl.when(resolved)[0] if resolved else self.recovered

    def at(self, event: Event | None) -> tuple[dt.datetime, bool] | None:
        return None if event is None else self.tl.when(event)

    def verdicts(self) -> Iterator[Verdict]:
        if self.severity is None:
            return
        yield self.confirmation()
        yield from self.milestones()
        yield self.rto()
        yield self.rpo()
        yield from self.cadence()
        yield from self.user_notice()
        yield from self.stability_watch()
        yield from self.postmortem()

    def confirmation(self) -> Verdict:
        assert self.severity is not None
        sev = self.pb.severity(self.severity)
        flow = self.pb.flow_for(self.severity)
        confirmed = self.at(self.tl.first("confirmed"))
        promise = f"{self.severity} confirmed within its response time"
        if sev.response.kind == "within" and sev.response.within_s is not None:
            return _deadline(
                promise, sev.source, self.detected, sev.response.within_s, confirmed, "confirmation"
            )
        if sev.response.kind == "immediate" and flow is not None:
            # "立即响应" is held to the flowchart's confirmation deadline.
            return _deadline(
                f"{promise} (立即响应: the P1 flow confirms within {_fd(flow.confirm_within_s)})",
                flow.source, self.detected, flow.confirm_within_s, confirmed, "confirmation",
            )  # fmt: skip
        days_ahead = 1
        while (self.detected + dt.timedelta(days=days_ahead)).weekday() >= 5:
            days_ahead += 1
        end = (self.detected + dt.timedelta(days=days_ahead)).replace(hour=23, minute=59, second=59)
        return _deadline(
            f"{promise} (下个工作日处理)", sev.source, self.detected,
            (end - self.detected).total_seconds(), confirmed, "confirmation",
        )  # fmt: skip

    def milestones(self) -> Iterator[Verdict]:
        assert self.severity is not None
        for m in self.pb.timeline_for(self.severity):
            if m.kind not in MILESTONE_EVENTS:
                continue  # T+0 itself
            mode, kinds = MILESTONE_EVENTS[m.kind]
            found = [self.tl.first(k) for k in kinds]
            present = [e for e in found if e is not None]
            event: Event | None
            if mode == "all":
                event = None if len(present) < len(kinds) else max(present, key=lambda e: self.tl.when(e)[0])
            else:
                event = min(present, key=lambda e: self.tl.when(e)[0]) if present else None
            yield _deadline(
                f"T+{_fd(m.at_s)} {m.text}", m.source, self.t0, m.at_s, self.at(event), " / ".join(kinds)
            )

    def rto(self) -> Verdict:
        assert self.severity is not None
        sev = self.pb.severity(self.severity)
        promise = f"{self.severity} RTO: service restored"
        if self.recovered is not None:
            return _deadline(
                promise, sev.source, self.started, sev.rto_s, (self.recovered, False), "recovery"
            )
        elapsed = (self.last - self.started).total_seconds()
        if elapsed > sev.rto_s:
            return Verdict(
                promise, "broken", f"≤ {_fd(sev.rto_s)}", f"> {_fd(elapsed)}", sev.source,
                "never recovered within the timeline", sev.rto_s, elapsed,
            )  # fmt: skip
        return Verdict(
            promise, "not_evidenced", f"≤ {_fd(sev.rto_s)}", "-", sev.source, "no recovery recorded"
        )

    def rpo(self) -> Verdict:
        assert self.severity is not None
        sev = self.pb.severity(self.severity)
        target = f"≤ {_fd(sev.rpo_s)} of writes lost"
        promise = f"{self.severity} RPO: data lost"
        if self.tl.data_loss_s is None:
            return Verdict(
                promise, "not_evidenced", target, "-", sev.source, "the timeline records no data-loss figure"
            )
        status: Status = "met" if self.tl.data_loss_s <= sev.rpo_s else "broken"
        return Verdict(
            promise, status, target, _fd(self.tl.data_loss_s), sev.source, "", sev.rpo_s, self.tl.data_loss_s
        )

    def cadence(self) -> Iterator[Verdict]:
        assert self.severity is not None
        every = self.pb.cadence_s(self.severity)
        if every is None:
            return
        source = next(c.source for c in self.pb.communication.update_cadence if c.severity == self.severity)
        promise = f"{self.severity} status updates every {_fd(every)}"
        end = self.resolved or self.last
        updates = sorted(self.tl.when(e)[0] for e in self.tl.all("status_update"))
        window = (end - self.detected).total_seconds()
        if window <= every:
            yield Verdict(
                promise, "met", f"gap ≤ {_fd(every)}", _fd(window), source, "over before an update fell due"
            )
            return
        if not updates:
            yield Verdict(
                promise, "not_evidenced", f"gap ≤ {_fd(every)}", "-", source,
                f"the timeline records no status update over {_fd(window)}", every,
            )  # fmt: skip
            return
        marks = [self.detected, *[u for u in updates if self.detected <= u <= end], end]
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(marks)]
        worst = max(gaps)
        status: Status = "met" if worst <= every else "broken"
        yield Verdict(
            promise, status, f"gap ≤ {_fd(every)}", f"longest gap {_fd(worst)}", source, "", every, worst
        )

    def user_notice(self) -> Iterator[Verdict]:
        assert self.severity is not None
        for rule in self.pb.communication.user_email:
            if rule.severity != self.severity:
                continue
            notified = self.at(self.tl.first("users_notified"))
            if rule.when == "immediately":
                item = next(
                    (g, i)
                    for g in self.pb.checklists.first_response
                    for i in g.items
                    if i.kind == "users_notified"
                )
                # "立即发送" has no number; the quick checklist gives one.
                yield _deadline(
                    f"{self.severity} users e-mailed ({rule.text}; checklist: {item[1].text})",
                    rule.source, self.detected, item[0].within_s, notified, "user notification",
                )  # fmt: skip
            elif rule.when == "impact_exceeds" and rule.impact_over_s is not None:
                outage = ((self.recovered or self.last) - self.started).total_seconds()
                promise = f"{self.severity} users e-mailed when impact exceeds {_fd(rule.impact_over_s)}"
                if outage <= rule.impact_over_s:
                    yield Verdict(
                        promise, "met", "not required", _fd(outage), rule.source, "impact ended in time"
                    )
                else:
                    status: Status = "met" if notified is not None else "not_evidenced"
                    yield Verdict(promise, status, "e-mail sent", "sent" if notified else "-", rule.source)

    def stability_watch(self) -> Iterator[Verdict]:
        assert self.severity is not None
        flow = self.pb.flow_for(self.severity)
        if flow is None or flow.stability_watch_s is None:
            return
        promise = f"stability watched for {_fd(flow.stability_watch_s)} before the recovery notice"
        notice = self.at(self.tl.first("recovery_notice"))
        if self.recovered is None or notice is None:
            yield Verdict(promise, "not_evidenced", f"≥ {_fd(flow.stability_watch_s)}", "-", flow.source,
                          "needs both the recovery and the notice")  # fmt: skip
            return
        watched = (notice[0] - self.recovered).total_seconds()
        status: Status = "met" if watched >= flow.stability_watch_s else "broken"
        yield Verdict(promise, status, f"≥ {_fd(flow.stability_watch_s)}", _fd(watched), flow.source, "",
                      flow.stability_watch_s, watched)  # fmt: skip

    def postmortem(self) -> Iterator[Verdict]:
        for stage in self.pb.postmortem.stages:
            promise = f"post-mortem {stage.stage} within {_fd(stage.within_s)} of resolution"
            if self.resolved is None:
                yield Verdict(promise, "not_evidenced", f"≤ {_fd(stage.within_s)}", "-", stage.source,
                              "the incident was never resolved")  # fmt: skip
                continue
            event = self.tl.first(_POSTMORTEM_EVENTS[stage.stage])
            yield _deadline(promise, stage.source, self.resolved, stage.within_s, self.at(event), stage.stage)


def judge(pb: Playbook, tl: Timeline) -> list[Verdict]:
    """Every promise the timeline can be judged on (and those it cannot, as not evidenced)."""
    return list(_Judge(pb, tl).verdicts())
