"""One task of a forecast: a run of consecutive replications, boiled down to what the figures need.

Replication ``i`` always runs on child ``i`` of ``SeedSequence(seed)`` —
``SeedSequence(seed).spawn(n)[i]`` for any ``n > i`` — so a replication's
numbers do not depend on which task, worker or machine runs it, nor on how
many replications run beside it.  A task runs each replication under every
world it is given (the baseline and its what-ifs) on that same seed: common
random numbers, so differences between worlds are not drowned in noise.

A task returns compact summaries, not incident records: per replication the
downtime of every service in every calendar month, and per incident its
severity, its verdicts (RTO, RPO, response time, cadence), its times, and
per service whether it kept that service's own RTO and RPO.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from sim.model import simulate
from sim.model.records import IncidentRecord, SimResult
from sim.playbook import Playbook
from sim.world import World

VERDICTS = ("rto_met", "rpo_met", "response_met", "comms_met")
SERVICE_VERDICTS = ("rto_met", "rpo_met")
"""Per incident and service: restored within the service's RTO, lost no more than its RPO."""
TIMES = ("time_to_restore_s", "detect_s", "acknowledge_s", "diagnose_s", "mitigate_s")
STAGES = TIMES[1:]
UNKNOWN = -1
"""A verdict that could not be given (no cadence for the severity, still down but within RTO)."""


def child_seed(seed: int, replication: int) -> np.random.SeedSequence:
    """Replication ``replication``'s seed: the same as ``SeedSequence(seed).spawn(n)[replication]``."""
    return np.random.SeedSequence(seed, spawn_key=(replication,))


@dataclass(frozen=True)
class Spec:
    """What every replication of a forecast shares.

    Playbook and worlds travel as JSON and are validated again where the task
    runs: that keeps tasks picklable for any process or cluster, whatever
    state the caller's objects are in.
    """

    playbook_json: str
    worlds_json: tuple[str, ...]
    detail: tuple[bool, ...]
    """Per world: keep per-incident summaries (a sensitivity run needs downtime only)."""
    days: float
    start: dt.datetime
    seed: int

    @classmethod
    def make(
        cls,
        playbook: Playbook,
        worlds: tuple[World, ...],
        *,
        detail: bool,
        days: float,
        start: dt.datetime,
        seed: int,
    ) -> Spec:
        return cls(
            playbook.model_dump_json(by_alias=True),
            tuple(w.model_dump_json(by_alias=True) for w in worlds),
            (detail,) * len(worlds),
            days,
            start,
            seed,
        )


@dataclass(frozen=True)
class Job:
    """Replications ``first`` … ``first + count − 1`` of ``spec``, under each of its worlds."""

    spec: Spec
    first: int
    count: int


IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Batch:
    """Summaries of consecutive replications under one world.

    ``downtime_s[r, s, m]`` is service ``s``'s downtime in month ``m`` of
    replication ``first + r`` (services in playbook order).  Incident arrays
    run in parallel: ``replication`` (absolute index), ``severity`` (index into
    the playbook's severities, −1 if never detected), ``verdicts`` (1 met,
    0 missed, −1 unknown; columns :data:`VERDICTS`), ``times`` (seconds,
    nan where not reached; columns :data:`TIMES`) and ``service_verdicts``
    ``[incident, service, SERVICE_VERDICTS]`` (1, 0, or −1 where the incident
    did not hit the service, lost none of its writes, or was still within the
    RTO when the run ended).
    """

    first: int
    count: int
    downtime_s: FloatArray
    replication: IntArray
    severity: IntArray
    verdicts: IntArray
    times: FloatArray
    service_verdicts: IntArray
    events: int = field(default=0, compare=False)


def run_job(job: Job) -> tuple[Batch, ...]:
    """Run a task: every replication under every world of its spec; one batch per world."""
    spec = job.spec
    playbook, worlds = _materialise(spec.playbook_json, spec.worlds_json, spec.start)
    collectors = [_Collector(playbook, world, keep) for world, keep in zip(worlds, spec.detail, strict=True)]
    for replication in range(job.first, job.first + job.count):
        seed = child_seed(spec.seed, replication)
        for world, collector in zip(worlds, collectors, strict=True):
            collector.add(replication, simulate(playbook, world, days=spec.days, seed=seed))
    n_services = len(playbook.services)
    return tuple(c.batch(job.first, job.count, n_services) for c in collectors)


@lru_cache(maxsize=8)
def _materialise(
    playbook_json: str, worlds_json: tuple[str, ...], start: dt.datetime
) -> tuple[Playbook, tuple[World, ...]]:
    # A worker runs many tasks of the same forecast: validate its inputs once.
    playbook = Playbook.model_validate_json(playbook_json)
    worlds = []
    for text in worlds_json:
        world = World.model_validate_json(text)
        calendar = world.calendar.model_copy(update={"start": start})
        worlds.append(world.model_copy(update={"calendar": calendar}))
    return playbook, tuple(worlds)


