"""Monte Carlo forecasts of the manual's promises: many replications of one period, summed up.

:func:`run_forecast` runs a fixed number of replications, or — asked for a
precision ``H`` — keeps adding rounds of replications until the 95 % CI of
every headline probability is at most ``±H`` wide (or a cap is reached, which
the result says).  Optionally it runs a what-if world on the same seeds, and
a sensitivity analysis turning each main assumption of the world down and up.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from sim.forecast.figures import headline_intervals
from sim.forecast.jobs import Batch, Job, Spec, merge
from sim.forecast.layout import Layout
from sim.forecast.levers import HIGH, LEVERS, LOW, Lever
from sim.forecast.period import Period
from sim.forecast.result import Execution, Forecast, Precision
from sim.forecast.runner import Runner, SerialRunner, task_sizes
from sim.forecast.whatif import tornado
from sim.model.engine import check_compatible
from sim.playbook import Playbook
from sim.world import World

DEFAULT_REPLICATIONS = 1000
PILOT_REPLICATIONS = 200
"""The first round of a precision-driven forecast."""
MAX_REPLICATIONS = 50_000
MAX_GROWTH = 4
"""A round at most multiplies the replications by this, so a noisy pilot cannot overshoot far."""

Progress = Callable[[int, int], None]
"""Called with (simulated runs done, runs planned so far) as tasks finish."""


class ForecastError(ValueError):
    """Forecast settings that cannot work (no replications, a precision outside (0, 0.5))."""


def run_forecast(
    playbook: Playbook,
    world: World,
    period: Period,
    *,
    replications: int | None = None,
    precision: float | None = None,
    max_replications: int = MAX_REPLICATIONS,
    seed: int = 0,
    runner: Runner | None = None,
    compare: World | None = None,
    tornado_replications: int = 0,
    levers: tuple[Lever, ...] = LEVERS,
    progress: Progress | None = None,
) -> Forecast:
    """Forecast ``period`` in ``world`` against ``playbook``'s targets."""
    _check(replications, precision, max_replications, seed, tornado_replications)
    for w in (world, compare):
        if w is not None:
            check_compatible(playbook, w)
    runner = runner or SerialRunner()
    worlds = (world,) if compare is None else (world, compare)
    layout = Layout.of(playbook, period)
    spec = Spec.make(playbook, worlds, detail=True, days=period.days, start=period.start, seed=seed)
    state = _State(runner, progress)
    results: list[list[Batch]] = [[] for _ in worlds]
    done = 0
    report: Precision | None = None
    if precision is None:
        state.run(spec, 0, replications or DEFAULT_REPLICATIONS, results)
        done = replications or DEFAULT_REPLICATIONS
    else:
        rounds: list[int] = []
        target = min(PILOT_REPLICATIONS, max_replications)
        while True:
            state.run(spec, done, target - done, results)
            done = target
            rounds.append(done)
            figure, half = max(headline_intervals(layout, merge(results[0])), key=lambda fh: fh[1])
            if half <= precision or done >= max_replications:
                report = Precision(
                    precision, half <= precision, figure, half, max_replications, tuple(rounds)
                )
                break
            needed = math.ceil(1.1 * done * (half / precision) ** 2)
            target = min(max_replications, max(done + 1, min(MAX_GROWTH * done, needed)))
    base = merge(results[0])
    swing = None
    if tornado_replications and levers:
        count = min(tornado_replications, done)
        factors = (LOW, HIGH)
        variants = tuple(lever.apply(world, f) for lever in levers for f in factors)
        lever_spec = Spec.make(
            playbook, variants, detail=False, days=period.days, start=period.start, seed=seed
        )
        runs: list[list[Batch]] = [[] for _ in variants]
        state.run(lever_spec, 0, count, runs)
        swing = tornado(layout, base, levers, factors, tuple(merge(r) for r in runs))
    execution = Execution(runner.name, runner.workers, state.tasks, state.events)
    return Forecast(
        playbook=playbook,
        world=world,
        period=period,
        seed=seed,
        layout=layout,
        base=base,
        execution=execution,
        other_world=compare,
        other=merge(results[1]) if compare is not None else None,
        precision=report,
        tornado=swing,
    )


class _State:
    """Tasks and simulated runs so far, for progress and the methods appendix."""

    def __init__(self, runner: Runner, progress: Progress | None) -> None:
        self.runner, self.progress = runner, progress
        self.tasks = self.events = self.runs_done = self.runs_planned = 0

    def run(self, spec: Spec, first: int, count: int, into: list[list[Batch]]) -> None:
        worlds = len(spec.worlds_json)
        jobs, start = [], first
        for size in task_sizes(count, self.runner.workers, spec.days, worlds):
            jobs.append(Job(spec, start, size))
            start += size
        self.runs_planned += count * worlds
        for job, batches in self.runner.map(jobs):
            for sink, batch in zip(into, batches, strict=True):
                sink.append(batch)
                self.events += batch.events
            self.tasks += 1
            self.runs_done += job.count * worlds
            if self.progress is not None:
                self.progress(self.runs_done, self.runs_planned)


def _check(
    replications: int | None,
    precision: float | None,
    max_replications: int,
    seed: int,
    tornado_replications: int,
) -> None:
    if replications is not None and precision is not None:
        raise ForecastError("give either a number of replications or a precision, not both")
    if replications is not None and replications < 1:
        raise ForecastError(f"replications: need at least 1 (got {replications})")
    if precision is not None and not 0.0 < precision < 0.5:
        raise ForecastError(f"precision: a CI half-width between 0 and 0.5, exclusive (got {precision:g})")
    if max_replications < 1:
        raise ForecastError(f"max replications: need at least 1 (got {max_replications})")
    if seed < 0:
        raise ForecastError(f"seed: must not be negative (got {seed})")
    if tornado_replications < 0:
        raise ForecastError(f"tornado replications: must not be negative (got {tornado_replications})")
