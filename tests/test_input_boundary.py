"""The input boundary: what no file may hold, and how each is reported.

Encodings, control characters, nesting, dates that do not exist, numbers
that are not finite or do not fit, keys with newlines, keys or block scalars
given twice, and drill experiments checked in full before any stack starts.
Each is one line, ``ce-drill: FILE:LINE: path: what (got VALUE)``, exit 2.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest
from click.testing import CliRunner, Result

from ce_drill.cli import cli
from ce_drill.drill import scenarios
from ce_drill.drill.experiment_check import check_experiment
from ce_drill.stack.stack import Stack
from ce_drill.tabletop.scenario import bundled as bundled_scenario
from ce_drill.tabletop.timeline import bundled as bundled_timeline
from sim.errors import InputError, one_line
from sim.playbook import bundled_path as bundled_playbook
from sim.world import bundled_path as bundled_world

PLAYBOOK = bundled_playbook().read_text(encoding="utf-8")
WORLD = bundled_world().read_text(encoding="utf-8")
EXPERIMENT = (scenarios.EXPERIMENTS / "db-lock-contention.json").read_text(encoding="utf-8")


_CUT = EXPERIMENT.index('"description"')
_CUT_LINE = EXPERIMENT.count("\n", 0, _CUT) + 1
_CUT_COLUMN = _CUT - EXPERIMENT.rindex("\n", 0, _CUT)


def _timeline() -> str:
    path = bundled_timeline("INC-2024-001")
    assert path is not None
    return path.read_text(encoding="utf-8")


def _event_index(marker: str) -> int:
    """Index in the bundled timeline's events of the event written with ``marker``."""
    text = _timeline()
    return text.count("\n  - {", 0, text.index(marker))


def _scenario() -> str:
    path = bundled_scenario("oom")
    assert path is not None
    return path.read_text(encoding="utf-8")


def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def _swap(text: str, old: str, new: str) -> tuple[str, int]:
    """``text`` with the first ``old`` replaced; and the line it was on."""
    at = text.index(old)
    return text[:at] + new + text[at + len(old) :], text.count("\n", 0, at) + 1


def _invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def _one_line(result: Result, expected: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.stderr == f"ce-drill: {expected}\n"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("    rto: 15m\n", "    rto: .nan\n", "severities[0].rto: not a finite number (got .nan)"),
        ("    rto: 15m\n", "    rto: -.inf\n", "severities[0].rto: not a finite number (got -.inf)"),
        ("    rto: 15m\n", "    rto: 1e999\n", "severities[0].rto: not a finite number (got .inf)"),
        ("    rto: 15m\n", "    rto: '9999999999h'\n", "severities[0].rto: must not be longer than 100 years (got '9999999999h')"),
        ("    rto: 15m\n", "    rto: " + "9" * 5000 + "\n",
         "severities[0].rto: integer too large (more than 64 bits) (got " + "9" * 57 + "...)"),
        ("    rto: 15m\n", "    rto: " + "9" * 30 + "\n",
         "severities[0].rto: integer too large (more than 64 bits) (got an integer of 100 bits)"),
        ("  last_updated: 2024-01-15\n", "  last_updated: 2023-02-29\n",
         "manual.last_updated: not a valid date or time: day is out of range for month (got 2023-02-29)"),
        ("  last_updated: 2024-01-15\n", "  last_updated: 2024-01-15 24:00:00\n",
         "manual.last_updated: not a valid date or time: hour must be in 0..23 (got 2024-01-15 24:00:00)"),
        ("  last_updated: 2024-01-15\n", "  last_updated: 9999-12-31\n",
         "manual.last_updated: must be a date from 1900 to 8999 (got 9999-12-31)"),
        ("    rto: 15m\n", "    \"two\\nlines\": 1\n    rto: 15m\n", "severities[0].two\\nlines: unknown key"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("command", ["validate", "show", "lint"])
def test_playbook_values_no_field_may_hold(
    tmp_path: Path, command: str, old: str, new: str, message: str
) -> None:
    text, line = _swap(PLAYBOOK, old, new)
    path = _write(tmp_path, "playbook.yaml", text)
    _one_line(_invoke("playbook", command, str(path)), f"{path}:{line}: {message}")


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        (PLAYBOOK.encode("utf-16"), 1, "the file is UTF-16; save it as UTF-8"),
        (PLAYBOOK.encode("utf-32"), 1, "the file is UTF-32; save it as UTF-8"),
        (PLAYBOOK.encode("utf-16-le"), 1, "NUL byte at column 2; is the file UTF-16? save it as UTF-8"),
        (b"manual:\n  title: \xff\xfe\n", 2, "not UTF-8: byte 0xff at column 10 (invalid start byte)"),
        ("manual:\n  title: a\x1bb\n", 2, "control character U+001B at column 11"),
        ("a: " + "[" * 10_000 + "]" * 10_000 + "\n", 1, "nested deeper than 64 levels"),
        ("".join("  " * i + "a:\n" for i in range(200)), 64, "nested deeper than 64 levels"),
        ("a: |\n  one\n  two\nb: 1\na: |\n  three\n", 5, 'YAML syntax error: found duplicate key "a"'),
        ("a: !!bool maybe\n", 1, "YAML syntax error: cannot read this value ('maybe')"),
    ],
)  # fmt: skip
def test_files_that_are_not_clean_yaml(tmp_path: Path, content: str | bytes, line: int, message: str) -> None:
    path = _write(tmp_path, "playbook.yaml", content)
    _one_line(_invoke("playbook", "validate", str(path)), f"{path}:{line}: {message}")


