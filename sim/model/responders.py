"""On-call people: the manual's roles as SimPy resources, with names so nobody is double-booked.

Each role (incident commanders primary and backup, DevOps, Backend, DB,
Security, Support) is a priority resource: a P1 waiting for the database
specialist goes ahead of a P3.  Grants hand out a named person, and every
assignment is logged, so tests can check that no one works two incidents at
once.  Paging is a race: whoever is free and acknowledges first takes the
incident; the others stand down.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import simpy


@dataclass(frozen=True)
class Assignment:
    person: str
    incident: int
    start_s: float
    end_s: float


@dataclass
class Claim:
    """A person held for an incident; hand it back with :meth:`Team.release`."""

    team: Team
    request: Any
    person: str
    incident: int
    since_s: float


@dataclass
class Team:
    env: simpy.Environment
    name: str
    people: list[str]
    resource: simpy.PriorityResource = field(init=False)
    free: list[str] = field(init=False)
    log: list[Assignment] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.resource = simpy.PriorityResource(self.env, capacity=len(self.people))
        self.free = list(self.people)

    def request(self, priority: int) -> Any:
        return self.resource.request(priority=priority)

    def claim(self, request: Any, incident: int) -> Claim:
        """Take a free person for a granted request (the lowest-numbered one, for determinism)."""
        person = self.free.pop(0)
        return Claim(self, request, person, incident, self.env.now)

    def release(self, claim: Claim) -> None:
        self.log.append(Assignment(claim.person, claim.incident, claim.since_s, self.env.now))
        self.free.append(claim.person)
        self.free.sort()
        self.resource.release(claim.request)

    def withdraw(self, request: Any) -> None:
        """Stand down a request that lost a race: release it if granted, else leave the queue."""
        if request.triggered:
            self.resource.release(request)
        else:
            request.cancel()

    def hold(self, priority: int, incident: int) -> Generator[Any, Any, Claim]:
        """Wait for a person of this team (a SimPy sub-process: ``claim = yield from team.hold(...)``)."""
        request = self.request(priority)
        yield request
        return self.claim(request, incident)


class Page:
    """Page one team: once someone is free they take ``ack_delay_s`` to acknowledge; the first ack wins.

    Callbacks on the team's request and on ``won`` rather than a process
    racing the two: a page is set up for every incident and most lose or
    win without anything else waiting on them.
    """

    __slots__ = ("ack_delay_s", "done", "env", "incident", "request", "team", "won")

    def __init__(  # noqa: PLR0917 - the page's whole description
        self,
        env: simpy.Environment,
        team: Team,
        priority: int,
        incident: int,
        ack_delay_s: float,
        won: simpy.Event,
    ) -> None:
        self.env, self.team, self.incident, self.ack_delay_s, self.won = env, team, incident, ack_delay_s, won
        self.done = False
        """Stood down, or someone of the team took the incident: nothing left to do on either event."""
        self.request = team.request(priority)
        self.request.callbacks.append(self._granted)
        won.callbacks.append(self._lost)

    def _lost(self, _won: simpy.Event) -> None:
        # Another page won while this one still waited (or was granted but not yet taken up).
        if not self.done:
            self.done = True
            self.team.withdraw(self.request)

    def _granted(self, _request: simpy.Event) -> None:
        if self.done:
            return
        self.done = True
        if self.won.triggered:
            self.team.withdraw(self.request)
            return
        claim = self.team.claim(self.request, self.incident)
        self.env.timeout(self.ack_delay_s).callbacks.append(lambda _at: self._acknowledged(claim))

    def _acknowledged(self, claim: Claim) -> None:
        if self.won.triggered:
            self.team.release(claim)
        else:
            self.won.succeed(claim)


def make_team(env: simpy.Environment, name: str, size: int) -> Team:
    return Team(env, name, [f"{name}-{i + 1}" for i in range(size)])
