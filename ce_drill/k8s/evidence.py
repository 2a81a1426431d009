"""What a cluster drill left behind, gathered once into the same :class:`Evidence` the local judge reads.

* the drill's timeline (``timeline.jsonl``: what the activities did and saw);
* alert notifications, synthesised from the cluster Prometheus's own history:
  every stretch of ``ALERTS{alertstate="firing"}`` becomes a ``notification``
  event (firing, then resolved) whose ``starts_at`` is the evaluation at which
  Prometheus started firing the alert (``timestamp()`` of its first firing
  sample) — no Alertmanager receiver is needed on the cluster;
* ``held``: the evaluation instants at which each expected alert's condition
  held (``query_range`` of its expression);
* the version each pod of the Deployment runs, the OOM trigger annotations
  still on pods, and the drill's lock backends still in the database.

No write audit: a cluster has no load generator whose acknowledged writes could
be checked, so the cluster experiments do not expect that check
(``"audit_writes": false``) and the evidence says why.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from kubernetes import client

from ce_drill.chaos.lockholder import lock_sessions
from ce_drill.drill.evidence import Evidence, Journal, WriteAudit
from ce_drill.k8s.charter import Charter
from ce_drill.k8s.rollout import pod_versions
from ce_drill.plan import DrillPlan
from ce_drill.prom import Prometheus, PrometheusError
from ce_drill.stack.timeline import Event, read

NO_WRITE_AUDIT = "no load generator on a cluster target: acknowledged writes are not audited"
FIRING = 'timestamp(ALERTS{alertstate="firing"})'
GAP_STEPS = 1.5
"""Two firing samples further apart than this many steps belong to two stretches."""


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def notifications(prom: Prometheus, plan: DrillPlan, start: float, end: float, origin: float) -> list[Event]:
    """A firing and a resolved ``notification`` per stretch in which Prometheus fired a manual's alert."""
    step = plan.evaluation_interval_s
    names = {a.name for a in plan.alerts}
    out: list[Event] = []
    for labels, values in prom.query_range(FIRING, start, end, step):
        name = labels.get("alertname", "")
        if name not in names:
            continue  # the cluster's other alerts are not the drill's business
        stretches: list[list[float]] = []
        last_grid: float | None = None
        for grid, sample_ts in values:
            if last_grid is None or grid - last_grid > GAP_STEPS * step:
                stretches.append([])
            stretches[-1].append(sample_ts)
            last_grid = grid
        for stretch in stretches:
            first, last = min(stretch), max(stretch)
            alert = {"alertname": name, "severity": labels.get("severity"), "starts_at": _iso(first)}
            data: dict[str, Any] = {"status": "firing", "alerts": [{**alert, "status": "firing"}]}
            out.append(Event(first, first - origin, "prometheus", "notification", data))
            stopped = last + step
            if stopped < end:
                resolved = {"status": "resolved", "alerts": [{**alert, "status": "resolved"}]}
                out.append(Event(stopped, stopped - origin, "prometheus", "notification", resolved))
    return out


def lock_backends(dsn: str | None) -> tuple[int, ...] | None:
    """The drill's lock backends still in the database; None when it could not be asked."""
    return () if dsn is None else lock_sessions(dsn)


def pod_faults(charter: Charter) -> dict[str, dict[str, Any]]:
    """Pods still carrying the OOM trigger annotation."""
    oom = charter.oom
    if oom is None or oom.annotation is None:
        return {}
    with charter.target.api() as api:
        pods = (
            client.CoreV1Api(api)
            .list_namespaced_pod(charter.namespace, label_selector=charter.selector)
            .items
        )
    return {
        p.metadata.name: {oom.annotation: (p.metadata.annotations or {})[oom.annotation]}
        for p in pods
        if oom.annotation in (p.metadata.annotations or {})
    }


def gather(
    charter: Charter,
    plan: DrillPlan,
    journal: Journal | None,
    prom: Prometheus,
    *,
    dsn: str | None,
    started_ts: float,
    ended_ts: float,
    alerts: tuple[str, ...],
) -> Evidence:
    """Read everything the judge needs from the cluster, once, right after the drill."""
    timeline = read(Path(charter.timeline_path)).since(started_ts)
    origin = timeline.events[0].ts - timeline.events[0].t_s if timeline.events else started_ts
    try:
        synthesised = notifications(prom, plan, started_ts, ended_ts, origin)
    except PrometheusError:
        synthesised = []
    events = tuple(sorted((*timeline.events, *synthesised), key=lambda e: e.ts))
    conditions = {
        rule.expr: prom.held(rule.expr, started_ts, ended_ts, plan.evaluation_interval_s)
        for name in alerts
        if (rule := plan.alert(name)) is not None
    }
    with charter.target.api() as api:
        versions = pod_versions(api, charter.workload)
    return Evidence(
        journal=journal,
        events=events,
        started_ts=started_ts,
        ended_ts=ended_ts,
        held=conditions,
        pod_versions=versions,
        pod_faults=pod_faults(charter),
        lock_sessions=lock_backends(dsn),
        writes=WriteAudit(error=NO_WRITE_AUDIT),
    )
