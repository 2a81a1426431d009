"""Deadlines that cannot all be met: timelines, flows, checklists and message templates.

The manual states when things must happen in several places — the severity's
RTO and response time, the flowcharts, the T+N timeline table, the
quick-response checklist, the communication cadence and the text of its own
message templates.  These checks line them up against each other.
"""

from __future__ import annotations

from collections.abc import Iterator

from ce_drill.lint.finding import Cite, Finding
from sim.playbook import Playbook
from sim.units import format_duration as fd

# Milestone kinds that mean "the fix has started" / "service is restored".
_FIX_START = {"fix_started"}
_FIX_DONE = {"fix_done_or_escalated", "fix_verified", "fix_done"}
# A weekend: the shortest stretch with no working hours, whatever the working hours are.
_WEEKEND_S = 48 * 3600.0


def _sev_cite(pb: Playbook, sev_id: str, field: str, says: str) -> Cite:
    i = next(k for k, s in enumerate(pb.severities) if s.id == sev_id)
    return Cite(f"severities[{i}].{field}", pb.severities[i].source, says)


def timeline_vs_rto(pb: Playbook) -> Iterator[Finding]:
    for i, timeline in enumerate(pb.response_timeline):
        rto = pb.severity(timeline.severity).rto_s
        late = [
            (j, m)
            for j, m in enumerate(timeline.milestones)
            if (m.kind in _FIX_START and m.at_s >= rto) or (m.kind in _FIX_DONE and m.at_s > rto)
        ]
        if not late:
            continue
        cites = [
            Cite(f"response_timeline[{i}].milestones[{j}]", m.source, f"T+{fd(m.at_s)} {m.text}")
            for j, m in late
        ]
        what = ", ".join(f"{m.text} at T+{fd(m.at_s)}" for _, m in late)
        yield Finding(
            code="timeline-after-rto",
            message=f"the {timeline.severity} response timeline has {what}, but the {timeline.severity} RTO is {fd(rto)}",
            cites=(*cites, _sev_cite(pb, timeline.severity, "rto_s", f"RTO {fd(rto)}")),
            fix=f"bring the {timeline.severity} fix forward so service is restored by T+{fd(rto)}, or change the RTO",
        )


def checklist_vs_promises(pb: Playbook) -> Iterator[Finding]:
    email_now = {
        e.severity: (k, e) for k, e in enumerate(pb.communication.user_email) if e.when == "immediately"
    }
    for i, group in enumerate(pb.checklists.first_response):
        for j, item in enumerate(group.items):
            path = f"checklists.first_response[{i}].items[{j}]"
            cite = Cite(path, group.source, f"前{fd(group.within_s)}: {item.text}")
            applies = item.severities or tuple(s.id for s in pb.severities)
            if item.kind in _FIX_DONE:
                missed = [s for s in applies if pb.severity(s).rto_s < group.within_s]
                if missed:
                    yield Finding(
                        code="checklist-after-rto",
                        message=(
                            f"the quick checklist allows until {fd(group.within_s)} to '{item.text}', "
                            f"beyond the RTO of {', '.join(missed)}"
                        ),
                        cites=(
                            cite,
                            *(_sev_cite(pb, s, "rto_s", f"RTO {fd(pb.severity(s).rto_s)}") for s in missed),
                        ),
                        fix="give the checklist per-severity deadlines that fit each RTO",
                    )
            if item.kind == "users_notified":
                for sev in applies:
                    if sev in email_now:
                        k, rule = email_now[sev]
                        yield Finding(
                            code="user-notice-deadline",
                            message=(
                                f"{sev} users are e-mailed '{rule.text}' by the communication plan, "
                                f"but the quick checklist allows {fd(group.within_s)}"
                            ),
                            cites=(cite, Cite(f"communication.user_email[{k}]", rule.source, rule.text)),
                            fix="state one deadline for notifying users of a P1",
                        )


def flow_vs_response(pb: Playbook) -> Iterator[Finding]:
    for i, flow in enumerate(pb.response_flows):
        for sev_id in flow.severities:
            response = pb.severity(sev_id).response
            if response.within_s is not None and response.within_s != flow.confirm_within_s:
                yield Finding(
                    code="flow-vs-response-time",
                    message=(
                        f"the {'/'.join(flow.severities)} flowchart confirms within {fd(flow.confirm_within_s)}, "
                        f"but {sev_id}'s response time is {fd(response.within_s)}"
                    ),
                    cites=(
                        Cite(
                            f"response_flows[{i}].confirm_within_s",
                            flow.source,
                            f"{fd(flow.confirm_within_s)}内确认",
                        ),
                        _sev_cite(pb, sev_id, "response", response.text),
                    ),
                    fix=f"make the flowchart's confirmation deadline follow {sev_id}'s response time",
                )


