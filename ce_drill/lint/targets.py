"""Targets that contradict each other or the alerting that should guard them.

Availability targets must compose (a system cannot be more available than the
services it cannot work without), a daily allowance must fit the monthly
budget, and a capacity limit or a post-mortem action item is only real if an
alert would notice it being crossed.
"""

from __future__ import annotations

from collections.abc import Iterator

from ce_drill.lint.finding import Cite, Finding
from sim.playbook import Playbook
from sim.units import format_duration as fd
from sim.units import format_percent

# A month, for budgets: 30 days (an average month of 30.44 days moves the figures by 1.5 %).
MONTH_S = 30 * 86400.0
DAY_S = 86400.0

# Capacity limits name resources; these are the detection-rule metrics that measure them.
_LIMIT_METRICS = {
    "cpu_utilization_max": "node:cpu_utilization",
    "memory_utilization_max": "node:memory_utilization",
    "disk_utilization_max": "node:disk_utilization",
}


def daily_vs_monthly(pb: Playbook) -> Iterator[Finding]:
    a = pb.targets.availability
    budget = (1 - a.monthly_uptime) * MONTH_S
    allowed = a.daily_downtime_max_s * MONTH_S / DAY_S
    if allowed > budget:
        yield Finding(
            code="daily-vs-monthly-downtime",
            message=(
                f"a daily allowance of {fd(a.daily_downtime_max_s)} permits {allowed / 60:.0f} min of downtime in a "
                f"30-day month, but {format_percent(a.monthly_uptime)} monthly uptime allows only {budget / 60:.1f} min; "
                f"{budget / a.daily_downtime_max_s:.2f} days at the daily maximum spend the whole month's budget"
            ),
            cites=(
                Cite(
                    "targets.availability.daily_downtime_max_s",
                    a.source,
                    f"daily_downtime_max: {fd(a.daily_downtime_max_s)}",
                ),
                Cite(
                    "targets.availability.monthly_uptime",
                    a.source,
                    f"monthly_uptime: {format_percent(a.monthly_uptime)}",
                ),
            ),
            fix="derive the daily allowance from the monthly budget, or drop it",
        )


def system_vs_services(pb: Playbook) -> Iterator[Finding]:
    a = pb.targets.availability
    weaker = [
        (i, s)
        for i, s in enumerate(pb.services)
        if s.category in ("core", "data") and s.availability < a.monthly_uptime
    ]
    if not weaker:
        return
    yield Finding(
        code="system-above-dependencies",
        message=(
            f"the platform promises {format_percent(a.monthly_uptime)} a month, but core and data services it depends on "
            f"promise less: " + ", ".join(f"{s.name} {format_percent(s.availability)}" for _, s in weaker)
        ),
        cites=(
            Cite(
                "targets.availability.monthly_uptime",
                a.source,
                f"monthly_uptime: {format_percent(a.monthly_uptime)}",
            ),
            *(
                Cite(f"services[{i}].availability", s.source, f"{s.name} {format_percent(s.availability)}")
                for i, s in weaker
            ),
        ),
        fix="raise the dependencies' targets or lower the platform's; a chain is no stronger than its weakest link",
    )


def limits_vs_alerts(pb: Playbook) -> Iterator[Finding]:
    limits = pb.targets.resource_limits
    for field, metric in _LIMIT_METRICS.items():
        limit = float(getattr(limits, field))
        rules = [(i, r) for i, r in enumerate(pb.detection_rules) if r.metric == metric]
        if not rules:
            continue
        i, lowest = min(rules, key=lambda ir: ir[1].threshold)
        if lowest.threshold > limit:
            yield Finding(
                code="limit-without-alert",
                message=(
                    f"{field} is {format_percent(limit)}, but the first {metric} alert fires only above "
                    f"{format_percent(lowest.threshold)}: the limit can be exceeded with no alert"
                ),
                cites=(
                    Cite(
                        f"targets.resource_limits.{field}", limits.source, f"{field}: {format_percent(limit)}"
                    ),
                    Cite(
                        f"detection_rules[{i}]",
                        lowest.source,
                        f"{metric} > {format_percent(lowest.threshold)} → {lowest.severity}",
                    ),
                ),
                fix="alert at the capacity limit, or raise the limit to where the alert is",
            )


def action_items(pb: Playbook) -> Iterator[Finding]:
    canary = next((p for p in pb.auto_rollback.phases if p.phase == "canary"), None)
    for g, group in enumerate(pb.postmortem.example.action_items):
        for k, item in enumerate(group.items):
            path = f"postmortem.example.action_items[{g}].items[{k}]"
            if (
                item.canary_window_s is not None
                and canary is not None
                and canary.delay_s < item.canary_window_s
            ):
                yield Finding(
                    code="action-item-not-applied",
                    message=(
                        f"the post-mortem's action item (due {item.due}) extends the canary watch window to "
                        f"{fd(item.canary_window_s)}, but the rollback policy still watches the canary for {fd(canary.delay_s)}"
                    ),
                    cites=(
                        Cite(path, item.source, item.acceptance),
                        Cite("auto_rollback.phases[canary]", canary.source, canary.text),
                    ),
                    fix="update the canary phase of the rollback policy, or record why the action item was dropped",
                )
            if item.alert_threshold is not None:
                memory = [(i, r) for i, r in enumerate(pb.detection_rules) if r.metric == item.alert_metric]
                low = min(memory, key=lambda ir: ir[1].threshold, default=None)
                if low is None or low[1].threshold > item.alert_threshold:
                    rule_cite = (
                        Cite(
                            f"detection_rules[{low[0]}]",
                            low[1].source,
                            f"{low[1].metric} > {format_percent(low[1].threshold)}",
                        )
                        if low
                        else Cite("detection_rules", pb.detection_rules[0].source, "no memory rule")
                    )
                    yield Finding(
                        code="action-item-not-applied",
                        message=(
                            f"the post-mortem's action item (due {item.due}) asks for a memory alert at "
                            f"{format_percent(item.alert_threshold)}, but the detection rules first alert on memory above "
                            f"{format_percent(low[1].threshold) if low else 'never'}"
                        ),
                        cites=(Cite(path, item.source, item.acceptance), rule_cite),
                        fix="add the agent-coordinator memory rule the post-mortem promised",
                    )
