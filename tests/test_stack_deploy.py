"""The deployer against the real stack: a failing release is rolled back — unless auto-rollback is off.

The candidate is a bad build: besides the post-mortem's leak (too slow to
matter within a test) it fails every agent coordination, the manual's "API
returns 500".  As the rollout gives it more of the traffic the error rate
climbs past the auto-rollback trigger, and the deployer must roll back within
the phase's delay.  With auto-rollback switched off for one deployment the
same release goes all the way, and only the timeline shows what was ignored.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from ce_drill.cli import cli
from ce_drill.stack import Event, Stack
from ce_drill.stack.rollout import KNOWN_PHASES, stable_version
from sim.playbook import Playbook

from .test_stack_support import running_stack

pytestmark = pytest.mark.stack

CANDIDATE = "5.1"
"""The release under drill; any version but the playbook's stable one carries the leak."""

BROKEN = 1.0
"""Share of agent coordinations the bad build fails."""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("deploy") / "run") as up:
        yield up


def _deployer_events(stack: Stack, since: float, until: Event) -> list[Event]:
    return [e for e in stack.timeline().since(since) if e.source == "deployer" and e.ts <= until.ts]


def _phase_budget_s(stack: Stack, pb: Playbook) -> float:
    state = stack.state()
    assert state is not None
    return sum(p.delay_s for p in pb.auto_rollback.phases) / state.time_scale + 60


def _live_version(stack: Stack) -> str:
    return str(stack.status().component("deployer").info["live_version"])


def test_a_failing_release_is_rolled_back_when_a_trigger_holds(stack: Stack, playbook: Playbook) -> None:
    since = time.time()
    stack.deploy(CANDIDATE, error_ratio=BROKEN)
    finished = stack.wait_for(
        "deploy_finished", since_ts=since, timeout_s=_phase_budget_s(stack, playbook), version=CANDIDATE
    )
    events = _deployer_events(stack, since, finished)
    kinds = [e.kind for e in events]
    assert finished.get("outcome") == "rolled_back", kinds
    held = next(e for e in events if e.kind == "trigger_held")
    started = next(e for e in events if e.kind == "rollback_started")
    done = next(e for e in events if e.kind == "rollback_finished")
    assert held.get("trigger") in {t.name for t in playbook.auto_rollback.triggers}
    assert held.get("auto_rollback") is True
    assert started.get("auto") is True
    assert started.get("trigger")["trigger"] == held.get("trigger")
    assert started.get("phase") in KNOWN_PHASES
    phase = next(e for e in events if e.kind == "phase_started" and e.get("phase") == held.get("phase"))
    assert started.ts - held.ts <= phase.get("deadline_s")
    assert done.get("version") == stable_version(playbook)
    assert kinds.index("deploy_started") < kinds.index("phase_started") < kinds.index("rollback_started")
    assert _live_version(stack) == stable_version(playbook)
    versions = {stack.status().component(p).info["version"] for p in ("pod-blue", "pod-green")}
    assert versions == {stable_version(playbook)}


def test_with_auto_rollback_off_the_same_release_goes_through(stack: Stack, playbook: Playbook) -> None:
    since = time.time()
    args = ["stack", "deploy", CANDIDATE, "--no-auto-rollback", "--error-ratio", str(BROKEN)]
    result = CliRunner().invoke(cli, [*args, "--json", "--run-dir", str(stack.run_dir)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["outcome"] == "completed"
    finished = stack.wait_for("deploy_finished", since_ts=since, timeout_s=1, version=CANDIDATE)
    events = _deployer_events(stack, since, finished)
    assert finished.get("outcome") == "completed"
    held = [e for e in events if e.kind == "trigger_held"]
    assert held, "the failing release should have made a trigger hold"
    assert all(e.get("auto_rollback") is False for e in held)
    assert set(finished.get("triggers_ignored")) == {e.get("trigger") for e in held}
    assert not [e for e in events if e.kind.startswith("rollback_")]
    assert _live_version(stack) == CANDIDATE
    # the manual's emergency rollback (`emergency-rollback.sh -r REASON -f`) still works
    result = CliRunner().invoke(
        cli, ["stack", "rollback", "-r", "error_rate_high", "-f", "--run-dir", str(stack.run_dir)]
    )
    assert result.exit_code == 0, result.output
    assert f"to {stable_version(playbook)}" in result.stdout
    assert _live_version(stack) == stable_version(playbook)
    manual = stack.timeline().since(since).first("rollback_started", mode="emergency")
    assert manual is not None
    assert manual.get("reason") == "error_rate_high"


def test_no_acknowledged_write_was_lost_through_it_all(stack: Stack) -> None:
    assert stack.acknowledged_writes()
    assert stack.lost_writes() == []
