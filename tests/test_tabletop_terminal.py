"""A whole exercise driven through a real terminal: tmux types the answers, capture-pane reads the screen."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

TIMEOUT_S = 60.0


def _tmux(*args: str) -> str:
    done = subprocess.run(["tmux", *args], capture_output=True, text=True, check=True)
    return done.stdout


@pytest.fixture
def session() -> object:
    if shutil.which("tmux") is None:
        pytest.fail("tmux is not installed (scripts/setup.sh installs it)")
    name = f"ce-drill-{uuid.uuid4().hex[:8]}"
    yield name
    subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True, check=False)


def _screen(name: str) -> str:
    return _tmux("capture-pane", "-p", "-J", "-S", "-3000", "-t", name)


def _wait_for(name: str, text: str, after: int = 0) -> str:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        screen = _screen(name)
        if text in screen[after:]:
            return screen
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never appeared; the screen shows:\n{_screen(name)}")


def _answer(name: str, prompt: str, keys: str) -> None:
    before = len(_screen(name))
    screen = _wait_for(name, prompt)
    assert screen.rstrip().endswith(")"), screen[-200:]  # sitting at the input prompt
    _tmux("send-keys", "-t", name, keys, "Enter")
    _wait_for(name, keys, after=before - 200 if before > 200 else 0)


def test_interactive_exercise_in_a_real_terminal(session: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    command = (
        f"COLUMNS=200 {sys.executable} -m ce_drill tabletop run oom --seed 2 --out {out}; "
        f"echo EXIT=$?; sleep {TIMEOUT_S}"
    )
    _tmux("new-session", "-d", "-s", session, "-x", "200", "-y", "60", command)
    screen = _wait_for(session, "Which severity do you declare?")
    assert "ALERT" in screen
    assert "ServiceDown firing" in screen
    assert "T+02:00 (03:12 UTC)" in screen  # the running clock
    _tmux("send-keys", "-t", session, "7", "Enter")
    _wait_for(session, "Not an option: '7'")
    _answer(session, "Not an option: '7'", "1")
    _answer(session, "Whom do you page?", "1, devops")
    _answer(session, "What do you tell users?", "status_page_and_email")
    _answer(session, "What do you do now?", "restart")
    screen = _wait_for(session, "OOM-killed again")
    _answer(session, "escalate", "3")  # retry menu: restart, rollback, limit_and_shed, escalate
    screen = _wait_for(session, "EXIT=")
    assert "Incident confirmed as P1." in screen
    assert "Service is back" in screen
    assert "Post-mortem draft:" in screen
    assert "severity declared as the manual defines it" in screen
    assert "EXIT=1" in screen or "EXIT=0" in screen
    draft = (out / "postmortem.md").read_text(encoding="utf-8")
    assert "Raise the memory limit and rate-limit the import client" in draft
    assert "Delete the crash-looping pods" in draft
