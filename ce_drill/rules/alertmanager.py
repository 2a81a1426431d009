"""Alertmanager routing: each severity to the manual's notification channels.

The priority matrix names the channels of each level (P1: pagerduty_critical,
slack_emergency_channel, …).  Each channel becomes a receiver of that name and
each (severity, channel) pair a route matching ``severity="Pn"``; every route
but the last of a severity sets ``continue`` so all of its channels are told.

A severity the matrix does not list (P4, "next business day") goes to the last
channel of the least urgent level the matrix does list — for this manual the
daily e-mail digest — which is also the root route's receiver, so an alert
without a known severity is never dropped.

Re-notification follows the manual's update cadence (P1 every 15 minutes…),
compressed with the time scale; a severity without a cadence uses the longest
cadence the playbook sets.  Every receiver is a webhook with ``send_resolved``
so drills see recoveries as well as alerts.
"""

from __future__ import annotations

from dataclasses import dataclass

from ce_drill.plan.timing import ALERTMANAGER_REPEAT_INTERVAL_S, Timing, prom_duration
from ce_drill.rules.config import CHANNEL_PLACEHOLDER
from sim.errors import InputError
from sim.playbook import Playbook

GROUP_BY = ("alertname", "severity")


@dataclass(frozen=True)
class Route:
    severity: str
    receiver: str
    last: bool
    """The last channel of its severity: no ``continue``."""
    repeat_ms: int
    basis: str
    """Why these channels: the matrix level, or the fallback for an unlisted severity."""


def _cadence_s(pb: Playbook, severity: str) -> float:
    own = pb.cadence_s(severity)
    if own is not None:
        return own
    cadences = [c.every_s for c in pb.communication.update_cadence]
    return max(cadences) if cadences else ALERTMANAGER_REPEAT_INTERVAL_S


@dataclass(frozen=True)
class Routing:
    routes: tuple[Route, ...]
    fallback: str
    """Receiver of severities the matrix does not list, and of the root route."""

    def receivers_for(self, severity: str) -> list[str]:
        routed = [r.receiver for r in self.routes if r.severity == severity]
        return routed or [self.fallback]


def routing(pb: Playbook, timing: Timing, origin: str = "playbook") -> Routing:
    """Routes in the playbook's severity order, channels in the matrix's order."""
    levels = {level.severity: level for level in pb.alert_priority_matrix}
    listed = [s.id for s in pb.severities if s.id in levels]
    if not listed:
        raise InputError(origin, None, "alert_priority_matrix", "no level lists notification channels")
    least_urgent = levels[listed[-1]]
    if not least_urgent.channels:
        raise InputError(
            origin, None, "alert_priority_matrix", "a level without channels", least_urgent.label
        )
    fallback = least_urgent.channels[-1]
    out: list[Route] = []
    for severity in pb.severities:
        level = levels.get(severity.id)
        repeat = timing.repeat_ms(_cadence_s(pb, severity.id))
        if level is None:
            basis = f"not in the matrix: least urgent channel of {least_urgent.label}"
            out.append(Route(severity.id, fallback, True, repeat, basis))
            continue
        for k, channel in enumerate(level.channels):
            out.append(Route(severity.id, channel, k == len(level.channels) - 1, repeat, level.label))
    return Routing(tuple(out), fallback)


def config(plan: Routing, timing: Timing, webhook_url: str) -> dict[str, object]:
    """The Alertmanager configuration file for a routing plan."""
    longest = max(
        (r.repeat_ms for r in plan.routes), default=timing.repeat_ms(ALERTMANAGER_REPEAT_INTERVAL_S)
    )
    channels = list(dict.fromkeys([*(r.receiver for r in plan.routes), plan.fallback]))
    return {
        "route": {
            "receiver": plan.fallback,
            "group_by": list(GROUP_BY),
            "group_wait": prom_duration(timing.group_wait_ms),
            "group_interval": prom_duration(timing.group_interval_ms),
            "repeat_interval": prom_duration(longest),
            "routes": [
                {
                    "matchers": [f'severity="{r.severity}"'],
                    "receiver": r.receiver,
                    "repeat_interval": prom_duration(r.repeat_ms),
                    "continue": not r.last,
                }
                for r in plan.routes
            ],
        },
        "receivers": [
            {
                "name": channel,
                "webhook_configs": [
                    {"url": webhook_url.replace(CHANNEL_PLACEHOLDER, channel), "send_resolved": True}
                ],
            }
            for channel in channels
        ],
    }
