"""Bad playbooks: one line naming file, line, field and value; exit 2; no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ce_drill.cli import cli
from sim.playbook import bundled_path

BUNDLED = bundled_path().read_text(encoding="utf-8")


def _variant(tmp_path: Path, old: str, new: str, nth: int = 0) -> tuple[Path, int]:
    """The bundled playbook with the nth occurrence of ``old`` replaced; returns its file and line."""
    at = -1
    for _ in range(nth + 1):
        at = BUNDLED.index(old, at + 1)
    text = BUNDLED[:at] + new + BUNDLED[at + len(old) :]
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    return path, BUNDLED.count("\n", 0, at) + 1


def _validate(path: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["playbook", "validate", str(path)])
    return result.exit_code, result.stderr


CASES = [
    pytest.param("    rto: 15m\n", "    rto: [15, m]\n", 0,
                 "severities[0].rto: expected a duration such as 30s, 15m, 1h or 2000ms (got a list)", id="wrong-type-list"),
    pytest.param("    criteria: [整个系统宕机, 数据库故障导致数据丢失, 安全漏洞被利用, 超过50%用户无法访问]\n", "    criteria: 5\n", 0,
                 "severities[0].criteria: input should be a list (got 5)", id="wrong-type-scalar"),
    pytest.param("    name: 紧急事故 (Critical)\n", "    name: 12\n", 0,
                 "severities[0].name: input should be a valid string (got 12)", id="wrong-type-string"),
    pytest.param("    threshold: 0.05\n", "    thresold: 0.05\n", 0,
                 "detection_rules[0].thresold: unknown key, did you mean 'threshold'?", id="unknown-key"),
    pytest.param("    for: 2m\n", "    for: 0s\n", 0,
                 "detection_rules[1].for: must be a positive duration (got '0s')", id="zero-duration"),
    pytest.param("    rto: 1h\n", "    rto: -1h\n", 0,
                 "severities[1].rto: must be a positive duration (got '-1h')", id="negative-duration"),
    pytest.param("    threshold: 0.80\n", "    threshold: 1.8\n", 0,
                 "detection_rules[6].threshold: a ratio threshold must be between 0 and 1 (got 1.8)", id="ratio-threshold"),
    pytest.param("availability: 99.95%, source: \"L569", "availability: 199.95%, source: \"L569", 0,
                 "services[0].availability: must be a ratio between 0 and 1 (got '199.95%')", id="ratio-field"),
    pytest.param("    severity: P2\n", "    severity: P7\n", 0,
                 "detection_rules[0].severity: no such severity; the playbook defines P1, P2, P3, P4 (got 'P7')",
                 id="unknown-severity"),
    pytest.param("  - name: ErrorRateCritical\n", "  - name: ErrorRateHigh\n", 0,
                 "detection_rules[1].name: duplicate rule name (got 'ErrorRateHigh')", id="duplicate-rule"),
    pytest.param("    source: \"L20-30", "    source: \"line 20", 0,
                 "severities[0].source: expected \"L<line>[-<line>] <section path>\" (got 'line 20 事故分级体系 › P1 - 紧急事故')",
                 id="bad-reference"),
]  # fmt: skip


@pytest.mark.parametrize(("old", "new", "nth", "message"), CASES)
def test_bad_field_is_named_with_file_line_and_value(
    tmp_path: Path, old: str, new: str, nth: int, message: str
) -> None:
    path, line = _variant(tmp_path, old, new, nth)
    code, err = _validate(path)
    assert code == 2
    assert err == f"ce-drill: {path}:{line}: {message}\n"


def test_unknown_key_without_a_likely_meaning(tmp_path: Path) -> None:
    path, line = _variant(tmp_path, "    rto: 15m\n", "    rto: 15m\n    colour: red\n")
    assert _validate(path) == (2, f"ce-drill: {path}:{line + 1}: severities[0].colour: unknown key\n")


def test_missing_key_points_at_the_mapping_that_lacks_it(tmp_path: Path) -> None:
    path, _ = _variant(tmp_path, "    rto: 15m\n", "")
    code, err = _validate(path)
    assert code == 2
    line = BUNDLED.count("\n", 0, BUNDLED.index("  - id: P1")) + 1
    assert err == f"ce-drill: {path}:{line}: severities[0].rto: missing required key\n"


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path, line = _variant(tmp_path, "    rto: 15m\n", "    rto: [15m\n")
    code, err = _validate(path)
    assert code == 2
    assert err.startswith(f"ce-drill: {path}:")
    assert "YAML syntax error" in err
    reported = int(err.split(":")[2])
    assert line <= reported <= line + 2
    assert err.count("\n") == 1


def test_duplicate_yaml_key_is_a_syntax_error(tmp_path: Path) -> None:
    path, line = _variant(tmp_path, "    rto: 15m\n", "    rto: 15m\n    rto: 16m\n")
    code, err = _validate(path)
    assert code == 2
    assert err.startswith(f"ce-drill: {path}:{line + 1}: YAML syntax error: found duplicate key")


@pytest.mark.parametrize("content", ["", "\n\n# nothing but a comment\n"])
def test_empty_file(tmp_path: Path, content: str) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text(content, encoding="utf-8")
    assert _validate(path) == (2, f"ce-drill: {path}:1: file is empty\n")


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n", encoding="utf-8")
    assert _validate(path) == (2, f"ce-drill: {path}:1: expected a mapping at the top level (got a list)\n")


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    assert _validate(path) == (2, f"ce-drill: {path}: no such file\n")


def test_real_process_prints_one_line_and_no_traceback(tmp_path: Path) -> None:
    path, line = _variant(tmp_path, "    severity: P2\n", "    severity: P9\n")
    cmd = [sys.executable, "-m", "ce_drill", "playbook", "validate", str(path)]
    run = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert run.returncode == 2
    assert run.stdout == ""
    assert run.stderr.splitlines() == [
        f"ce-drill: {path}:{line}: detection_rules[0].severity: no such severity; "
        "the playbook defines P1, P2, P3, P4 (got 'P9')"
    ]
    debug = subprocess.run([*cmd[:3], "--debug", *cmd[3:]], capture_output=True, text=True, check=False)
    assert debug.returncode != 0
    assert "Traceback" in debug.stderr
    assert "InputError" in debug.stderr


def test_bad_playbook_is_rejected_by_show_and_lint_too(tmp_path: Path) -> None:
    path, line = _variant(tmp_path, "    rto: 15m\n", "    rto: 0m\n")
    for command in ("show", "lint"):
        result = CliRunner().invoke(cli, ["playbook", command, str(path), "--json"])
        assert result.exit_code == 2
        assert result.stdout == ""
        assert (
            result.stderr
            == f"ce-drill: {path}:{line}: severities[0].rto: must be a positive duration (got '0m')\n"
        )
