"""The headline figures of a forecast, as DataFrames, from replication summaries.

* **Availability** — per service and calendar month: P(meeting the target)
  over replications with a 95 % Wilson CI, the expected availability, and
  downtime at p50/p90/p99 against the month's error budget.
* **Service recovery** — per service, over the incidents that hit it
  (pooled across replications): P(restored within the service's own RTO)
  and, over those that lost its writes, P(within its RPO), with Wilson CIs.
* **Severities** — per severity, over incidents **pooled across
  replications**: P(RTO met), P(RPO met), P(response time met), P(cadence
  kept) with Wilson CIs, and time to restore at p50/p90/p99.  Pooled incidents
  of one replication are not independent (they share responders), so these
  intervals are a little optimistic; the per-replication figure —
  P(no RTO miss in the whole period) — has no such caveat.
* **Stages** — where the time to restore goes: detect, acknowledge, diagnose,
  mitigate (mean, p50, p90), per severity.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sim.forecast.jobs import SERVICE_VERDICTS, STAGES, TIMES, VERDICTS, Batch
from sim.forecast.layout import BoolArray, FloatArray, Layout
from sim.forecast.stats import QUANTILES, wilson, wilson_arrays

ALL_TARGETS = "all availability targets"
"""The figure that sums a period up: every service meets its target in every month."""


def all_met(layout: Layout, batch: Batch) -> BoolArray:
    """Per replication: did every service meet its target in every month of the period?"""
    return np.asarray(layout.met(batch.downtime_s).all(axis=(1, 2)), dtype=np.bool_)


def service_months(layout: Layout, batch: Batch) -> pd.DataFrame:
    met = layout.met(batch.downtime_s)
    n = batch.count
    budget = layout.budget_s
    rows = []
    for s, service in enumerate(layout.services):
        for m, month in enumerate(layout.months):
            downtime = batch.downtime_s[:, s, m]
            ci = wilson(int(met[:, s, m].sum()), n)
            p50, p90, p99 = (float(q) for q in np.quantile(downtime, QUANTILES))
            rows.append(
                {
                    "service": service,
                    "name": layout.service_names[s],
                    "month": month,
                    "target": layout.targets[s],
                    "length_s": layout.month_lengths_s[m],
                    "budget_s": float(budget[s, m]),
                    "p_met": ci.estimate,
                    "p_met_lo": ci.lo,
                    "p_met_hi": ci.hi,
                    "availability_mean": float(np.mean(1.0 - downtime / layout.month_lengths_s[m])),
                    "downtime_mean_s": float(downtime.mean()),
                    "downtime_p50_s": p50,
                    "downtime_p90_s": p90,
                    "downtime_p99_s": p99,
                    "p_down": float(np.mean(downtime > 0)),
                }
            )
    return pd.DataFrame(rows)


def service_recovery(layout: Layout, batch: Batch) -> pd.DataFrame:
    """Per service: its own RTO and RPO, and how often the incidents that hit it kept them."""
    rows = []
    for s, service in enumerate(layout.services):
        row: dict[str, object] = {
            "service": service,
            "name": layout.service_names[s],
            "rto_s": layout.service_rto_s[s],
            "rpo_s": layout.service_rpo_s[s],
        }
        for v, verdict in enumerate(SERVICE_VERDICTS):
            column = batch.service_verdicts[:, s, v]
            judged = int(np.sum(column >= 0))
            ci = wilson(int(np.sum(column == 1)), judged)
            row |= {
                verdict: ci.estimate,
                f"{verdict}_lo": ci.lo,
                f"{verdict}_hi": ci.hi,
                f"{verdict}_n": judged,
            }
        rows.append(row)
    return pd.DataFrame(rows)


def overall(layout: Layout, batch: Batch) -> dict[str, float]:
    flags = all_met(layout, batch)
    ci = wilson(int(flags.sum()), batch.count)
    return {"p_met": ci.estimate, "p_met_lo": ci.lo, "p_met_hi": ci.hi}


def verdict_counts(batch: Batch, severity: int, verdict: int) -> tuple[FloatArray, FloatArray]:
    """Per replication: incidents of ``severity`` meeting ``verdict``, and incidents judged on it."""
    judged = (batch.severity == severity) & (batch.verdicts[:, verdict] >= 0)
    where = batch.replication[judged] - batch.first
    met = batch.verdicts[judged, verdict] == 1
    trials = np.bincount(where, minlength=batch.count).astype(np.float64)
    successes = np.bincount(where, weights=met.astype(np.float64), minlength=batch.count).astype(np.float64)
    return successes, trials


def severities(layout: Layout, batch: Batch) -> pd.DataFrame:
    rows = []
    for i, severity in enumerate(layout.severities):
        mine = batch.severity == i
        restore = batch.times[mine, 0]
        restored = restore[~np.isnan(restore)]
        per_rep = np.bincount(batch.replication[mine] - batch.first, minlength=batch.count)
        row: dict[str, object] = {
            "severity": severity,
            "rto_s": layout.rto_s[i],
            "rpo_s": layout.rpo_s[i],
            "cadence_s": layout.cadence_s[i],
            "incidents": int(mine.sum()),
            "incidents_per_replication": float(per_rep.mean()) if batch.count else math.nan,
            "p_any": float(np.mean(per_rep > 0)) if batch.count else math.nan,
        }
        for v, verdict in enumerate(VERDICTS):
            successes, trials = verdict_counts(batch, i, v)
            ci = wilson(successes.sum(), trials.sum())
            row |= {
                verdict: ci.estimate,
                f"{verdict}_lo": ci.lo,
                f"{verdict}_hi": ci.hi,
                f"{verdict}_n": int(trials.sum()),
            }
        # Per replication: a period with no incident of the severity has no miss either.
        met_rto, judged = verdict_counts(batch, i, 0)
        clean = wilson(int(np.sum(met_rto == judged)), batch.count)
        row |= {"no_rto_miss": clean.estimate, "no_rto_miss_lo": clean.lo, "no_rto_miss_hi": clean.hi}
        p50, p90, p99 = (
            (float(q) for q in np.quantile(restored, QUANTILES)) if restored.size else (math.nan,) * 3
        )
        row |= {
            "restore_p50_s": p50,
            "restore_p90_s": p90,
            "restore_p99_s": p99,
            "not_restored": int(restore.size - restored.size),
        }
        rows.append(row)
    return pd.DataFrame(rows)


def stages(layout: Layout, batch: Batch) -> pd.DataFrame:
    """Stage durations of restored incidents; means add up to the mean time to restore."""
    rows = []
    restored = ~np.isnan(batch.times[:, 0])
    for i, severity in enumerate(layout.severities):
        mine = (batch.severity == i) & restored
        for j, stage in enumerate(STAGES, start=1):
            values = batch.times[mine, j]
            has = values.size > 0
            rows.append(
                {
                    "severity": severity,
                    "stage": stage.removesuffix("_s"),
                    "incidents": int(values.size),
                    "mean_s": float(values.mean()) if has else math.nan,
                    "p50_s": float(np.quantile(values, 0.5)) if has else math.nan,
                    "p90_s": float(np.quantile(values, 0.9)) if has else math.nan,
                }
            )
    return pd.DataFrame(rows)


def replications(layout: Layout, batch: Batch) -> pd.DataFrame:
    """One row per replication, service and month: downtime, availability, target met."""
    n, s, m = batch.downtime_s.shape
    met = layout.met(batch.downtime_s)
    lengths = np.broadcast_to(layout.lengths, (n, s, m))
    return pd.DataFrame(
        {
            "replication": np.repeat(np.arange(batch.first, batch.first + n), s * m),
            "service": np.tile(np.repeat(np.asarray(layout.services, dtype=object), m), n),
            "month": np.tile(np.asarray(layout.months, dtype=object), n * s),
            "downtime_s": batch.downtime_s.reshape(-1),
            "availability": (1.0 - batch.downtime_s / lengths).reshape(-1),
            "met": met.reshape(-1),
        }
    )


def incidents(layout: Layout, batch: Batch) -> pd.DataFrame:
    """One row per incident of every replication: severity, verdicts (None if not given), times."""
    names = np.asarray([*layout.severities, None], dtype=object)
    frame = pd.DataFrame({"replication": batch.replication, "severity": names[batch.severity]})
    for v, verdict in enumerate(VERDICTS):
        column = batch.verdicts[:, v]
        frame[verdict] = pd.Series(column == 1, dtype="boolean").mask(column < 0)
    for t, name in enumerate(TIMES):
        frame[name] = batch.times[:, t]
    return frame


def headline_intervals(layout: Layout, batch: Batch) -> list[tuple[str, float]]:
    """Every headline probability with its CI half-width (those with any observation)."""
    out = []
    met = layout.met(batch.downtime_s)
    for s, service in enumerate(layout.services):
        for m, month in enumerate(layout.months):
            ci = wilson(int(met[:, s, m].sum()), batch.count)
            out.append((f"P({service} meets its target in {month})", ci.half_width))
    for i, severity in enumerate(layout.severities):
        for v, verdict in enumerate(VERDICTS):
            successes, trials = verdict_counts(batch, i, v)
            if trials.sum() > 0:
                ci = wilson(successes.sum(), trials.sum())
                out.append((f"P({verdict.removesuffix('_met')} met, {severity})", ci.half_width))
    return out


def convergence(layout: Layout, batch: Batch, points: int = 40) -> pd.DataFrame:
    """Running estimates and Wilson CIs of key probabilities as replications accumulate.

    Tracked: all availability targets met, the three service-months least
    likely to meet their target, and P(RTO met) of the most severe severity
    with incidents.
    """
    n = batch.count
    checkpoints = (
        np.unique(np.geomspace(min(10, n), n, num=points).astype(np.int64))
        if n
        else np.array([], dtype=np.int64)
    )
    series: list[tuple[str, FloatArray, FloatArray]] = []
    ones = np.ones(n)
    series.append((ALL_TARGETS, all_met(layout, batch).astype(np.float64), ones))
    met = layout.met(batch.downtime_s)
    p = met.mean(axis=0) if n else np.ones(met.shape[1:])
    order = np.argsort(p, axis=None, kind="stable")[:3]
    for flat in order:
        s, m = np.unravel_index(flat, p.shape)
        if p[s, m] < 1.0:
            label = f"{layout.services[s]} {layout.months[m]}"
            series.append((label, met[:, s, m].astype(np.float64), ones))
    for i, severity in enumerate(layout.severities):
        successes, trials = verdict_counts(batch, i, 0)
        if trials.sum() > 0:
            series.append((f"RTO met {severity}", successes, trials))
            break
    rows = []
    for label, successes, trials in series:
        cum_x, cum_n = np.cumsum(successes)[checkpoints - 1], np.cumsum(trials)[checkpoints - 1]
        lo, hi = wilson_arrays(cum_x, cum_n)
        estimate = np.divide(cum_x, cum_n, out=np.full(cum_x.shape, np.nan), where=cum_n > 0)
        for k, reps in enumerate(checkpoints):
            rows.append(
                {
                    "figure": label,
                    "replications": int(reps),
                    "estimate": float(estimate[k]),
                    "lo": float(lo[k]),
                    "hi": float(hi[k]),
                }
            )
    return pd.DataFrame(rows, columns=["figure", "replications", "estimate", "lo", "hi"])
