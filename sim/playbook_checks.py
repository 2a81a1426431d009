"""Checks that span more than one field of a playbook.

Field types catch a bad duration or ratio; these catch what only the whole
document can show: a rule naming a severity that does not exist, two rules
with the same name, a timeline out of order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from sim.loader import Loc, Problem
from sim.playbook import Playbook


def playbook_problems(pb: Playbook) -> Iterator[Problem]:
    severities = {s.id for s in pb.severities}
    yield from _unique(("severities",), [s.id for s in pb.severities], "id", "duplicate severity id")
    yield from _unique(("roles",), [r.id for r in pb.roles], "id", "duplicate role id")
    yield from _unique(
        ("detection_rules",), [r.name for r in pb.detection_rules], "name", "duplicate rule name"
    )
    yield from _unique(("services",), [s.id for s in pb.services], "id", "duplicate service id")
    yield from _unique(
        ("auto_rollback", "triggers"),
        [t.name for t in pb.auto_rollback.triggers],
        "name",
        "duplicate trigger name",
    )
    yield from _unique(
        ("auto_rollback", "phases"), [p.phase for p in pb.auto_rollback.phases], "phase", "duplicate phase"
    )

    for i, sev in enumerate(pb.severities):
        if sev.response.kind == "within" and sev.response.within_s is None:
            yield (
                ("severities", i, "response"),
                "a response of kind 'within' needs a 'within' time",
                sev.response.kind,
            )

    refs: list[tuple[Loc, str]] = []
    refs += [(("detection_rules", i, "severity"), r.severity) for i, r in enumerate(pb.detection_rules)]
    refs += [
        (("alert_priority_matrix", i, "severity"), p.severity) for i, p in enumerate(pb.alert_priority_matrix)
    ]
    refs += [(("response_timeline", i, "severity"), t.severity) for i, t in enumerate(pb.response_timeline)]
    refs += [
        (("communication", "update_cadence", i, "severity"), c.severity)
        for i, c in enumerate(pb.communication.update_cadence)
    ]
    refs += [
        (("communication", "user_email", i, "severity"), e.severity)
        for i, e in enumerate(pb.communication.user_email)
    ]
    refs += [
        (("communication", "template_promises", i, "severity"), t.severity)
        for i, t in enumerate(pb.communication.template_promises)
    ]
    for i, flow in enumerate(pb.response_flows):
        refs += [(("response_flows", i, "severities", j), s) for j, s in enumerate(flow.severities)]
    for i, mode in enumerate(pb.manual_rollback):
        refs += [(("manual_rollback", i, "severities", j), s) for j, s in enumerate(mode.severities)]
    refs.append((("postmortem", "example", "severity"), pb.postmortem.example.severity))
    for loc, sev_id in refs:
        if sev_id not in severities:
            yield loc, f"no such severity; the playbook defines {', '.join(sorted(severities))}", sev_id

    for i, timeline in enumerate(pb.response_timeline):
        offsets = [m.at_s for m in timeline.milestones]
        for j in range(1, len(offsets)):
            if offsets[j] < offsets[j - 1]:
                yield (
                    ("response_timeline", i, "milestones", j, "at"),
                    "milestones must be in time order",
                    offsets[j],
                )


def _unique(base: Loc, values: Iterable[str], field: str, message: str) -> Iterator[Problem]:
    seen: set[str] = set()
    for i, value in enumerate(values):
        if value in seen:
            yield (*base, i, field), message, value
        seen.add(value)
