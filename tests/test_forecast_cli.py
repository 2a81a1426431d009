"""``ce-drill forecast`` from the command line: bad input is one line and exit 2; precision stops by itself."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ce_drill.cli import cli
from sim.forecast import days_from, run_forecast
from sim.playbook import Playbook
from sim.world import World, bundled_path


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["forecast", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--period", "2027Q5"], "--period: expected a quarter like 2027Q1"),
        (["--period", "soon"], "(got soon)"),
        (["--precision", "2"], "--precision: expected a CI half-width between 0 and 0.5"),
        (["--precision", "0"], "--precision"),
        (["--precision", "abc"], "(got abc)"),
        (["--replications", "0"], "--replications: expected a whole number >= 1"),
        (["--replications", "10", "--precision", "0.05"], "not both"),
        (["--period", "2027Q1", "--days", "30"], "not both"),
        (["--days", "-3"], "--days"),
        (["--seed", "-1"], "--seed"),
        (["--workers", "0"], "--workers"),
        (["--tornado-replications", "x"], "--tornado-replications"),
        (["--scheduler", "localhost"], "--scheduler: expected a scheduler address like tcp://HOST:PORT"),
        (["--scheduler", "tcp://127.0.0.1:8786", "--workers", "2"], "--workers is for local processes"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(args: list[str], says: str, tmp_path: Path) -> None:
    code, out, err = _invoke(*args, "--out", str(tmp_path))
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1, err
    assert says in err
    assert "Traceback" not in err
    assert not any(tmp_path.iterdir())


def test_a_bad_world_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "world.yaml"
    bad.write_text("calendar: [\n", encoding="utf-8")
    code, _, err = _invoke("--world", str(bad), "--out", str(tmp_path / "out"))
    assert code == 2
    assert err.startswith(f"ce-drill: {bad}:")
    assert err.count("\n") == 1


def test_a_world_the_playbook_does_not_fit_is_one_line_and_exit_2(tmp_path: Path) -> None:
    source = bundled_path().read_text(encoding="utf-8")
    broken = tmp_path / "unknown-service.yaml"
    broken.write_text(
        source.replace("services: [user_auth]", "services: [no_such_service]"), encoding="utf-8"
    )
    code, _, err = _invoke("--compare", str(broken), "--out", str(tmp_path / "out"))
    assert code == 2
    assert str(broken) in err
    assert "no_such_service" in err
    assert err.count("\n") == 1


def test_the_forecast_prints_the_targets_at_risk_and_where_the_report_is(tmp_path: Path) -> None:
    code, out, err = _invoke(
        "--days",
        "31",
        "--replications",
        "30",
        "--tornado-replications",
        "0",
        "--workers",
        "1",
        "--out",
        str(tmp_path),
    )
    assert code == 0, err
    assert "P(all availability targets met)" in out
    assert "api_gateway" in out
    for suffix in ("html", "md", "json"):
        assert (tmp_path / f"2027-01-01+31d-sla-forecast.{suffix}").is_file()
        assert f"2027-01-01+31d-sla-forecast.{suffix}" in out


def test_precision_adds_replications_until_every_interval_is_narrow_enough(playbook: Playbook) -> None:
    world = World.default()
    period = days_from(world.calendar.start, 31)
    result = run_forecast(playbook, world, period, precision=0.05, seed=1)
    assert result.precision is not None
    assert result.precision.reached
    assert result.precision.worst_half_width <= 0.05
    assert result.replications_run == result.precision.rounds[-1]
    assert list(result.precision.rounds) == sorted(set(result.precision.rounds))
    for row in result.services.to_dict("records"):
        assert (row["p_met_hi"] - row["p_met_lo"]) / 2 <= 0.05


def test_precision_stops_at_the_cap_and_says_so(playbook: Playbook) -> None:
    world = World.default()
    period = days_from(world.calendar.start, 31)
    result = run_forecast(playbook, world, period, precision=0.005, max_replications=250, seed=1)
    assert result.precision is not None
    assert not result.precision.reached
    assert result.replications_run == 250
    assert result.precision.worst_half_width > 0.005
    doc = result.to_json()["precision"]
    assert doc["reached"] is False
    assert doc["max_replications"] == 250
