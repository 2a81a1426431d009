"""Generated rules under Prometheus's and Alertmanager's own tools.

These tests need promtool and amtool on PATH and fail — never skip — without
them: an unchecked rule file is exactly what they exist to prevent.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from ce_drill.rules import promtests
from ce_drill.rules.alerting import AlertRule, threshold_step
from ce_drill.rules.generate import (
    ALERTING_FILE,
    ALERTMANAGER_FILE,
    RECORDING_FILE,
    RECORDING_TESTS,
    RULE_FILES,
    TEST_FILES,
    RuleSet,
    build,
    write,
)
from ce_drill.rules.yamltext import dump
from sim.playbook import Playbook, bundled_path

INSTALL = "apt-get install --no-install-recommends prometheus prometheus-alertmanager"


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not on PATH; {INSTALL}")
    return path


def run(*command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run(tool("promtool"), *args, cwd=cwd)


@pytest.fixture(scope="module")
def pb() -> Playbook:
    return Playbook.default()


@pytest.fixture(scope="module", params=[1.0, 30.0], ids=["scale1", "scale30"])
def ruleset(request: pytest.FixtureRequest, pb: Playbook) -> RuleSet:
    scale: float = request.param
    return build(pb, scale=scale)


@pytest.fixture
def generated(ruleset: RuleSet, tmp_path: Path) -> Path:
    write(ruleset.files(), tmp_path)
    return tmp_path


def test_generated_rules_pass_promtool_check(generated: Path, ruleset: RuleSet) -> None:
    done = promtool("check", "rules", *RULE_FILES, cwd=generated)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(ruleset.recording)} rules found" in done.stdout
    assert f"SUCCESS: {len(ruleset.alerts)} rules found" in done.stdout


def test_generated_tests_pass_promtool_test(generated: Path) -> None:
    done = promtool("test", "rules", *TEST_FILES, cwd=generated)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("SUCCESS") == len(TEST_FILES)


def test_amtool_accepts_the_alertmanager_config(generated: Path) -> None:
    done = run(tool("amtool"), "check-config", ALERTMANAGER_FILE, cwd=generated)
    assert done.returncode == 0, done.stdout + done.stderr


def _routed(config: Path, **labels: str) -> list[str]:
    args = [f"{k}={v}" for k, v in labels.items()]
    done = run(
        tool("amtool"), "config", "routes", "test", f"--config.file={config}", *args, cwd=config.parent
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return [name.strip() for name in done.stdout.strip().split(",")]


def test_alertmanager_routes_every_alert_to_its_severitys_channels(generated: Path, ruleset: RuleSet) -> None:
    config = generated / ALERTMANAGER_FILE
    for severity in sorted({a.severity for a in ruleset.alerts} | {"P4"}):
        assert _routed(config, severity=severity) == ruleset.routing.receivers_for(severity)
    assert _routed(config, alertname="Unlabelled") == [ruleset.routing.fallback]


# --- mutants: a wrong rule must fail the generated tests -----------------------------


def _mutants(alert: AlertRule, interval_ms: int) -> Iterator[tuple[str, AlertRule]]:
    step = threshold_step(alert.threshold, alert.unit)
    yield "for+1 evaluation", dataclasses.replace(alert, for_ms=alert.for_ms + interval_ms)
    yield "for-1 evaluation", dataclasses.replace(alert, for_ms=alert.for_ms - interval_ms)
    yield "threshold+1 step", dataclasses.replace(alert, threshold=alert.threshold + step)
    yield "threshold-1 step", dataclasses.replace(alert, threshold=alert.threshold - step)


def _write_case(rs: RuleSet, case: int, alert: AlertRule, rules: tuple[AlertRule, ...], root: Path) -> str:
    """An alerting rule file holding ``rules`` and ``alert``'s generated tests, tagged ``case<N>``."""
    where = root / str(case)
    where.mkdir()
    (where / ALERTING_FILE).write_text(
        dump({"groups": dataclasses.replace(rs, alerts=rules).alerting_groups()})
    )
    groups = promtests.alert_tests(alert, rs.timing)
    for group in groups:
        group["name"] = f"case{case}: {group['name']}"
    (where / "alert.test.yml").write_text(dump(promtests.test_file([ALERTING_FILE], rs.timing, groups)))
    return f"{case}/alert.test.yml"


