"""Play a tabletop scenario: injects in simulated time, decisions from the team, durations from the world.

:func:`play` is a generator that yields :class:`Say` (something the team
sees, at a simulated instant) and :class:`Ask` (a decision, answered by
``send``), and returns the :class:`Played` exercise: the incident timeline it
produced — judged exactly like a real one — and the answers given.  The
terminal front end and the scripted ``--answers`` runner both drive it, so a
rehearsal and the real session behave alike.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ce_drill.tabletop.scenario import Scenario
from ce_drill.tabletop.timeline import Event, Timeline
from sim.compare import severity_rank
from sim.playbook import Playbook
from sim.world import FailureMode, World

MAX_ATTEMPTS = 4
ESCALATE = "Escalate (page all key personnel), then act"
USER_COMMS = {
    "status_page_and_email": "Update the status page on the cadence and e-mail affected users",
    "status_page": "Update the status page on the cadence only",
    "email": "E-mail affected users only",
    "nothing": "Say nothing yet",
}


@dataclass(frozen=True)
class Say:
    t_s: float
    kind: str
    text: str


@dataclass(frozen=True)
class Ask:
    decision: str
    t_s: float
    prompt: str
    options: dict[str, str]
    multi: bool = False


@dataclass
class Played:
    scenario: Scenario
    timeline: Timeline
    answers: dict[str, Any]
    expected_severity: str
    declared_severity: str
    transcript: list[Say] = field(default_factory=list)


Step = Generator[Say | Ask, Any, Played]


class _Clock:
    def __init__(self, scn: Scenario) -> None:
        self.start = scn.start
        self.events: list[tuple[float, Event]] = []

    def stamp(self, t: float) -> str:
        return (self.start + dt.timedelta(seconds=round(t))).strftime("%Y-%m-%d %H:%M:%S")

    def add(self, t: float, kind: str, text: str = "", **extra: Any) -> None:
        self.events.append(
            (t, Event.model_validate({"at": self.stamp(t), "kind": kind, "text": text, **extra}))
        )


def expected_severity(scn: Scenario, pb: Playbook) -> str:
    """The manual's severity: the scenario's, or a more severe alert's."""
    found = [scn.expected_severity] + [pb.rule(i.rule).severity for i in scn.injects if i.rule]
    return min(found, key=severity_rank)


def play(scn: Scenario, pb: Playbook, world: World, seed: int) -> Step:
    """The exercise, phase by phase: detect and declare, assemble, act until restored, close."""
    ex = _Exercise(scn, pb, world, seed)
    yield from ex.declare()
    yield from ex.assemble()
    yield from ex.act()
    yield from ex.close()
    return ex.played()


_Phase = Generator[Say | Ask, Any, None]


