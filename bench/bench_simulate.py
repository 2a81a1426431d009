"""Benchmark: one simulated year of the default world, against bare SimPy in the same run.

The goal is a cost per event of no more than twice that of a bare SimPy M/M/c
queue (a Resource, exponential arrivals and service), measured alongside
because these machines are noisy.  Run: ``.venv/bin/python -m bench.bench_simulate``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Generator
from typing import Any

import numpy as np
import simpy

from sim import Playbook, World, simulate


def bare_mmc(jobs: int, lam: float = 2.4, mu: float = 1.0, c: int = 3, seed: int = 0) -> tuple[int, float]:
    """A bare SimPy M/M/c run; returns (events, seconds)."""
    rng = np.random.default_rng(seed)
    env = simpy.Environment()
    servers = simpy.Resource(env, capacity=c)

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


def model_year(seed: int) -> tuple[int, float, int]:
    playbook, world = Playbook.default(), World.default()
    start = time.perf_counter()
    result = simulate(playbook, world, days=365, seed=seed)
    return result.events, time.perf_counter() - start, len(result.records)


def main(repeats: int = 20) -> None:
    Playbook.default()
    World.default()  # parse once, outside the timings
    model_rates, bare_rates, incidents = [], [], []
    for seed in range(repeats):
        events, seconds, n = model_year(seed)
        model_rates.append(events / seconds)
        incidents.append(n)
        bare_events, bare_seconds = bare_mmc(20_000, seed=seed)
        bare_rates.append(bare_events / bare_seconds)
    model, bare = statistics.median(model_rates), statistics.median(bare_rates)
    print(
        f"model: one year of the default world, {statistics.median(incidents):.0f} incidents (median of {repeats})"
    )
    print(f"  {model:,.0f} events/s  ({1e6 / model:.2f} µs per event)")
    print(f"bare SimPy M/M/3 (rho = 0.8), same run: {bare:,.0f} events/s  ({1e6 / bare:.2f} µs per event)")
    print(f"cost per event, model / bare SimPy: {bare / model:.2f}x  (goal <= 2x)")


if __name__ == "__main__":
    main()
