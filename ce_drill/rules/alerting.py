"""Alerting rules: the manual's alert rules and its alert-priority matrix.

Two kinds of promise become Prometheus alerts:

* each **detection rule** (``claude_enhancer:error_rate > 0.05 (5分钟) → P2``)
  becomes one alert with the manual's threshold, ``for`` and severity;
* each **priority-matrix condition** (``P1_critical: system_availability < 95%``)
  becomes one alert with the matrix level's severity.  A condition without a
  threshold is a 0/1 indicator and fires while it is 1.

The matrix gives no ``for``.  A matrix alert borrows it from the detection
rules, in this order: the shortest ``for`` among detection rules of the same
severity on the same metric (or one it covers); else the shortest among all
detection rules of that severity; else the shortest of all.  The reason is
kept with the rule (:attr:`AlertRule.for_basis`) and shown in its description.

Every number comes from the playbook; :class:`~ce_drill.plan.timing.Timing`
only compresses durations.  Latency thresholds are properties of a request,
not of the incident's timeline, and are never compressed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ce_drill.plan.timing import Timing, prom_duration
from ce_drill.rules import contract as c
from ce_drill.rules.recording import RecordingRule
from sim.errors import InputError
from sim.fields import ManualRef
from sim.playbook import DetectionRule, MatrixCondition, Playbook, PriorityLevel
from sim.units import format_duration

GROUP_PREFIX = "claude-enhancer"
MATRIX_GROUP = f"{GROUP_PREFIX}.priority-matrix"
TEST_INSTANCE = f"{c.JOB}-0"
"""``instance`` label of the series fed to generated tests."""

_SELECTOR = re.compile(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:\{(.*)\})?\s*$")
_MATCHER = re.compile(r'^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"([^"\\]*)"\s*$')


@dataclass(frozen=True)
class Target:
    """The series an alert compares: a metric name with optional ``label="value"`` matchers."""

    selector: str
    name: str
    matchers: tuple[tuple[str, str], ...]
    labels: tuple[str, ...]
    subsystem: str

    def series_labels(self) -> dict[str, str]:
        """Labels of a series that the selector selects, as generated tests feed it."""
        values = {"job": c.JOB, "instance": TEST_INSTANCE}
        out = {name: values[name] for name in self.labels if name in values}
        out.update(self.matchers)
        return out


@dataclass(frozen=True)
class AlertRule:
    name: str
    group: str
    kind: str
    """``detection`` (the manual's alert rules) or ``matrix`` (its priority matrix)."""
    severity: str
    target: Target
    op: str
    threshold: float
    unit: str
    indicator: bool
    """A 0/1 metric with no threshold in the manual: fires while it is 1."""
    for_ms: int
    for_manual_s: float
    for_basis: str
    labels: tuple[tuple[str, str], ...]
    annotations: tuple[tuple[str, str], ...]

    @property
    def expr(self) -> str:
        return f"{self.target.selector} {self.op} {number(self.threshold)}"

    def as_dict(self) -> dict[str, object]:
        return {
            "alert": self.name,
            "expr": self.expr,
            "for": prom_duration(self.for_ms),
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
        }


def number(value: float) -> str:
    """A threshold as PromQL and people read it: 0.05, 2, 0.995."""
    return format(value, ".12g")


def resolve_target(selector: str, recorded: dict[str, c.RecordedMetric], origin: str, where: str) -> Target:
    """Check that a playbook metric is one the contract or the recording rules provide."""
    match = _SELECTOR.match(selector)
    if match is None:
        raise InputError(
            origin, None, where, 'expected a metric name with optional {label="value"}', selector
        )
    name, body = match.group(1), match.group(2)
    matchers: list[tuple[str, str]] = []
    for part in filter(None, (p.strip() for p in (body or "").split(","))):
        m = _MATCHER.match(part)
        if m is None:
            raise InputError(origin, None, where, 'only label="value" matchers are supported', selector)
        matchers.append((m.group(1), m.group(2)))
    rec = recorded.get(name)
    raw = c.raw_metric(name)
    if rec is not None:
        labels, subsystem = rec.labels, rec.subsystem
    elif raw is not None:
        labels, subsystem = c.TARGET_LABELS, raw.subsystem
    else:
        known = ", ".join(sorted(recorded))
        raise InputError(
            origin, None, where, f"no recording rule or contract metric of that name ({known})", name
        )
    labels = tuple(dict.fromkeys([*labels, *(k for k, _ in matchers)]))
    return Target(selector.strip(), name, tuple(matchers), labels, subsystem)


def camel(text: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in text.split("_") if part)


def _refs(refs: Iterable[ManualRef]) -> str:
    return "; ".join(dict.fromkeys(str(r) for r in refs))


def _for_text(rule_for_ms: int, manual_s: float, timing: Timing) -> str:
    if timing.scale == 1 and rule_for_ms == round(manual_s * 1000):
        return format_duration(manual_s)
    return f"{prom_duration(rule_for_ms)} ({format_duration(manual_s)} in manual time, time scale {timing.scale:g})"


@dataclass(frozen=True)
class _Env:
    """What every alert is built against: the playbook, the clock and the resolved metrics."""

    pb: Playbook
    timing: Timing
    targets: dict[str, Target]
    origin: str


def _detection(rule: DetectionRule, env: _Env) -> AlertRule:
    target = env.targets[rule.metric]
    for_ms = env.timing.for_ms(rule.for_s)
    condition = f"{target.selector} {rule.op} {number(rule.threshold)}"
    description = (
        f"{condition} held for {_for_text(for_ms, rule.for_s, env.timing)} → {rule.severity}. "
        f"Troubleshooting: {rule.runbook}. Promised in {rule.source}."
    )
    return AlertRule(
        name=rule.name,
        group=f"{GROUP_PREFIX}.detection.{rule.group}",
        kind="detection",
        severity=rule.severity,
        target=target,
        op=rule.op,
        threshold=rule.threshold,
        unit=rule.unit,
        indicator=False,
        for_ms=for_ms,
        for_manual_s=rule.for_s,
        for_basis=f"the manual's own for ({rule.source})",
        labels=(("severity", rule.severity), ("source", "detection")),
        annotations=(
            ("summary", rule.summary),
            ("description", description),
            ("runbook", str(rule.runbook)),
            ("manual_source", str(rule.source)),
        ),
    )


def _related(cond: MatrixCondition, severity: str, env: _Env) -> list[DetectionRule]:
    """Detection rules on the same metric or a covered one; same severity first."""
    names = {env.targets[cond.metric].name, *cond.covers}
    rules = [r for r in env.pb.detection_rules if env.targets[r.metric].name in names]
    return sorted(rules, key=lambda r: r.severity != severity)


def _matrix_for(cond: MatrixCondition, severity: str, env: _Env) -> tuple[float, str]:
    same_metric = [r for r in _related(cond, severity, env) if r.severity == severity]
    same_severity = [r for r in env.pb.detection_rules if r.severity == severity]
    for pool, why in (
        (same_metric, f"shortest for among {severity} detection rules on this metric"),
        (same_severity, f"shortest for among {severity} detection rules"),
        (list(env.pb.detection_rules), "shortest for among all detection rules"),
    ):
        if pool:
            best = min(pool, key=lambda r: r.for_s)
            return best.for_s, f"{why} ({best.name})"
    raise InputError(
        env.origin, None, "detection_rules", "matrix alerts borrow their for from detection rules"
    )


def _runbooks(cond: MatrixCondition, severity: str, env: _Env) -> tuple[ManualRef, ...]:
    related = _related(cond, severity, env)
    if not related:
        subsystem = env.targets[cond.metric].subsystem
        related = [r for r in env.pb.detection_rules if env.targets[r.metric].subsystem == subsystem]
    if related:
        return tuple(r.runbook for r in related)
    # Nothing in the manual names a section for this signal: start at its quick health check.
    return tuple(h.source for h in env.pb.troubleshooting.health_checks)


def _matrix(level: PriorityLevel, cond: MatrixCondition, where: str, env: _Env) -> AlertRule:
    target = env.targets[cond.metric]
    indicator = cond.threshold is None
    if not indicator and cond.op is None:
        raise InputError(
            env.origin, None, f"{where}.op", "a condition with a threshold needs an op", cond.signal
        )
    op = cond.op if cond.op is not None and not indicator else "=="
    threshold = 1.0 if cond.threshold is None else cond.threshold
    for_s, basis = _matrix_for(cond, level.severity, env)
    for_ms = env.timing.for_ms(for_s)
    condition = cond.signal if indicator else f"{cond.signal} {op} {number(threshold)}"
    runbooks = _refs(_runbooks(cond, level.severity, env))
    description = (
        f"{level.label}: {condition} ({target.selector} {op} {number(threshold)}) held for "
        f"{_for_text(for_ms, for_s, env.timing)}; the manual sets no duration, so this is the {basis}. "
        f"Troubleshooting: {runbooks}. Promised in {level.source}."
    )
    return AlertRule(
        name=f"{camel(cond.signal)}{camel(level.label)}",
        group=MATRIX_GROUP,
        kind="matrix",
        severity=level.severity,
        target=target,
        op=op,
        threshold=threshold,
        unit="bool" if indicator else (cond.unit or "ratio"),
        indicator=indicator,
        for_ms=for_ms,
        for_manual_s=for_s,
        for_basis=basis,
        labels=(("severity", level.severity), ("source", "matrix"), ("signal", cond.signal)),
        annotations=(
            ("summary", f"{level.label}: {condition}"),
            ("description", description),
            ("runbook", runbooks),
            ("manual_source", str(level.source)),
        ),
    )


def alert_rules(
    pb: Playbook, timing: Timing, recording: Sequence[RecordingRule], origin: str = "playbook"
) -> tuple[AlertRule, ...]:
    """One alert per detection rule, then one per matrix condition, in playbook order."""
    recorded = {r.metric.name: r.metric for r in recording}
    targets: dict[str, Target] = {}
    for i, rule in enumerate(pb.detection_rules):
        where = f"detection_rules[{i}].metric"
        targets.setdefault(rule.metric, resolve_target(rule.metric, recorded, origin, where))
    for i, level in enumerate(pb.alert_priority_matrix):
        for j, cond in enumerate(level.conditions):
            where = f"alert_priority_matrix[{i}].conditions[{j}].metric"
            targets.setdefault(cond.metric, resolve_target(cond.metric, recorded, origin, where))
    env = _Env(pb, timing, targets, origin)

    alerts = [_detection(rule, env) for rule in pb.detection_rules]
    for i, level in enumerate(pb.alert_priority_matrix):
        for j, cond in enumerate(level.conditions):
            alerts.append(_matrix(level, cond, f"alert_priority_matrix[{i}].conditions[{j}]", env))
    seen: set[str] = set()
    for alert in alerts:
        if alert.name in seen:
            raise InputError(
                origin, None, "alert_priority_matrix", "two alerts would share a name", alert.name
            )
        seen.add(alert.name)
    return tuple(alerts)


def threshold_step(threshold: float, unit: str) -> float:
    """The smallest change of a threshold the generated tests must notice.

    Two significant digits below the threshold's magnitude — at most 1% of it —
    so a test series can sit just across the threshold.  Booleans flip instead.
    """
    if unit == "bool":
        return 1.0
    if threshold == 0:
        return 1.0 if unit == "count" else 0.001
    return float(10 ** (math.floor(math.log10(abs(threshold))) - 2))