def diagnosis_window(pb: Playbook) -> Iterator[Finding]:
    budget = sum(h.budget_s for h in pb.troubleshooting.health_checks)
    checks = pb.troubleshooting.health_checks
    for i, flow in enumerate(pb.response_flows):
        if flow.diagnose_within_s is None:
            continue
        window = flow.diagnose_within_s - flow.confirm_within_s
        if budget > window:
            first, last = checks[0].source, checks[-1].source
            yield Finding(
                code="diagnosis-window",
                message=(
                    f"the {'/'.join(flow.severities)} flow leaves {fd(window)} between confirming "
                    f"(T+{fd(flow.confirm_within_s)}) and diagnosing (T+{fd(flow.diagnose_within_s)}), "
                    f"but the quick health checklist alone takes {fd(budget)}"
                ),
                cites=(
                    Cite(
                        f"response_flows[{i}]",
                        flow.source,
                        f"确认 {fd(flow.confirm_within_s)}, 诊断 {fd(flow.diagnose_within_s)}",
                    ),
                    Cite(
                        "troubleshooting.health_checks",
                        first.model_copy(update={"last_line": last.last_line}),
                        " + ".join(f"{h.name} {fd(h.budget_s)}" for h in checks),
                    ),
                ),
                fix="shorten the health checklist for P1, or give diagnosis more time",
            )


def business_hours(pb: Playbook) -> Iterator[Finding]:
    for sev in pb.severities:
        deferred = sev.escalation.mode == "business_hours" or sev.response.kind == "next_business_day"
        if not deferred:
            continue
        limits = [("RTO", sev.rto_s, "rto_s")]
        if sev.response.within_s is not None:
            limits.append(("response time", sev.response.within_s, "response"))
        broken = [(name, value, field) for name, value, field in limits if value < _WEEKEND_S]
        if not broken:
            continue
        words = sev.escalation.text if sev.escalation.mode == "business_hours" else sev.response.text
        yield Finding(
            code="business-hours-vs-deadline",
            message=(
                f"{sev.id} is handled '{words}', so one raised on a Friday evening waits out the weekend "
                f"(≥ {fd(_WEEKEND_S)}), yet its " + " and ".join(f"{n} is {fd(v)}" for n, v, _ in broken)
            ),
            cites=(
                _sev_cite(pb, sev.id, "escalation", words),
                *(_sev_cite(pb, sev.id, f, f"{n} {fd(v)}") for n, v, f in broken),
            ),
            fix=f"say whether {sev.id} clocks run in working hours only, or staff {sev.id} out of hours",
        )


def resolution_vs_rto(pb: Playbook) -> Iterator[Finding]:
    target = pb.targets.availability
    longer = [s for s in pb.severities if s.rto_s > target.incident_resolution_time_s]
    if longer:
        yield Finding(
            code="resolution-vs-rto",
            message=(
                f"incident_resolution_time is {fd(target.incident_resolution_time_s)} for every incident, "
                f"but the RTO of {', '.join(s.id for s in longer)} is longer "
                f"({', '.join(fd(s.rto_s) for s in longer)})"
            ),
            cites=(
                Cite(
                    "targets.availability.incident_resolution_time_s",
                    target.source,
                    f"incident_resolution_time: {fd(target.incident_resolution_time_s)}",
                ),
                *(_sev_cite(pb, s.id, "rto_s", f"RTO {fd(s.rto_s)}") for s in longer),
            ),
            fix="scope the 1-hour resolution target to the severities it applies to",
        )


def templates_vs_cadence(pb: Playbook) -> Iterator[Finding]:
    for i, t in enumerate(pb.communication.template_promises):
        cite = Cite(f"communication.template_promises[{i}]", t.source, t.text)
        cadence = pb.cadence_s(t.severity)
        if t.next_update_in_s is not None and cadence is not None and t.next_update_in_s > cadence:
            k = next(k for k, c in enumerate(pb.communication.update_cadence) if c.severity == t.severity)
            c = pb.communication.update_cadence[k]
            yield Finding(
                code="template-vs-cadence",
                message=(
                    f"the {t.template} template promises the next update within {fd(t.next_update_in_s)}, "
                    f"but {t.severity} updates are due every {fd(cadence)}"
                ),
                cites=(
                    cite,
                    Cite(
                        f"communication.update_cadence[{k}]", c.source, f"{t.severity}: 每{fd(c.every_s)}更新"
                    ),
                ),
                fix=f"make the template's next-update time follow the {t.severity} cadence",
            )
        rto = pb.severity(t.severity).rto_s
        if t.expected_recovery_in_s is not None and t.expected_recovery_in_s > rto:
            yield Finding(
                code="template-vs-rto",
                message=(
                    f"the {t.template} template tells users to expect recovery within {fd(t.expected_recovery_in_s)}, "
                    f"but the {t.severity} RTO is {fd(rto)}"
                ),
                cites=(cite, _sev_cite(pb, t.severity, "rto_s", f"RTO {fd(rto)}")),
                fix="quote the RTO in the template, or leave the estimate to the incident commander",
            )
