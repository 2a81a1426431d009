"""A drill stopped by SIGTERM anywhere exits 130 with one line, as Ctrl-C does, never killed mid-cleanup.

The interruption campaign found drills that died with -15 when SIGTERM came
while the stack was starting or the drill was being judged: only the
experiment itself handled the signal.  These tests send SIGTERM to the
process itself from inside the drill, before and after the fault.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ce_drill.cli import cli
from ce_drill.drill import runner
from ce_drill.drill.signals import sigterm_interrupts


def _terminated_before_injection(*_args: Any, **_kwargs: Any) -> Any:
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(5)  # the handler interrupts this at once
    raise AssertionError("SIGTERM did not stop the drill")


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
