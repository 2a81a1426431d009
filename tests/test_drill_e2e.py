"""Real drills on the real local stack: they pass, bad input is refused, Ctrl-C cleans up.

These run ``ce-drill run`` as a user would, in a process of its own, against
PostgreSQL, Prometheus and Alertmanager started for the module (under a
private ``CE_DRILL_HOME``).  They are slow by nature (a drill takes a minute
or two at the default time scale); nothing is skipped.  The broken safety
paths are in ``test_drill_breaks.py``, on a stack of their own.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ce_drill.stack import Stack
from tests.drills import DRILL_TIMEOUT_S, P2_RTO_S, assert_clean, drill_env, drill_home, run_drill


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield from drill_home(tmp_path_factory)


def test_bad_input_exits_2(home: Path, tmp_path: Path) -> None:
    code, _, err = run_drill(home, "volcano", out=tmp_path)
    assert code == 2
    assert err.strip() == "ce-drill: volcano: unknown scenario; known: db-lock-contention, memory-leak, oom"
    code, _, err = run_drill(home, "oom", "--break", "rollback", out=tmp_path)
    assert code == 2
    assert "'rollback' is not a safety path of oom; choose from detection, restart" in err


@pytest.mark.parametrize("scenario", ["memory-leak", "db-lock-contention", "oom"])
def test_drill_passes_on_the_local_stack(home: Path, tmp_path: Path, scenario: str) -> None:
    code, card, err = run_drill(home, scenario, out=tmp_path)
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
    assert_clean(Stack(home / "stack"))


INTERRUPTS = [("memory-leak", 8.0), ("db-lock-contention", 15.0), ("oom", 5.0)]


@pytest.mark.parametrize(("scenario", "after_s"), INTERRUPTS, ids=[s for s, _ in INTERRUPTS])
def test_interrupted_drill_removes_its_fault(
    home: Path, tmp_path: Path, scenario: str, after_s: float
) -> None:
    stack = Stack(home / "stack")
    timeline = home / "stack" / "timeline.jsonl"
    cmd = [sys.executable, "-m", "ce_drill", "run", scenario, "--quiet", "--out", str(tmp_path)]
    started = time.time()
    proc = subprocess.Popen(
        cmd, env=drill_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
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
    assert_clean(stack)
