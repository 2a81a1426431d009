"""A finished forecast: the replication summaries and every figure drawn from them.

The figures are pandas DataFrames, computed on first use:

* ``services`` — one row per service and calendar month (P(met) with CI,
  expected availability, downtime percentiles and the error budget);
* ``service_recovery`` — one row per service: its own RTO and RPO and how
  often the incidents that hit it kept them (pooled-incident CIs);
* ``severities`` — one row per severity (pooled-incident verdicts with CIs,
  time to restore, per-replication P(no RTO miss));
* ``stages``, ``replications`` (per replication, service and month),
  ``incidents`` (per incident), ``convergence``, ``comparison`` and ``tornado``.

``to_json()`` gives them in the shape every ce-drill JSON has: durations in
seconds as ``*_s``, probabilities as ``{"estimate": p, "ci95": [lo, hi]}``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import pandas as pd

from sim.forecast import figures
from sim.forecast.jobs import SERVICE_VERDICTS, VERDICTS, Batch
from sim.forecast.layout import Layout
from sim.forecast.period import MONTH_DEFINITION, Period
from sim.forecast.stats import QUANTILES
from sim.forecast.whatif import compare
from sim.playbook import Playbook
from sim.world import World

SEEDING = "replication i runs on numpy SeedSequence(seed).spawn(n)[i], whatever the worker or task"
INTERVALS = (
    "95 % Wilson score intervals; availability over replications (one trial per replication and month); "
    "severity verdicts over incidents pooled across replications (incidents of one replication are not "
    "independent, so these are slightly optimistic); what-if differences B - A from paired replications "
    "(common random numbers, delta-method standard error)"
)
PERCENTILES = "empirical percentiles over replications (downtime) or pooled restored incidents (time to restore), linear interpolation"


@dataclass(frozen=True)
class Precision:
    """How ``--precision`` went: rounds of replications until every headline CI was narrow enough."""

    target: float
    reached: bool
    worst_figure: str
    worst_half_width: float
    max_replications: int
    rounds: tuple[int, ...]


@dataclass(frozen=True)
class Execution:
    """Where and how the replications ran (not part of the numbers)."""

    backend: str
    workers: int
    tasks: int
    events: int
    wall_s: float | None = None


@dataclass(frozen=True)
class Forecast:
    playbook: Playbook
    world: World
    period: Period
    seed: int
    layout: Layout
    base: Batch
    execution: Execution
    other_world: World | None = None
    other: Batch | None = None
    precision: Precision | None = None
    tornado: pd.DataFrame | None = None

    @property
    def replications_run(self) -> int:
        return self.base.count

    @cached_property
    def services(self) -> pd.DataFrame:
        return figures.service_months(self.layout, self.base)

    @cached_property
    def service_recovery(self) -> pd.DataFrame:
        return figures.service_recovery(self.layout, self.base)

    @cached_property
    def severities(self) -> pd.DataFrame:
        return figures.severities(self.layout, self.base)

    @cached_property
    def stages(self) -> pd.DataFrame:
        return figures.stages(self.layout, self.base)

    @cached_property
    def replications(self) -> pd.DataFrame:
        return figures.replications(self.layout, self.base)

    @cached_property
    def incidents(self) -> pd.DataFrame:
        return figures.incidents(self.layout, self.base)

    @cached_property
    def convergence(self) -> pd.DataFrame:
        return figures.convergence(self.layout, self.base)

    @cached_property
    def overall(self) -> dict[str, float]:
        return figures.overall(self.layout, self.base)

    @cached_property
    def comparison(self) -> pd.DataFrame | None:
        return None if self.other is None else compare(self.layout, self.base, self.other)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "period": {
                "label": self.period.label,
                "start": self.period.start.isoformat(),
                "end": self.period.end.isoformat(),
                "days": self.period.days,
                "month_definition": MONTH_DEFINITION,
            },
            "replications": self.replications_run,
            "seed": self.seed,
            "precision": None if self.precision is None else _precision(self.precision),
            "overall": {"all_availability_targets_met": _ci(self.overall, "p_met")},
            "availability": [_service(row) for row in self.services.to_dict("records")],
            "service_recovery": [_recovery(row) for row in self.service_recovery.to_dict("records")],
            "severities": [_severity(row) for row in self.severities.to_dict("records")],
            "stages": [_plain(row) for row in self.stages.to_dict("records")],
            "tornado": None if self.tornado is None else [_plain(r) for r in self.tornado.to_dict("records")],
            "compare": None
            if self.comparison is None
            else [_difference(r) for r in self.comparison.to_dict("records")],
            "convergence": [_plain(row) for row in self.convergence.to_dict("records")],
            "definitions": {
                "month": MONTH_DEFINITION,
                "error_budget": "(1 - availability target) x month length",
                "seeding": SEEDING,
                "intervals": INTERVALS,
                "percentiles": PERCENTILES,
                "quantiles": list(QUANTILES),
            },
            "execution": {
                "backend": self.execution.backend,
                "workers": self.execution.workers,
                "tasks": self.execution.tasks,
                "events": self.execution.events,
                "wall_s": self.execution.wall_s,
            },
        }
        cleaned: dict[str, Any] = clean(out)
        return cleaned


def clean(value: Any) -> Any:
    """JSON-safe: nan becomes null, numpy scalars become Python numbers."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _ci(row: dict[str, Any], key: str) -> dict[str, Any]:
    return {"estimate": row[key], "ci95": [row[f"{key}_lo"], row[f"{key}_hi"]]}


