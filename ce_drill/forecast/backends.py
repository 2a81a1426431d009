"""Where forecast replications run: this process, a pool of local processes, or a Dask cluster.

Each backend is a context manager that yields tasks' results as they finish.
The numbers never depend on the backend: replications carry their own seeds
and are put back in order (:mod:`sim.forecast.runner`).

* processes — ``concurrent.futures.ProcessPoolExecutor``; workers start from a
  *forkserver* that has imported the model once, so starting them is cheap
  and safe even when the caller runs threads;
* Dask — ``distributed.Client`` on a scheduler address (``tcp://host:port``),
  from the optional extra ``ce-drill[dask]``; its workers need ce-drill
  installed too.
"""

from __future__ import annotations

import multiprocessing
import re
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from multiprocessing.context import BaseContext
from types import TracebackType
from typing import Any

from sim.forecast import Batch, Job, run_job
from sim.forecast.runner import Done


class BackendError(Exception):
    """A backend that cannot be used (Dask not installed, scheduler unreachable)."""


class ProcessRunner:
    """Tasks on ``workers`` local processes."""

    name = "processes"

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> ProcessRunner:
        context: BaseContext
        if "forkserver" in multiprocessing.get_all_start_methods():
            forkserver = multiprocessing.get_context("forkserver")
            forkserver.set_forkserver_preload(["sim.forecast.jobs"])
            context = forkserver
        else:
            context = multiprocessing.get_context("spawn")
        self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=context)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def map(self, jobs: Sequence[Job]) -> Iterator[Done]:
        if self._pool is None:
            raise RuntimeError("use ProcessRunner as a context manager")
        futures: dict[Future[tuple[Batch, ...]], Job] = {self._pool.submit(run_job, job): job for job in jobs}
        try:
            for future in as_completed(futures):
                yield futures[future], future.result()
        finally:
            for future in futures:
                future.cancel()


ADDRESS = re.compile(r"(tcp|tls)://(\[[0-9A-Fa-f:.]+\]|[^\s:/\[\]]+):\d{1,5}")


class DaskRunner:
    """Tasks on a Dask distributed cluster, given its scheduler address."""

    name = "dask"

    def __init__(self, address: str, timeout_s: float = 10.0) -> None:
        if not ADDRESS.fullmatch(address):
            raise BackendError(f"expected a scheduler address like tcp://HOST:PORT (got {address})")
        self.address = address
        self.timeout_s = timeout_s
        self.workers = 0
        self._client: Any = None

    def __enter__(self) -> DaskRunner:
        try:
            import distributed
        except ImportError:
            raise BackendError("--scheduler needs Dask: pip install 'ce-drill[dask]'") from None
        try:
            dask: Any = distributed  # untyped: keep its calls out of the type checker's way
            self._client = dask.Client(self.address, timeout=self.timeout_s, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise BackendError(f"cannot reach the Dask scheduler at {self.address}: {exc}") from None
        self.workers = max(1, sum(self._client.nthreads().values()))
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def map(self, jobs: Sequence[Job]) -> Iterator[Done]:
        import distributed

        dask: Any = distributed
        if self._client is None:
            raise RuntimeError("use DaskRunner as a context manager")
        futures = self._client.map(run_job, list(jobs), pure=False)
        by_key = {future.key: job for future, job in zip(futures, jobs, strict=True)}
        try:
            for future in dask.as_completed(futures, loop=self._client.loop):
                yield by_key[future.key], future.result()
        finally:
            for future in futures:
                future.cancel()
