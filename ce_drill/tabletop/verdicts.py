"""Judge an incident timeline against the playbook, promise by promise.

Every promise the manual makes about one incident gets a verdict: *met*,
*broken*, *not due* when the promise never fell due (a P2's user e-mail when
the impact stayed under an hour), or *not evidenced* when the timeline does
not say enough to judge (a promise is never passed for lack of evidence).
Each verdict carries what was measured, the target and the manual lines the
target comes from.

An incident is held to its severity's targets and, where the timeline names
the services it hit, to theirs too (the stricter of each: :mod:`sim.targets`).
The outage is timed from its start, which a timeline records as an
``impact_started`` event; without one it is the first alert less the ``for``
of the rule that fired (an alert only fires after its condition held that
long), or the first event if that is earlier.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from ce_drill.tabletop.timeline import Event, Timeline
from sim.fields import ManualRef
from sim.playbook import ChecklistItem, Playbook
from sim.targets import Target, incident_targets
from sim.units import format_duration

Status = Literal["met", "broken", "not_due", "not_evidenced"]
STATUSES: tuple[Status, ...] = ("broken", "met", "not_due", "not_evidenced")

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
# Which timeline events show each item of the quick checklist (事故响应快速检查清单); the
# earliest of them counts.
CHECKLIST_EVENTS: dict[str, tuple[str, ...]] = {
    "confirmed": ("confirmed",),
    # A 'confirmed' event always carries the severity.
    "severity_set": ("confirmed",),
    # The manual's own post-mortem records starting the response with the confirmation
    # ("确认P1事故，启动应急响应").
    "response_started": ("confirmed",),
    "commander_notified": ("commander_assigned",),
    "team_assembled": ("war_room_open",),
    "war_room_open": ("war_room_open",),
    "diagnosis_started": ("investigation_started", "diagnosis_done"),
    "status_page_updated": ("status_page_updated",),
    "root_cause_analysed": ("diagnosis_done",),
    "plan_made": ("plan_made", "rollback_decided"),
    "fix_started": ("fix_attempted", "rollback_started"),
    "fix_done": ("rollback_finished", "recovered"),
    "recovery_verified": ("fix_verified", "recovered"),
    # Stability is watched from the moment service is back (P1 flow: 系统恢复正常 → 监控稳定性).
    "stability_watched": ("recovered",),
    "recovery_notice": ("recovery_notice",),
}
# Checklist items another verdict already judges: the P1 user e-mail takes its deadline
# from the checklist (see user_notice), so judging the item again would count it twice.
_JUDGED_ELSEWHERE = {"users_notified"}
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


def counts(verdicts: list[Verdict]) -> dict[str, int]:
    """How many verdicts of each status, every status present."""
    return {s: sum(1 for v in verdicts if v.status == s) for s in STATUSES}


def _fd(seconds: float) -> str:
    return format_duration(round(seconds))


def _lines(ref: ManualRef) -> str:
    return f"L{ref.first_line}" if ref.first_line == ref.last_line else f"L{ref.first_line}-{ref.last_line}"


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


@dataclass(frozen=True)
class Onset:
    """When the outage began, how that was worked out, and how much earlier it may have been."""

    at: dt.datetime
    how: str
    unsure_s: float = 0.0
    """Up to this much earlier: the first alert names no rule, so its ``for`` is not known."""


def onset(pb: Playbook, tl: Timeline) -> Onset:
    """The outage's start: ``impact_started``, else the earliest of the first event and alert − ``for``."""
    impact = tl.first("impact_started")
    if impact is not None:
        moment = tl.when(impact)[0]
        return Onset(moment, f"impact_started at {_clock(tl, moment)}")
    first = min(tl.when(e)[0] for e in tl.events)
    alert = tl.first("alert_fired")
    if alert is None:
        return Onset(first, f"the first event, at {_clock(tl, first)} (no alert recorded)")
    fired = tl.when(alert)[0]
    if alert.rule is None:
        # The condition held for the rule's `for` before the alert fired; without the rule, the
        # longest `for` of the playbook bounds how much earlier the outage may have begun.
        longest = max(r.for_s for r in pb.detection_rules)
        unsure = max(0.0, longest - (fired - first).total_seconds())
        how = f"the first event, at {_clock(tl, first)}"
        if unsure > 0:
            how += (
                f"; the {_clock(tl, fired)} alert names no rule, so the outage may have begun up to "
                f"{_fd(unsure)} earlier (the longest `for`)"
            )
        return Onset(first, how, unsure)
    rule = pb.rule(alert.rule)
    pending = fired - dt.timedelta(seconds=rule.for_s)
    if pending <= first:
        how = (
            f"{_clock(tl, pending)}: the {_clock(tl, fired)} {rule.name} alert less its "
            f"{_fd(rule.for_s)} `for` ({_lines(rule.source)})"
        )
        return Onset(pending, how)
    return Onset(first, f"the first event, at {_clock(tl, first)}")


