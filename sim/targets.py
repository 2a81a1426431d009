"""The recovery targets one incident is held to: the stricter of its severity's and its services'.

The manual sets recovery targets twice: per severity (事故分级体系: P2 has an
RTO of 1 hour, an RPO of 15 minutes) and per service (恢复目标 › 服务级别目标:
the primary database has an RTO of 15 minutes, an RPO of 5).  An incident
keeps both promises, so a P2 incident of the primary database must restore
service within 15 minutes, not within the hour.  The RTO and the RPO are
taken separately: each is the strictest of the severity and every service
the incident hits.  On a tie the severity is named as the binding target.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sim.fields import ManualRef
from sim.playbook import Playbook


@dataclass(frozen=True)
class Target:
    """One binding target: its seconds, whose it is (``P2`` or a service id) and where the manual says so."""

    seconds: float
    holder: str
    source: ManualRef


@dataclass(frozen=True)
class IncidentTargets:
    rto: Target
    rpo: Target
    considered: tuple[str, ...]
    """Whose targets were weighed: the severity first, then the services in the order given."""


def incident_targets(playbook: Playbook, severity: str, services: Iterable[str] = ()) -> IncidentTargets:
    """The RTO and the RPO an incident of ``severity`` hitting ``services`` must meet.

    Raises ``KeyError`` for a severity or service the playbook does not define.
    """
    sev = playbook.severity(severity)
    rto = Target(sev.rto_s, sev.id, sev.source)
    rpo = Target(sev.rpo_s, sev.id, sev.source)
    considered = [sev.id]
    for service_id in services:
        service = playbook.service(service_id)
        considered.append(service.id)
        # Strictly less: on a tie the severity stays the one cited.
        if service.rto_s < rto.seconds:
            rto = Target(service.rto_s, service.id, service.source)
        if service.rpo_s < rpo.seconds:
            rpo = Target(service.rpo_s, service.id, service.source)
    return IncidentTargets(rto, rpo, tuple(considered))


def effective_targets(playbook: Playbook, severity: str, service: str | None = None) -> tuple[float, float]:
    """``(rto_s, rpo_s)`` for an incident of ``severity`` on ``service``: the stricter of the two, each.

    Without a service, the severity's own targets.  Raises ``KeyError`` for an
    unknown severity or service.
    """
    targets = incident_targets(playbook, severity, () if service is None else (service,))
    return targets.rto.seconds, targets.rpo.seconds
