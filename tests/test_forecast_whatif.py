"""What-ifs on common random numbers: the shipped faster-rollback world, paired differences, the levers."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.forecast import LEVERS, parse_period, run_forecast
from sim.forecast.levers import HIGH, LOW
from sim.playbook import Playbook
from sim.world import World, bundled_path

FASTER = Path(bundled_path()).with_name("faster-rollback.yaml")


def test_the_faster_rollback_world_halves_the_rollbacks_and_nothing_else() -> None:
    default, faster = World.default(), World.load(FASTER)
    for name in ("manual_rollback", "auto_rollback"):
        assert getattr(faster.stages, name) == getattr(default.stages, name).scaled(0.5)
    rest = {"manual_rollback", "auto_rollback"}
    assert faster.stages.model_dump(exclude=rest) == default.stages.model_dump(exclude=rest)
    assert faster.model_dump(exclude={"stages"}) == default.model_dump(exclude={"stages"})


def test_paired_differences_are_sharper_than_unpaired_ones(playbook: Playbook) -> None:
    """Common random numbers: the same seeds in both worlds cancel most of the noise."""
    result = run_forecast(
        playbook,
        World.default(),
        parse_period("2027Q1"),
        replications=300,
        seed=11,
        compare=World.load(FASTER),
    )
    frame = result.comparison
    assert frame is not None
    moved = frame[(frame["diff_hi"] - frame["diff_lo"]) > 0]
    assert len(moved) >= 5
    paired = moved["diff_hi"] - moved["diff_lo"]
    unpaired = moved["unpaired_hi"] - moved["unpaired_lo"]
    assert (paired < unpaired).all()
    p1_rto = frame.set_index("figure").loc["rto_met P1"]
    assert p1_rto["diff_hi"] - p1_rto["diff_lo"] < 0.5 * (p1_rto["unpaired_hi"] - p1_rto["unpaired_lo"])
    overall = frame.set_index("figure").loc["all availability targets"]
    assert overall["diff_hi"] - overall["diff_lo"] < 0.5 * (overall["unpaired_hi"] - overall["unpaired_lo"])
    doc = result.to_json()["compare"]
    assert {"figure", "a", "b", "difference", "unpaired_ci95"} <= set(doc[0])
    assert doc[0]["difference"]["paired"] is True


def test_each_lever_changes_only_its_assumption() -> None:
    world = World.default()
    levers = {lever.name: lever for lever in LEVERS}
    doubled = levers["incident_rate"].apply(world, HIGH)
    assert [m.incidents_per_year for m in doubled.failure_modes] == [
        2 * m.incidents_per_year for m in world.failure_modes
    ]
    assert doubled.stages == world.stages
    halved = levers["fix"].apply(world, LOW)
    assert halved.stages.fix.median_s == pytest.approx(world.stages.fix.median_s / 2)  # type: ignore[operator]
    assert halved.stages.fix.p90_s == pytest.approx(world.stages.fix.p90_s / 2)  # type: ignore[operator]
    assert halved.stages.diagnose == world.stages.diagnose
    ack = levers["ack_delay"].apply(world, HIGH)
    assert ack.responders.ack_delay == world.responders.ack_delay.scaled(HIGH)
    odds = levers["auto_rollback_failure"].apply(world, HIGH)
    p = world.deployments.auto_rollback_success_probability
    assert odds.deployments.auto_rollback_success_probability == pytest.approx(1 - 2 * (1 - p))
    fix_odds = levers["fix_failure"].apply(world, LOW)
    for before, after in zip(world.failure_modes, fix_odds.failure_modes, strict=True):
        assert after.fix_success_probability == pytest.approx(1 - (1 - before.fix_success_probability) / 2)
    # Every lever's worlds are still valid worlds.
    for lever in LEVERS:
        for factor in (LOW, HIGH):
            World.model_validate(lever.apply(world, factor).model_dump())


def test_the_tornado_pairs_each_lever_with_the_baseline(playbook: Playbook) -> None:
    result = run_forecast(
        playbook, World.default(), parse_period("2027Q1"), replications=60, tornado_replications=40
    )
    frame = result.tornado
    assert frame is not None
    assert len(frame) == 2 * len(LEVERS)
    assert set(frame["factor"]) == {LOW, HIGH}
    assert (frame["replications"] == 40).all()
    rates = frame[frame["lever"] == "incident_rate"]
    diff = dict(zip(rates["factor"], rates["diff"], strict=True))
    # Fewer incidents, more quarters meeting every target; more, fewer.
    assert diff[LOW] > 0 > diff[HIGH]
    assert (frame["diff_lo"] <= frame["diff"]).all()
    assert (frame["diff"] <= frame["diff_hi"]).all()
