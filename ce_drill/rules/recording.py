"""Recording rules: the manual's metrics computed from the raw metrics contract.

The manual alerts on ``claude_enhancer:error_rate > 0.05`` and the like.  These
rules define each of those metrics once, in PromQL, over the raw series of
:mod:`ce_drill.rules.contract`.  Rates, increases and averages over time use
one range window (:attr:`Timing.window_ms`), compressed with the time scale.

Aggregates the priority matrix names through ``covers`` — "resource
utilization" standing for CPU, memory and disk — are the largest of the
covered metrics, generated from the playbook rather than written here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ce_drill.plan.timing import Timing, prom_duration
from ce_drill.rules import contract as c
from sim.errors import InputError
from sim.playbook import Playbook

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


@dataclass(frozen=True)
class RecordingRule:
    metric: c.RecordedMetric
    expr: str
    inputs: tuple[str, ...]
    """Names of the series the expression reads."""

    def as_dict(self) -> dict[str, object]:
        return {"record": self.metric.name, "expr": self.expr}


def _sel(metric: c.RawMetric, extra: str = "", suffix: str = "") -> str:
    matchers = f'job="{c.JOB}"' + (f",{extra}" if extra else "")
    return f"{metric.name}{suffix}{{{matchers}}}"


def _fixed_rules(window: str) -> list[RecordingRule]:
    """The recorded metrics whose definition does not depend on the playbook."""
    svc = "job"
    node = "job, instance"
    requests = f"sum by ({svc}) (rate({_sel(c.HTTP_REQUESTS)}[{window}]))"
    server_errors = _sel(c.HTTP_REQUESTS, 'code=~"' + c.SERVER_ERROR_CODES + '"')
    errors = f"sum by ({svc}) (rate({server_errors}[{window}]))"
    buckets = _sel(c.HTTP_REQUEST_DURATION, suffix="_bucket")

    def ratio(used: c.RawMetric, total: c.RawMetric) -> str:
        return f"sum by ({node}) ({_sel(used)}) / sum by ({node}) ({_sel(total)})"

    return [
        # A service that has not failed yet exports no 5xx series at all; "or 0 *
        # requests" turns that absence into an error rate of 0 instead of no value.
        RecordingRule(c.ERROR_RATE, f"({errors} or 0 * {requests}) / {requests}", (c.HTTP_REQUESTS.name,)),
        RecordingRule(
            c.P95_RESPONSE_TIME,
            f"histogram_quantile({c.LATENCY_QUANTILE}, sum by ({svc}, le) (rate({buckets}[{window}])))",
            (c.HTTP_REQUEST_DURATION.name + "_bucket",),
        ),
        RecordingRule(
            c.AGENT_FAILURES_IN_WINDOW,
            f"sum by ({svc}) (increase({_sel(c.AGENT_COORDINATION_FAILURES)}[{window}]))",
            (c.AGENT_COORDINATION_FAILURES.name,),
        ),
        RecordingRule(
            c.AVAILABILITY,
            f"avg by ({svc}) (avg_over_time({_sel(c.UP)}[{window}]))",
            (c.UP.name,),
        ),
        RecordingRule(
            c.CPU_UTILIZATION,
            f"sum by ({node}) (rate({_sel(c.CPU_SECONDS)}[{window}])) / sum by ({node}) ({_sel(c.CPU_LIMIT)})",
            (c.CPU_SECONDS.name, c.CPU_LIMIT.name),
        ),
        RecordingRule(
            c.MEMORY_UTILIZATION,
            ratio(c.MEMORY_USED, c.MEMORY_LIMIT),
            (c.MEMORY_USED.name, c.MEMORY_LIMIT.name),
        ),
        RecordingRule(
            c.DISK_UTILIZATION, ratio(c.DISK_USED, c.DISK_SIZE), (c.DISK_USED.name, c.DISK_SIZE.name)
        ),
        RecordingRule(
            c.DATABASE_CONNECTIVITY_FAILED,
            f"max by ({svc}) (1 - {_sel(c.DATABASE_UP)})",
            (c.DATABASE_UP.name,),
        ),
        RecordingRule(
            c.AGENT_COORDINATION_DEGRADED_FLAG,
            f"max by ({svc}) ({_sel(c.AGENT_COORDINATION_DEGRADED)})",
            (c.AGENT_COORDINATION_DEGRADED.name,),
        ),
        # Failed since the last success: stays 1 until a backup succeeds again.
        RecordingRule(
            c.BACKUP_JOB_FAILED,
            f"max by ({svc}) ({_sel(c.BACKUP_LAST_FAILURE)} > bool {_sel(c.BACKUP_LAST_SUCCESS)})",
            (c.BACKUP_LAST_FAILURE.name, c.BACKUP_LAST_SUCCESS.name),
        ),
    ]


def _aggregates(pb: Playbook, origin: str) -> list[RecordingRule]:
    """Matrix conditions that stand for several metrics: their maximum."""
    out: dict[str, RecordingRule] = {}
    for i, level in enumerate(pb.alert_priority_matrix):
        for j, cond in enumerate(level.conditions):
            if not cond.covers:
                continue
            where = f"alert_priority_matrix[{i}].conditions[{j}]"
            covered: list[c.RecordedMetric] = []
            for name in cond.covers:
                metric = c.recorded_metric(name)
                if metric is None:
                    raise InputError(origin, None, f"{where}.covers", "not a recorded metric", name)
                covered.append(metric)
            labels = covered[0].labels
            if any(m.labels != labels for m in covered) or not _NAME.fullmatch(cond.metric):
                raise InputError(
                    origin, None, f"{where}.metric", "covered metrics must share their labels", cond.metric
                )
            if c.recorded_metric(cond.metric) is not None or c.raw_metric(cond.metric) is not None:
                raise InputError(origin, None, f"{where}.metric", "already a contract metric", cond.metric)
            names = "|".join(m.name for m in covered)
            rule = RecordingRule(
                c.RecordedMetric(
                    cond.metric,
                    cond.unit or "ratio",
                    labels,
                    covered[0].subsystem,
                    "Largest of " + ", ".join(m.name for m in covered) + ".",
                ),
                f'max by ({", ".join(labels)}) ({{__name__=~"{names}"}})',
                tuple(m.name for m in covered),
            )
            previous = out.get(cond.metric)
            if previous is not None and previous.inputs != rule.inputs:
                raise InputError(
                    origin, None, f"{where}.covers", "covers differ from an earlier condition", cond.metric
                )
            out[cond.metric] = rule
    return list(out.values())


def recording_rules(pb: Playbook, timing: Timing, origin: str = "playbook") -> tuple[RecordingRule, ...]:
    """All recording rules, in evaluation order (aggregates after what they aggregate)."""
    return tuple(_fixed_rules(prom_duration(timing.window_ms)) + _aggregates(pb, origin))
