"""Probes of a cluster drill: what the cluster's Prometheus, the API server and the database say now.

chaosk8s supplies the Deployment and pod probes it has (``experiments/k8s/``
call them directly); these are the ones it has not: the manual's rollback
verification checklist evaluated in the cluster's Prometheus, every scrape
target of the service up, the drill's stop condition, the manual's lock-wait
query on the staging database, the OOM kills in the pods' container status
and the kubelet's restart events of the namespace.  (chaosk8s's
``get_events`` lists events of *all* namespaces, which the drill's
namespaced Role does not allow.)
"""

from __future__ import annotations

import os
from typing import Any

from kubernetes import client

from ce_drill.chaos.probes import runbook_lock_waits
from ce_drill.k8s.charter import Charter, current
from ce_drill.k8s.redact import ENV_DSN
from ce_drill.prom import Prometheus
from ce_drill.rules import contract
from sim.compare import holds
from sim.playbook import Playbook

Configuration = dict[str, Any] | None
OOM_KILLED = "OOMKilled"


def prometheus(charter: Charter) -> Prometheus:
    return Prometheus.from_env(charter.prometheus_url, charter.prometheus_ca_file)


def checklist_met(charter: Charter, area: str = "performance") -> bool:
    """Every metric item of the manual's rollback verification checklist in ``area`` holds now."""
    checks = [c for c in charter.plan().verification if c.area == area]
    prom = prometheus(charter)
    return bool(checks) and all(holds(c.op, prom.value(c.metric), c.threshold) for c in checks)


def all_targets_up(charter: Charter) -> bool:
    """Every scrape target of the service (each pod) answered its last scrape."""
    series = prometheus(charter).query(f'{contract.UP.name}{{job="{contract.JOB}"}}')
    return bool(series) and all(value == 1 for _, value in series)


def deployment_ready(charter: Charter) -> bool:
    """Every replica of the Deployment available (what chaosk8s's deployment probe checks)."""
    with charter.target.api() as api:
        d = client.AppsV1Api(api).read_namespaced_deployment(charter.deployment, charter.namespace)
    wanted = d.spec.replicas if d.spec.replicas is not None else 1
    return (d.status.available_replicas or 0) == wanted and (d.status.unavailable_replicas or 0) == 0


def service_steady(charter: Charter) -> bool:
    """The steady state of every cluster drill: Deployment available, every pod scraped, checklist met."""
    return deployment_ready(charter) and all_targets_up(charter) and checklist_met(charter)


def verification_holds(area: str = "performance", configuration: Configuration = None) -> bool:
    """The manual's rollback verification checklist (回滚验证清单), metric items, in the cluster's Prometheus."""
    return checklist_met(current(configuration), area)


def targets_up(configuration: Configuration = None) -> bool:
    """Every pod of the service scraped and up."""
    return all_targets_up(current(configuration))


def error_rate_within(limit: float | str, configuration: Configuration = None) -> bool:
    """The drill's stop condition: False once the error rate passes ``limit`` (its planned blast radius)."""
    value = prometheus(current(configuration)).value(contract.ERROR_RATE.name)
    return value is None or value <= float(limit)


def lock_holders(configuration: Configuration = None) -> list[dict[str, Any]]:
    """Blocked and blocking backends on the staging database, by the manual's own lock-wait query."""
    charter = current(configuration)
    pb = Playbook.load(charter.plan().playbook_path)
    return runbook_lock_waits(os.environ[ENV_DSN], pb)


def oom_kills(configuration: Configuration = None) -> list[dict[str, Any]]:
    """Containers of the Deployment's pods whose last termination was the OOM killer, with restart counts."""
    charter = current(configuration)
    with charter.target.api() as api:
        pods = (
            client.CoreV1Api(api)
            .list_namespaced_pod(charter.namespace, label_selector=charter.selector)
            .items
        )
    out = []
    for pod in pods:
        for status in pod.status.container_statuses or []:
            terminated = status.last_state.terminated if status.last_state is not None else None
            if terminated is not None and terminated.reason == OOM_KILLED:
                out.append(
                    {
                        "pod": pod.metadata.name,
                        "container": status.name,
                        "reason": terminated.reason,
                        "exit_code": terminated.exit_code,
                        "restart_count": status.restart_count,
                    }
                )
    return out


def restart_events(reason: str = "BackOff", configuration: Configuration = None) -> list[dict[str, Any]]:
    """The namespace's events of ``reason`` about the Deployment's pods (the kubelet's restarts)."""
    charter = current(configuration)
    with charter.target.api() as api:
        core = client.CoreV1Api(api)
        pods = {
            p.metadata.name
            for p in core.list_namespaced_pod(charter.namespace, label_selector=charter.selector).items
        }
        events = core.list_namespaced_event(charter.namespace, field_selector=f"reason={reason}").items
    return [
        {
            "pod": e.involved_object.name,
            "reason": e.reason,
            "message": e.message,
            "count": e.count,
            "component": e.source.component if e.source is not None else None,
        }
        for e in events
        if e.involved_object is not None
        and e.involved_object.kind == "Pod"
        and e.involved_object.name in pods
    ]
