"""The metrics contract: what the service must export so the manual's alerts can work.

The manual alerts on derived metrics (``claude_enhancer:error_rate``,
``node:memory_utilization``…) without saying where they come from.  This
module fixes the raw metrics a Claude Enhancer deployment — or the local
stand-in that plays it in drills — exports, and the derived (recorded) metrics
Prometheus computes from them.  It is plain data so that the exporter, the rule
generator and the drill probes all import the same names; docs/metrics-contract.md
explains it for people.

Every raw metric is scraped under the job :data:`JOB`; Prometheus adds the
``job`` and ``instance`` labels itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from prometheus_client.metrics import Histogram

from sim.playbook import Playbook

JOB = "claude-enhancer"
"""Scrape job of the service, as the manual writes it: ``up{job="claude-enhancer"}``."""

TARGET_LABELS = ("job", "instance")
"""Labels Prometheus attaches to every scraped series."""

MetricKind = Literal["counter", "gauge", "histogram"]
Subsystem = Literal["http", "agents", "availability", "node", "database", "backup"]


@dataclass(frozen=True)
class RawMetric:
    """A series the service exports on ``/metrics`` (``up`` is Prometheus's own)."""

    name: str
    kind: MetricKind
    unit: str
    subsystem: Subsystem
    help: str
    labels: tuple[str, ...] = ()
    """Labels the exporter sets itself, beyond ``job`` and ``instance``."""
    exported_by_service: bool = True


@dataclass(frozen=True)
class RecordedMetric:
    """A metric the manual alerts on, computed by a recording rule."""

    name: str
    unit: Literal["ratio", "seconds", "count", "bool"]
    labels: tuple[str, ...]
    """Labels the recorded series keeps; the rest are aggregated away."""
    subsystem: Subsystem
    """What part of the system it describes; alerts on one subsystem share a runbook."""
    help: str


# --- raw metrics -------------------------------------------------------------

HTTP_REQUESTS = RawMetric(
    "ce_http_requests_total",
    "counter",
    "requests",
    "http",
    "HTTP requests answered, by status code (every route, health checks excluded).",
    labels=("code",),
)
HTTP_REQUEST_DURATION = RawMetric(
    "ce_http_request_duration_seconds",
    "histogram",
    "seconds",
    "http",
    "Time to answer an HTTP request; buckets from latency_buckets().",
)
AGENT_COORDINATION_FAILURES = RawMetric(
    "ce_agent_coordination_failures_total",
    "counter",
    "failures",
    "agents",
    "Agent coordination attempts that failed (timeout, lost agent, rejected plan).",
)
AGENT_COORDINATION_DEGRADED = RawMetric(
    "ce_agent_coordination_degraded",
    "gauge",
    "bool",
    "agents",
    "1 while the coordinator runs degraded (fewer healthy agents than it needs), else 0.",
)
DATABASE_UP = RawMetric(
    "ce_database_up",
    "gauge",
    "bool",
    "database",
    "1 when the service's last database probe (SELECT 1) succeeded, else 0.",
)
BACKUP_LAST_SUCCESS = RawMetric(
    "ce_backup_last_success_timestamp_seconds",
    "gauge",
    "seconds since epoch",
    "backup",
    "When the last backup run succeeded; 0 if none has.",
)
BACKUP_LAST_FAILURE = RawMetric(
    "ce_backup_last_failure_timestamp_seconds",
    "gauge",
    "seconds since epoch",
    "backup",
    "When the last backup run failed; 0 if none has.",
)
CPU_SECONDS = RawMetric(
    "ce_cpu_seconds_total",
    "counter",
    "seconds",
    "node",
    "CPU time used on the node (or in the pod's cgroup) the service runs on.",
)
CPU_LIMIT = RawMetric(
    "ce_cpu_limit_cores",
    "gauge",
    "cores",
    "node",
    "CPU cores available there: the node's cores or the pod's CPU limit.",
)
MEMORY_USED = RawMetric(
    "ce_process_memory_bytes",
    "gauge",
    "bytes",
    "node",
    "Memory in use there (the service's resident set, or the cgroup's usage).",
)
MEMORY_LIMIT = RawMetric(
    "ce_memory_limit_bytes",
    "gauge",
    "bytes",
    "node",
    "Memory available there: the pod's memory limit, above which it is OOM-killed.",
)
DISK_USED = RawMetric(
    "ce_disk_used_bytes",
    "gauge",
    "bytes",
    "node",
    "Bytes used on the filesystem holding the service's data.",
)
DISK_SIZE = RawMetric(
    "ce_disk_size_bytes",
    "gauge",
    "bytes",
    "node",
    "Size of that filesystem.",
)
UP = RawMetric(
    "up",
    "gauge",
    "bool",
    "availability",
    "1 when Prometheus's last scrape of the target succeeded (written by Prometheus).",
    exported_by_service=False,
)

RAW_METRICS: tuple[RawMetric, ...] = (
    HTTP_REQUESTS,
    HTTP_REQUEST_DURATION,
    AGENT_COORDINATION_FAILURES,
    AGENT_COORDINATION_DEGRADED,
    DATABASE_UP,
    BACKUP_LAST_SUCCESS,
    BACKUP_LAST_FAILURE,
    CPU_SECONDS,
    CPU_LIMIT,
    MEMORY_USED,
    MEMORY_LIMIT,
    DISK_USED,
    DISK_SIZE,
    UP,
)

SERVER_ERROR_CODES = "5.."
"""Status codes that count as errors: the service failed, not the caller (4xx)."""

LATENCY_QUANTILE = 0.95
"""What "p95" in ``claude_enhancer:p95_response_time`` means."""

# --- recorded metrics --------------------------------------------------------

_SERVICE = ("job",)
_NODE = ("job", "instance")

ERROR_RATE = RecordedMetric(
    "claude_enhancer:error_rate", "ratio", _SERVICE, "http", "Share of requests answered with a 5xx."
)
P95_RESPONSE_TIME = RecordedMetric(
    "claude_enhancer:p95_response_time",
    "seconds",
    _SERVICE,
    "http",
    "95th percentile of request duration, from the histogram.",
)
AGENT_FAILURES_IN_WINDOW = RecordedMetric(
    "claude_enhancer:agent_coordination_failures",
    "count",
    _SERVICE,
    "agents",
    "Agent coordination failures within the range window.",
)
AVAILABILITY = RecordedMetric(
    "claude_enhancer:availability",
    "ratio",
    _SERVICE,
    "availability",
    "Share of the range window the service answered its scrapes (mean of up).",
)
CPU_UTILIZATION = RecordedMetric(
    "node:cpu_utilization", "ratio", _NODE, "node", "CPU time used per available core."
)
MEMORY_UTILIZATION = RecordedMetric(
    "node:memory_utilization", "ratio", _NODE, "node", "Memory in use over the memory limit."
)
DISK_UTILIZATION = RecordedMetric(
    "node:disk_utilization", "ratio", _NODE, "node", "Disk bytes used over filesystem size."
)
DATABASE_CONNECTIVITY_FAILED = RecordedMetric(
    "claude_enhancer:database_connectivity_failed",
    "bool",
    _SERVICE,
    "database",
    "1 while any instance cannot reach the database.",
)
AGENT_COORDINATION_DEGRADED_FLAG = RecordedMetric(
    "claude_enhancer:agent_coordination_degraded",
    "bool",
    _SERVICE,
    "agents",
    "1 while any instance's coordinator runs degraded.",
)
BACKUP_JOB_FAILED = RecordedMetric(
    "claude_enhancer:backup_job_failed",
    "bool",
    _SERVICE,
    "backup",
    "1 while the latest backup run failed (no success since the last failure).",
)

RECORDED_METRICS: tuple[RecordedMetric, ...] = (
    ERROR_RATE,
    P95_RESPONSE_TIME,
    AGENT_FAILURES_IN_WINDOW,
    AVAILABILITY,
    CPU_UTILIZATION,
    MEMORY_UTILIZATION,
    DISK_UTILIZATION,
    DATABASE_CONNECTIVITY_FAILED,
    AGENT_COORDINATION_DEGRADED_FLAG,
    BACKUP_JOB_FAILED,
)
"""Recorded metrics with a fixed definition.  Aggregates the priority matrix defines
through ``covers`` (``node:resource_utilization``) are added from the playbook."""


def raw_metric(name: str) -> RawMetric | None:
    for metric in RAW_METRICS:
        if metric.name == name:
            return metric
    return None


def recorded_metric(name: str) -> RecordedMetric | None:
    for metric in RECORDED_METRICS:
        if metric.name == name:
            return metric
    return None


def latency_thresholds(pb: Playbook) -> Iterator[float]:
    """Every response-time threshold the playbook names, in seconds."""
    for rule in pb.detection_rules:
        if rule.unit == "seconds":
            yield rule.threshold
    for level in pb.alert_priority_matrix:
        for cond in level.conditions:
            if cond.unit == "seconds" and cond.threshold is not None:
                yield cond.threshold
    for trigger in pb.auto_rollback.triggers:
        if trigger.unit == "seconds":
            yield trigger.threshold
    for check in pb.rollback_verification:
        if check.unit == "seconds" and check.threshold is not None:
            yield check.threshold
    yield pb.targets.performance.api_response_time_p95_s


def latency_buckets(pb: Playbook) -> tuple[float, ...]:
    """Histogram bucket bounds for request duration (without +Inf).

    The client library's defaults plus every latency threshold of the playbook:
    histogram_quantile interpolates inside a bucket, so a threshold that is a
    bucket bound makes "p95 above 2 s" exact rather than an interpolation.
    """
    base = (b for b in Histogram.DEFAULT_BUCKETS if b != float("inf"))
    return tuple(sorted(set(base) | set(latency_thresholds(pb))))
