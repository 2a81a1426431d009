"""The charts of an SLA forecast report, drawn from a :class:`~sim.forecast.Forecast`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes

from ce_drill.report import charts
from ce_drill.report.headline import worst_months
from ce_drill.report.render import png
from sim.forecast import Forecast

MAX_SERVICE_CHARTS = 4


@dataclass(frozen=True)
class Chart:
    name: str
    """File-name friendly: the PNG is ``<report>-<name>.png`` beside the Markdown."""
    title: str
    caption: str
    png: bytes


def make_charts(result: Forecast) -> list[Chart]:
    out = [*_downtime(result), _budget(result)]
    restore = _restore(result)
    if restore is not None:
        out.append(restore)
    if not result.stages[result.stages["incidents"] > 0].empty:
        out.append(
            Chart(
                "stages",
                "Where the time to restore goes",
                "Mean time in each stage, from the incident's start to service restored; the stages add up "
                "to the mean time to restore. A stage not begun when service came back counts zero.",
                png(lambda ax: charts.stage_breakdown(ax[0], result.stages), width=9, height=2.8),
            )
        )
    if result.tornado is not None and not result.tornado.empty:
        frame = result.tornado
        out.append(
            Chart(
                "tornado",
                "Sensitivity to the world's assumptions",
                f"Each assumption halved (×0.5) and doubled (×2) on the same {int(frame['replications'].iloc[0])} "
                "seeds as the baseline (common random numbers); bars show the change in P(all availability "
                "targets met), whiskers its paired 95 % CI.",
                png(
                    lambda ax: charts.tornado(ax[0], frame),
                    width=9,
                    height=0.45 * frame["lever"].nunique() + 1.4,
                ),
            )
        )
    out.append(
        Chart(
            "convergence",
            "Convergence",
            "Running estimate of key probabilities as replications accumulate, with the 95 % Wilson CI.",
            png(lambda ax: charts.convergence(ax[0], result.convergence), width=9, height=3.4),
        )
    )
    return out


def _downtime(result: Forecast) -> list[Chart]:
    """Histograms for the services least likely to meet their target, each in its worst month."""
    candidates = [row for row in worst_months(result) if row["p_down"] > 0]
    worst = sorted(candidates, key=lambda r: float(r["p_met"]))[:MAX_SERVICE_CHARTS]
    layout = result.layout
    out = []
    for row in worst:
        s, m = layout.services.index(row["service"]), layout.months.index(row["month"])
        downtime = result.base.downtime_s[:, s, m]
        title = f"{row['service']}, {row['month']}"

        def draw(
            ax: Sequence[Axes],
            downtime: np.ndarray = downtime,
            budget: float = row["budget_s"],
            title: str = title,
        ) -> None:
            charts.downtime_histogram(ax[0], downtime, budget, title=title)
            charts.budget_ecdf(ax[1], {title: downtime / budget}, title="ECDF against the error budget")

        out.append(
            Chart(
                f"downtime-{row['service']}",
                f"Monthly downtime of {row['service']} ({row['month']})",
                f"Downtime of {row['service']} in {row['month']} across replications, against the month's "
                f"error budget ((1 − {100 * row['target']:.10g} %) × month length). Left: months with any "
                "downtime; right: ECDF of downtime as a share of the budget.",
                png(draw, width=10, height=3.2, columns=2),
            )
        )
    return out


def _budget(result: Forecast) -> Chart:
    layout = result.layout
    budget = layout.budget_s
    used = {}
    for s, service in enumerate(layout.services):
        ratios = (result.base.downtime_s[:, s, :] / budget[s]).reshape(-1)
        if np.any(ratios > 0):
            used[service] = ratios
    return Chart(
        "budget",
        "Error budget used, every service",
        "Each service's monthly downtime as a share of that month's error budget, pooled over the months "
        "of the period. Right of the red line, the month misses its availability target. Services never "
        "down are left out.",
        png(
            lambda ax: charts.budget_ecdf(ax[0], used, title="Monthly downtime against the error budget"),
            width=9,
            height=3.6,
        ),
    )


def _restore(result: Forecast) -> Chart | None:
    incidents = result.incidents
    panels = []
    for severity, rto in zip(result.layout.severities, result.layout.rto_s, strict=True):
        times = (
            incidents.loc[incidents["severity"] == severity, "time_to_restore_s"]
            .dropna()
            .to_numpy(dtype=np.float64)
        )
        if times.size:
            panels.append((severity, rto, times))
    if not panels:
        return None

    def draw(ax: Sequence[Axes]) -> None:
        for axis, (severity, rto, times) in zip(ax, panels, strict=True):
            charts.restore_ecdf(axis, times, rto, title=f"{severity}: time to restore")

    return Chart(
        "restore",
        "Time to restore by severity",
        "ECDF of the time from an incident's start to service restored, over incidents pooled across "
        "replications, against the severity's RTO from the playbook.",
        png(draw, width=3.4 * len(panels), height=3.0, columns=len(panels)),
    )
