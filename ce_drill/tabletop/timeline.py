"""An incident timeline, as written in a post-mortem: timestamped events.

A timeline is what a replay judges against the playbook.  Times are written
``"14:35"`` (on the incident's ``date``), ``"00:10+1d"`` (a day later: a
timeline that crosses midnight), or in full (``"2024-01-16 00:10"``); a
post-mortem written later may give only a date (``"2024-01-18"``), which the
judge treats as "some time that day".  Events must be in time order: a
timeline that contradicts its own order is rejected rather than guessed at.

A timeline may name the playbook's ``services`` the incident hit (their
recovery and availability targets then apply), the detection ``rule`` of an
``alert_fired`` event (its ``for`` says how long the outage ran before the
alert), and an ``impact_started`` event when the outage's start is known.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from sim.errors import InputError
from sim.fields import Date, Frozen, Identifier, Offset, SeverityId, in_era
from sim.loader import Problem, format_loc, line_of, load_model, raise_first, read_yaml
from sim.playbook import Playbook

EventKind = Literal[
    "impact_started", "user_reports", "alert_fired", "confirmed", "commander_assigned", "war_room_open",
    "impact_assessed", "investigation_started", "queued", "work_started", "plan_made",
    "diagnosis_done", "fix_attempted", "fix_failed", "escalated", "rollback_decided",
    "rollback_started", "rollback_finished", "recovery_started", "recovered", "fix_verified",
    "status_update", "status_page_updated", "users_notified", "recovery_notice", "resolved",
    "postmortem_prepared", "postmortem_meeting", "postmortem_report",
]  # fmt: skip
EVENT_KINDS: tuple[str, ...] = EventKind.__args__  # type: ignore[attr-defined]

# Hours 00-23, minutes and seconds 00-59; "+Nd" for the days after the incident's date.
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?(?:\s*\+(\d+)d)?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_AT = 'expected "HH:MM", "HH:MM+1d", "YYYY-MM-DD HH:MM" or "YYYY-MM-DD"'
MAX_DAYS_AFTER = 3660
"""A timeline spans days or weeks; ten years after its date is a typo."""


def _check_at(text: str) -> str:
    text = text.strip()
    clock = _CLOCK.match(text)
    if clock:
        days = clock.group(4)
        # Compare as text first: int() of a 5,000-digit string is itself an error.
        if days is not None and (len(days) > 4 or int(days) > MAX_DAYS_AFTER):
            raise ValueError(f"a day offset of more than {MAX_DAYS_AFTER} days")
        return text
    try:
        if _DATE.match(text):
            in_era(dt.date.fromisoformat(text))
        else:
            in_era(dt.datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError as exc:
        reason = str(exc)
        if reason.startswith("Invalid isoformat"):
            raise ValueError(_AT) from None
        # A date of the right shape that does not exist (2023-02-29, hour 24) or is out of range.
        raise ValueError(
            reason if reason.startswith("must be") else f"not a valid date or time: {reason}"
        ) from None
    return text


class Event(Frozen):
    at: str
    kind: EventKind
    text: str = ""
    by: str | None = None
    severity: SeverityId | None = None
    """With ``confirmed``: the severity the incident was confirmed as."""
    rule: Identifier | None = None
    """With ``alert_fired``: the playbook's detection rule that fired; its ``for`` dates the outage's start."""

    @field_validator("at")
    @classmethod
    def _at(cls, value: str) -> str:
        return _check_at(value)


class Timeline(Frozen):
    incident: str
    title: str = ""
    date: Date
    failure_mode: str | None = None
    """The world's failure mode this incident was, for what-if re-runs."""
    data_loss_s: Offset | None = Field(default=None, alias="data_loss")
    """Writes lost, when the post-mortem records it (``0s`` for "无数据丢失")."""
    services: tuple[Identifier, ...] = ()
    """The playbook's services the incident hit: their recovery and availability targets apply too."""
    events: tuple[Event, ...] = Field(min_length=1)

    def when(self, event: Event) -> tuple[dt.datetime, bool]:
        """The event's instant (UTC) and whether only its date is known (then: the day's start)."""
        text = event.at.strip()
        match = _CLOCK.match(text)
        if match:
            hours, minutes, seconds, days = match.groups()
            day = dt.datetime.combine(self.date, dt.time(), tzinfo=dt.UTC)
            offset = dt.timedelta(
                days=int(days or 0), hours=int(hours), minutes=int(minutes), seconds=int(seconds or 0)
            )
            return day + offset, False
        if _DATE.match(text):
            return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC), True
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)), False

    def first(self, *kinds: str) -> Event | None:
        found = [e for e in self.events if e.kind in kinds]
        return min(found, key=lambda e: self.when(e)[0]) if found else None

    def all(self, kind: str) -> list[Event]:
        return [e for e in self.events if e.kind == kind]

    def severity(self) -> str | None:
        confirmed = [e for e in self.events if e.kind == "confirmed" and e.severity]
        return confirmed[-1].severity if confirmed else None