def _plain(row: dict[Any, Any]) -> dict[str, Any]:
    return {str(k): v for k, v in row.items()}


def _precision(p: Precision) -> dict[str, Any]:
    return {
        "target_half_width": p.target,
        "reached": p.reached,
        "worst_figure": p.worst_figure,
        "worst_half_width": p.worst_half_width,
        "max_replications": p.max_replications,
        "rounds": list(p.rounds),
    }


def _service(row: dict[Any, Any]) -> dict[str, Any]:
    return {
        "service": row["service"],
        "name": row["name"],
        "month": row["month"],
        "target": row["target"],
        "length_s": row["length_s"],
        "budget_s": row["budget_s"],
        "p_met": _ci(row, "p_met"),
        "availability_mean": row["availability_mean"],
        "p_any_downtime": row["p_down"],
        "downtime_s": {
            "mean": row["downtime_mean_s"],
            "p50": row["downtime_p50_s"],
            "p90": row["downtime_p90_s"],
            "p99": row["downtime_p99_s"],
        },
    }


def _recovery(row: dict[Any, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "service": row["service"],
        "name": row["name"],
        "rto_s": row["rto_s"],
        "rpo_s": row["rpo_s"],
    }
    pooled = {"rto_met": "incidents that hit the service", "rpo_met": "incidents that lost its writes"}
    for verdict in SERVICE_VERDICTS:
        out[verdict] = {**_ci(row, verdict), "incidents": row[f"{verdict}_n"], "pooled_over": pooled[verdict]}
    return out


def _severity(row: dict[Any, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "severity": row["severity"],
        "rto_s": row["rto_s"],
        "rpo_s": row["rpo_s"],
        "cadence_s": row["cadence_s"],
        "incidents": row["incidents"],
        "incidents_per_replication": row["incidents_per_replication"],
    }
    for verdict in VERDICTS:
        out[verdict] = {**_ci(row, verdict), "incidents": row[f"{verdict}_n"], "pooled_over": "incidents"}
    out["time_to_restore_s"] = {
        "p50": row["restore_p50_s"],
        "p90": row["restore_p90_s"],
        "p99": row["restore_p99_s"],
    }
    out["not_restored_by_end"] = row["not_restored"]
    out["per_replication"] = {
        "p_any_incident": row["p_any"],
        "p_no_rto_miss": _ci(row, "no_rto_miss"),
    }
    return out


def _difference(row: dict[Any, Any]) -> dict[str, Any]:
    return {
        "figure": row["figure"],
        "kind": row["kind"],
        "a": row["a"],
        "b": row["b"],
        "difference": {"estimate": row["diff"], "ci95": [row["diff_lo"], row["diff_hi"]], "paired": True},
        "unpaired_ci95": [row["unpaired_lo"], row["unpaired_hi"]],
    }
