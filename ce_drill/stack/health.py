"""How each component of a running stack is doing, asked the way an operator would.

A component is healthy when its process is the one we started and it
answers its own health check: PostgreSQL ``SELECT 1``, Prometheus and
Alertmanager ``/-/ready``, our processes their ``/health``, the load
generator a statistics heartbeat of the last few seconds.  Each stand-in pod
is asked directly on its slot's port, which also tells the version it serves
and how its memory limit is enforced.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from ce_drill.stack.config import url
from ce_drill.stack.layout import Layout
from ce_drill.stack.postgres import Cluster
from ce_drill.stack.procs import ProcRef
from ce_drill.stack.state import Component, State
from ce_drill.stack.web import HttpError, get_json, request_json

HEARTBEAT_STALE_S = 5.0
"""A load generator silent for longer than this is considered stuck."""

_HEALTH_PATHS = {
    "prometheus": "/-/ready",
    "alertmanager": "/-/ready",
    "receiver": "/health",
    "router": "/-/health",
    "deployer": "/health",
}


@dataclass(frozen=True)
class ComponentHealth:
    name: str
    healthy: bool
    pid: int | None
    url: str | None
    detail: str
    info: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "healthy": self.healthy,
            "pid": self.pid,
            "url": self.url,
            "detail": self.detail,
            **self.info,
        }


def _alive(proc: ProcRef | None) -> bool:
    return proc is not None and proc.alive()


def _http(name: str, comp: Component) -> ComponentHealth:
    pid = comp.proc.pid if comp.proc else None
    if not _alive(comp.proc):
        return ComponentHealth(name, False, pid, comp.url, "process not running")
    assert comp.url is not None
    try:
        status, payload = request_json(comp.url + _HEALTH_PATHS[name])
    except HttpError as exc:
        return ComponentHealth(name, False, pid, comp.url, f"no answer: {exc}")
    info = payload if name == "deployer" and isinstance(payload, dict) else {}
    if name == "deployer":
        info = {k: info.get(k) for k in ("live_version", "deploying", "phase", "weights")}
    if status != 200:
        return ComponentHealth(name, False, pid, comp.url, f"HTTP {status}", info)
    return ComponentHealth(name, True, pid, comp.url, "ok", info)


def _postgres(state: State, comp: Component) -> ComponentHealth:
    cluster = Cluster.from_json(state.postgres) if state.postgres else None
    proc = cluster.pid() if cluster else None
    pid = proc.pid if proc else (comp.proc.pid if comp.proc else None)
    if cluster is None or not _alive(proc):
        return ComponentHealth("postgres", False, pid, comp.url, "postmaster not running")
    if not cluster.healthy():
        return ComponentHealth("postgres", False, pid, comp.url, "does not answer SELECT 1")
    return ComponentHealth("postgres", True, pid, comp.url, "ok", {"data_dir": str(cluster.data_dir)})


def _loadgen(layout: Layout, comp: Component) -> ComponentHealth:
    pid = comp.proc.pid if comp.proc else None
    if not _alive(comp.proc):
        return ComponentHealth("loadgen", False, pid, None, "process not running")
    try:
        stats = json.loads(layout.load_stats.read_text())
    except (OSError, ValueError):
        return ComponentHealth("loadgen", False, pid, None, "no statistics yet")
    age = time.time() - float(stats.get("ts", 0))
    info = {"sent": stats.get("sent"), "outcomes": stats.get("outcomes"), "in_flight": stats.get("in_flight")}
    if age > HEARTBEAT_STALE_S:
        return ComponentHealth("loadgen", False, pid, None, f"silent for {age:.0f}s", info)
    return ComponentHealth("loadgen", True, pid, None, "ok", info)


def pods(layout: Layout) -> list[ComponentHealth]:
    """One entry per slot, from the pod that answers on the slot's port."""
    try:
        table = json.loads(layout.pod_table.read_text())
    except (OSError, ValueError):
        table = {}
    out = []
    for slot in ("blue", "green"):
        entry = table.get(slot) or {}
        port = entry.get("port")
        name = f"pod-{slot}"
        if port is None:
            out.append(ComponentHealth(name, False, None, None, "no pod"))
            continue
        pod_url = url(int(port))
        try:
            health = get_json(pod_url + "/health")
        except HttpError as exc:
            info = {"version": entry.get("version"), "restarts": entry.get("restarts")}
            out.append(ComponentHealth(name, False, entry.get("pid"), pod_url, f"no answer: {exc}", info))
            continue
        memory = health.get("memory", {})
        info = {
            "pod": health.get("pod"),
            "version": health.get("version"),
            "status": health.get("status"),
            "memory_limit_mechanism": memory.get("mechanism"),
            "memory_used_bytes": memory.get("used_bytes"),
            "memory_limit_bytes": memory.get("limit_bytes"),
            "cgroup": memory.get("cgroup"),
            "restarts": entry.get("restarts"),
            "oom_kills": entry.get("oom_kills"),
        }
        out.append(ComponentHealth(name, True, health.get("pid"), pod_url, str(health.get("status")), info))
    return out


def check(state: State, layout: Layout) -> list[ComponentHealth]:
    out = []
    for name, comp in state.components.items():
        if name == "postgres":
            out.append(_postgres(state, comp))
        elif name == "loadgen":
            out.append(_loadgen(layout, comp))
        else:
            out.append(_http(name, comp))
    if "deployer" in state.components:
        out.extend(pods(layout))
    return out
