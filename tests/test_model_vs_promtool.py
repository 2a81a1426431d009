"""The model's alert timing agrees with Prometheus's own rule engine.

For step and ramp signals, the simulation computes when each generated alert
goes pending and fires (from the trajectory, without polling).  Here promtool
evaluates the very rules ``ce-drill rules generate`` writes on the same signal,
sampled every evaluation interval, and must agree within one evaluation
interval: not firing one interval before the model's instant, firing one
interval after it.  A model fed a wrong ``for`` disagrees, and this test says so.
"""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path

import pytest

from ce_drill.rules.alerting import AlertRule
from ce_drill.rules.generate import ALERTING_FILE, RuleSet, build, write
from ce_drill.rules.yamltext import dump
from sim.model.signals import Trajectory, alert_timing
from sim.playbook import Playbook

# (rule, shape, baseline, peak, ramp seconds, step/ramp start in seconds)
CASES = [
    ("ErrorRateHigh", "step", 0.01, 0.3, 0.0, 97.0),
    ("ErrorRateHigh", "ramp", 0.01, 0.15, 600.0, 40.0),
    ("ErrorRateCritical", "ramp", 0.0, 0.9, 300.0, 0.0),
    ("P95LatencyHigh", "ramp", 0.3, 4.0, 900.0, 61.0),
    ("P95LatencyCritical", "step", 0.3, 7.0, 0.0, 33.0),
    ("AgentCoordinationFailures", "ramp", 0.0, 40.0, 1200.0, 0.0),
    ("ServiceDown", "step", 1.0, 0.0, 0.0, 128.0),
    ("NodeDiskHigh", "ramp", 0.5, 0.95, 3600.0, 15.0),
    ("NodeMemoryCritical", "ramp", 0.6, 0.99, 450.0, 200.0),
]


@pytest.fixture(scope="module")
def ruleset() -> RuleSet:
    return build(Playbook.default(), scale=1.0)


def _alert(rs: RuleSet, name: str) -> AlertRule:
    return next(a for a in rs.alerts if a.name == name)


def _model_firing(rs: RuleSet, name: str, trajectory: Trajectory, start: float, for_s: float) -> float:
    alert = _alert(rs, name)
    interval = rs.timing.scrape_ms / 1000
    timing = alert_timing(
        rule=name,
        severity=alert.severity,
        op=alert.op,
        threshold=alert.threshold,
        for_s=for_s,
        trajectory=trajectory,
        started_at=start,
        interval=interval,
    )
    assert timing is not None
    return timing.firing_at


def _series(trajectory: Trajectory, start: float, interval: float, samples: int) -> str:
    values = [trajectory.value(k * interval - start) for k in range(samples)]
    return " ".join(format(v, ".10g") for v in values)


def _group(
    rs: RuleSet, case: int, name: str, *, trajectory: Trajectory, start: float, fire: float
) -> dict[str, object]:
    alert = _alert(rs, name)
    interval = rs.timing.scrape_ms / 1000
    labels = alert.target.series_labels()
    selector = alert.target.name + "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
    samples = math.ceil((fire + 3 * interval) / interval) + 1
    firing = {"exp_labels": {**labels, **dict(alert.labels)}, "exp_annotations": dict(alert.annotations)}

    def at(t: float) -> str:
        return f"{round(t * 1000)}ms"

    return {
        "name": f"case{case}: {name}",
        "interval": f"{rs.timing.scrape_ms}ms",
        "input_series": [{"series": selector, "values": _series(trajectory, start, interval, samples)}],
        "alert_rule_test": [
            {"eval_time": at(fire - interval), "alertname": name, "exp_alerts": []},
            {"eval_time": at(fire + interval), "alertname": name, "exp_alerts": [firing]},
        ],
    }


def _promtool_agrees(rs: RuleSet, tmp_path: Path, wrong_for: bool = False) -> tuple[int, str]:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is not on PATH; apt-get install --no-install-recommends prometheus")
    write(rs.files(), tmp_path)
    groups = []
    for case, (name, shape, baseline, peak, ramp, start) in enumerate(CASES):
        trajectory = Trajectory(name, baseline, peak, ramp if shape == "ramp" else 0.0)
        for_s = _alert(rs, name).for_ms / 1000
        if wrong_for:
            for_s *= 1.5  # the model given a wrong `for` must be caught
        fire = _model_firing(rs, name, trajectory, start, for_s)
        groups.append(_group(rs, case, name, trajectory=trajectory, start=start, fire=fire))
    test = {"rule_files": [ALERTING_FILE], "evaluation_interval": f"{rs.timing.scrape_ms}ms", "tests": groups}
    (tmp_path / "model.test.yml").write_text(dump(test), encoding="utf-8")
    done = subprocess.run(
        [promtool, "test", "rules", "model.test.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


def test_model_alert_times_match_promtool(ruleset: RuleSet, tmp_path: Path) -> None:
    code, output = _promtool_agrees(ruleset, tmp_path)
    assert code == 0, output


def test_a_model_with_a_wrong_for_disagrees(ruleset: RuleSet, tmp_path: Path) -> None:
    code, output = _promtool_agrees(ruleset, tmp_path, wrong_for=True)
    assert code == 1
    for case, (name, *_rest) in enumerate(CASES):
        assert f"case{case}: {name}" in output