def _clock(tl: Timeline, moment: dt.datetime) -> str:
    return f"{moment:%H:%M}" if moment.date() == tl.date else f"{moment:%Y-%m-%d %H:%M}"


def _holder(pb: Playbook, target: Target) -> str:
    for service in pb.services:
        if service.id == target.holder:
            return f"{service.id} {service.name}"
    return target.holder


class _Judge:
    def __init__(self, pb: Playbook, tl: Timeline) -> None:
        self.pb, self.tl = pb, tl
        self.severity = tl.severity()
        self.onset = onset(pb, tl)
        self.started = self.onset.at
        self.last = max(tl.when(e)[0] for e in tl.events)
        alert = tl.first("alert_fired")
        detected = tl.first("alert_fired", "user_reports")
        first = min(tl.when(e)[0] for e in tl.events)
        self.detected = tl.when(detected)[0] if detected else first
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
        yield from self.checklist()
        yield self.rto()
        yield self.rpo()
        yield from self.availability()
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

    def checklist(self) -> Iterator[Verdict]:
        """Every quick-checklist deadline that applies to the severity, from detection."""
        assert self.severity is not None
        for group in self.pb.checklists.first_response:
            for item in group.items:
                if item.kind in _JUDGED_ELSEWHERE or not _applies(item, self.severity):
                    continue
                promise = f"checklist: {item.text} within the first {_fd(group.within_s)}"
                source = item.source or group.source
                kinds = CHECKLIST_EVENTS.get(item.kind)
                if kinds is None:
                    yield Verdict(
                        promise, "not_evidenced", f"≤ {_fd(group.within_s)}", "-", source,
                        f"no timeline event shows '{item.kind}'", group.within_s,
                    )  # fmt: skip
                    continue
                yield _deadline(
                    promise, source, self.detected, group.within_s, self.at(self.tl.first(*kinds)),
                    " / ".join(kinds),
                )  # fmt: skip

    def _promise(self, what: str) -> str:
        return " + ".join((str(self.severity), *self.tl.services)) + f" {what}"

    def _target(self, target: Target, text: str) -> str:
        return f"{text} ({target.holder})" if self.tl.services else text

    def _why(self, target: Target, kind: str) -> str:
        """Which target binds, and what it was stricter than."""
        assert self.severity is not None
        if not self.tl.services:
            return ""
        sev = self.pb.severity(self.severity)
        own = sev.rto_s if kind == "RTO" else sev.rpo_s
        if target.holder == self.severity:
            return (
                f"the {self.severity} {kind} {_fd(own)} is the strictest of {', '.join(self.tl.services)}'s"
            )
        return (
            f"{_holder(self.pb, target)}'s {kind} {_fd(target.seconds)} ({_lines(target.source)}) is "
            f"stricter than {self.severity}'s {_fd(own)} ({_lines(sev.source)})"
        )

    def rto(self) -> Verdict:
        assert self.severity is not None
        target = incident_targets(self.pb, self.severity, self.tl.services).rto
        promise = self._promise("RTO: service restored")
        goal = self._target(target, f"≤ {_fd(target.seconds)}")
        why = "; ".join(w for w in (f"outage from {self.onset.how}", self._why(target, "RTO")) if w)
        unsure = self.onset.unsure_s
        if self.recovered is None:
            elapsed = (self.last - self.started).total_seconds()
            if elapsed > target.seconds:
                return Verdict(
                    promise, "broken", goal, f"> {_fd(elapsed)}", target.source,
                    f"never recovered within the timeline; {why}", target.seconds, elapsed,
                )  # fmt: skip
            return Verdict(
                promise,
                "not_evidenced",
                goal,
                "-",
                target.source,
                f"no recovery recorded; {why}",
                target.seconds,
            )
        measured = (self.recovered - self.started).total_seconds()
        status: Status = "broken" if measured > target.seconds else "met"
        if status == "met" and measured + unsure > target.seconds:
            status = "not_evidenced"  # met only if the outage did not begin earlier than we can tell
        return Verdict(promise, status, goal, _fd(measured), target.source, why, target.seconds, measured)

    def rpo(self) -> Verdict:
        assert self.severity is not None
        target = incident_targets(self.pb, self.severity, self.tl.services).rpo
        goal = self._target(target, f"≤ {_fd(target.seconds)} of writes lost")
        promise = self._promise("RPO: data lost")
        # Which service's writes were lost is not recorded, so the strictest named RPO holds.
        why = self._why(target, "RPO")
        if self.tl.data_loss_s is None:
            return Verdict(
                promise, "not_evidenced", goal, "-", target.source, "the timeline records no data-loss figure"
            )
        status: Status = "met" if self.tl.data_loss_s <= target.seconds else "broken"
        return Verdict(
            promise, status, goal, _fd(self.tl.data_loss_s), target.source, why, target.seconds,
            self.tl.data_loss_s,
        )  # fmt: skip

    def availability(self) -> Iterator[Verdict]:
        """Each named service's availability target: can this outage alone have broken it?

        Availability is judged per calendar month (UTC), as the model judges it.  One
        outage can show a month's error budget spent; it cannot show the month met,
        which depends on the month's other downtime.
        """
        end = self.recovered or self.last
        for service_id in self.tl.services:
            service = self.pb.service(service_id)
            promise = f"{service.id} {service.name} available {100 * service.availability:.10g} % a month"
            worst: tuple[float, float, str] | None = None
            for lo, hi, name in _months(self.started, end):
                length = (_next_month(lo) - lo).total_seconds()
                budget = (1.0 - service.availability) * length
                down = (min(hi, end) - max(lo, self.started)).total_seconds()
                if worst is None or down / budget > worst[0] / worst[1]:
                    worst = (down, budget, name)
            assert worst is not None
            down, budget, month = worst
            goal = f"≤ {_fd(budget)} down in {month}"
            if down > budget:
                yield Verdict(
                    promise, "broken", goal, f"{_fd(down)} down", service.source,
                    f"this outage alone is over the month's error budget; outage from {self.onset.how}",
                    budget, down,
                )  # fmt: skip
            else:
                yield Verdict(
                    promise, "not_evidenced", goal, f"{_fd(down)} down", service.source,
                    f"this outage used {down / budget:.0%} of the month's error budget; "
                    "the month's other downtime decides",
                    budget, down,
                )  # fmt: skip

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
                promise, "not_due", f"gap ≤ {_fd(every)}", _fd(window), source,
                "over before an update fell due", every, window,
            )  # fmt: skip
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
                yield self._email_if_long(rule.impact_over_s, rule.text, rule.source, notified)

    def _email_if_long(
        self, over_s: float, text: str, source: ManualRef, notified: tuple[dt.datetime, bool] | None
    ) -> Verdict:
        """An e-mail owed only once the impact lasted longer than ``over_s``."""
        outage = ((self.recovered or self.last) - self.started).total_seconds()
        promise = f"{self.severity} users e-mailed when impact exceeds {_fd(over_s)} ({text})"
        sent = "sent" if notified else "-"
        if outage + self.onset.unsure_s <= over_s:
            return Verdict(
                promise, "not_due", "not owed", _fd(outage), source,
                f"impact ended within {_fd(over_s)}; outage from {self.onset.how}", over_s, outage,
            )  # fmt: skip
        if outage <= over_s:
            return Verdict(
                promise, "not_evidenced", "e-mail sent", sent, source,
                f"owed only if the impact lasted over {_fd(over_s)}; outage from {self.onset.how}",
                over_s, outage,
            )  # fmt: skip
        status: Status = "met" if notified is not None else "not_evidenced"
        detail = "" if notified else f"the impact lasted {_fd(outage)}; the timeline records no e-mail"
        return Verdict(promise, status, "e-mail sent", sent, source, detail, over_s, outage)

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


def _applies(item: ChecklistItem, severity: str) -> bool:
    return not item.severities or severity in item.severities


def _next_month(moment: dt.datetime) -> dt.datetime:
    first = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (first + dt.timedelta(days=32)).replace(day=1)


def _months(start: dt.datetime, end: dt.datetime) -> Iterator[tuple[dt.datetime, dt.datetime, str]]:
    """The calendar months (UTC) ``start`` … ``end`` touches: (month start, next month's start, name)."""
    lo = start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    while True:
        hi = _next_month(lo)
        yield lo, hi, f"{lo:%Y-%m}"
        if end <= hi:
            return
        lo = hi


def judge(pb: Playbook, tl: Timeline) -> list[Verdict]:
    """Every promise the timeline can be judged on (and those it cannot, as not evidenced)."""
    return list(_Judge(pb, tl).verdicts())
