"""The CI job examples: valid for their CI system, they run the game day, and they keep the reports.

Validity is checked with ``check-jsonschema`` against the GitHub workflow and
GitLab CI schemas it vendors (offline: a proxy that refuses everything is
set, so a schema fetched from the network would fail the test).  Each check
is shown to fail on a broken copy.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from ce_drill.cli.gameday import command as gameday_command

ROOT = Path(__file__).resolve().parent.parent
GITHUB = ROOT / "examples" / "ci" / "github-actions-gameday.yml"
GITLAB = ROOT / "examples" / "ci" / "gitlab-ci-gameday.yml"
SCHEMAS = {GITHUB: "vendor.github-workflows", GITLAB: "vendor.gitlab-ci"}
OFFLINE = dict.fromkeys(("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"), "http://127.0.0.1:9")


def validate(path: Path, schema: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **OFFLINE},
        check=False,
    )


def load(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", [GITHUB, GITLAB], ids=["github", "gitlab"])
def test_each_example_is_valid_for_its_ci_system(path: Path) -> None:
    done = validate(path, SCHEMAS[path])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok -- validation done" in done.stdout


@pytest.mark.parametrize(
    ("path", "old", "new", "says"),
    [
        (GITHUB, "runs-on:", "runs_on:", "'runs-on' is a required property"),
        (GITHUB, "workflow_dispatch:", "workflow_dispatched:", "workflow_dispatched"),
        (GITLAB, "  script:", "  scrpt:", "'scrpt' was unexpected"),
        (GITLAB, "when: always", "when: sometimes", "'sometimes' is not one of"),
    ],
    ids=["github-runs-on", "github-trigger", "gitlab-script", "gitlab-artifacts-when"],
)
def test_the_validator_rejects_a_broken_copy(
    path: Path, old: str, new: str, says: str, tmp_path: Path
) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1
    broken = tmp_path / path.name
    broken.write_text(text.replace(old, new), encoding="utf-8")
    done = validate(broken, SCHEMAS[path])
    assert done.returncode == 1
    assert says in done.stdout


def _gameday_args(command: str) -> list[str]:
    """The arguments after ``ce-drill gameday``, parsed by the real command (unknown options fail)."""
    argv = shlex.split(command.replace("$SUITE", "ci").replace("$GAMEDAY_SUITE", "ci"))
    assert argv[:2] == [".venv/bin/ce-drill", "gameday"]
    context = gameday_command.make_context("gameday", argv[2:])
    assert context.params["suite"] == "ci"
    assert context.params["out_dir"] == Path("reports/gameday")
    assert context.params["junit_file"] == Path("reports/gameday/junit.xml")
    return argv[2:]


def test_the_github_workflow_runs_the_game_day_weekly_and_keeps_the_reports() -> None:
    workflow = load(GITHUB)
    assert set(workflow["on"]) == {"schedule", "workflow_dispatch"}
    assert len(workflow["on"]["schedule"][0]["cron"].split()) == 5
    (job,) = workflow["jobs"].values()
    assert job["runs-on"] == "ubuntu-latest"
    runs = [step.get("run", "") for step in job["steps"]]
    setup = runs.index("bash scripts/setup.sh")
    (gameday,) = [i for i, run in enumerate(runs) if "ce-drill gameday" in run]
    assert any(step.get("uses", "").startswith("actions/checkout@") for step in job["steps"][:setup])
    assert setup < gameday
    _gameday_args(runs[gameday])
    (upload,) = [s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert upload["if"] == "always()"
    assert upload["with"]["path"] == "reports/gameday"


def test_the_gitlab_job_runs_the_game_day_on_schedule_and_keeps_the_reports() -> None:
    pipeline = load(GITLAB)
    job = pipeline["gameday"]
    assert job["image"] in {"debian:bookworm", "python:3.11-bookworm"}
    assert {"if": '$CI_PIPELINE_SOURCE == "schedule"'} in job["rules"]
    assert job["script"][0] == "bash scripts/setup.sh"
    (gameday,) = [line for line in job["script"] if "ce-drill gameday" in line]
    _gameday_args(gameday)
    assert job["artifacts"]["when"] == "always"
    assert job["artifacts"]["paths"] == ["reports/gameday"]
    assert job["artifacts"]["reports"]["junit"] == "reports/gameday/junit.xml"
