"""The stack's event timeline: what happened, when, and who saw it.

Every component that observes something a drill is judged on appends one
event: the webhook receiver each notification Alertmanager sends, the
deployer each rollout phase, trigger, rollback and pod restart or OOM kill,
``stack up`` and ``down`` themselves.  Events are JSON lines in one file; each
is written with a single ``write`` on a file opened for appending, which the
kernel keeps whole even when several processes append at once.

Instants are Unix times (``ts``) when written; read back, each event also
carries ``t_s``, seconds since the stack came up (the timeline's origin).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ORIGIN_KIND = "stack_starting"


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def record(path: Path, source: str, kind: str, ts: float | None = None, **data: Any) -> dict[str, Any]:
    """Append one event; returns it as written."""
    event = {"ts": time.time() if ts is None else ts, "source": source, "kind": kind, **data}
    line = (json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        written = os.write(fd, line)
        while written < len(line):  # a regular file takes it whole, unless the disk is full
            written += os.write(fd, line[written:])
    finally:
        os.close(fd)
    return event


@dataclass(frozen=True)
class Event:
    ts: float
    t_s: float
    source: str
    kind: str
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def at(self) -> str:
        return _iso(self.ts)

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "t_s": round(self.t_s, 3),
            "source": self.source,
            "kind": self.kind,
            **self.data,
        }


@dataclass(frozen=True)
class Timeline:
    """A stack's events in the order they happened."""

    origin_ts: float | None
    events: tuple[Event, ...]

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events)

    def __len__(self) -> int:
        return len(self.events)

    def of(self, kind: str, **match: Any) -> list[Event]:
        """Events of ``kind`` whose data has every ``key=value`` of ``match``."""
        return [
            e for e in self.events if e.kind == kind and all(e.data.get(k) == v for k, v in match.items())
        ]

    def first(self, kind: str, **match: Any) -> Event | None:
        found = self.of(kind, **match)
        return found[0] if found else None

    def since(self, ts: float) -> Timeline:
        return Timeline(self.origin_ts, tuple(e for e in self.events if e.ts >= ts))

    def to_json(self) -> dict[str, Any]:
        return {
            "origin": None if self.origin_ts is None else _iso(self.origin_ts),
            "events": [e.to_json() for e in self.events],
        }


def drill_phase(events: Iterable[Event]) -> str:
    """What a running drill is doing, from its latest events: its activity, a rollout phase, a rollback."""
    phase = "starting"
    for event in events:
        if event.kind == "activity_started":
            phase = str(event.get("name"))
        elif event.kind == "phase_started":
            phase = f"rollout: {event.get('phase')}"
        elif event.kind == "rollback_started":
            phase = "rolling back"
    return phase


def notified_firing(events: Iterable[Event]) -> set[str]:
    """Names of the alerts some receiver was notified of as firing."""
    return {
        str(alert.get("alertname"))
        for event in events
        if event.kind == "notification"
        for alert in event.get("alerts") or ()
        if alert.get("status", event.get("status")) == "firing"
    }


def read(path: Path) -> Timeline:
    """The timeline in ``path``; empty if the stack never came up there.

    A line cut short (the writer was killed mid-write) is skipped: the
    timeline is evidence, and one damaged line must not hide the rest.
    """
    raw: list[dict[str, Any]] = []
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                item = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(item, dict) and isinstance(item.get("ts"), int | float):
                raw.append(item)
    raw.sort(key=lambda item: float(item["ts"]))
    origin = next((float(i["ts"]) for i in raw if i.get("kind") == ORIGIN_KIND), None)
    base = origin if origin is not None else (float(raw[0]["ts"]) if raw else 0.0)
    events = []
    for item in raw:
        data = {k: v for k, v in item.items() if k not in ("ts", "source", "kind")}
        ts = float(item["ts"])
        events.append(Event(ts, ts - base, str(item.get("source", "")), str(item.get("kind", "")), data))
    return Timeline(origin, tuple(events))
