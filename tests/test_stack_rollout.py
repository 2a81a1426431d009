"""The deployment pipeline's logic, with pods and Prometheus faked: phases, triggers, rollbacks.

Every threshold and delay comes from the playbook; the clock runs fast
(a large time scale) so each phase lasts a fraction of a second.
"""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from ce_drill.plan import DrillPlan
from ce_drill.stack.config import StackConfig
from ce_drill.stack.rollout import REST_WEIGHTS, Plan, Rollout, RolloutError, stable_version
from ce_drill.stack.standin.spec import Release
from ce_drill.stack.triggers import check, evaluate, validate
from ce_drill.stack.web import HttpError
from sim.errors import InputError
from sim.playbook import Playbook, RollbackTrigger

FAST = 600.0
"""Time scale for these tests: the manual's phase delays shrink to a tenth of a second or so."""

CANDIDATE = "candidate"
PLAN = DrillPlan.build(
    time_scale=FAST, scrape_interval_s=StackConfig(run_dir=Path("/nonexistent")).scrape_interval_s
)


class FakePods:
    def __init__(self) -> None:
        self.slots: dict[str, str | None] = {"blue": None, "green": None}
        self.placed: list[tuple[str, str, int]] = []

    def deploy_to(self, slot_name: str, release: Release) -> object:
        self.slots[slot_name] = release.version
        self.placed.append((slot_name, release.version, release.leak_bytes_per_request))
        return None

    def versions(self) -> dict[str, str | None]:
        return dict(self.slots)


class World:
    """Recorded events, routed weights and the metric values Prometheus would answer."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.weights: list[dict[str, float]] = []
        self.values: dict[str, float | None] = {}
        self.lock = threading.Lock()

    def record(self, kind: str, **data: Any) -> dict[str, Any]:
        event = {"ts": time.time(), "kind": kind, **data}
        with self.lock:
            self.events.append(event)
        return event

    def of(self, kind: str) -> list[dict[str, Any]]:
        with self.lock:
            return [e for e in self.events if e["kind"] == kind]


def _healthy(trigger: RollbackTrigger) -> float:
    """A value on the safe side of the trigger's threshold."""
    return trigger.threshold - 1 if trigger.op in (">", ">=") else trigger.threshold + 1


def _breaching(trigger: RollbackTrigger) -> float:
    return trigger.threshold + 1 if trigger.op in (">", ">=") else trigger.threshold - 1


def make(pb: Playbook, world: World, pods: FakePods) -> Rollout:
    rollout = Rollout(
        supervisor=pods,
        config=StackConfig(run_dir=Path("/nonexistent"), time_scale=FAST),
        phases=PLAN.phases,
        triggers=validate(pb),
        stable_version=stable_version(pb),
        value_of=world.values.get,
        set_weights=world.weights.append,
        record=world.record,
    )
    for trigger in pb.auto_rollback.triggers:
        world.values[trigger.metric] = _healthy(trigger)
    rollout.start()
    return rollout