class _Collector:
    def __init__(self, playbook: Playbook, world: World, detail: bool) -> None:
        self.index = {s.id: i for i, s in enumerate(playbook.severities)}
        self.services = playbook.services
        # Which service's writes each failure mode loses, when it loses any.
        self.data_service = {m.id: m.data_loss.service for m in world.failure_modes if m.data_loss}
        self.detail = detail
        self.downtime: list[list[float]] = []
        self.rows: list[tuple[int, int, tuple[int, ...], tuple[float, ...], tuple[tuple[int, int], ...]]] = []
        self.events = 0

    def add(self, replication: int, result: SimResult) -> None:
        self.downtime.append([m.downtime_s for m in result.service_months])
        self.events += result.events
        if not self.detail:
            return
        for r in result.records:
            severity = self.index[r.severity] if r.severity is not None else UNKNOWN
            verdicts = tuple(
                UNKNOWN if v is None else int(v) for v in (r.rto_met, r.rpo_met, r.response_met, r.comms_met)
            )
            self.rows.append(
                (
                    replication,
                    severity,
                    verdicts,
                    _times(r.started_s, r.detected_s, r.acknowledged_s, r.diagnosed_s, r.mitigated_s),
                    self._per_service(r, result.horizon_s),
                )
            )

    def _per_service(self, r: IncidentRecord, horizon_s: float) -> tuple[tuple[int, int], ...]:
        """Each service's own RTO and RPO, for this incident (:data:`SERVICE_VERDICTS`)."""
        lost = self.data_service.get(r.failure_mode) if r.data_loss_s > 0 else None
        out = []
        for service in self.services:
            rto = rpo = UNKNOWN
            if service.id in r.services:
                if r.mitigated_s is not None:
                    rto = int(r.mitigated_s - r.started_s <= service.rto_s)
                elif horizon_s - r.started_s > service.rto_s:
                    rto = 0  # still down at the end of the run, already past the service's RTO
            if service.id == lost:
                rpo = int(r.data_loss_s <= service.rpo_s)
            out.append((rto, rpo))
        return tuple(out)

    def batch(self, first: int, count: int, n_services: int) -> Batch:
        downtime = np.asarray(self.downtime, dtype=np.float64).reshape(count, n_services, -1)
        rows = self.rows
        return Batch(
            first=first,
            count=count,
            downtime_s=downtime,
            replication=np.asarray([r[0] for r in rows], dtype=np.int64),
            severity=np.asarray([r[1] for r in rows], dtype=np.int64),
            verdicts=np.asarray([r[2] for r in rows], dtype=np.int64).reshape(len(rows), len(VERDICTS)),
            times=np.asarray([r[3] for r in rows], dtype=np.float64).reshape(len(rows), len(TIMES)),
            service_verdicts=np.asarray([r[4] for r in rows], dtype=np.int64).reshape(
                len(rows), n_services, len(SERVICE_VERDICTS)
            ),
            events=self.events,
        )


def _times(
    started: float,
    detected: float | None,
    acknowledged: float | None,
    diagnosed: float | None,
    mitigated: float | None,
) -> tuple[float, ...]:
    """Time to restore and its stages, up to restoration.

    Milestones after service came back (an auto-rollback can restore before
    anyone acknowledges) are clipped to the restore time, so the four stages
    always add up to the time to restore.  Unrestored incidents get nan.
    """
    if mitigated is None:
        return (math.nan,) * len(TIMES)
    marks = [started]
    for moment in (detected, acknowledged, diagnosed):
        marks.append(min(mitigated, moment if moment is not None else mitigated))
    marks.append(mitigated)
    stages = tuple(max(0.0, b - a) for a, b in itertools.pairwise(marks))
    return (mitigated - started, *stages)


def merge(batches: list[Batch]) -> Batch:
    """Consecutive batches of one world as one, in replication order."""
    ordered = sorted(batches, key=lambda b: b.first)
    for before, after in itertools.pairwise(ordered):
        if before.first + before.count != after.first:
            raise ValueError(f"replications {before.first + before.count}..{after.first - 1} are missing")
    return Batch(
        first=ordered[0].first,
        count=sum(b.count for b in ordered),
        downtime_s=np.concatenate([b.downtime_s for b in ordered]),
        replication=np.concatenate([b.replication for b in ordered]),
        severity=np.concatenate([b.severity for b in ordered]),
        verdicts=np.concatenate([b.verdicts for b in ordered]),
        times=np.concatenate([b.times for b in ordered]),
        service_verdicts=np.concatenate([b.service_verdicts for b in ordered]),
        events=sum(b.events for b in ordered),
    )
