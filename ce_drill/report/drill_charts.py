"""The timeline of one drill as a chart: what broke, what noticed, what reacted, and when service came back.

One lane per kind of happening — the injected fault, a held database lock,
alerts, deployment phases, auto-rollback triggers, rollbacks, pod OOM kills
and restarts, the steady state met again — against seconds since the drill
started (bottom axis) and the manual's own clock, wall × time scale (top
axis).  The RTO deadline is a red dashed line.  Lanes without events are left
out; events of kinds not drawn here appear only in the report's event table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from ce_drill.report.charts import BUDGET, INK, MUTED, PALETTE, _style

if TYPE_CHECKING:
    from ce_drill.plan.timing import Timing

OK = "#3b9c5a"
LANES = (
    "fault",
    "database lock",
    "alerts",
    "deploy phase",
    "rollback trigger",
    "rollback",
    "pods",
    "steady state",
)
SPAN_HEIGHT = 0.56


@dataclass(frozen=True)
class Event:
    """One timeline event: seconds since the drill started, ISO UTC instant, who saw it, what, and its fields."""

    t_s: float
    at: str
    source: str
    kind: str
    data: Mapping[str, Any] = field(default_factory=dict)


def events(timeline: Iterable[Mapping[str, Any]]) -> list[Event]:
    """Timeline dicts as events in time order.

    Takes the drill's shape (``data`` holds the fields) and the stack's
    (fields beside ``kind``); an event without a usable ``t_s`` is dropped.
    """
    out = []
    for raw in timeline:
        try:
            t_s = float(raw["t_s"])
        except (KeyError, TypeError, ValueError):
            continue
        data = raw.get("data")
        if not isinstance(data, Mapping):
            data = {k: v for k, v in raw.items() if k not in {"t_s", "at", "source", "kind", "ts"}}
        out.append(Event(t_s, str(raw.get("at", "")), str(raw.get("source", "")), str(raw.get("kind")), data))
    return sorted(out, key=lambda e: e.t_s)


def alerts_of(event: Event) -> list[tuple[str, str, str]]:
    """A notification's alerts as ``(alertname, severity, status)``; the status falls back to the group's."""
    group = str(event.data.get("status", ""))
    found = []
    for alert in event.data.get("alerts") or []:
        if not isinstance(alert, Mapping):
            continue
        raw_labels = alert.get("labels")
        labels: Mapping[str, Any] = raw_labels if isinstance(raw_labels, Mapping) else {}
        name = alert.get("alertname") or labels.get("alertname") or "alert"
        severity = alert.get("severity") or labels.get("severity") or ""
        found.append((str(name), str(severity), str(alert.get("status") or group)))
    return found


def _spans(
    evs: Sequence[Event], start: str, stop: str, key: str | None, end: float
) -> list[tuple[float, float, str]]:
    """``(t0, t1, label)`` for each ``start`` event, closed by the next ``stop`` event, preferably of the same ``key``."""
    out = []
    for i, ev in enumerate(evs):
        if ev.kind != start:
            continue
        label = str(ev.data.get(key, "")) if key else ""
        stops = [later for later in evs[i + 1 :] if later.kind == stop]
        # The matching stop if there is one (same fault), else the next stop of any kind.
        closing = next((later.t_s for later in stops if key is None or _same(later, key, label)), None)
        if closing is None:
            closing = stops[0].t_s if stops else end
        out.append((ev.t_s, closing, label))
    return out


def _same(event: Event, key: str, label: str) -> bool:
    value = event.data.get(key)
    return value is None or not label or str(value) == label


def _phases(evs: Sequence[Event], end: float) -> list[tuple[float, float, str]]:
    """Each deploy phase from its start to the next phase, a rollback, or the end of the deployment."""
    enders = {"phase_started", "rollback_started", "deploy_finished", "deploy_failed"}
    out = []
    for i, ev in enumerate(evs):
        if ev.kind == "phase_started":
            closing = next((later.t_s for later in evs[i + 1 :] if later.kind in enders), end)
            out.append((ev.t_s, closing, str(ev.data.get("phase", "phase"))))
    return out


def _alert_spans(evs: Sequence[Event], end: float) -> list[tuple[float, float, str]]:
    """Each alert from its first firing notification to the first resolved one after it."""
    opened: dict[str, float] = {}
    severity: dict[str, str] = {}
    out = []
    for ev in evs:
        if ev.kind != "notification":
            continue
        for name, sev, status in alerts_of(ev):
            if status == "firing" and name not in opened:
                opened[name], severity[name] = ev.t_s, sev
            elif status == "resolved" and name in opened:
                out.append((opened.pop(name), ev.t_s, _alert_label(name, severity[name])))
    out += [(t0, end, _alert_label(name, severity[name])) for name, t0 in opened.items()]
    return sorted(out)


def _alert_label(name: str, severity: str) -> str:
    return f"{name} ({severity})" if severity else name


def lane_of(ev: Event) -> str | None:
    """The lane an event is drawn in, or None for kinds the chart leaves out."""
    kinds = {
        "fault_injected": "fault",
        "fault_removed": "fault",
        "lock_held": "database lock",
        "lock_released": "database lock",
        "notification": "alerts",
        "phase_started": "deploy phase",
        "trigger_held": "rollback trigger",
        "rollback_started": "rollback",
        "rollback_finished": "rollback",
        "pod_oom_killed": "pods",
        "pod_crashed": "pods",
        "pod_restarted": "pods",
        "steady_state_met": "steady state",
    }
    return kinds.get(ev.kind)


class _Painter:
    """Draws spans and markers on the lanes in use, in the fixed order of :data:`LANES`."""

    def __init__(self, ax: Axes, evs: Sequence[Event], end: float) -> None:
        self.ax, self.evs, self.end = ax, evs, end
        used = {lane_of(ev) for ev in evs}
        self.lanes = [name for name in LANES if name in used]
        self.spans: dict[str, Any] = {}
        self.markers: dict[str, Line2D] = {}

    def at(self, kind: str, keep: Callable[[Event], bool] = lambda _: True) -> list[float]:
        return [ev.t_s for ev in self.evs if ev.kind == kind and keep(ev)]

    def span(self, lane: str, items: Sequence[tuple[float, float, str]], colours: Sequence[str]) -> None:
        if not items:
            return
        y = self.lanes.index(lane)
        self.spans[lane] = self.ax.broken_barh(
            [(t0, max(t1 - t0, self.end * 0.004)) for t0, t1, _ in items],
            (y - SPAN_HEIGHT / 2, SPAN_HEIGHT),
            facecolors=[colours[i % len(colours)] for i in range(len(items))],
            alpha=0.35,
            edgecolor="none",
        )
        for t0, _, label in items:
            if label:
                self.label(label, t0, y + SPAN_HEIGHT / 2)

    def label(self, text: str, x: float, y: float) -> None:
        self.ax.annotate(
            text, (x, y), xytext=(2, 1), textcoords="offset points", fontsize=7, color=INK, va="bottom"
        )

    def mark(self, label: str, lane: str, xs: Sequence[float], **style: Any) -> None:
        if xs:
            y = self.lanes.index(lane)
            (self.markers[label],) = self.ax.plot(xs, [y] * len(xs), linestyle="none", label=label, **style)


def _incident(p: _Painter) -> None:
    """The fault and the database lock: what the drill did to the system."""
    p.span("fault", _spans(p.evs, "fault_injected", "fault_removed", "fault", p.end), [BUDGET])
    p.mark("fault injected", "fault", p.at("fault_injected"), marker=">", color=BUDGET, markersize=8)
    p.mark("fault removed", "fault", p.at("fault_removed"), marker="s", color=MUTED, markersize=6)
    p.span("database lock", _spans(p.evs, "lock_held", "lock_released", None, p.end), [PALETTE[3]])
    p.mark("lock held", "database lock", p.at("lock_held"), marker=">", color=PALETTE[3], markersize=7)
    p.mark("lock released", "database lock", p.at("lock_released"), marker="s", color=MUTED, markersize=6)


def _detection(p: _Painter) -> None:
    """Alerts as notified: each from firing to resolved."""
    p.span("alerts", _alert_spans(p.evs, p.end), [PALETTE[1]])

    def with_status(status: str) -> Callable[[Event], bool]:
        return lambda ev: any(a[2] == status for a in alerts_of(ev))

    p.mark("alert firing", "alerts", p.at("notification", with_status("firing")), marker="^", color=BUDGET)
    p.mark("alert resolved", "alerts", p.at("notification", with_status("resolved")), marker="v", color=OK)


def _response(p: _Painter) -> None:
    """The deployment's phases, the triggers that held, rollbacks, pods dying and coming back."""
    p.span("deploy phase", _phases(p.evs, p.end), PALETTE)
    p.mark("trigger held", "rollback trigger", p.at("trigger_held"), marker="D", color=PALETTE[4])
    for ev in p.evs:
        if ev.kind == "trigger_held":
            p.label(str(ev.data.get("trigger", "")), ev.t_s, p.lanes.index("rollback trigger") + 0.1)
    p.span("rollback", _spans(p.evs, "rollback_started", "rollback_finished", None, p.end), [PALETTE[0]])
    p.mark("rollback started", "rollback", p.at("rollback_started"), marker=">", color=PALETTE[0])
    p.mark(
        "rollback finished",
        "rollback",
        p.at("rollback_finished"),
        marker="|",
        color=PALETTE[0],
        markersize=12,
    )
    p.mark("pod OOM-killed", "pods", p.at("pod_oom_killed"), marker="X", color=BUDGET, markersize=9)
    p.mark("pod crashed", "pods", p.at("pod_crashed"), marker="x", color=BUDGET)
    p.mark("pod restarted", "pods", p.at("pod_restarted"), marker="o", color=OK, markersize=6)


