"""Real drills on the real local stack: they pass, each broken safety path fails its check, Ctrl-C cleans up.

These run ``ce-drill run`` as a user would, in a process of its own, against
PostgreSQL, Prometheus and Alertmanager started for the module (under a
private ``CE_DRILL_HOME``).  They are slow by nature (a drill takes a minute
or two at the default time scale); nothing is skipped.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
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


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("ce-drill-home")
    text = bundled_path().read_text(encoding="utf-8")
    playbook = path / "playbook.yaml"
    playbook.write_text(text.replace("    rto: 1h\n", "    rto: 50m\n", 1), encoding="utf-8")
    assert Playbook.load(playbook).severity("P2").rto_s == P2_RTO_S
    up = subprocess.run(
        [sys.executable, "-m", "ce_drill", "stack", "up", "--playbook", str(playbook)],
        env=_env(path), capture_output=True, text=True, timeout=DRILL_TIMEOUT_S, check=False,
    )  # fmt: skip
    assert up.returncode == 0, up.stderr
    yield path
    for name in ("stack", "stack-break"):
        Stack(path / name).down()


def _env(home: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "CE_DRILL_HOME": str(home), **extra}


def _run(home: Path, *args: str, out: Path) -> tuple[int, dict[str, Any], str]:
    cmd = [sys.executable, "-m", "ce_drill", "run", *args, "--json", "--quiet", "--out", str(out)]
    done = subprocess.run(
        cmd, env=_env(home), capture_output=True, text=True, timeout=DRILL_TIMEOUT_S, check=False
    )
    payload = json.loads(done.stdout) if done.stdout.strip() else {}
    return done.returncode, payload, done.stderr


def _assert_clean(stack: Stack) -> None:
    """The stack is healthy, the stable version serves, no drill fault or lock is left, no write lost."""
    status = stack.status()
    assert status.healthy, status.to_json()
    pods = [c for c in status.to_json()["components"] if c["name"].startswith("pod-")]
    assert {c.get("version") for c in pods} == {"5.0"}
    for base in stack.pod_urls().values():
        with __import__("urllib.request").request.urlopen(base + "/-/fault", timeout=3) as response:
            assert not any(json.loads(response.read()).values())
    state = stack.state()
    assert state is not None
    with psycopg.connect(state.urls["postgres"], autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (APPLICATION_NAME,)
        )
        assert rows.fetchall() == []
    assert stack.lost_writes() == []


def test_bad_input_exits_2(home: Path, tmp_path: Path) -> None:
    code, _, err = _run(home, "volcano", out=tmp_path)
    assert code == 2
    assert err.strip() == "ce-drill: volcano: unknown scenario; known: db-lock-contention, memory-leak, oom"
    code, _, err = _run(home, "oom", "--break", "rollback", out=tmp_path)
    assert code == 2
    assert "'rollback' is not a safety path of oom; choose from detection, restart" in err


@pytest.mark.parametrize("scenario", ["memory-leak", "db-lock-contention", "oom"])
def test_drill_passes_on_the_local_stack(home: Path, tmp_path: Path, scenario: str) -> None:
    code, card, err = _run(home, scenario, out=tmp_path)
    assert code == 0, (err, [c for c in card.get("checks", []) if c["status"] != "passed"])
    assert card["verdict"] == "passed"
    assert card["time_scale"] == 10
    assert "the stack is still up in" in err
    assert "ce-drill stack down" in err
    ids = {c["id"] for c in card["checks"]}
    assert {
        "steady-state-before",
        "recovered-within-rto",
        "no-acknowledged-write-lost",
        "no-fault-left",
    } <= ids
    assert any(i.startswith("alert-") for i in ids)
    for name in (
        "journal.json",
        "scorecard.json",
        "junit.xml",
        "timeline.json",
        "timeline.png",
        "report.html",
    ):
        assert (tmp_path / name).is_file(), name
    journal = json.loads((tmp_path / "journal.json").read_text())
    assert journal["status"] == "completed"
    # Judged against the playbook the stack was started with, not the bundled one.
    assert card["playbook"] == str((home / "playbook.yaml").resolve())
    rto = next(c for c in card["checks"] if c["kind"] == "recovered-within-rto")
    if "P2 RTO" in rto["title"]:
        assert rto["target_manual_s"] == pytest.approx(P2_RTO_S)
    _assert_clean(Stack(home / "stack"))


BREAKS = [
    ("memory-leak", "rollback", "auto-rollback"),
    ("db-lock-contention", "lock-release", "lock-released"),
    ("oom", "restart", "service-restarted"),
    ("db-lock-contention", "detection", "alert-P95LatencyHigh"),
]


@pytest.mark.parametrize(("scenario", "broken", "check"), BREAKS, ids=[f"{s}-{b}" for s, b, _ in BREAKS])
def test_a_broken_safety_path_fails_its_check(
    home: Path, tmp_path: Path, scenario: str, broken: str, check: str
) -> None:
    code, card, err = _run(home, scenario, "--break", broken, out=tmp_path)
    assert code == 1, err
    failed = {c["id"]: c for c in card["checks"] if c["status"] != "passed"}
    assert check in failed, card["checks"]
    assert card["break"] == [broken]
    # Whatever the break left behind was removed after judging.
    stack = Stack(home / ("stack-break" if broken in ("detection", "restart") else "stack"))
    if stack.state() is not None:
        _assert_clean(stack)


INTERRUPTS = [("memory-leak", 8.0), ("db-lock-contention", 15.0), ("oom", 5.0)]


@pytest.mark.parametrize(("scenario", "after_s"), INTERRUPTS, ids=[s for s, _ in INTERRUPTS])
def test_interrupted_drill_removes_its_fault(
    home: Path, tmp_path: Path, scenario: str, after_s: float
) -> None:
    stack = Stack(home / "stack")
    timeline = home / "stack" / "timeline.jsonl"
    cmd = [sys.executable, "-m", "ce_drill", "run", scenario, "--quiet", "--out", str(tmp_path)]
    started = time.time()
    proc = subprocess.Popen(cmd, env=_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 300
        while time.time() < deadline:  # wait for the fault to be in, then a little more
            lines = timeline.read_text().splitlines() if timeline.exists() else []
            if any('"fault_injected"' in line and json.loads(line)["ts"] >= started for line in lines):
                break
            time.sleep(0.2)
        else:
            raise AssertionError("the fault was never injected")
        time.sleep(after_s)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=DRILL_TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted; faults removed" in err
    _assert_clean(stack)
