"""Rule generation without Prometheus: counts, provenance, time compression, file formats."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from ce_drill.plan.timing import WINDOW_FLOOR_SCRAPES, Timing, prom_duration
from ce_drill.rules import contract
from ce_drill.rules.alerting import AlertRule, threshold_step
from ce_drill.rules.generate import (
    ALERTING_FILE,
    ALERTMANAGER_FILE,
    PROMETHEUS_RULE_FILE,
    RECORDING_FILE,
    RuleSet,
    build,
)
from ce_drill.rules.promtests import crossing_values
from ce_drill.rules.yamltext import dump
from sim.errors import InputError
from sim.playbook import Playbook

DOCS = Path(__file__).resolve().parent.parent / "docs"


@pytest.fixture(scope="module")
def pb() -> Playbook:
    return Playbook.default()


@pytest.fixture(scope="module")
def ruleset(pb: Playbook) -> RuleSet:
    return build(pb)


def _load(text: str) -> Any:
    return YAML(typ="safe", pure=True).load(text)


def _alert(rs: RuleSet, name: str) -> AlertRule:
    return next(a for a in rs.alerts if a.name == name)


def test_counts_follow_the_playbook(pb: Playbook, ruleset: RuleSet) -> None:
    conditions = sum(len(level.conditions) for level in pb.alert_priority_matrix)
    unlisted = [s for s in pb.severities if s.id not in {lv.severity for lv in pb.alert_priority_matrix}]
    counts = ruleset.counts()
    assert counts["detection_alerts"] == len(pb.detection_rules)
    assert counts["matrix_alerts"] == conditions
    assert counts["alerting_rules"] == len(pb.detection_rules) + conditions
    assert counts["alert_tests"] == 2 * counts["alerting_rules"]
    assert counts["routes"] == sum(len(lv.channels) for lv in pb.alert_priority_matrix) + len(unlisted)
    channels = {ch for lv in pb.alert_priority_matrix for ch in lv.channels}
    assert counts["receivers"] == len(channels)
    assert counts["recording_rules"] == len(contract.RECORDED_METRICS) + 1  # + node:resource_utilization
    assert counts["recording_tests"] >= counts["recording_rules"]
    files = ruleset.files()
    alerting = _load(files[ALERTING_FILE])
    assert sum(len(g["rules"]) for g in alerting["groups"]) == counts["alerting_rules"]
    am = _load(files[ALERTMANAGER_FILE])
    assert len(am["route"]["routes"]) == counts["routes"]
    assert len(am["receivers"]) == counts["receivers"]


def test_detection_alerts_take_threshold_for_and_severity_from_the_playbook(
    pb: Playbook, ruleset: RuleSet
) -> None:
    for rule in pb.detection_rules:
        alert = _alert(ruleset, rule.name)
        assert alert.as_dict()["for"] == prom_duration(round(rule.for_s * 1000))
        assert alert.expr == f"{rule.metric} {rule.op} {format(rule.threshold, '.12g')}"
        assert dict(alert.labels) == {"severity": rule.severity, "source": "detection"}
        annotations = dict(alert.annotations)
        assert annotations["summary"] == rule.summary
        assert annotations["runbook"] == str(rule.runbook)
        assert annotations["manual_source"] == str(rule.source)
        assert str(rule.runbook) in annotations["description"]


def test_matrix_alerts_borrow_for_as_documented(pb: Playbook, ruleset: RuleSet) -> None:
    p1 = [r for r in pb.detection_rules if r.severity == "P1"]
    same_metric = [r for r in p1 if r.metric == "claude_enhancer:error_rate"]
    assert _alert(ruleset, "ErrorRateP1Critical").for_manual_s == min(r.for_s for r in same_metric)
    db = _alert(ruleset, "DatabaseConnectivityFailedP1Critical")
    assert db.for_manual_s == min(r.for_s for r in p1)
    assert db.expr == "claude_enhancer:database_connectivity_failed == 1"
    assert "the manual sets no duration" in dict(db.annotations)["description"]
    for alert in ruleset.alerts:
        if alert.kind == "matrix":
            assert alert.for_basis.startswith("shortest for among")
            assert dict(alert.annotations)["runbook"].startswith("manual L")


def test_p4_routes_to_the_least_urgent_channel(pb: Playbook, ruleset: RuleSet) -> None:
    least_urgent = pb.alert_priority_matrix[-1]
    assert ruleset.routing.receivers_for("P4") == [least_urgent.channels[-1]]
    assert ruleset.routing.fallback == least_urgent.channels[-1]
    for level in pb.alert_priority_matrix:
        assert ruleset.routing.receivers_for(level.severity) == list(level.channels)


def test_alertmanager_repeats_at_the_update_cadence_divided_by_the_scale(pb: Playbook) -> None:
    for scale in (1.0, 30.0):
        rs = build(pb, scale=scale)
        routes = _load(rs.files()[ALERTMANAGER_FILE])["route"]["routes"]
        for cadence in pb.communication.update_cadence:
            expected = prom_duration(max(round(cadence.every_s * 1000 / scale), rs.timing.group_interval_ms))
            assert {
                r["repeat_interval"] for r in routes if r["matchers"] == [f'severity="{cadence.severity}"']
            } == {expected}
        for receiver in _load(rs.files()[ALERTMANAGER_FILE])["receivers"]:
            assert receiver["webhook_configs"] == [
                {"url": rs.webhook_url, "send_resolved": True},
            ]


def test_webhook_url_is_overridable_per_channel(pb: Playbook) -> None:
    rs = build(pb, webhook_url="http://sink:1/{channel}")
    receivers = _load(rs.files()[ALERTMANAGER_FILE])["receivers"]
    assert {r["webhook_configs"][0]["url"] for r in receivers} == {
        f"http://sink:1/{r['name']}" for r in receivers
    }


@pytest.mark.parametrize("scale", [1.0, 7.0, 30.0, 1000.0])
def test_time_compression_and_its_floors(pb: Playbook, scale: float) -> None:
    t = Timing.create(scale)
    rs = build(pb, scale=scale)
    assert t.scrape_ms >= 1000
    assert t.window_ms % t.scrape_ms == 0
    assert t.window_ms >= WINDOW_FLOOR_SCRAPES * t.scrape_ms
    assert t.window_ms >= round(300_000 / scale)
    for rule in pb.detection_rules:
        alert = _alert(rs, rule.name)
        assert alert.for_ms == max(round(rule.for_s * 1000 / scale), t.scrape_ms)
    assert t.group_interval_ms >= t.scrape_ms
    window = prom_duration(t.window_ms)
    recording = _load(rs.files()[RECORDING_FILE])["groups"][0]
    assert recording["interval"] == prom_duration(t.scrape_ms)
    windows = {w for rule in recording["rules"] for w in re.findall(r"\[([^\]]+)\]", rule["expr"])}
    assert windows == {window}


def test_scale_1000_floors_the_window_at_four_scrapes() -> None:
    t = Timing.create(1000.0)
    assert t.window_ms == WINDOW_FLOOR_SCRAPES * t.scrape_ms
    assert t.for_ms(60.0) == t.scrape_ms


def test_explicit_scrape_interval_is_wall_time() -> None:
    t = Timing.create(30.0, 0.25)
    assert t.scrape_ms == 250
    assert t.window_ms == 10_000  # 5m / 30, already a multiple of 250ms
    with pytest.raises(ValueError, match="time scale"):
        Timing.create(0.5)


def test_latency_thresholds_are_not_compressed(pb: Playbook) -> None:
    rs = build(pb, scale=30.0)
    for rule in pb.detection_rules:
        assert _alert(rs, rule.name).threshold == rule.threshold


def test_crossing_values_sit_one_step_either_side(ruleset: RuleSet) -> None:
    for alert in ruleset.alerts:
        fire, hold = crossing_values(alert)
        if alert.unit == "bool":
            assert {fire, hold} == {0.0, 1.0}
            continue
        step = threshold_step(alert.threshold, alert.unit)
        assert 0 < step <= abs(alert.threshold) * 0.01
        assert math.isclose(abs(fire - hold), step)
        assert alert.threshold in (fire, hold)


def test_generation_is_deterministic(pb: Playbook) -> None:
    assert build(pb, scale=30.0).files() == build(pb, scale=30.0).files()


def test_prometheus_rule_holds_the_same_groups_as_the_rule_files(ruleset: RuleSet) -> None:
    files = ruleset.files()
    manifest = _load(files[PROMETHEUS_RULE_FILE])
    assert manifest["apiVersion"] == "monitoring.coreos.com/v1"
    assert manifest["kind"] == "PrometheusRule"
    groups = _load(files[RECORDING_FILE])["groups"] + _load(files[ALERTING_FILE])["groups"]
    assert manifest["spec"]["groups"] == groups


def test_yaml_files_read_back_as_generated(ruleset: RuleSet) -> None:
    assert _load(ruleset.files()[ALERTING_FILE]) == {"groups": ruleset.alerting_groups()}
    assert _load(ruleset.files()[RECORDING_FILE]) == {"groups": ruleset.recording_groups()}


@pytest.mark.parametrize(
    "value", ["yes", "No", "on", "010", "1.5", "0x1f", "1e3", "~", "null", "a: b", "多\n行", "-", ""]
)
def test_yaml_writer_quotes_what_go_yaml_would_misread(value: str) -> None:
    text = dump({"k": value})
    assert _load(text) == {"k": value}
    assert text != f"k: {value}\n"


def test_yaml_writer_keeps_plain_identifiers_and_durations_plain() -> None:
    assert dump({"for": "5m", "severity": "P1", "x": "1m30s", "url": "http://h:1/a"}) == (
        "for: 5m\nseverity: P1\nx: 1m30s\nurl: http://h:1/a\n"
    )


def test_every_playbook_metric_is_in_the_contract(pb: Playbook, ruleset: RuleSet) -> None:
    produced = {r.metric.name for r in ruleset.recording} | {m.name for m in contract.RAW_METRICS}
    for trigger in pb.auto_rollback.triggers:
        assert trigger.metric in produced
    for check in pb.rollback_verification:
        assert check.metric is None or check.metric in produced


def test_latency_buckets_include_every_latency_threshold(pb: Playbook) -> None:
    buckets = contract.latency_buckets(pb)
    assert list(buckets) == sorted(set(buckets))
    for rule in pb.detection_rules:
        if rule.unit == "seconds":
            assert rule.threshold in buckets


def test_docs_describe_every_contract_metric() -> None:
    text = (DOCS / "metrics-contract.md").read_text(encoding="utf-8")
    for metric in contract.RAW_METRICS + contract.RECORDED_METRICS:
        assert f"`{metric.name}`" in text, metric.name
    assert f"`{contract.JOB}`" in text


def test_unknown_metric_is_bad_input_naming_the_field(pb: Playbook) -> None:
    rule = pb.detection_rules[0].model_copy(update={"metric": "claude_enhancer:made_up"})
    bad = pb.model_copy(update={"detection_rules": (rule, *pb.detection_rules[1:])})
    with pytest.raises(InputError, match=r"detection_rules\[0\]\.metric"):
        build(bad, origin="edited.yaml")


def test_rules_at_manual_time_evaluate_on_the_simulations_grid() -> None:
    """The simulation detects on the world's evaluation interval; the generated rules use the same one."""
    from sim.world import World

    world_s = World.default().monitoring.evaluation_interval_s
    assert Timing.create(1.0).scrape_ms == round(world_s * 1000)
    assert Timing.create(2.0).scrape_ms == round(world_s * 1000 / 2)
