"""The manual's worked post-mortem (INC-2024-001) checked against itself and the manual.

A worked example teaches what "good" looks like.  When its headline figures
disagree with its own timeline, or it praises timings that break the manual's
own promises without saying so, readers learn the wrong lesson.
"""

from __future__ import annotations

from collections.abc import Iterator

from ce_drill.lint.finding import Cite, Finding
from sim.playbook import ExampleEvent, Playbook, PostmortemExample
from sim.units import format_duration as fd

# Which response-timeline milestone each praised claim should be held against.
_CLAIM_MILESTONE = {
    "confirmed": "confirmed_war_room",
    "team_assembled": "confirmed_war_room",
    "rollback_decided": "fix_started",
    "rollback_finished": "fix_done_or_escalated",
}


def _minutes(at: str) -> float:
    hours, minutes = at.split(":")
    return (int(hours) * 60 + int(minutes)) * 60.0


def _offset(ex: PostmortemExample, event: ExampleEvent) -> float:
    """Seconds from the incident start; the example's clock never crosses midnight."""
    return _minutes(event.at) - _minutes(ex.timeline[0].at)


def _event(ex: PostmortemExample, kind: str) -> tuple[int, ExampleEvent] | None:
    return next(((i, e) for i, e in enumerate(ex.timeline) if e.kind == kind), None)


def _cite(ex: PostmortemExample, i: int) -> Cite:
    e = ex.timeline[i]
    return Cite(f"postmortem.example.timeline[{i}]", e.source, f"{e.at} {e.text}")


def example_findings(pb: Playbook) -> Iterator[Finding]:
    ex = pb.postmortem.example
    recovered = _event(ex, "recovered")
    if recovered is not None:
        ri, rev = recovered
        restore = _offset(ex, rev)
        for ci, claim in enumerate(ex.claims):
            if claim.duration_s is not None and claim.duration_s != restore:
                match = next((e for e in ex.timeline if _offset(ex, e) == claim.duration_s), None)
                because = (
                    f"; {fd(claim.duration_s)} is the time to '{match.text}' ({match.at})" if match else ""
                )
                yield Finding(
                    code="example-outage-length",
                    message=(
                        f"the post-mortem example claims an outage of {fd(claim.duration_s)}, but its own timeline "
                        f"has service fully back at {rev.at}, {fd(restore)} after {ex.timeline[0].at}{because}"
                    ),
                    cites=(Cite(f"postmortem.example.claims[{ci}]", claim.source, claim.text), _cite(ex, ri)),
                    fix="report the outage as start-to-recovery and the time to notice separately",
                )
        rto = pb.severity(ex.severity).rto_s
        if restore > rto:
            yield Finding(
                code="example-misses-rto",
                message=(
                    f"the {ex.severity} example restores service after {fd(restore)}, {restore / rto:.0f}× the "
                    f"{ex.severity} RTO of {fd(rto)}, yet presents the response as a model to follow"
                ),
                cites=(_cite(ex, ri), _sev_cite(pb, ex.severity, rto)),
                fix="show the RTO breach in the example, or use an example that meets it",
            )
        notice = _event(ex, "recovery_notice")
        milestone = next((m for m in pb.timeline_for(ex.severity) if m.kind == "recovery_notice"), None)
        if notice is not None and milestone is not None and _offset(ex, notice[1]) > milestone.at_s:
            yield Finding(
                code="example-late-notice",
                message=(
                    f"the example publishes its recovery notice at T+{fd(_offset(ex, notice[1]))}, "
                    f"{fd(_offset(ex, notice[1]) - restore)} after recovery, but the {ex.severity} timeline "
                    f"publishes it by T+{fd(milestone.at_s)}"
                ),
                cites=(
                    _cite(ex, notice[0]),
                    Cite("response_timeline", milestone.source, f"T+{fd(milestone.at_s)} {milestone.text}"),
                ),
                fix="count the late notice as a communication failure in the example",
            )
    yield from _praised_but_late(pb, ex)
    yield from _auto_rollback_claim(ex)
    if pb.manual.last_updated < ex.report.published:
        yield Finding(
            code="manual-dated-before-content",
            message=(
                f"the manual says it was last updated {pb.manual.last_updated}, but it contains a post-mortem "
                f"published {ex.report.published}"
            ),
            cites=(
                Cite("manual.last_updated", pb.manual.source, f"最后更新：{pb.manual.last_updated}"),
                Cite(
                    "postmortem.example.report.published",
                    ex.report.source,
                    f"发布日期：{ex.report.published}",
                ),
            ),
            fix="bump the manual's version and date whenever it changes",
        )


def _sev_cite(pb: Playbook, sev_id: str, rto: float) -> Cite:
    i = next(k for k, s in enumerate(pb.severities) if s.id == sev_id)
    return Cite(f"severities[{i}].rto_s", pb.severities[i].source, f"RTO {fd(rto)}")


def _praised_but_late(pb: Playbook, ex: PostmortemExample) -> Iterator[Finding]:
    milestones = {m.kind: m for m in pb.timeline_for(ex.severity)}
    for ci, claim in enumerate(ex.claims):
        target = milestones.get(_CLAIM_MILESTONE.get(claim.kind, ""))
        if claim.within_s is None or target is None or claim.within_s <= target.at_s:
            continue
        yield Finding(
            code="example-praises-late",
            message=(
                f"the example lists '{claim.text}' as done well, but the {ex.severity} timeline requires "
                f"'{target.text}' by T+{fd(target.at_s)}"
            ),
            cites=(
                Cite(f"postmortem.example.claims[{ci}]", claim.source, claim.text),
                Cite("response_timeline", target.source, f"T+{fd(target.at_s)} {target.text}"),
            ),
            fix="hold the example's timings against the response timeline, and list the misses",
        )


def _auto_rollback_claim(ex: PostmortemExample) -> Iterator[Finding]:
    decided = _event(ex, "rollback_decided")
    for ci, claim in enumerate(ex.claims):
        if claim.kind == "auto_rollback_worked" and decided is not None and decided[1].by:
            yield Finding(
                code="example-auto-rollback",
                message=(
                    f"the example credits the automatic rollback, but its timeline has {decided[1].by} decide "
                    f"the rollback by hand at {decided[1].at}, after a failed restart"
                ),
                cites=(
                    Cite(f"postmortem.example.claims[{ci}]", claim.source, claim.text),
                    _cite(ex, decided[0]),
                ),
                fix="say which rollback ran; if the automatic one never fired, that belongs under 'needs improvement'",
            )