def test_aliases_cannot_blow_a_document_up(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 8)]
    path = _write(tmp_path, "playbook.yaml", "\n".join(lines) + "\n")
    result = _invoke("playbook", "validate", str(path))
    assert result.exit_code == 2
    assert "more than 200,000 values (aliases expanded)" in result.stderr
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize("spelling", [".nan", "-.inf", ".inf"])
def test_a_non_finite_peak_is_refused_by_simulate_and_forecast(tmp_path: Path, spelling: str) -> None:
    text, line = _swap(WORLD, "peak: 0.97", f"peak: {spelling}")
    path = _write(tmp_path, "world.yaml", text)
    where = (
        f"{path}:{line}: failure_modes[0].variants[0].signals[0].peak: not a finite number (got {spelling})"
    )
    _one_line(_invoke("simulate", "--world", str(path), "--days", "1"), where)
    forecast = [
        "forecast",
        "--compare",
        str(path),
        "--days",
        "1",
        "--replications",
        "1",
        "--out",
        str(tmp_path),
    ]
    _one_line(_invoke(*forecast), where)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("date: 2024-01-15", "date: 2023-02-29",
         "date: not a valid date or time: day is out of range for month (got 2023-02-29)"),
        ('{at: "15:10",', "{at: 2024-01-15 24:00:00,",
         "events[8].at: not a valid date or time: hour must be in 0..23 (got 2024-01-15 24:00:00)"),
        ('{at: "15:10",', '{at: "15:10+99999999999999999999999d",',
         "events[8].at: a day offset of more than 3660 days (got '15:10+99999999999999999999999d')"),
        ('{at: "15:10",', '{at: "24:00",',
         'events[8].at: expected "HH:MM", "HH:MM+1d", "YYYY-MM-DD HH:MM" or "YYYY-MM-DD" (got \'24:00\')'),
        ('{at: "15:10",', '{at: "2023-02-29 10:00",',
         "events[8].at: not a valid date or time: day is out of range for month (got '2023-02-29 10:00')"),
    ],
)  # fmt: skip
def test_timeline_dates_that_do_not_exist(tmp_path: Path, old: str, new: str, message: str) -> None:
    text, line = _swap(_timeline(), old, new)
    message = message.replace("events[8]", f"events[{_event_index(old)}]")
    path = _write(tmp_path, "timeline.yaml", text)
    _one_line(_invoke("tabletop", "replay", str(path)), f"{path}:{line}: {message}")


def test_a_day_offset_past_the_calendar(tmp_path: Path) -> None:
    text, _ = _swap(_timeline(), "date: 2024-01-15", "date: 8999-12-31")
    text, line = _swap(text, '{at: "15:10",', '{at: "15:10+1d",')
    path = _write(tmp_path, "timeline.yaml", text)
    index = _event_index('{at: "15:10",')
    _one_line(
        _invoke("tabletop", "replay", str(path)),
        f"{path}:{line}: events[{index}].at: falls outside the years 1900 to 8999 (got '15:10+1d')",
    )


