"""Charts of an SLA forecast.  Each takes a matplotlib ``Axes``, draws, and returns what it drew.

They work on plain arrays and DataFrames from :mod:`sim.forecast`, never
open a window and never touch pyplot's global state, so they run headless
and embed in notebooks alike.  Durations are shown in minutes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.axes import Axes

FloatArray = npt.NDArray[np.float64]

INK = "#1f2933"
MUTED = "#7b8794"
BUDGET = "#d64545"
PALETTE = ("#2f6fde", "#e07a1f", "#3b9c5a", "#8e5cc2", "#c2477a", "#2aa4a8", "#a67c1e", "#5b6b7d")
STAGE_COLOURS = {"detect": "#8fb8f2", "acknowledge": "#f2c48f", "diagnose": "#9fd3a8", "mitigate": "#c9a6e8"}
MINUTE = 60.0


def _style(ax: Axes, title: str) -> None:
    ax.set_title(title, loc="left", fontsize=11, color=INK, fontweight="bold")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(colors=INK, labelsize=9)
    ax.grid(True, axis="both", color="#e4e7eb", linewidth=0.8)
    ax.set_axisbelow(True)


def _ecdf(values: FloatArray) -> tuple[FloatArray, FloatArray]:
    x = np.sort(values)
    y = np.arange(1, x.size + 1, dtype=np.float64) / max(x.size, 1)
    return x, y


def downtime_histogram(ax: Axes, downtime_s: FloatArray, budget_s: float, *, title: str) -> dict[str, Any]:
    """Histogram of one service's monthly downtime (months with any), log scale, budget marked."""
    down = downtime_s[downtime_s > 0] / MINUTE
    share_none = 1.0 - down.size / max(downtime_s.size, 1)
    _style(ax, title)
    budget = budget_s / MINUTE
    drawn: dict[str, Any] = {}
    if down.size:
        low = min(down.min(), budget) / 1.5
        high = max(down.max(), budget) * 1.5
        bins = np.geomspace(max(low, 1e-3), high, 30)
        _, _, patches = ax.hist(down, bins=bins.tolist(), color=PALETTE[0], alpha=0.85, edgecolor="white")
        drawn["bars"] = patches
        ax.set_xscale("log")
    drawn["budget"] = ax.axvline(budget, color=BUDGET, linewidth=2, label=f"error budget {budget:.1f} min")
    ax.set_xlabel(
        f"downtime in the month (minutes, log scale); {share_none:.0%} of months had none", color=INK
    )
    ax.set_ylabel("replicated months", color=INK)
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    return drawn


def budget_ecdf(ax: Axes, used: Mapping[str, FloatArray], *, title: str) -> dict[str, Any]:
    """ECDF of monthly downtime as a share of each month's error budget; right of 1 = target missed."""
    _style(ax, title)
    lines = {}
    ceiling = 1.0
    for k, (label, values) in enumerate(used.items()):
        x, y = _ecdf(values)
        x = np.maximum(x, 1e-3)
        ceiling = max(ceiling, float(x.max()) if x.size else 1.0)
        (lines[label],) = ax.step(
            x, y, where="post", color=PALETTE[k % len(PALETTE)], linewidth=1.8, label=label
        )
    budget = ax.axvline(1.0, color=BUDGET, linewidth=2, label="budget")
    ax.set_xscale("log")
    ax.set_xlim(1e-2, ceiling * 1.5)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("downtime / error budget (log scale; > 1: target missed)", color=INK)
    ax.set_ylabel("share of months at or below", color=INK)
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    return {"lines": lines, "budget": budget}