def timeline_problems(timeline: Timeline) -> Iterator[Problem]:
    previous: dt.datetime | None = None
    for i, event in enumerate(timeline.events):
        try:
            moment, date_only = timeline.when(event)
            in_era(moment)
        except (OverflowError, ValueError):
            yield ("events", i, "at"), "falls outside the years 1900 to 8999", event.at
            return
        if previous is not None and moment < previous and not date_only:
            yield (
                ("events", i, "at"),
                "events out of order: this is earlier than the event before it",
                event.at,
            )
        previous = moment if not date_only else max(previous or moment, moment)
        if event.kind == "confirmed" and event.severity is None:
            yield (
                ("events", i, "severity"),
                "a 'confirmed' event needs the severity it was confirmed as",
                None,
            )
        if event.rule is not None and event.kind != "alert_fired":
            yield ("events", i, "rule"), "only an 'alert_fired' event names a rule", event.rule
    for i, service in enumerate(timeline.services):
        if service in timeline.services[:i]:
            yield ("services", i), "named twice", service
    impact = timeline.first("impact_started")
    if impact is not None:
        started = timeline.when(impact)[0]
        if any(timeline.when(e)[0] < started for e in timeline.events if not timeline.when(e)[1]):
            yield (
                ("events", timeline.events.index(impact), "at"),
                "the impact cannot start after an event of its own response",
                impact.at,
            )


def reference_problems(timeline: Timeline, playbook: Playbook) -> Iterator[Problem]:
    """Services and alert rules the timeline names that the playbook does not define."""
    services = [s.id for s in playbook.services]
    for i, service in enumerate(timeline.services):
        if service not in services:
            yield ("services", i), f"not a service of the playbook ({', '.join(services)})", service
    rules = {r.name for r in playbook.detection_rules}
    for i, event in enumerate(timeline.events):
        if event.rule is not None and event.rule not in rules:
            yield ("events", i, "rule"), "no such detection rule in the playbook", event.rule


def check_references(path: Path, timeline: Timeline, playbook: Playbook) -> None:
    """Raise the first name the timeline uses that the playbook lacks, at its line."""
    for loc, message, value in reference_problems(timeline, playbook):
        line = line_of(read_yaml(path), loc)
        raise InputError(str(path), line, format_loc(loc), message, repr(value))


def load_timeline(path: Path) -> Timeline:
    return load_model(path, Timeline, timeline_problems)


def check_judgeable(path: Path, timeline: Timeline) -> None:
    """A replay judges against the confirmed severity: without one there is nothing to judge."""
    if timeline.severity() is None:
        problem = "no 'confirmed' event with a severity: nothing to judge against"
        raise_first(path, [(("events",), problem, None)])


def bundled(name: str) -> Path | None:
    """A timeline shipped with ce-drill, by incident name (``INC-2024-001``)."""
    candidate = Path(str(resources.files("ce_drill.tabletop.timelines").joinpath(f"{name}.yaml")))
    return candidate if candidate.is_file() else None


def bundled_names() -> list[str]:
    folder = Path(str(resources.files("ce_drill.tabletop.timelines")))
    return sorted(p.stem for p in folder.glob("*.yaml"))