def _wait_finished(world: World, timeout_s: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while not world.of("deploy_finished"):
        assert time.monotonic() < deadline, "deployment never finished"
        time.sleep(0.01)
    return world.of("deploy_finished")[0]


def _plan(auto: bool) -> Plan:
    return Plan(Release(CANDIDATE, leak_bytes_per_request=1024), auto, 0.25)


def test_healthy_deployment_walks_every_phase_for_its_delay(playbook: Playbook) -> None:
    world, pods = World(), FakePods()
    rollout = make(playbook, world, pods)
    try:
        rollout.deploy(_plan(auto=True))
        finished = _wait_finished(world)
    finally:
        rollout.close()
    assert finished["outcome"] == "completed"
    phases = world.of("phase_started")
    assert [p["phase"] for p in phases] == [p.phase for p in playbook.auto_rollback.phases]
    for event, phase in zip(phases, playbook.auto_rollback.phases, strict=True):
        assert event["hold_s"] == pytest.approx(phase.delay_s / FAST, abs=1e-3)
        assert event["delay_manual_s"] == phase.delay_s
    # canary share, then all on green with blue warm, then shared on the new version everywhere
    assert world.weights[1] == {"blue": 0.75, "green": 0.25}
    assert world.weights[2] == {"blue": 0.0, "green": 1.0}
    assert world.weights[3] == REST_WEIGHTS
    assert pods.versions() == {"blue": CANDIDATE, "green": CANDIDATE}
    assert rollout.live_version == CANDIDATE
    # the stable version carries no leak; the candidate the plan's
    assert ("green", CANDIDATE, 1024) in pods.placed
    assert all(leak == 0 for _, v, leak in pods.placed if v == stable_version(playbook))


@pytest.mark.parametrize("name", [t.name for t in Playbook.default().auto_rollback.triggers])
def test_each_trigger_rolls_back_within_the_phase_delay(playbook: Playbook, name: str) -> None:
    trigger = next(t for t in playbook.auto_rollback.triggers if t.name == name)
    world, pods = World(), FakePods()
    rollout = make(playbook, world, pods)
    try:
        rollout.deploy(_plan(auto=True))
        while not world.of("phase_started"):
            time.sleep(0.005)
        world.values[trigger.metric] = _breaching(trigger)
        finished = _wait_finished(world)
    finally:
        rollout.close()
    assert finished["outcome"] == "rolled_back"
    held, started = world.of("trigger_held")[0], world.of("rollback_started")[0]
    assert held["trigger"] == trigger.name
    assert started["auto"] is True
    assert started["trigger"]["trigger"] == trigger.name
    phase = next(p for p in world.of("phase_started") if p["phase"] == held["phase"])
    assert started["ts"] - held["ts"] <= phase["deadline_s"]
    assert world.weights[-1] == REST_WEIGHTS
    assert pods.versions() == dict.fromkeys(("blue", "green"), stable_version(playbook))
    assert rollout.live_version == stable_version(playbook)


def test_auto_rollback_off_records_the_trigger_and_carries_on(playbook: Playbook) -> None:
    trigger = playbook.auto_rollback.triggers[0]
    world, pods = World(), FakePods()
    rollout = make(playbook, world, pods)
    world.values[trigger.metric] = _breaching(trigger)
    try:
        rollout.deploy(_plan(auto=False))
        finished = _wait_finished(world)
    finally:
        rollout.close()
    assert finished["outcome"] == "completed"
    assert finished["triggers_ignored"]
    assert all(e["auto_rollback"] is False for e in world.of("trigger_held"))
    assert not world.of("rollback_started")
    assert rollout.live_version == CANDIDATE


def test_manual_rollback_after_a_completed_deployment(playbook: Playbook) -> None:
    world, pods = World(), FakePods()
    rollout = make(playbook, world, pods)
    try:
        with pytest.raises(RolloutError, match="nothing to roll back"):
            rollout.rollback("nothing deployed", "emergency")
        rollout.deploy(_plan(auto=True))
        _wait_finished(world)
        done = rollout.rollback("error_rate_high", "emergency")
        with pytest.raises(RolloutError, match="nothing to roll back"):
            rollout.rollback("twice", "emergency")
    finally:
        rollout.close()
    assert done["version"] == stable_version(playbook)
    assert done["mode"] == "emergency"
    started = world.of("rollback_started")[0]
    assert started["auto"] is False
    assert started["from_version"] == CANDIDATE


def test_a_second_deployment_while_one_runs_is_refused(playbook: Playbook) -> None:
    world, pods = World(), FakePods()
    rollout = make(playbook, world, pods)
    try:
        rollout.deploy(_plan(auto=True))
        with pytest.raises(RolloutError, match="in progress"):
            rollout.deploy(_plan(auto=True))
        _wait_finished(world)
        with pytest.raises(RolloutError, match="already live"):
            rollout.deploy(_plan(auto=True))
    finally:
        rollout.close()


def test_a_deployment_without_monitoring_says_so_and_cannot_roll_back(playbook: Playbook) -> None:
    world, pods = World(), FakePods()
    rollout = make(playbook, world, pods)

    def unreachable(_metric: str) -> float | None:
        raise HttpError("http://prometheus", "connection refused")

    rollout.value_of = unreachable
    try:
        rollout.deploy(_plan(auto=True))
        finished = _wait_finished(world)
    finally:
        rollout.close()
    assert finished["outcome"] == "completed"
    blind = world.of("monitoring_unavailable")
    assert [e["phase"] for e in blind] == [p.phase for p in playbook.auto_rollback.phases]
    assert not world.of("trigger_held")


def test_trigger_check_follows_the_playbook_comparison(playbook: Playbook) -> None:
    for trigger in playbook.auto_rollback.triggers:
        assert check(trigger, _breaching(trigger)).holds
        assert not check(trigger, _healthy(trigger)).holds
        assert not check(trigger, None).holds
        assert not check(trigger, math.nan).holds
    values = {t.metric: _breaching(t) for t in playbook.auto_rollback.triggers[:1]}
    held = [c.trigger for c in evaluate(playbook.auto_rollback.triggers, values.get) if c.holds]
    assert held == [playbook.auto_rollback.triggers[0].name]


def test_a_trigger_on_an_unknown_metric_is_bad_input(playbook: Playbook) -> None:
    triggers = list(playbook.auto_rollback.triggers)
    triggers[1] = triggers[1].model_copy(update={"metric": "no_such:metric"})
    bad = playbook.model_copy(
        update={"auto_rollback": playbook.auto_rollback.model_copy(update={"triggers": tuple(triggers)})}
    )
    with pytest.raises(InputError, match=r"auto_rollback\.triggers\[1\]\.metric: not a recorded metric"):
        validate(bad, "pb.yaml")


def test_an_unknown_phase_is_refused() -> None:
    phases = (PLAN.phases[0].model_copy(update={"phase": "rainbow"}),)
    with pytest.raises(RolloutError, match="rainbow"):
        Rollout(
            supervisor=FakePods(),
            config=StackConfig(run_dir=Path("/nonexistent")),
            phases=phases,
            triggers=(),
            stable_version="x",
            value_of=lambda _m: None,
            set_weights=lambda _w: None,
            record=lambda kind, **data: {"kind": kind, **data},
        )
