"""Bad world files get the same treatment as bad playbooks: file, line, field, value; exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ce_drill.cli import cli
from sim.world import World, bundled_path

BUNDLED = bundled_path().read_text(encoding="utf-8")


def _variant(tmp_path: Path, old: str, new: str) -> tuple[Path, int]:
    at = BUNDLED.index(old)
    path = tmp_path / "world.yaml"
    path.write_text(BUNDLED[:at] + new + BUNDLED[at + len(old) :], encoding="utf-8")
    return path, BUNDLED.count("\n", 0, at) + 1


CASES = [
    pytest.param("  fix: {dist: lognormal, median: 20m, p90: 1h}", "  fix: {dist: lognormal, median: 20m}",
                 "stages.fix: a lognormal distribution needs 'p90' (got a mapping)", id="dist-parameters"),
    pytest.param("  verify: {dist: lognormal, median: 5m, p90: 10m}", "  verify: {dist: lognormal, median: 5m, p90: 1m}",
                 "stages.verify: a lognormal needs 0 < median < p90 (got a mapping)", id="dist-order"),
    pytest.param("    team: backend\n", "    team: frontend\n",
                 "failure_modes[0].team: no such team; responders.teams has backend, database, devops, security, support (got 'frontend')",
                 id="unknown-team"),
    pytest.param("  evaluation_interval: 30s", "  evaluation_interval: -30s",
                 "monitoring.evaluation_interval: must be a positive duration (got '-30s')", id="negative"),
    pytest.param("    quick_fix_probability: 0.2\n", "    quick_fix_probability: 1.2\n",
                 "failure_modes[0].quick_fix_probability: must be a ratio between 0 and 1 (got 1.2)", id="ratio"),
    pytest.param("    incidents_per_year: 3\n", "    incidents_per_year: 3\n    colour: red\n",
                 "failure_modes[0].colour: unknown key", id="unknown-key"),
]  # fmt: skip


@pytest.mark.parametrize(("old", "new", "message"), CASES)
def test_bad_world(tmp_path: Path, old: str, new: str, message: str) -> None:
    path, line = _variant(tmp_path, old, new)
    if "colour" in new:
        line += 1
    result = CliRunner().invoke(cli, ["simulate", "--world", str(path), "--days", "5"])
    assert result.exit_code == 2
    assert result.stderr == f"ce-drill: {path}:{line}: {message}\n"
    assert result.stdout == ""


def test_world_that_does_not_fit_the_playbook(tmp_path: Path) -> None:
    path, line = _variant(tmp_path, "    services: [user_auth]\n", "    services: [billing]\n")
    World.load(path)  # valid on its own...
    for command in (
        ["simulate", "--world", str(path), "--days", "5"],
        ["forecast", "--world", str(path), "--days", "1", "--replications", "1", "--out", str(tmp_path)],
    ):
        result = CliRunner().invoke(cli, command)
        assert result.exit_code == 2  # ...but the playbook has no such service
        assert result.stderr == (
            f"ce-drill: {path}:{line}: failure_modes[4].services[0]: not a service of the playbook (got 'billing')\n"
        )