class _Exercise:
    def __init__(self, scn: Scenario, pb: Playbook, world: World, seed: int) -> None:
        self.scn, self.pb, self.world = scn, pb, world
        self.mode = _mode(world, scn.failure_mode)
        self.rng = np.random.default_rng(seed)
        self.clock = _Clock(scn)
        self.transcript: list[Say] = []
        self.answers: dict[str, Any] = {}
        self.pending = list(scn.injects)
        self.t = scn.decide_at_s
        self.declared = scn.expected_severity
        self.paged: list[str] = []
        self.tell = "nothing"
        self.recovered: float | None = None

    def draw(self, stage: str) -> float:
        return float(getattr(self.world.stages, stage).sample(self.rng))

    def say(self, t: float, kind: str, text: str) -> Say:
        line = Say(t, kind, text)
        self.transcript.append(line)
        return line

    def reached(self, until: float) -> _Phase:
        """Injects that have happened by ``until``, in order, each shown once."""
        while self.pending and self.pending[0].at_s <= until:
            inject = self.pending.pop(0)
            _record_inject(self.clock, inject.at_s, inject.kind, inject.text, inject.rule)
            yield self.say(inject.at_s, inject.kind, inject.text)

    def declare(self) -> _Phase:
        yield self.say(0.0, "briefing", self.scn.briefing.strip())
        yield from self.reached(self.t)
        severities = {s.id: f"{s.id} {s.name}: {s.definition}" for s in self.pb.severities}
        self.declared = yield Ask("severity", self.t, "Which severity do you declare?", severities)
        self.answers["severity"] = self.declared
        self.t += self.draw("confirm")
        yield from self.reached(self.t)
        self.clock.add(self.t, "confirmed", f"declared {self.declared}", severity=self.declared)
        yield self.say(self.t, "decision", f"Incident confirmed as {self.declared}.")

    def assemble(self) -> _Phase:
        roles = {r.id: r.name if r.lead in r.name else f"{r.name} ({r.lead})" for r in self.pb.roles}
        self.paged = list(
            (yield Ask("page", self.t, "Whom do you page? (several allowed)", roles, multi=True))
        )
        self.answers["page"] = self.paged
        self.tell = yield Ask("tell_users", self.t, "What do you tell users?", USER_COMMS)
        self.answers["tell_users"] = self.tell
        if self.tell in ("status_page_and_email", "status_page"):
            # The status page goes up as soon as the team decides to tell users.
            self.clock.add(self.t, "status_page_updated")
        responders = self.world.responders
        if "incident_commander" not in self.paged:
            self.t += responders.all_hands_ack_delay.sample(self.rng)
            yield self.say(
                self.t, "note", "Nobody was leading: the escalation policy pages all key personnel."
            )
        self.clock.add(self.t, "commander_assigned")
        self.t += self.draw("war_room")
        yield from self.reached(self.t)
        self.clock.add(self.t, "war_room_open")
        yield self.say(self.t, "note", "War room open in #incident-war-room.")
        if self.mode.team not in self.paged:
            self.t += responders.ack_delay.sample(self.rng)
            yield self.say(self.t, "note", f"The {self.mode.team} team was not paged; they join late.")
        self.t += self.draw("diagnose")
        yield from self.reached(self.t)
        self.clock.add(self.t, "diagnosis_done")
        yield self.say(self.t, "note", "Initial diagnosis is in.")

    def act(self) -> _Phase:
        options = {k: o.text for k, o in self.scn.actions.items()}
        for attempt in range(MAX_ATTEMPTS):
            name = "action" if attempt == 0 else "next_action"
            choices = options if attempt == 0 else {**options, "escalate": ESCALATE}
            yield from self.reached(self.t)
            chosen = yield Ask(name, self.t, "What do you do now?", choices)
            self.answers.setdefault("actions", []).append(chosen)
            if chosen == "escalate":
                self.clock.add(self.t, "escalated")
                self.t += self.world.responders.all_hands_ack_delay.sample(self.rng)
                yield self.say(self.t, "note", "Escalated: all key personnel are in the war room.")
                continue
            option = self.scn.actions[chosen]
            starts = ("rollback_decided", "rollback_started") if option.rollback else ("fix_attempted",)
            for kind in starts:
                self.clock.add(self.t, kind, option.text)
            self.t += (option.duration or getattr(self.world.stages, option.stage)).sample(self.rng)
            if not option.works:
                self.clock.add(self.t, "fix_failed", option.text)
                yield self.say(self.t, "inject", self.scn.failure_inject)
                continue
            if option.rollback:
                self.clock.add(self.t, "rollback_finished", option.text)
            self.t += self.draw("verify")
            self.recovered = self.t
            self.clock.add(self.t, "recovered")
            yield self.say(self.t, "note", "Service is back: error rate and latency normal again.")
            return

    def close(self) -> _Phase:
        end = self.t
        if self.recovered is not None:
            flow = self.pb.flow_for(self.declared)
            watch = flow.stability_watch_s if flow is not None and flow.stability_watch_s is not None else 0.0
            end = self.recovered + watch + self.draw("recovery_notice")
            self.clock.add(end, "recovery_notice")
            self.clock.add(end, "resolved")
        # Updates run until the incident is resolved (or the exercise stops).
        confirmed = _first(self.clock, "confirmed")
        _comms(
            self.clock,
            self.pb,
            self.world,
            self.rng,
            tell=self.tell,
            severity=self.declared,
            span=(confirmed, end),
        )
        if self.recovered is not None:
            yield self.say(end, "note", "Recovery notice published; the incident is resolved.")
        else:
            yield self.say(
                self.t, "note", f"Still down after {MAX_ATTEMPTS} attempts: the exercise stops here."
            )

    def played(self) -> Played:
        events = tuple(e for _, e in sorted(self.clock.events, key=lambda te: te[0]))
        timeline = Timeline.model_validate(
            {
                "incident": self.scn.incident,
                "title": self.scn.title,
                "date": self.scn.start.date(),
                "failure_mode": self.scn.failure_mode,
                # The world's failure mode says which services this incident hits.
                "services": list(self.mode.services),
                "events": [e.model_dump(by_alias=True) for e in events],
            }
        )
        expected = expected_severity(self.scn, self.pb)
        return Played(self.scn, timeline, self.answers, expected, self.declared, self.transcript)


def _mode(world: World, mode_id: str) -> FailureMode:
    for mode in world.failure_modes:
        if mode.id == mode_id:
            return mode
    raise ValueError(f"the world has no failure mode {mode_id!r}")


def _record_inject(clock: _Clock, t: float, kind: str, text: str, rule: str | None) -> None:
    if kind == "alert":
        clock.add(t, "alert_fired", text, **({"rule": rule} if rule else {}))
    elif kind == "user_report":
        clock.add(t, "user_reports", text)


def _first(clock: _Clock, kind: str) -> float:
    return min(t for t, e in clock.events if e.kind == kind)


def _comms(
    clock: _Clock,
    pb: Playbook,
    world: World,
    rng: np.random.Generator,
    *,
    tell: str,
    severity: str,
    span: tuple[float, float],
) -> None:
    """Status updates on the cadence and the user e-mail, as the team chose."""
    confirmed, end = span
    email_delay = world.stages.user_email_delay.sample(rng)
    if tell in ("status_page_and_email", "email"):
        clock.add(confirmed + email_delay, "users_notified")
    cadence = pb.cadence_s(severity)
    if tell not in ("status_page_and_email", "status_page") or cadence is None:
        return
    t = confirmed
    while True:
        t += max(cadence * world.stages.status_update_gap_factor.sample(rng), 1.0)
        if t > end:
            return
        clock.add(t, "status_update")
