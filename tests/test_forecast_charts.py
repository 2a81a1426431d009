"""Each chart draws on the axes it is given, headless, and returns what it drew."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.container import BarContainer
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ce_drill.report import charts
from ce_drill.report.render import png
from sim.forecast import parse_period, run_forecast
from sim.forecast.result import Forecast
from sim.playbook import Playbook
from sim.world import World


@pytest.fixture(scope="module")
def small(playbook: Playbook) -> Forecast:
    return run_forecast(
        playbook, World.default(), parse_period("2027Q1"), replications=50, tornado_replications=20
    )


def test_downtime_histogram_marks_the_budget() -> None:
    figure = Figure()
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    downtime = np.array([0.0, 0.0, 300.0, 1800.0, 7200.0])
    drawn = charts.downtime_histogram(ax, downtime, 1339.2, title="api_gateway, 2027-01")
    assert isinstance(drawn["budget"], Line2D)
    assert np.asarray(drawn["budget"].get_xdata())[0] == pytest.approx(1339.2 / 60)
    assert sum(p.get_height() for p in drawn["bars"]) == 3  # months with downtime
    assert "40% of months had none" in ax.get_xlabel()


def test_budget_and_restore_ecdfs_end_at_one() -> None:
    figure = Figure()
    FigureCanvasAgg(figure)
    left, right = figure.subplots(1, 2)
    drawn = charts.budget_ecdf(left, {"a": np.array([0.0, 0.5, 2.0]), "b": np.array([0.1, 0.2])}, title="t")
    assert set(drawn["lines"]) == {"a", "b"}
    assert np.asarray(drawn["lines"]["a"].get_ydata())[-1] == pytest.approx(1.0)
    assert np.asarray(drawn["budget"].get_xdata())[0] == 1.0
    restore = charts.restore_ecdf(right, np.array([600.0, 900.0, 3600.0]), 900.0, title="P1")
    assert np.asarray(restore["rto"].get_xdata())[0] == pytest.approx(15.0)
    assert list(np.asarray(restore["line"].get_ydata())) == pytest.approx([1 / 3, 2 / 3, 1.0])


def test_stage_breakdown_stacks_the_four_stages(small: Forecast) -> None:
    figure = Figure()
    FigureCanvasAgg(figure)
    bars = charts.stage_breakdown(figure.add_subplot(), small.stages)
    assert list(bars) == ["detect", "acknowledge", "diagnose", "mitigate"]
    assert all(isinstance(b, BarContainer) for b in bars.values())
    stages = small.stages[small.stages["incidents"] > 0]
    p1 = stages[stages["severity"] == "P1"]["mean_s"].sum() / 60
    p1_bar = bars["mitigate"].patches[0]
    assert p1_bar.get_x() + p1_bar.get_width() == pytest.approx(p1)


def test_tornado_and_convergence(small: Forecast) -> None:
    assert small.tornado is not None
    figure = Figure()
    FigureCanvasAgg(figure)
    left, right = figure.subplots(1, 2)
    drawn = charts.tornado(left, small.tornado)
    assert set(drawn) == {"×0.5", "×2"}
    assert len(drawn["×2"].patches) == small.tornado["lever"].nunique()
    lines = charts.convergence(right, small.convergence)
    assert "all availability targets" in lines
    assert sum(isinstance(c, PolyCollection) for c in right.collections) == len(lines)


def test_png_renders_headless() -> None:
    data = png(
        lambda ax: charts.convergence(
            ax[0], pd.DataFrame(columns=["figure", "replications", "estimate", "lo", "hi"])
        ),
        width=4,
        height=3,
    )
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
