"""``ce-drill playbook lint``: the shipped manual's contradictions, and each check's power to clear.

Every check is shown both ways: it reports the contradiction in the shipped
manual, and it goes quiet when the playbook is edited so that the two places
agree.  With every contradiction mended, lint exits 0.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner

from ce_drill.cli import cli
from ce_drill.lint import lint
from sim.playbook import Playbook
from tests.conftest import MutatePlaybook

EXPECTED = [
    ("matrix-without-rule", ("alert_priority_matrix[2].conditions[1]", "detection_rules")),
    ("severity-conflict", ("detection_rules[3]", "alert_priority_matrix[1].conditions[2]")),
    ("severity-conflict", ("detection_rules[3]", "severities[1].response_time_above_s")),
    ("severity-conflict", ("detection_rules[7]", "alert_priority_matrix[2].conditions[2]")),
    ("severity-conflict", ("detection_rules[9]", "alert_priority_matrix[2].conditions[2]")),
    ("matrix-without-rule", ("alert_priority_matrix[2].conditions[2]", "detection_rules")),
    ("severity-conflict", ("detection_rules[11]", "alert_priority_matrix[2].conditions[2]")),
    ("matrix-without-rule", ("alert_priority_matrix[0].conditions[0]", "alert_priority_matrix[1].conditions[0]",
                             "alert_priority_matrix[2].conditions[0]", "detection_rules")),
    ("matrix-without-rule", ("alert_priority_matrix[0].conditions[3]", "detection_rules")),
    ("matrix-without-rule", ("alert_priority_matrix[1].conditions[3]", "detection_rules")),
    ("matrix-without-rule", ("alert_priority_matrix[2].conditions[3]", "detection_rules")),
    ("timeline-after-rto", ("response_timeline[0].milestones[3]", "response_timeline[0].milestones[4]",
                            "severities[0].rto_s")),
    ("user-notice-deadline", ("checklists.first_response[2].items[3]", "communication.user_email[0]")),
    ("checklist-after-rto", ("checklists.first_response[3].items[0]", "severities[0].rto_s")),
    ("flow-vs-response-time", ("response_flows[1].confirm_within_s", "severities[2].response")),
    ("diagnosis-window", ("response_flows[0]", "troubleshooting.health_checks")),
    ("business-hours-vs-deadline", ("severities[2].escalation", "severities[2].rto_s", "severities[2].response")),
    ("business-hours-vs-deadline", ("severities[3].escalation", "severities[3].rto_s")),
    ("resolution-vs-rto", ("targets.availability.incident_resolution_time_s", "severities[2].rto_s",
                           "severities[3].rto_s")),
    ("template-vs-cadence", ("communication.template_promises[1]", "communication.update_cadence[0]")),
    ("template-vs-cadence", ("communication.template_promises[2]", "communication.update_cadence[0]")),
    ("template-vs-rto", ("communication.template_promises[3]", "severities[0].rto_s")),
    ("daily-vs-monthly-downtime", ("targets.availability.daily_downtime_max_s", "targets.availability.monthly_uptime")),
    ("system-above-dependencies", ("targets.availability.monthly_uptime", "services[1].availability",
                                   "services[3].availability", "services[4].availability",
                                   "services[5].availability", "services[6].availability")),
    ("limit-without-alert", ("targets.resource_limits.cpu_utilization_max", "detection_rules[6]")),
    ("limit-without-alert", ("targets.resource_limits.memory_utilization_max", "detection_rules[8]")),
    ("action-item-not-applied", ("postmortem.example.action_items[0].items[0]", "detection_rules[8]")),
    ("action-item-not-applied", ("postmortem.example.action_items[1].items[1]", "auto_rollback.phases[canary]")),
    ("example-outage-length", ("postmortem.example.claims[5]", "postmortem.example.timeline[8]")),
    ("example-misses-rto", ("postmortem.example.timeline[8]", "severities[0].rto_s")),
    ("example-late-notice", ("postmortem.example.timeline[9]", "response_timeline")),
    ("example-praises-late", ("postmortem.example.claims[1]", "response_timeline")),
    ("example-praises-late", ("postmortem.example.claims[2]", "response_timeline")),
    ("example-praises-late", ("postmortem.example.claims[4]", "response_timeline")),
    ("example-auto-rollback", ("postmortem.example.claims[3]", "postmortem.example.timeline[5]")),
    ("manual-dated-before-content", ("manual.last_updated", "postmortem.example.report.published")),
    ("runbook-query-invalid", ("troubleshooting.diagnoses[1].manual_queries.lock_waits",
                               "troubleshooting.diagnoses[1].queries.lock_waits")),
]  # fmt: skip


def test_shipped_manual_contradictions(playbook: Playbook) -> None:
    found = [(f.code, tuple(c.path for c in f.cites)) for f in lint(playbook)]
    assert found == EXPECTED


def test_the_issue_examples_are_among_them(playbook: Playbook) -> None:
    text = "\n".join(f.render() for f in lint(playbook))
    assert (
        "p95_response_time between 5s and 10s is P1 by the detection rules but P2 by the priority matrix"
        in text
    )
    assert (
        "permits 300 min of downtime in a 30-day month, but 99.95% monthly uptime allows only 21.6 min"
        in text
    )
    assert "完成修复或升级 at T+30m, but the P1 RTO is 15m" in text
    assert (
        "claims an outage of 2h15m, but its own timeline has service fully back at 15:30, 1h after 14:30"
        in text
    )


def test_every_finding_cites_manual_lines_for_each_side(playbook: Playbook) -> None:
    for finding in lint(playbook):
        assert len(finding.cites) >= 2
        assert len({c.path for c in finding.cites}) == len(finding.cites)
        assert all(c.ref.first_line >= 1 and c.says for c in finding.cites)


def _set(*keys: Any, value: Any) -> Callable[[Any], None]:
    def edit(data: Any) -> None:
        node = data
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value

    return edit


def _delete(*keys: Any) -> Callable[[Any], None]:
    def edit(data: Any) -> None:
        node = data
        for key in keys[:-1]:
            node = node[key]
        del node[keys[-1]]

    return edit


def _all(*edits: Callable[[Any], None]) -> Callable[[Any], None]:
    def edit(data: Any) -> None:
        for e in edits:
            e(data)

    return edit


M = "alert_priority_matrix"
EX = ("postmortem", "example")
# Each mend makes the two places agree; the finding(s) it names must disappear.
MENDS: list[tuple[str, Callable[[Any], None], str, int]] = [
    ("matrix p95 ladder and P2 definition follow the rules", _all(
        _set(M, 1, "conditions", 2, "threshold", value="2000ms"),
        _set(M, 0, "conditions", 2, "threshold", value="5000ms"),
        _set("severities", 1, "response_time_above", value="2s")), "severity-conflict", 2),
    ("P2 definition follows the rules", _set("severities", 1, "response_time_above", value="2s"), "severity-conflict", 1),
    ("matrix drops resource utilisation", _delete(M, 2, "conditions", 2), "severity-conflict", 3),
    ("matrix drops the 1% error rate", _delete(M, 2, "conditions", 1), "matrix-without-rule", 1),
    ("matrix drops availability", _all(*(_delete(M, i, "conditions", 0) for i in range(3))), "matrix-without-rule", 1),
    ("matrix drops database connectivity", _delete(M, 0, "conditions", 3), "matrix-without-rule", 1),
    ("P1 fix inside the RTO", _all(
        _set("response_timeline", 0, "milestones", 3, "at", value="10m"),
        _set("response_timeline", 0, "milestones", 4, "at", value="15m")), "timeline-after-rto", 1),
    ("P1 e-mail after 30 minutes", _all(
        _set("communication", "user_email", 0, "when", value="impact_exceeds"),
        _set("communication", "user_email", 0, "impact_over", value="30m")), "user-notice-deadline", 1),
    ("checklist fix within 15m", _set("checklists", "first_response", 3, "within", value="15m"), "checklist-after-rto", 1),
    ("P3 responds within 30m", _set("severities", 2, "response", "within", value="30m"), "flow-vs-response-time", 1),
    ("a shorter health checklist", _all(*(
        _set("troubleshooting", "health_checks", i, "budget", value="1m") for i in range(3))), "diagnosis-window", 1),
    ("P3 staffed out of hours", _set("severities", 2, "escalation", "mode", value="notify_primary_team"),
     "business-hours-vs-deadline", 1),
    ("resolution time is per severity", _set("targets", "availability", "incident_resolution_time", value="24h"),
     "resolution-vs-rto", 1),
    ("status page follows the cadence", _set("communication", "template_promises", 1, "next_update_in", value="15m"),
     "template-vs-cadence", 1),
    ("e-mail quotes the RTO", _set("communication", "template_promises", 3, "expected_recovery_in", value="15m"),
     "template-vs-rto", 1),
    ("daily allowance fits the month", _set("targets", "availability", "daily_downtime_max", value="30s"),
     "daily-vs-monthly-downtime", 1),
    ("platform target at its weakest dependency", _set("targets", "availability", "monthly_uptime", value="99.5%"),
     "system-above-dependencies", 1),
    ("CPU limit where the alert is", _set("targets", "resource_limits", "cpu_utilization_max", value="80%"),
     "limit-without-alert", 1),
    ("canary watched for 30m", _set("auto_rollback", "phases", 0, "delay", value="30m"), "action-item-not-applied", 1),
    ("outage reported to recovery", _set(*EX, "claims", 5, "duration", value="60m"), "example-outage-length", 1),
    ("example is a P2", _set(*EX, "severity", value="P2"), "example-misses-rto", 1),
    ("notice inside the hour", _set(*EX, "timeline", 9, "at", value="15:25"), "example-late-notice", 1),
    ("team assembled in 5m", _set(*EX, "claims", 1, "within", value="5m"), "example-praises-late", 1),
    ("the rollback was automatic", _delete(*EX, "timeline", 5, "by"), "example-auto-rollback", 1),
    ("manual dated after its content", _set("manual", "last_updated", value="2024-01-18"),
     "manual-dated-before-content", 1),
    ("runbook query joins what it uses", _delete("troubleshooting", "diagnoses", 1, "manual_queries"),
     "runbook-query-invalid", 1),
]  # fmt: skip


@pytest.mark.parametrize(("edit", "code", "fewer"), [m[1:] for m in MENDS], ids=[m[0] for m in MENDS])
def test_each_check_clears_when_the_manual_is_mended(
    playbook: Playbook, mutated_playbook: MutatePlaybook, edit: Callable[[Any], None], code: str, fewer: int
) -> None:
    before = Counter(f.code for f in lint(playbook))
    after = Counter(f.code for f in lint(Playbook.load(mutated_playbook(edit))))
    assert after[code] == before[code] - fewer


def test_a_consistent_manual_lints_clean(mutated_playbook: MutatePlaybook) -> None:
    mend_all = _all(
        _set(M, 1, "conditions", 2, "threshold", value="2000ms"),
        _set(M, 0, "conditions", 2, "threshold", value="5000ms"),
        _set("severities", 1, "response_time_above", value="2s"),
        _delete(M, 2, "conditions", 3), _delete(M, 2, "conditions", 2), _delete(M, 2, "conditions", 1),
        _delete(M, 1, "conditions", 3), _delete(M, 0, "conditions", 3),
        *(_delete(M, i, "conditions", 0) for i in range(3)),
        _set("response_timeline", 0, "milestones", 3, "at", value="10m"),
        _set("response_timeline", 0, "milestones", 4, "at", value="15m"),
        _set("communication", "user_email", 0, "when", value="impact_exceeds"),
        _set("communication", "user_email", 0, "impact_over", value="30m"),
        _set("checklists", "first_response", 3, "within", value="15m"),
        _set("severities", 2, "response", "within", value="30m"),
        *(_set("troubleshooting", "health_checks", i, "budget", value="1m") for i in range(3)),
        _set("severities", 2, "escalation", "mode", value="notify_primary_team"),
        _set("severities", 3, "escalation", "mode", value="notify_primary_team"),
        _set("severities", 3, "response", value={"kind": "within", "within": "24h", "text": "24小时内响应"}),
        _set("targets", "availability", "incident_resolution_time", value="24h"),
        _set("communication", "template_promises", 1, "next_update_in", value="15m"),
        _set("communication", "template_promises", 2, "next_update_in", value="15m"),
        _set("communication", "template_promises", 3, "expected_recovery_in", value="15m"),
        _set("targets", "availability", "daily_downtime_max", value="30s"),
        _set("targets", "availability", "monthly_uptime", value="99.5%"),
        _set("targets", "resource_limits", "cpu_utilization_max", value="80%"),
        _set("targets", "resource_limits", "memory_utilization_max", value="85%"),
        _set(*EX, "action_items", 0, "items", 0, "alert_threshold", value="85%"),
        _set("auto_rollback", "phases", 0, "delay", value="30m"),
        _set(*EX, "claims", 5, "duration", value="60m"),
        _set(*EX, "severity", value="P2"),
        _delete(*EX, "timeline", 5, "by"),
        _set("manual", "last_updated", value="2024-01-18"),
        _delete("troubleshooting", "diagnoses", 1, "manual_queries"),
    )  # fmt: skip
    path = mutated_playbook(mend_all)
    assert [f.render() for f in lint(Playbook.load(path))] == []
    result = CliRunner().invoke(cli, ["playbook", "lint", str(path)])
    assert (result.exit_code, result.stdout) == (0, "0 finding(s)\n")


def test_cli_exit_code_and_json() -> None:
    result = CliRunner().invoke(cli, ["playbook", "lint", "--json"])
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert payload["count"] == len(EXPECTED) == len(payload["findings"])
    first = payload["findings"][1]
    assert first["code"] == "severity-conflict"
    assert first["sources"][0] == {
        "playbook_path": "detection_rules[3]",
        "manual_lines": [155, 156],
        "manual_section": "检测与报警 › 自动监控告警 › 核心业务指标",
        "says": "claude_enhancer:p95_response_time > 5s for 2m → P1",
    }
    text = CliRunner().invoke(cli, ["playbook", "lint"])
    assert text.exit_code == 1
    assert text.stdout.endswith(f"{len(EXPECTED)} finding(s)\n")
