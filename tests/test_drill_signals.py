"""A drill stopped by SIGTERM anywhere exits 130 with one line, as Ctrl-C does, never killed mid-cleanup.

The interruption campaign found drills that died with -15 when SIGTERM came
while the stack was starting or the drill was being judged: only the
experiment itself handled the signal.  These tests send SIGTERM to the
process itself from inside the drill, before and after the fault.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from click.testing import CliRunner

from ce_drill.cli import cli
from ce_drill.drill import claim, runner
from ce_drill.drill.judge import Expectation
from ce_drill.drill.scorecard import Scorecard
from ce_drill.drill.signals import sigterm_interrupts
from ce_drill.k8s import runner as k8s_runner
from ce_drill.k8s.redact import Redactor
from ce_drill.plan import DrillPlan


def _terminated_before_injection(*_args: Any, **_kwargs: Any) -> Any:
    """SIGTERM to this process, from inside whatever the drill was doing."""
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(5)  # the handler interrupts this at once
    raise AssertionError("SIGTERM did not stop the drill")


def _stopped(drill: Callable[[], object]) -> Exception:
    """What the drill raised when SIGTERM came; an interrupt that escaped it (no cleanup) fails the test."""
    try:
        with sigterm_interrupts():
            drill()
    except KeyboardInterrupt:
        pytest.fail("the interrupt escaped the drill: its faults were not removed")
    except Exception as exc:
        return exc
    pytest.fail("the drill ended without being stopped")


def test_sigterm_before_the_fault_exits_130_with_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    before = signal.getsignal(signal.SIGTERM)
    monkeypatch.setattr(runner, "run_drill", _terminated_before_injection)
    result = CliRunner().invoke(cli, ["run", "memory-leak", "--quiet", "--out", str(tmp_path / "out")])
    assert result.exit_code == 130, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = [line for line in result.stderr.splitlines() if line.startswith("ce-drill:")]
    assert lines == ["ce-drill: memory-leak interrupted before its fault was injected; nothing to remove"]
    assert "Traceback" not in result.output
    assert signal.getsignal(signal.SIGTERM) is before


def test_sigterm_is_a_keyboard_interrupt_only_inside_the_guard() -> None:
    with sigterm_interrupts(), pytest.raises(KeyboardInterrupt):
        _terminated_before_injection()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_sigterm_while_a_local_drill_is_judged_still_removes_its_faults(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The experiment ended and its rollbacks played; a signal while waiting for notifications or judging
    must still remove what a break left in place, and report the drill interrupted."""
    removed: list[object] = []
    written: list[Scorecard] = []
    stack = SimpleNamespace(run_dir=tmp_path / "stack", plan=lambda: DrillPlan.build(time_scale=10.0))
    # Everything before the verdict succeeds as on a stack; the experiment ran to its end.
    monkeypatch.setattr(runner, "_playbook_for", lambda *_: None)
    monkeypatch.setattr(runner, "_stack_for", lambda *_: (stack, False))
    monkeypatch.setattr(runner, "_settle", lambda *_: None)
    monkeypatch.setattr(claim, "write", lambda *_: None)
    monkeypatch.setattr(claim, "release", lambda *_: None)
    monkeypatch.setattr(runner, "_run_chaos", lambda *_: False)
    monkeypatch.setattr(runner, "_await_notifications", _terminated_before_injection)
    monkeypatch.setattr(runner, "remove_faults", removed.append)
    monkeypatch.setattr(runner, "_write", lambda _out, card, *_: written.append(card))
    out = tmp_path / "out"
    stop = _stopped(lambda: runner.run_drill("memory-leak", breaks=("rollback",), out=out, progress=False))
    assert isinstance(stop, runner.DrillInterrupted)
    assert removed == [stack]
    assert [card.interrupted for card in written] == [True]
    assert stop.card is written[0]


# --- a cluster target -----------------------------------------------------------------------------


def test_sigterm_while_a_cluster_target_is_checked_exits_130_with_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    before = signal.getsignal(signal.SIGTERM)
    monkeypatch.setattr(k8s_runner, "prepare", _terminated_before_injection)
    args = ["run", "memory-leak", "--target", "k8s", "--config", str(tmp_path / "ce-drill.k8s.yaml")]
    result = CliRunner().invoke(cli, [*args, "--quiet", "--out", str(tmp_path / "out")])
    assert result.exit_code == 130, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("ce-drill:")]
    assert lines == ["ce-drill: memory-leak interrupted before its fault was injected; nothing to remove"]
    assert "Traceback" not in result.output
    assert signal.getsignal(signal.SIGTERM) is before


def test_sigterm_while_a_cluster_drill_is_judged_still_removes_its_faults(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """After the experiment its rollbacks have played, but what a break left in place goes only after judging."""
    removed: list[object] = []
    written: list[Scorecard] = []
    charter = SimpleNamespace(timeline_path=str(tmp_path / "timeline.jsonl"), save=lambda _path: None)
    # Everything before the verdict succeeds as on a cluster; the experiment ran to its end.
    monkeypatch.setattr(k8s_runner, "_prometheus_facts", lambda _p: [])
    monkeypatch.setattr(k8s_runner, "_database_facts", lambda _p: [])
    monkeypatch.setattr(k8s_runner, "_charter", lambda _p: charter)
    monkeypatch.setattr(k8s_runner, "_secret_env", lambda _secrets: contextlib.nullcontext())
    monkeypatch.setattr(k8s_runner, "_settle", lambda *_: None)
    monkeypatch.setattr(k8s_runner, "_chaos_env", lambda *_: {})
    monkeypatch.setattr(k8s_runner, "_run_chaos", lambda *_, **__: None)
    monkeypatch.setattr(k8s_runner, "_conclude", _terminated_before_injection)
    monkeypatch.setattr(k8s_runner, "_remove_faults", lambda _charter, p: removed.append(p))
    monkeypatch.setattr(k8s_runner, "_write", lambda _out, card, *_: written.append(card))
    prepared = k8s_runner.Prepared(
        drill=k8s_runner.load_drill("memory-leak"),
        expect=Expectation(alerts=("SystemAvailabilityP2Major",), severity="P2"),
        loaded=cast(Any, None),
        target=cast(Any, None),
        secrets=cast(Any, SimpleNamespace()),
        plan=DrillPlan.build(time_scale=10.0),
        redactor=Redactor([]),
        out=tmp_path,
        breaks=("rollback",),
    )
    stop = _stopped(lambda: k8s_runner.run(prepared, progress=False))
    assert isinstance(stop, k8s_runner.ClusterDrillStopped)
    assert stop.reason == "interrupted by a signal"
    assert removed == [prepared]
    assert [card.interrupted for card in written] == [True]
    assert stop.card is written[0]
