"""Runbook queries that cannot run as the manual writes them.

A responder pastes the troubleshooting guide's SQL in the middle of an
incident; a query that PostgreSQL rejects costs minutes the RTO does not
have.  Where the playbook had to correct the manual's text to run it, this
check names what the manual's own text gets wrong.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ce_drill.lint.finding import Cite, Finding
from sim.playbook import Playbook

_QUALIFIER = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\.[A-Za-z_]")
_DEFINED = re.compile(r"\b(?:FROM|JOIN)\s+[A-Za-z0-9_.]+\s+(?:AS\s+)?([A-Za-z_][A-Za-z0-9_]*)", re.IGNORECASE)


def undefined_aliases(sql: str) -> list[str]:
    """Table aliases a query qualifies columns with but never introduces in FROM or JOIN."""
    defined = {m.lower() for m in _DEFINED.findall(sql)}
    used = {m.lower() for m in _QUALIFIER.findall(sql)} - {"pg_catalog", "information_schema"}
    return sorted(used - defined)


def runbook_findings(pb: Playbook) -> Iterator[Finding]:
    for i, diagnosis in enumerate(pb.troubleshooting.diagnoses):
        source = diagnosis.manual_queries_source or diagnosis.source
        for name, text in diagnosis.manual_queries.items():
            missing = undefined_aliases(text)
            if not missing:
                continue
            yield Finding(
                code="runbook-query-invalid",
                message=(
                    f"the {diagnosis.name} runbook's {name} query uses {', '.join(missing)} without joining "
                    "it, so PostgreSQL rejects it (missing FROM-clause entry); ce-drill runs it with the join added"
                ),
                cites=(
                    Cite(
                        f"troubleshooting.diagnoses[{i}].manual_queries.{name}",
                        source,
                        text.split("\n")[3].strip(),
                    ),
                    Cite(
                        f"troubleshooting.diagnoses[{i}].queries.{name}",
                        diagnosis.source,
                        "the query as ce-drill runs it",
                    ),
                ),
                fix="add `JOIN pg_catalog.pg_stat_activity blocking_activity ON blocking_activity.pid = blocking_locks.pid`",
            )
