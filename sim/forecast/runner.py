"""How replications are cut into tasks and handed to whatever runs them.

A *runner* takes tasks (:class:`~sim.forecast.jobs.Job`) and yields their
results as they finish, in any order.  The serial runner here runs them in
this process; ``ce_drill.forecast`` adds a process pool and a Dask cluster.
Because replication ``i`` always runs on seed child ``i`` and results are put
back in replication order, the numbers do not depend on the runner, the
number of workers or the way replications were cut into tasks.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Protocol

from sim.forecast.jobs import Batch, Job, run_job

TASK_SIM_DAYS = 25_000
"""Simulated days per task at most: ~0.5 s of the default world, far above any backend's per-task cost."""
TASKS_PER_WORKER = 4
"""Tasks per worker and round, so that a slow task does not leave the others idle."""

Done = tuple[Job, tuple[Batch, ...]]


class Runner(Protocol):
    """Runs forecast tasks; ``workers`` says how many at once."""

    @property
    def name(self) -> str: ...

    @property
    def workers(self) -> int: ...

    def map(self, jobs: Sequence[Job]) -> Iterator[Done]: ...


class SerialRunner:
    """Every task in this process, one after another."""

    name = "serial"
    workers = 1

    def map(self, jobs: Sequence[Job]) -> Iterator[Done]:
        for job in jobs:
            yield job, run_job(job)


def task_sizes(count: int, workers: int, days: float, worlds: int) -> list[int]:
    """Cut ``count`` replications into tasks: enough per worker to balance, none too long."""
    if count <= 0:
        return []
    longest = max(1, int(TASK_SIM_DAYS / (days * worlds)))
    size = max(1, min(longest, math.ceil(count / (TASKS_PER_WORKER * max(1, workers)))))
    full, rest = divmod(count, size)
    return [size] * full + ([rest] if rest else [])
