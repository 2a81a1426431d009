"""The real drills' shared parts: a stack under a private home, ``ce-drill run`` as a user runs it, the clean-up check.

The drill tests are split over files so that two pytest workers share them;
each file starts its own stack (on free ports) with :func:`drill_home`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ce_drill.chaos.lockholder import APPLICATION_NAME
from ce_drill.stack import Stack
from sim.playbook import Playbook, bundled_path

DRILL_TIMEOUT_S = 600


P2_RTO_S = 50 * 60
"""The P2 RTO of the playbook the drills' stack runs: not the bundled one (1 h), so the
scorecards prove the drill was judged against the stack's own playbook."""


def drill_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A private ``CE_DRILL_HOME`` with its stack up on a playbook whose P2 RTO is 50 m; down afterwards."""
    path = tmp_path_factory.mktemp("ce-drill-home")
    text = bundled_path().read_text(encoding="utf-8")
    playbook = path / "playbook.yaml"
    playbook.write_text(text.replace("    rto: 1h\n", "    rto: 50m\n", 1), encoding="utf-8")
    assert Playbook.load(playbook).severity("P2").rto_s == P2_RTO_S
    up = subprocess.run(
        [sys.executable, "-m", "ce_drill", "stack", "up", "--playbook", str(playbook)],
        env=drill_env(path), capture_output=True, text=True, timeout=DRILL_TIMEOUT_S, check=False,
    )  # fmt: skip
    assert up.returncode == 0, up.stderr
    yield path
    for name in ("stack", "stack-break"):
        Stack(path / name).down()


def drill_env(home: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "CE_DRILL_HOME": str(home), **extra}


def run_drill(home: Path, *args: str, out: Path) -> tuple[int, dict[str, Any], str]:
    """``ce-drill run ARGS --json``: exit code, scorecard, stderr."""
    cmd = [sys.executable, "-m", "ce_drill", "run", *args, "--json", "--quiet", "--out", str(out)]
    done = subprocess.run(
        cmd, env=drill_env(home), capture_output=True, text=True, timeout=DRILL_TIMEOUT_S, check=False
    )
    payload = json.loads(done.stdout) if done.stdout.strip() else {}
    return done.returncode, payload, done.stderr


def assert_clean(stack: Stack) -> None:
    """The stack is healthy, the stable version serves, no drill fault or lock is left, no write lost."""
    status = stack.status()
    assert status.healthy, status.to_json()
    pods = [c for c in status.to_json()["components"] if c["name"].startswith("pod-")]
    assert {c.get("version") for c in pods} == {"5.0"}
    for base in stack.pod_urls().values():
        with urllib.request.urlopen(base + "/-/fault", timeout=3) as response:
            assert not any(json.loads(response.read()).values())
    state = stack.state()
    assert state is not None
    with psycopg.connect(state.urls["postgres"], autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (APPLICATION_NAME,)
        )
        assert rows.fetchall() == []
    assert stack.lost_writes() == []
