"""Which of the manual's targets a forecast puts at risk, worst first.

A target is **at risk** when the forecast gives it less than an 80 % chance of
being met, **to watch** below 95 %, and **on track** otherwise.  These are
reading aids of the report, not promises of the manual: the targets
themselves come from the playbook.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sim.forecast import Forecast
from sim.forecast.jobs import VERDICTS

ON_TRACK = 0.95
AT_RISK = 0.80
STATUSES = ("at risk", "watch", "on track")
VERDICT_NAMES = {
    "rto_met": "RTO met",
    "rpo_met": "RPO met",
    "response_met": "response time met",
    "comms_met": "update cadence kept",
}


def status(p: float) -> str:
    if p < AT_RISK:
        return "at risk"
    return "watch" if p < ON_TRACK else "on track"


@dataclass(frozen=True)
class Finding:
    status: str
    subject: str
    """What the target is about: a service, or a severity."""
    figure: str
    """The target in words: "meets 99.95 % in 2027-03", "RTO met (15.0 min)"."""
    estimate: float
    lo: float
    hi: float


def by_service(result: Forecast) -> dict[str, list[dict[str, Any]]]:
    """The rows of ``result.services`` grouped by service, in playbook order."""
    out: dict[str, list[dict[str, Any]]] = {}
    for row in result.services.to_dict("records"):
        out.setdefault(str(row["service"]), []).append({str(k): v for k, v in row.items()})
    return out


def worst_months(result: Forecast) -> list[dict[str, Any]]:
    """Each service's month least likely to meet its target (the first, on a tie)."""
    return [min(rows, key=lambda r: float(r["p_met"])) for rows in by_service(result).values()]


def service_findings(result: Forecast) -> list[Finding]:
    """Each service's least likely month."""
    out = []
    for worst in worst_months(result):
        figure = f"meets {100 * worst['target']:.10g} % availability in {worst['month']}"
        out.append(
            Finding(
                status(worst["p_met"]),
                str(worst["service"]),
                figure,
                worst["p_met"],
                worst["p_met_lo"],
                worst["p_met_hi"],
            )
        )
    return _ordered(out)


def severity_findings(result: Forecast) -> list[Finding]:
    """Each severity's verdicts, over its incidents (those with any)."""
    out = []
    for row in result.severities.to_dict("records"):
        for verdict in VERDICTS:
            p = float(row[verdict])
            if row[f"{verdict}_n"] and not math.isnan(p):
                out.append(
                    Finding(
                        status(p),
                        str(row["severity"]),
                        VERDICT_NAMES[verdict],
                        p,
                        float(row[f"{verdict}_lo"]),
                        float(row[f"{verdict}_hi"]),
                    )
                )
    return _ordered(out)


def _ordered(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (STATUSES.index(f.status), f.estimate))
