"""``ce-drill playbook lint``: where an incident-response manual contradicts itself.

Each check reads the playbook (never the manual's numbers typed here) and
returns findings that cite at least two places of the manual that cannot both
hold, with a suggestion a maintainer can act on.
"""

from __future__ import annotations

from ce_drill.lint import example, ladders, runbook, targets, timing
from ce_drill.lint.finding import Cite, Finding
from sim.playbook import Playbook

CHECKS = (
    ladders.ladder_findings,
    ladders.indicator_gaps,
    timing.timeline_vs_rto,
    timing.checklist_vs_promises,
    timing.flow_vs_response,
    timing.diagnosis_window,
    timing.business_hours,
    timing.resolution_vs_rto,
    timing.templates_vs_cadence,
    targets.daily_vs_monthly,
    targets.system_vs_services,
    targets.limits_vs_alerts,
    targets.action_items,
    example.example_findings,
    runbook.runbook_findings,
)


def lint(pb: Playbook) -> list[Finding]:
    """Every contradiction found in the playbook, in a stable order."""
    return [finding for check in CHECKS for finding in check(pb)]


__all__ = ["CHECKS", "Cite", "Finding", "lint"]