def restore_ecdf(ax: Axes, restore_s: FloatArray, rto_s: float, *, title: str) -> dict[str, Any]:
    """ECDF of time to restore for one severity, with its RTO."""
    _style(ax, title)
    x, y = _ecdf(restore_s / MINUTE)
    (line,) = ax.step(x, y, where="post", color=PALETTE[0], linewidth=1.8)
    rto = ax.axvline(rto_s / MINUTE, color=BUDGET, linewidth=2, label=f"RTO {rto_s / MINUTE:g} min")
    if x.size and x.min() > 0:
        ax.set_xscale("log")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("time to restore (minutes, log scale)", color=INK)
    ax.set_ylabel("share of incidents", color=INK)
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    return {"line": line, "rto": rto}


def stage_breakdown(
    ax: Axes, stages: pd.DataFrame, *, title: str = "Where the time to restore goes"
) -> dict[str, Any]:
    """Stacked bars of the mean time in each stage per severity (means add up to the mean time to restore)."""
    _style(ax, title)
    frame = stages[stages["incidents"] > 0]
    severities = list(dict.fromkeys(frame["severity"]))
    left = np.zeros(len(severities))
    bars = {}
    for stage, colour in STAGE_COLOURS.items():
        part = frame[frame["stage"] == stage].set_index("severity").reindex(severities)
        widths = part["mean_s"].to_numpy(dtype=np.float64) / MINUTE
        bars[stage] = ax.barh(severities, widths, left=left, color=colour, edgecolor="white", label=stage)
        left = left + np.nan_to_num(widths)
    ax.invert_yaxis()
    ax.grid(False, axis="y")
    ax.set_xlabel("mean minutes from start to service restored", color=INK)
    ax.legend(loc="upper right", fontsize=8, frameon=False, ncols=4)
    return bars


def tornado(
    ax: Axes, frame: pd.DataFrame, *, title: str = "What moves P(all availability targets met)"
) -> dict[str, Any]:
    """Change in P(all targets met) when each assumption is halved or doubled, biggest swing on top."""
    _style(ax, title)
    levers = frame.sort_values("swing", ascending=True, kind="stable").drop_duplicates("lever")
    labels = list(levers["label"])
    drawn: dict[str, Any] = {}
    y = np.arange(len(labels))
    for factor, colour, offset in ((0.5, PALETTE[0], -0.18), (2.0, PALETTE[1], 0.18)):
        rows = frame[frame["factor"] == factor].set_index("lever").reindex(levers["lever"])
        diff = rows["diff"].to_numpy(dtype=np.float64) * 100
        err = np.vstack([diff - rows["diff_lo"].to_numpy() * 100, rows["diff_hi"].to_numpy() * 100 - diff])
        drawn[f"×{factor:g}"] = ax.barh(
            y + offset,
            diff,
            height=0.34,
            color=colour,
            xerr=np.abs(err),
            ecolor=MUTED,
            capsize=2,
            label=f"×{factor:g}",
        )
    ax.axvline(0, color=INK, linewidth=1)
    ax.set_yticks(y, [label.replace("×f", "") for label in labels])
    ax.grid(False, axis="y")
    ax.set_xlabel("change in P(all availability targets met), percentage points (95 % CI, paired)", color=INK)
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    return drawn


def convergence(
    ax: Axes, frame: pd.DataFrame, *, title: str = "Convergence of the estimates"
) -> dict[str, Any]:
    """Running estimate and 95 % CI of key probabilities as replications accumulate."""
    _style(ax, title)
    drawn = {}
    for k, (figure, rows) in enumerate(frame.groupby("figure", sort=False)):
        colour = PALETTE[k % len(PALETTE)]
        x = rows["replications"].to_numpy()
        (drawn[str(figure)],) = ax.plot(
            x, rows["estimate"] * 100, color=colour, linewidth=1.8, label=str(figure)
        )
        ax.fill_between(x, rows["lo"] * 100, rows["hi"] * 100, color=colour, alpha=0.15, linewidth=0)
    ax.set_xscale("log")
    ax.set_ylim(0, 100)
    ax.set_xlabel("replications (log scale)", color=INK)
    ax.set_ylabel("estimate, % (band: 95 % CI)", color=INK)
    if drawn:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    return drawn
