"""The stand-in's ``/metrics``: exactly the raw metrics of the contract, nothing else.

The rule generator's recording rules read these names, so they are imported
from :mod:`ce_drill.rules.contract` rather than spelled here.  A private
registry keeps the client library's own process and platform series out, and
``_created`` series are switched off, so the exposition holds the contract
and only the contract.
"""

from __future__ import annotations

import os
import resource
import shutil
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ce_drill.rules import contract as c

# The `_created` series are not part of the contract.
disable_created_metrics()  # type: ignore[no-untyped-call]


class _Node(Collector):
    """CPU, memory and disk of the pod, read fresh at every scrape."""

    def __init__(self, memory: Callable[[], tuple[int, int]], data_dir: Path) -> None:
        self._memory = memory
        self._data_dir = data_dir

    def collect(self) -> Iterator[Metric]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu = CounterMetricFamily(c.CPU_SECONDS.name, c.CPU_SECONDS.help)
        cpu.add_metric([], usage.ru_utime + usage.ru_stime)
        yield cpu
        cores = len(os.sched_getaffinity(0))
        yield GaugeMetricFamily(c.CPU_LIMIT.name, c.CPU_LIMIT.help, value=cores)
        used, limit = self._memory()
        yield GaugeMetricFamily(c.MEMORY_USED.name, c.MEMORY_USED.help, value=used)
        yield GaugeMetricFamily(c.MEMORY_LIMIT.name, c.MEMORY_LIMIT.help, value=limit)
        disk = shutil.disk_usage(self._data_dir)
        yield GaugeMetricFamily(c.DISK_USED.name, c.DISK_USED.help, value=disk.used)
        yield GaugeMetricFamily(c.DISK_SIZE.name, c.DISK_SIZE.help, value=disk.total)


class Metrics:
    """The series the service updates as it works."""

    def __init__(
        self, buckets: Sequence[float], memory: Callable[[], tuple[int, int]], data_dir: Path
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            c.HTTP_REQUESTS.name, c.HTTP_REQUESTS.help, list(c.HTTP_REQUESTS.labels), registry=r
        )
        self.duration = Histogram(
            c.HTTP_REQUEST_DURATION.name, c.HTTP_REQUEST_DURATION.help, buckets=list(buckets), registry=r
        )
        self.coordination_failures = Counter(
            c.AGENT_COORDINATION_FAILURES.name, c.AGENT_COORDINATION_FAILURES.help, registry=r
        )
        self.degraded = Gauge(
            c.AGENT_COORDINATION_DEGRADED.name, c.AGENT_COORDINATION_DEGRADED.help, registry=r
        )
        self.database_up = Gauge(c.DATABASE_UP.name, c.DATABASE_UP.help, registry=r)
        # The stand-in runs no backups; both stay 0 ("none has"), which the
        # contract reads as "not failed".
        Gauge(c.BACKUP_LAST_SUCCESS.name, c.BACKUP_LAST_SUCCESS.help, registry=r)
        Gauge(c.BACKUP_LAST_FAILURE.name, c.BACKUP_LAST_FAILURE.help, registry=r)
        r.register(_Node(memory, data_dir))

    def observe(self, code: int, seconds: float) -> None:
        self.requests.labels(code=str(code)).inc()
        self.duration.observe(seconds)


def exported_names() -> set[str]:
    """Names the contract says the service exports (``up`` is Prometheus's own)."""
    return {m.name for m in c.RAW_METRICS if m.exported_by_service}