def test_every_wrong_for_or_threshold_fails_the_generated_tests(ruleset: RuleSet, tmp_path: Path) -> None:
    titles: list[str] = []
    files: list[str] = []
    for alert in ruleset.alerts:
        for what, mutant in _mutants(alert, ruleset.timing.scrape_ms):
            rules = tuple(mutant if a is alert else a for a in ruleset.alerts)
            files.append(_write_case(ruleset, len(titles), alert, rules, tmp_path))
            titles.append(f"{alert.name} with {what}")
    # One promtool run for all mutants: its start-up, not the tests, is what costs.
    done = promtool("test", "rules", *files, cwd=tmp_path)
    passed = set(re.findall(r"Unit Testing:\s+(\d+)/alert\.test\.yml\s+SUCCESS", done.stdout))
    failures: dict[int, list[str]] = {}
    for block in done.stderr.split("FAILED:")[1:]:
        found = re.search(r"name: case(\d+):", block)
        assert found is not None, block
        failures.setdefault(int(found.group(1)), []).append(block)
    wrong = []
    for case, title in enumerate(titles):
        if str(case) in passed or case not in failures:
            wrong.append(f"{title}: the generated tests still pass")
        elif not all("exp:[]" in b or "got:[]" in b for b in failures[case]):
            # It must be caught by its behaviour (fires early, late, or on the wrong
            # value), not by a changed label or annotation.
            wrong.append(f"{title}: failed for another reason\n{failures[case][0][:400]}")
    assert not wrong, "\n".join(wrong)
    assert len(titles) == 4 * len(ruleset.alerts)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('code=~"5.."', 'code=~"[45].."'),
        ("histogram_quantile(0.95,", "histogram_quantile(0.9,"),
        ("[5m]", "[10m]"),
    ],
    ids=["4xx-counted-as-errors", "p90-instead-of-p95", "wrong-window"],
)
def test_a_wrong_recording_rule_fails_its_tests(pb: Playbook, tmp_path: Path, old: str, new: str) -> None:
    write(build(pb).files(), tmp_path)
    path = tmp_path / RECORDING_FILE
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    done = promtool("test", "rules", RECORDING_TESTS, cwd=tmp_path)
    assert done.returncode == 1, done.stdout
    assert "FAILED" in done.stdout + done.stderr


# --- the playbook is the only input --------------------------------------------------


def _with_extra_rule(tmp_path: Path, severity: str) -> Path:
    yaml = YAML(typ="rt")
    data = yaml.load(bundled_path().read_text(encoding="utf-8"))
    extra = dict(data["detection_rules"][0])
    extra.update(
        {
            "name": "ErrorRateElevated",
            "threshold": 0.01,
            "for": "15m",
            "severity": severity,
            "summary": "错误率超过1%",
        }
    )
    data["detection_rules"].append(extra)
    path = tmp_path / "playbook.yaml"
    with path.open("w", encoding="utf-8") as out:
        yaml.dump(data, out)
    return path


@pytest.mark.parametrize("severity", ["P3", "P4"])
def test_a_new_detection_rule_gets_a_rule_tests_and_a_route(
    pb: Playbook, tmp_path: Path, severity: str
) -> None:
    edited = Playbook.load(_with_extra_rule(tmp_path, severity))
    before, after = build(pb), build(edited)
    assert len(after.alerts) == len(before.alerts) + 1
    added = next(a for a in after.alerts if a.name == "ErrorRateElevated")
    assert added.expr == "claude_enhancer:error_rate > 0.01"
    assert added.as_dict()["for"] == "15m"
    assert after.counts()["alert_tests"] == before.counts()["alert_tests"] + 2
    manifest = after.manifest()
    alerts = manifest["alerts"]
    assert isinstance(alerts, list)
    entry = next(a for a in alerts if a["name"] == "ErrorRateElevated")
    assert entry["receivers"] == after.routing.receivers_for(severity)
    assert entry["receivers"]

    out = tmp_path / "out"
    write(after.files(), out)
    assert promtool("check", "rules", *RULE_FILES, cwd=out).returncode == 0
    done = promtool("test", "rules", *TEST_FILES, cwd=out)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ErrorRateElevated" in (out / "alerting.test.yml").read_text(encoding="utf-8")
    assert (
        _routed(out / ALERTMANAGER_FILE, severity=severity, alertname="ErrorRateElevated")
        == entry["receivers"]
    )
