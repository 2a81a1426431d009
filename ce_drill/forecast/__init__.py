"""SLA forecasts from Python or a notebook: ``forecast(...)`` runs one and returns its figures.

    >>> from ce_drill.forecast import forecast
    >>> result = forecast(period="2027Q1", replications=200, workers=1)
    >>> result.services        # P(target met) per service and calendar month, with CIs
    >>> result.severities      # P(RTO/RPO/response/cadence met) per severity

The Monte Carlo itself lives in :mod:`sim.forecast` (pure); this module
chooses where the replications run — here, on a local process pool, or on a
Dask cluster — and times the run.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from ce_drill.forecast.backends import BackendError, DaskRunner, ProcessRunner
from sim.forecast import (
    LEVERS,
    Forecast,
    Period,
    Progress,
    Runner,
    SerialRunner,
    days_from,
    parse_period,
    quarter_of,
    run_forecast,
)
from sim.forecast.levers import Lever
from sim.playbook import Playbook
from sim.world import World

__all__ = ["BackendError", "Forecast", "forecast", "open_runner", "resolve_period"]


def forecast(
    playbook: Playbook | str | Path | None = None,
    world: World | str | Path | None = None,
    period: Period | str | None = None,
    *,
    days: float | None = None,
    replications: int | None = None,
    precision: float | None = None,
    max_replications: int | None = None,
    seed: int = 0,
    workers: int | None = None,
    scheduler: str | None = None,
    compare: World | str | Path | None = None,
    tornado_replications: int = 0,
    levers: tuple[Lever, ...] = LEVERS,
    progress: Progress | None = None,
) -> Forecast:
    """Forecast ``period`` (default: the quarter of the world's calendar start) by Monte Carlo.

    ``workers=1`` runs in this process; more (default: every core) use a
    process pool; ``scheduler="tcp://host:port"`` uses a Dask cluster.  The
    numbers are the same whichever runs them.
    """
    pb = _playbook(playbook)
    w = _world(world)
    other = None if compare is None else _world(compare)
    span = resolve_period(w, period, days)
    extra = {} if max_replications is None else {"max_replications": max_replications}
    started = time.perf_counter()
    with open_runner(workers, scheduler) as runner:
        result = run_forecast(
            pb,
            w,
            span,
            replications=replications,
            precision=precision,
            seed=seed,
            runner=runner,
            compare=other,
            tornado_replications=tornado_replications,
            levers=levers,
            progress=progress,
            **extra,
        )
    wall = time.perf_counter() - started
    return replace(result, execution=replace(result.execution, wall_s=wall))


def resolve_period(world: World, period: Period | str | None, days: float | None) -> Period:
    """A period from its name, or ``days`` from the world's calendar start, or the world's first quarter."""
    if isinstance(period, Period):
        return period
    if period is not None and days is not None:
        from sim.forecast import PeriodError

        raise PeriodError("give either a period or a number of days, not both")
    if period is not None:
        return parse_period(period)
    if days is not None:
        return days_from(world.calendar.start, days)
    return quarter_of(world.calendar.start)


@contextlib.contextmanager
def open_runner(workers: int | None = None, scheduler: str | None = None) -> Iterator[Runner]:
    """The runner for these settings: Dask if a scheduler is given, else processes, else this process."""
    if scheduler is not None:
        with DaskRunner(scheduler) as dask:
            yield dask
        return
    count = workers if workers is not None else (os.cpu_count() or 1)
    if count <= 1:
        yield SerialRunner()
        return
    with ProcessRunner(count) as pool:
        yield pool


def _playbook(value: Playbook | str | Path | None) -> Playbook:
    if isinstance(value, Playbook):
        return value
    return Playbook.default() if value is None else Playbook.load(value)


def _world(value: World | str | Path | None) -> World:
    if isinstance(value, World):
        return value
    return World.default() if value is None else World.load(value)