ANSWERS = "severity: P1\npage: [incident_commander]\ntell_users: nothing\naction: rollback\n"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("failure_mode: oom_crash_loop", "failure_mode: volcano",
         "failure_mode: not a failure mode of the world (memory_leak, db_lock_contention, oom_crash_loop, "),
        ("briefing: |", "briefing: |\n  twice\nbriefing: |", 'YAML syntax error: found duplicate key "briefing"'),
    ],
)  # fmt: skip
def test_scenario_problems_are_located(tmp_path: Path, old: str, new: str, message: str) -> None:
    text, line = _swap(_scenario(), old, new)
    path = _write(tmp_path, "scenario.yaml", text)
    answers = _write(tmp_path, "answers.yaml", ANSWERS)
    out = tmp_path / "out"
    result = _invoke("tabletop", "run", str(path), "--answers", str(answers), "--out", str(out))
    assert result.exit_code == 2
    line += 2 if "duplicate" in message else 0
    assert result.stderr.startswith(f"ce-drill: {path}:{line}: {message}")
    assert result.stderr.count("\n") == 1
    assert not out.exists()  # nothing half-written


def test_answers_are_checked_before_the_exercise_plays(tmp_path: Path) -> None:
    answers = _write(tmp_path, "answers.yaml", ANSWERS.replace("action: rollback", "action: .nan"))
    out = tmp_path / "out"
    result = _invoke("tabletop", "run", "oom", "--answers", str(answers), "--out", str(out))
    _one_line(result, f"{answers}:4: action: not a finite number (got .nan)")
    assert not out.exists()


# --- experiments -------------------------------------------------------------------------------


@pytest.fixture
def no_stack() -> Iterator[mock.MagicMock]:
    with mock.patch.object(Stack, "up", side_effect=AssertionError("a stack was started")) as up:
        yield up


@pytest.mark.parametrize("name", scenarios.known())
def test_the_bundled_experiments_pass_their_check(name: str) -> None:
    drill = scenarios.load(name)
    assert drill.expect["severity"] in {"P1", "P2"}


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('"table": "workflows"', '"table": NaN', "method[0].provider.arguments.table: not a finite number (got NaN)"),
        ('"table": "workflows"', '"table": ' + "9" * 5000,
         "method[0].provider.arguments.table: integer too large (more than 64 bits) (got " + "9" * 57 + "...)"),
        ('"table": "workflows"', '"table": "workflows", "table": "x"', "method[0].provider.arguments.table: duplicate key"),
        ('"table": "workflows"', '"table": ' + "[" * 5000 + "]" * 5000,
         "method[0].provider.arguments.table[0][0][0][0][0][0][0]...: nested deeper than 64 levels"),
        ('"func": "hold_lock"', '"func": "hold_lox"',
         "method[0]: The python module 'ce_drill.chaos.actions' does not expose a function called 'hold_lox' in action 'hold-access-exclusive-lock'"),
        ('"table": "workflows"', '"tabel": "workflows"', "method[0]: required argument 'table' is missing from activity 'hold_lock'"),
        ('"table": "workflows"', '"table": ["workflows"]',
         "method[0].provider.arguments.table: hold_lock() takes str: input should be a valid string (got a list)"),
        ('"type": "action"', '"type": "actoin"', "method[0].type: input should be 'action' or 'probe' (got 'actoin')"),
        ('"runbook_names_blocker": true', '"runbook_names_blocker": "yes"',
         "extensions[0].expect.runbook_names_blocker: input should be a valid boolean (got 'yes')"),
        ('"severity": "P2"', '"severity": "P7"',
         "extensions[0].expect.severity: no such severity; the playbook defines P1, P2, P3, P4 (got 'P7')"),
        ('"expect": {', '"expect": {"colour": 1, ', "extensions[0].expect.colour: unknown key"),
        ('"module": "ce_drill.chaos.controls"', '"module": "ce_drill.chaos.kontrols"',
         "controls[0].provider.module: no such Python module (got 'ce_drill.chaos.kontrols')"),
        ('"table": "workflows"', '"ta\\nble": "workflows"', "method[0]: required argument 'table' is missing from activity 'hold_lock'"),
    ],
)  # fmt: skip
def test_a_bad_experiment_fails_before_any_stack_starts(
    tmp_path: Path, no_stack: mock.MagicMock, old: str, new: str, message: str
) -> None:
    text = EXPERIMENT.replace(old, new, 1)
    assert text != EXPERIMENT
    path = _write(tmp_path, "drill.json", text)
    with pytest.raises(InputError) as caught:
        check_experiment(path)
    assert str(caught.value).startswith(f"{path}:")
    assert str(caught.value).endswith(message)
    result = _invoke("run", str(path), "--quiet", "--out", str(tmp_path / "out"))
    _one_line(result, str(caught.value))
    no_stack.assert_not_called()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (EXPERIMENT.encode("utf-16"), "1: the file is UTF-16; save it as UTF-8"),
        (
            EXPERIMENT[: _CUT + 5],
            f"{_CUT_LINE}: not valid JSON: Unterminated string starting at (column {_CUT_COLUMN})",
        ),
        ("[]", "1: expected a JSON object at the top level (got a list)"),
        (EXPERIMENT.replace('"title": "', '"title": "\x07', 1), "3: control character U+0007 at column 13"),
    ],
)
def test_experiment_files_that_are_not_clean_json(
    tmp_path: Path, no_stack: mock.MagicMock, content: str | bytes, message: str
) -> None:
    path = _write(tmp_path, "drill.json", content)
    _one_line(_invoke("run", str(path), "--quiet", "--out", str(tmp_path / "out")), f"{path}:{message}")
    no_stack.assert_not_called()


