"""Turn a chart function into PNG bytes, headless (the Agg canvas; pyplot is never imported)."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import Any

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

DPI = 110


def png(draw: Callable[[Sequence[Axes]], Any], *, width: float, height: float, columns: int = 1) -> bytes:
    """Draw on a fresh figure of ``columns`` side-by-side axes and return it as PNG."""
    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, columns, squeeze=False)[0]
    draw(list(axes))
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", facecolor="white")
    return buffer.getvalue()
