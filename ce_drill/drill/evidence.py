"""What a finished drill left behind: the Chaos Toolkit journal, the stack's timeline, Prometheus's history.

The journal says what the experiment did (and its exit code says nothing:
``chaos run`` exits 0 even when the method failed); the stack's timeline says
what the system did and when, on one clock; Prometheus's range queries say
when an alert's condition started to hold.
"""

from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ce_drill.stack import Stack
from ce_drill.stack.timeline import Event, Timeline


@dataclass(frozen=True)
class Journal:
    data: dict[str, Any]

    @classmethod
    def load(cls, path: Path) -> Journal | None:
        try:
            return cls(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            return None

    @property
    def status(self) -> str:
        return str(self.data.get("status"))

    def steady_state_met(self, when: str) -> bool | None:
        state = (self.data.get("steady_states") or {}).get(when)
        return None if not state else bool(state.get("steady_state_met"))

    def output(self, activity: str) -> Any:
        for run in self.data.get("run") or []:
            if run.get("activity", {}).get("name") == activity:
                return run.get("output")
        return None

    def failed_activities(self) -> list[str]:
        return [
            str(r.get("activity", {}).get("name"))
            for r in (self.data.get("run") or []) + (self.data.get("rollbacks") or [])
            if r.get("status") != "succeeded"
        ]


@dataclass(frozen=True)
class Evidence:
    stack: Stack
    journal: Journal | None
    timeline: Timeline
    started_ts: float
    ended_ts: float

    def events(self, kind: str, **match: Any) -> list[Event]:
        return self.timeline.of(kind, **match)

    def first(self, kind: str, **match: Any) -> Event | None:
        return self.timeline.first(kind, **match)

    def firing(self, alertname: str) -> Event | None:
        """The first notification that ``alertname`` is firing (the receiver's clock)."""
        for event in self.timeline.of("notification", status="firing"):
            for alert in event.get("alerts") or []:
                if alert.get("alertname") == alertname and alert.get("status", "firing") == "firing":
                    return event
        return None

    def fired_at(self, alertname: str) -> float | None:
        """When Prometheus started firing ``alertname`` (the notification's ``startsAt``), Unix time."""
        import datetime as dt

        event = self.firing(alertname)
        if event is None:
            return None
        for alert in event.get("alerts") or []:
            if alert.get("alertname") == alertname and alert.get("starts_at"):
                text = str(alert["starts_at"]).replace("Z", "+00:00")
                # Go writes nanoseconds; Python's parser takes microseconds.
                text = re.sub(r"(\.\d{6})\d+", r"\1", text)
                return dt.datetime.fromisoformat(text).timestamp()
        return event.ts

    def severities_fired(self, since_ts: float) -> list[str]:
        """Severities of every alert that fired from ``since_ts`` on."""
        return sorted(
            {
                str(alert.get("severity"))
                for event in self.timeline.of("notification", status="firing")
                if event.ts >= since_ts
                for alert in event.get("alerts") or []
                if alert.get("status", "firing") == "firing" and alert.get("severity")
            }
        )

    def severity_of(self, alertname: str) -> str | None:
        for event in self.timeline.of("notification"):
            for alert in event.get("alerts") or []:
                if alert.get("alertname") == alertname:
                    return str(alert.get("severity"))
        return None

    def condition_onset(self, expr: str, step_s: float = 1.0, before_ts: float | None = None) -> float | None:
        """When ``expr`` began to hold without a break up to ``before_ts`` (Unix time), from Prometheus.

        An alert's ``for`` restarts whenever its condition stops holding, so the
        clock runs from the start of the unbroken stretch that led to the alert.
        """
        state = self.stack.state()
        if state is None:
            return None
        query = urllib.parse.urlencode(
            {"query": expr, "start": self.started_ts, "end": self.ended_ts, "step": step_s}
        )
        address = state.urls["prometheus"].rstrip("/") + "/api/v1/query_range?" + query
        try:
            with urllib.request.urlopen(address, timeout=10) as response:
                payload = json.loads(response.read())
        except (OSError, ValueError):
            return None
        stamps = sorted({float(v[0]) for s in payload.get("data", {}).get("result", []) for v in s["values"]})
        if before_ts is not None:
            stamps = [t for t in stamps if t <= before_ts]
        if not stamps:
            return None
        onset = stamps[-1]
        for earlier in reversed(stamps[:-1]):
            if onset - earlier > 1.5 * step_s:
                break
            onset = earlier
        return onset
