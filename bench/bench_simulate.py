"""Benchmark: one simulated year of the default world, against bare SimPy in the same run.

The goal is a cost per event of no more than twice that of bare SimPy.  Per
event means the time of the whole ``simulate`` call (set-up and results
included) divided by the events SimPy scheduled.  The baseline is the floor
any SimPy model stands on: one process doing nothing but ``yield
env.timeout(d)``, scheduling exactly as many events as the model run it is
paired with, its delays drawn before the clock starts.

An M/M/3 queue was the baseline before; it is still printed, for comparison
with earlier figures, but it is no floor: a numpy scalar draw per event and
the Resource machinery make it cost about three times a bare event.

Beside them it times the floor of a stochastic stage: the bare loop plus
the least work a stage that samples its duration does per event (a uniform
from a block, the world's diagnose quantile, a trace entry).  How far the
model sits above that floor is what its own bookkeeping costs.

These machines are noisy, so each model run is timed beside its baselines,
several rounds over the same seeds, and the figures are the best time per
seed (the median of the paired ratios is printed beside it).  Run:
``.venv/bin/python -m bench.bench_simulate``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Generator
from typing import Any

import numpy as np
import simpy

from sim import Playbook, World, simulate

GOAL = 2.0
MMC_JOBS = 20_000


def bare_simpy(events: int, seed: int) -> float:
    """Seconds for a bare ``yield env.timeout(d)`` loop scheduling exactly ``events`` events."""
    # The process's start and its end are events too; the rest are the timeouts.
    delays = np.random.default_rng(seed).exponential(1.0, events - 2).tolist()
    start = time.perf_counter()
    env = simpy.Environment()

    def loop() -> Generator[Any, Any, None]:
        for delay in delays:
            yield env.timeout(delay)

    env.process(loop())
    env.run()
    elapsed = time.perf_counter() - start
    assert next(env._eid) == events
    return elapsed


def stage_floor(events: int, seed: int, quantile: Callable[[float], float]) -> float:
    """Seconds for the bare loop doing the least a model's stochastic stage does per event.

    One uniform from a block, the world's stage quantile on it, one trace
    entry, then the timeout: what any model that samples a duration and keeps
    a trace pays per event on top of SimPy.
    """
    uniforms = np.random.default_rng(seed).random(events - 2).tolist()
    start = time.perf_counter()
    env = simpy.Environment()
    trace: list[tuple[float, str]] = []

    def loop() -> Generator[Any, Any, None]:
        while uniforms:
            delay = quantile(uniforms.pop())
            trace.append((env.now, "stage"))
            yield env.timeout(delay)

    env.process(loop())
    env.run()
    return time.perf_counter() - start


def mm3(jobs: int, seed: int, lam: float = 2.4, mu: float = 1.0) -> tuple[int, float]:
    """The former baseline, an M/M/3 queue at rho = 0.8: (events, seconds)."""
    rng = np.random.default_rng(seed)
    env = simpy.Environment()
    servers = simpy.Resource(env, capacity=3)

    def job() -> Generator[Any, Any, None]:
        with servers.request() as req:
            yield req
            yield env.timeout(float(rng.exponential(1 / mu)))

    def source() -> Generator[Any, Any, None]:
        for _ in range(jobs):
            yield env.timeout(float(rng.exponential(1 / lam)))
            env.process(job())

    env.process(source())
    start = time.perf_counter()
    env.run()
    return next(env._eid), time.perf_counter() - start


def model_year(playbook: Playbook, world: World, seed: int) -> tuple[int, float, int]:
    """(events, seconds, incidents) of one simulated year."""
    start = time.perf_counter()
    result = simulate(playbook, world, days=365, seed=seed)
    return result.events, time.perf_counter() - start, len(result.records)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5, help="timings per seed, each beside its baselines")
    args = parser.parse_args()
    playbook, world = Playbook.default(), World.default()  # parsed once, outside the timings
    seeds = range(args.seeds)
    model_s: dict[int, list[float]] = {seed: [] for seed in seeds}
    bare_s: dict[int, list[float]] = {seed: [] for seed in seeds}
    mm3_us: dict[int, list[float]] = {seed: [] for seed in seeds}
    floor_s: dict[int, list[float]] = {seed: [] for seed in seeds}
    stage = world.stages.diagnose.quantile_function()
    events, incidents = {}, {}
    for _ in range(args.rounds):
        for seed in seeds:
            events[seed], seconds, incidents[seed] = model_year(playbook, world, seed)
            model_s[seed].append(seconds)
            bare_s[seed].append(bare_simpy(events[seed], seed))
            floor_s[seed].append(stage_floor(events[seed], seed, stage))
            mm3_events, mm3_seconds = mm3(MMC_JOBS, seed)
            mm3_us[seed].append(1e6 * mm3_seconds / mm3_events)
    # A seed's fastest round is its cost with the least interference from the rest of the machine.
    total = sum(events.values())
    model = 1e6 * sum(min(t) for t in model_s.values()) / total
    bare = 1e6 * sum(min(t) for t in bare_s.values()) / total
    floor = 1e6 * sum(min(t) for t in floor_s.values()) / total
    former = statistics.median(min(t) for t in mm3_us.values())
    paired = statistics.median(
        m / b for seed in seeds for m, b in zip(model_s[seed], bare_s[seed], strict=True)
    )
    print(
        f"model: one year of the default world, {args.seeds} seeds x {args.rounds} rounds; median "
        f"{statistics.median(incidents.values()):.0f} incidents, {statistics.median(events.values()):,.0f} events"
    )
    year_ms = 1e3 * statistics.mean(min(t) for t in model_s.values())
    print(f"  {model:.2f} µs per event; {year_ms:.2f} ms per simulated year (what a forecast pays per run)")
    print(f"bare SimPy, yield env.timeout() with the same events, same run: {bare:.2f} µs per event")
    print(
        f"cost per event, model / bare SimPy: {model / bare:.2f}x best of rounds, {paired:.2f}x median of pairs"
        f"  (goal <= {GOAL:g}x: {'met' if model / bare <= GOAL else 'MISSED'})"
    )
    print(
        f"floor of a stochastic stage (bare SimPy + a uniform, a lognormal quantile, a trace entry), same run: "
        f"{floor:.2f} µs per event, {floor / bare:.2f}x bare SimPy"
    )
    print(
        f"former baseline, M/M/3 with numpy scalar draws, same run: {former:.2f} µs per event; "
        f"model / M/M/3: {model / former:.2f}x"
    )


if __name__ == "__main__":
    main()
