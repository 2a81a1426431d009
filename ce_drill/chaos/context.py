"""What every activity needs: the stack it acts on, the playbook, the drill's breaks, an event log."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from ce_drill.stack import Stack
from ce_drill.stack.timeline import record
from sim.playbook import Playbook

Configuration = dict[str, Any] | None
HTTP_TIMEOUT_S = 5.0


def stack(configuration: Configuration) -> Stack:
    run_dir = (configuration or {}).get("ce_drill_run_dir")
    return Stack(Path(run_dir) if run_dir else None)


def breaks(configuration: Configuration) -> set[str]:
    raw = str((configuration or {}).get("ce_drill_breaks") or "")
    return {b.strip() for b in raw.split(",") if b.strip()}


def playbook(configuration: Configuration) -> Playbook:
    path = (configuration or {}).get("ce_drill_playbook")
    return Playbook.load(path) if path else Playbook.default()


def log(configuration: Configuration, kind: str, **data: Any) -> None:
    """Append a drill event to the stack's timeline (what the judge reads)."""
    record(stack(configuration).layout.timeline, "drill", kind, **data)


def url(configuration: Configuration, component: str) -> str:
    state = stack(configuration).state()
    if state is None:
        raise RuntimeError("no stack is up")
    return str(state.urls[component]).rstrip("/")


def get_json(address: str, timeout_s: float = HTTP_TIMEOUT_S) -> Any:
    with urllib.request.urlopen(address, timeout=timeout_s) as response:
        return json.loads(response.read())


def prometheus(configuration: Configuration, query: str, timeout_s: float = HTTP_TIMEOUT_S) -> list[Any]:
    """An instant query's result vector (Prometheus's HTTP API, with a timeout)."""
    address = url(configuration, "prometheus") + "/api/v1/query?" + urllib.parse.urlencode({"query": query})
    payload = get_json(address, timeout_s)
    if payload.get("status") != "success":
        raise RuntimeError(f"prometheus: {payload.get('error')}")
    return list(payload["data"]["result"])