def _recovery(p: _Painter) -> None:
    """The steady-state hypothesis checked again: met (green) or not (red)."""
    met = p.at("steady_state_met", lambda ev: ev.data.get("met", True) is not False)
    unmet = p.at("steady_state_met", lambda ev: ev.data.get("met", True) is False)
    p.mark("steady state met", "steady state", met, marker="o", color=OK, markersize=8)
    p.mark("steady state not met", "steady state", unmet, marker="o", color=BUDGET, markersize=8)


def drill_timeline(
    ax: Axes,
    timeline: Iterable[Mapping[str, Any]],
    *,
    timing: Timing,
    rto_deadline_s: float | None = None,
    title: str = "Drill timeline",
) -> dict[str, Any]:
    """Draw the drill's lanes; return ``lanes`` (top to bottom), ``spans`` and ``markers`` by name, ``rto``."""
    evs = events(timeline)
    _style(ax, title)
    ax.grid(False, axis="y")
    end = max([ev.t_s for ev in evs] + [rto_deadline_s or 0.0, 1.0])
    painter = _Painter(ax, evs, end)
    for draw in (_incident, _detection, _response, _recovery):
        draw(painter)
    rto = None
    if rto_deadline_s is not None:
        rto = ax.axvline(rto_deadline_s, color=BUDGET, linestyle="--", linewidth=1.6, label="RTO deadline")
    ax.set_yticks(range(len(painter.lanes)), painter.lanes)
    ax.set_ylim(len(painter.lanes) - 0.4, -0.6)
    ax.set_xlim(0, end * 1.04)
    ax.set_xlabel("seconds since the drill started (wall clock)", color=INK)

    def to_manual(wall_s: Any) -> Any:
        return timing.manual_s(np.asarray(wall_s, dtype=np.float64)) / 60

    def to_wall(manual_min: Any) -> Any:
        return timing.wall_s(np.asarray(manual_min, dtype=np.float64) * 60)

    manual = ax.secondary_xaxis("top", functions=(to_manual, to_wall))
    manual.set_xlabel(f"manual time, minutes (wall × {timing.scale:g})", color=INK, fontsize=9)
    manual.tick_params(colors=INK, labelsize=8)
    if painter.markers or rto is not None:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    return {
        "lanes": painter.lanes,
        "spans": painter.spans,
        "markers": painter.markers,
        "rto": rto,
        "manual_axis": manual,
    }
