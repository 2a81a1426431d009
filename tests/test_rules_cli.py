"""``ce-drill rules generate|test``: files written, exit codes and messages."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ce_drill.cli import cli
from ce_drill.rules.generate import ALERTING_FILE, MANIFEST_FILE, RULE_FILES, TEST_FILES
from sim.playbook import bundled_path


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(autouse=True)
def _tools_present() -> None:
    # These tests run the real tools; without them they must fail, not skip.
    for tool in ("promtool", "amtool"):
        if shutil.which(tool) is None:
            pytest.fail(
                f"{tool} is not on PATH; apt-get install --no-install-recommends prometheus prometheus-alertmanager"
            )


def test_generate_writes_every_file(tmp_path: Path) -> None:
    result = invoke("rules", "generate", "--out", str(tmp_path), "--time-scale", "30")
    assert result.exit_code == 0, result.output
    for name in (*RULE_FILES, *TEST_FILES, "alertmanager.yml", "prometheusrule.yaml", MANIFEST_FILE):
        assert (tmp_path / name).is_file(), name
        assert str(tmp_path / name) in result.output
    manifest = json.loads((tmp_path / MANIFEST_FILE).read_text(encoding="utf-8"))
    assert manifest["timing"]["time_scale"] == 30
    assert manifest["counts"]["alerting_rules"] == 24


def test_generate_json_prints_the_manifest(tmp_path: Path) -> None:
    result = invoke("rules", "generate", "--out", str(tmp_path), "--json", "--scrape-interval", "1s")
    assert result.exit_code == 0, result.output
    manifest = json.loads(result.output)
    assert manifest["timing"]["scrape_interval_s"] == 1
    assert manifest == json.loads((tmp_path / MANIFEST_FILE).read_text(encoding="utf-8"))


def test_rules_test_passes_on_the_bundled_playbook() -> None:
    result = invoke("rules", "test")
    assert result.exit_code == 0, result.output
    assert "promtool check rules: ok" in result.output
    assert "promtool test rules: ok" in result.output
    assert "amtool check-config: ok" in result.output


def test_rules_test_passes_time_compressed() -> None:
    result = invoke("rules", "test", "--time-scale", "30", "--playbook", str(bundled_path()))
    assert result.exit_code == 0, result.output


def test_rules_test_without_promtool_exits_2_with_an_install_hint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    result = invoke("rules", "test")
    assert result.exit_code == 2
    assert "promtool" in result.output
    assert "apt-get install --no-install-recommends prometheus prometheus-alertmanager" in result.output
    assert "ce-drill stack install" in result.output


def _generated(tmp_path: Path) -> Path:
    out = tmp_path / "rules"
    assert invoke("rules", "generate", "--out", str(out)).exit_code == 0
    return out


def test_rules_test_exits_1_with_promtools_message_when_a_for_drifts(tmp_path: Path) -> None:
    out = _generated(tmp_path)
    path = out / ALERTING_FILE
    text = path.read_text(encoding="utf-8")
    # The `for:` line that follows ErrorRateHigh's `alert:` line, whatever the layout.
    drifted = re.sub(r"(alert: ErrorRateHigh\n(?:.*\n)*?\s+for: )5m\n", r"\g<1>6m\n", text, count=1)
    assert drifted != text
    path.write_text(drifted, encoding="utf-8")
    result = invoke("rules", "test", "--rules-dir", str(out))
    assert result.exit_code == 1
    assert "promtool test rules: FAILED" in result.output
    assert "alertname: ErrorRateHigh" in result.output  # promtool's own report
    assert "amtool check-config: ok" in result.output


def test_rules_test_exits_1_when_promtool_cannot_load_a_rule(tmp_path: Path) -> None:
    out = _generated(tmp_path)
    path = out / ALERTING_FILE
    path.write_text(
        path.read_text(encoding="utf-8").replace("error_rate > 0.05", "error_rate >"), encoding="utf-8"
    )
    result = invoke("rules", "test", "--rules-dir", str(out))
    assert result.exit_code == 1
    assert "promtool check rules: FAILED" in result.output
    assert "parse error" in result.output


def test_rules_test_with_missing_rules_dir_files_is_a_usage_error(tmp_path: Path) -> None:
    result = invoke("rules", "test", "--rules-dir", str(tmp_path))
    assert result.exit_code == 2
    assert ALERTING_FILE in result.output or RULE_FILES[0] in result.output


def test_bad_playbook_exits_2_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        bundled_path().read_text(encoding="utf-8").replace("for: 5m", "for: soon", 1), encoding="utf-8"
    )
    result = invoke("rules", "generate", "--playbook", str(bad), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert str(bad) in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "args", [["--time-scale", "0.5"], ["--scrape-interval", "soon"], ["--scrape-interval", "0s"]]
)
def test_bad_options_exit_2(args: list[str], tmp_path: Path) -> None:
    result = invoke("rules", "generate", "--out", str(tmp_path), *args)
    assert result.exit_code == 2
