"""Severity ladders: what severity each part of the manual gives a metric's value.

The manual assigns severities to metric values in three places: the detection
rules (检测与报警), the alert-priority matrix (告警优先级矩阵) and the
severity definitions (事故分级体系, e.g. P2 "响应时间>5秒").  Read as
functions from a value to a severity, they should agree wherever two of them
speak.  Where they differ, an on-call engineer gets two answers to "how bad is
this?"; where the matrix speaks and no rule does, nothing would ever page.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

from ce_drill.lint.finding import Cite, Finding
from sim.compare import OPS, severity_rank
from sim.fields import ManualRef
from sim.playbook import Playbook
from sim.units import format_duration, format_percent

# The severity definitions name no metric; these are the metrics their words mean.
_DEFINITION_METRICS = {
    "response_time_above_s": "claude_enhancer:p95_response_time",
    "error_rate_above": "claude_enhancer:error_rate",
}


@dataclass(frozen=True)
class Rung:
    """One ``metric op threshold → severity`` statement of the manual."""

    source: str  # "detection rules", "priority matrix" or "severity definitions"
    metric: str
    op: str
    threshold: float
    unit: str
    severity: str
    cite: Cite

    def holds(self, value: float) -> bool:
        return OPS[self.op](value, self.threshold)


def show(value: float, unit: str) -> str:
    if unit == "seconds":
        return format_duration(value)
    if unit == "ratio":
        return format_percent(value)
    return f"{value:g}"


def rungs(pb: Playbook) -> list[Rung]:
    out: list[Rung] = []
    for i, rule in enumerate(pb.detection_rules):
        says = f"{rule.metric} {rule.op} {show(rule.threshold, rule.unit)} for {format_duration(rule.for_s)} → {rule.severity}"
        cite = Cite(f"detection_rules[{i}]", rule.source, says)
        out.append(
            Rung("detection rules", rule.metric, rule.op, rule.threshold, rule.unit, rule.severity, cite)
        )
    for i, level in enumerate(pb.alert_priority_matrix):
        for j, cond in enumerate(level.conditions):
            if cond.threshold is None or cond.op is None or cond.unit is None:
                continue
            says = f"{cond.signal} {cond.op} {show(cond.threshold, cond.unit)} → {level.severity}"
            cite = Cite(f"alert_priority_matrix[{i}].conditions[{j}]", level.source, says)
            for metric in cond.covers or (cond.metric,):
                out.append(
                    Rung("priority matrix", metric, cond.op, cond.threshold, cond.unit, level.severity, cite)
                )
    for i, sev in enumerate(pb.severities):
        for field, metric in _DEFINITION_METRICS.items():
            value = getattr(sev, field)
            if value is None:
                continue
            unit = "seconds" if field.endswith("_s") else "ratio"
            cite = Cite(
                f"severities[{i}].{field}", sev.source, f"{sev.id} criterion: above {show(value, unit)}"
            )
            out.append(Rung("severity definitions", metric, ">", value, unit, sev.id, cite))
    return out


def _verdict(ladder: list[Rung], value: float) -> Rung | None:
    holding = [r for r in ladder if r.holds(value)]
    return min(holding, key=lambda r: severity_rank(r.severity)) if holding else None


def _probe_points(thresholds: list[float]) -> list[float]:
    points: set[float] = set()
    ordered = sorted(set(thresholds))
    for t in ordered:
        eps = 1e-9 * max(1.0, abs(t))
        points.update({t - eps, t, t + eps})
    points.update((a + b) / 2 for a, b in itertools.pairwise(ordered))
    points.add(ordered[-1] * 2 + 1)
    return sorted(p for p in points if p >= 0)


def ladder_findings(pb: Playbook) -> Iterator[Finding]:
    all_rungs = rungs(pb)
    by_metric: dict[str, list[Rung]] = {}
    for r in all_rungs:
        by_metric.setdefault(r.metric, []).append(r)
    for metric, metric_rungs in by_metric.items():
        rules = [r for r in metric_rungs if r.source == "detection rules"]
        matrix = [r for r in metric_rungs if r.source == "priority matrix"]
        definitions = [r for r in metric_rungs if r.source == "severity definitions"]
        points = _probe_points([r.threshold for r in metric_rungs])
        yield from _conflicts(metric, rules, matrix, points)
        # A definition is a criterion for its own severity: compare just above its threshold.
        for d in definitions:
            eps = 1e-9 * max(1.0, d.threshold)
            yield from _conflicts(metric, rules, [d], [d.threshold + eps])
            yield from _conflicts(metric, matrix, [d], [d.threshold + eps])
        yield from _gaps(pb, metric, rules, matrix, points)


def _conflicts(metric: str, a: list[Rung], b: list[Rung], points: list[float]) -> Iterator[Finding]:
    seen: dict[tuple[Rung, Rung], list[float]] = {}
    for v in points:
        ra, rb = _verdict(a, v), _verdict(b, v)
        if ra is not None and rb is not None and ra.severity != rb.severity:
            seen.setdefault((ra, rb), []).append(v)
    for (ra, rb), values in seen.items():
        where = _range(values, [r.threshold for r in a + b], ra.unit)
        yield Finding(
            code="severity-conflict",
            message=(
                f"{metric} {where} is {ra.severity} by the {ra.source} but {rb.severity} by the {rb.source}"
            ),
            cites=(ra.cite, rb.cite),
            fix="give the value one severity in every section (or say which section wins)",
        )


def _range(values: list[float], thresholds: list[float], unit: str) -> str:
    lo = max((t for t in thresholds if t <= min(values)), default=None)
    above = [t for t in thresholds if t >= max(values)]
    if lo is None:
        return "below " + show(min(above), unit) if above else "at any value"
    if not above:
        return f"above {show(lo, unit)}"
    return f"between {show(lo, unit)} and {show(min(above), unit)}"


def _gaps(
    pb: Playbook, metric: str, rules: list[Rung], matrix: list[Rung], points: list[float]
) -> Iterator[Finding]:
    if not matrix:
        return
    uncovered = [v for v in points if _verdict(matrix, v) is not None and _verdict(rules, v) is None]
    if not uncovered:
        return
    culprits = sorted(
        {r for v in uncovered for r in matrix if r.holds(v)}, key=lambda r: severity_rank(r.severity)
    )
    where = _range(uncovered, [r.threshold for r in rules + matrix], matrix[0].unit)
    what = "no detection rule watches it at all" if not rules else "no detection rule fires there"
    yield Finding(
        code="matrix-without-rule",
        message=f"the priority matrix grades {metric} {where}, but {what}",
        cites=(*dict.fromkeys(r.cite for r in culprits), _rules_cite(pb, rules)),
        fix="add detection rules for these matrix conditions, or drop them from the matrix",
    )


def indicator_gaps(pb: Playbook) -> Iterator[Finding]:
    """Matrix conditions that are events (no threshold) and that no detection rule watches."""
    rule_metrics = {r.metric for r in pb.detection_rules}
    for i, level in enumerate(pb.alert_priority_matrix):
        for j, cond in enumerate(level.conditions):
            if cond.threshold is not None or cond.metric in rule_metrics:
                continue
            cite = Cite(
                f"alert_priority_matrix[{i}].conditions[{j}]",
                level.source,
                f"{cond.signal} → {level.severity}",
            )
            yield Finding(
                code="matrix-without-rule",
                message=f"the priority matrix makes {cond.signal} a {level.severity}, but no detection rule watches it",
                cites=(cite, _rules_cite(pb, [])),
                fix="add a detection rule for this condition, or drop it from the matrix",
            )


def _rules_cite(pb: Playbook, rules: list[Rung]) -> Cite:
    if rules:
        says = "; ".join(r.cite.says for r in rules)
        first = min(r.cite.ref.first_line for r in rules)
        last = max(r.cite.ref.last_line for r in rules)
    else:
        says = "no rule on this metric"
        first = min(r.source.first_line for r in pb.detection_rules)
        last = max(r.source.last_line for r in pb.detection_rules)
    section = pb.detection_rules[0].source.section.split(" › ")[0]
    return Cite("detection_rules", ManualRef(first_line=first, last_line=last, section=section), says)
