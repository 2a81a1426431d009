"""What-ifs as paired differences: the same replications, on the same seeds, in two worlds.

``compare`` sets every headline figure of world B beside world A as ``B − A``
with a 95 % CI from per-replication paired differences (and, for
reference, the wider CI the same difference would have without common
random numbers).  ``tornado`` does the same for each lever of
:mod:`sim.forecast.levers`, on P(all availability targets met).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.forecast.figures import ALL_TARGETS, all_met, verdict_counts
from sim.forecast.jobs import VERDICTS, Batch
from sim.forecast.layout import FloatArray, Layout
from sim.forecast.levers import Lever
from sim.forecast.stats import ratio_difference

Counts = tuple[FloatArray, FloatArray]
"""Per replication: successes and trials."""


def _row(figure: str, kind: str, a_counts: Counts, b_counts: Counts) -> dict[str, object]:
    (x_a, n_a), (x_b, n_b) = a_counts, b_counts
    paired = ratio_difference(x_a, n_a, x_b, n_b, paired=True)
    unpaired = ratio_difference(x_a, n_a, x_b, n_b, paired=False)
    a = float(x_a.sum() / n_a.sum()) if n_a.sum() > 0 else float("nan")
    b = float(x_b.sum() / n_b.sum()) if n_b.sum() > 0 else float("nan")
    return {
        "figure": figure,
        "kind": kind,
        "a": a,
        "b": b,
        "diff": paired.estimate,
        "diff_lo": paired.lo,
        "diff_hi": paired.hi,
        "unpaired_lo": unpaired.lo,
        "unpaired_hi": unpaired.hi,
    }


def compare(layout: Layout, a: Batch, b: Batch) -> pd.DataFrame:
    """Every headline probability of B beside A, as a paired difference with its CI."""
    ones = np.ones(a.count)
    rows = [
        _row(
            ALL_TARGETS,
            "period",
            (all_met(layout, a).astype(float), ones),
            (all_met(layout, b).astype(float), ones),
        )
    ]
    met_a, met_b = layout.met(a.downtime_s), layout.met(b.downtime_s)
    for s, service in enumerate(layout.services):
        for m, month in enumerate(layout.months):
            rows.append(
                _row(
                    f"{service} {month}",
                    "availability",
                    (met_a[:, s, m].astype(float), ones),
                    (met_b[:, s, m].astype(float), ones),
                )
            )
    for i, severity in enumerate(layout.severities):
        for v, verdict in enumerate(VERDICTS):
            counts_a, counts_b = verdict_counts(a, i, v), verdict_counts(b, i, v)
            if counts_a[1].sum() > 0 and counts_b[1].sum() > 0:
                rows.append(_row(f"{verdict} {severity}", "severity", counts_a, counts_b))
    return pd.DataFrame(rows)


def tornado(
    layout: Layout,
    base: Batch,
    levers: tuple[Lever, ...],
    factors: tuple[float, ...],
    runs: tuple[Batch, ...],
) -> pd.DataFrame:
    """P(all targets met) under each lever and factor, as paired differences from the base world.

    ``runs`` holds one batch per (lever, factor), in that order, over the first
    ``runs[0].count`` replications of ``base``.
    """
    count = runs[0].count if runs else 0
    flags = all_met(layout, base)[:count].astype(float)
    ones = np.ones(count)
    rows = []
    for k, run in enumerate(runs):
        lever, factor = levers[k // len(factors)], factors[k % len(factors)]
        row = _row(lever.name, "lever", (flags, ones), (all_met(layout, run).astype(float), ones))
        rows.append(
            {
                "lever": lever.name,
                "label": lever.label,
                "factor": factor,
                "base": row["a"],
                "p_met": row["b"],
                "diff": row["diff"],
                "diff_lo": row["diff_lo"],
                "diff_hi": row["diff_hi"],
                "replications": count,
            }
        )
    frame = pd.DataFrame(rows)
    if not frame.empty:
        swing = frame.groupby("lever", sort=False)["diff"].agg(lambda d: float(d.max() - d.min()))
        frame["swing"] = frame["lever"].map(swing)
    return frame
