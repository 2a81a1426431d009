"""Real drills with a safety path broken on purpose: each fails the check that guards it.

``ce-drill run SCENARIO --break PATH`` on the real local stack (its own, under
a private ``CE_DRILL_HOME``): the auto-rollback, the lock release, the restart
and detection are each turned off in turn, and the drill must fail exactly the
check that watches them, then leave the stack as it found it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ce_drill.stack import Stack
from tests.drills import assert_clean, drill_home, run_drill


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield from drill_home(tmp_path_factory)


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
    code, card, err = run_drill(home, scenario, "--break", broken, out=tmp_path)
    assert code == 1, err
    failed = {c["id"]: c for c in card["checks"] if c["status"] != "passed"}
    assert check in failed, card["checks"]
    assert card["break"] == [broken]
    # Whatever the break left behind was removed after judging.
    stack = Stack(home / ("stack-break" if broken in ("detection", "restart") else "stack"))
    if stack.state() is not None:
        assert_clean(stack)