def test_experiment_arguments_may_be_substitutions(tmp_path: Path) -> None:
    data = json.loads(EXPERIMENT)
    data["configuration"]["lock_seconds"] = "set with --var"
    data["method"][0]["provider"]["arguments"]["seconds"] = "${lock_seconds}"
    data["method"][0]["pauses"] = {"after": "${lock_seconds}"}
    path = _write(tmp_path, "drill.json", json.dumps(data))
    assert check_experiment(path)["method"][0]["provider"]["arguments"]["seconds"] == "${lock_seconds}"


def test_substitutions_must_name_a_configuration_key(tmp_path: Path) -> None:
    data = json.loads(EXPERIMENT)
    data["method"][0]["provider"]["arguments"]["seconds"] = "${lock_secnods}"
    path = _write(tmp_path, "drill.json", json.dumps(data, indent=2))
    with pytest.raises(InputError) as caught:
        check_experiment(path)
    assert str(caught.value).endswith(
        "method[0].provider.arguments.seconds: no configuration key or secret named 'lock_secnods' (got '${lock_secnods}')"
    )


def test_a_configuration_object_without_a_type(tmp_path: Path) -> None:
    data = json.loads(EXPERIMENT)
    data["configuration"]["ce_drill_run_dir"] = {"key": "CE_DRILL_RUN_DIR", "default": ".ce-drill/stack"}
    text = json.dumps(data, indent=2)
    path = _write(tmp_path, "drill.json", text)
    line = text.count("\n", 0, text.index('"ce_drill_run_dir"')) + 1
    with pytest.raises(InputError) as caught:
        check_experiment(path)
    assert str(caught.value) == (
        f"{path}:{line}: configuration.ce_drill_run_dir: a configuration object needs a 'type' (\"env\") (got an object)"
    )


def test_expected_alerts_must_be_generated_from_the_playbook(
    tmp_path: Path, no_stack: mock.MagicMock
) -> None:
    data = json.loads(EXPERIMENT)
    data["extensions"][0]["expect"]["alerts"][1] = "ErrorRateHihg"
    text = json.dumps(data, indent=2)
    path = _write(tmp_path, "drill.json", text)
    line = text.count("\n", 0, text.index('"ErrorRateHihg"')) + 1
    message = "extensions[0].expect.alerts[1]: no alert of that name is generated from the playbook (got 'ErrorRateHihg')"
    _one_line(_invoke("run", str(path), "--quiet"), f"{path}:{line}: {message}")
    no_stack.assert_not_called()


def test_messages_are_one_line() -> None:
    assert one_line("a\nb\r\tc\x00d\u2028e\ud800") == "a\\nb\\r\\tc\\x00d\\u2028e\\ud800"
    error = InputError("x\ny.yaml", 3, "key\nwith newline", "bad\x1b[31m", "'v\\n'")
    assert str(error) == "x\\ny.yaml:3: key\\nwith newline: bad\\x1b[31m (got 'v\\n')"
