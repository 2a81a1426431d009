"""Benchmark: each drill's wall time from nothing (no stack running) to verdict, at the default scale.

Beside it, measured in the same run: ``stack up`` alone from nothing (the part
of every drill that is not the drill).  The goal is <= 120 s for memory-leak.
Run: ``.venv/bin/python -m bench.bench_drill [SCENARIO ...]`` (it uses a
private CE_DRILL_HOME and brings everything down afterwards).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ce_drill.stack import Stack


def _timed(cmd: list[str], env: dict[str, str]) -> tuple[float, int]:
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    return time.perf_counter() - start, done.returncode


def main(scenarios: list[str]) -> None:
    home = Path(tempfile.mkdtemp(prefix="ce-drill-bench-"))
    env = {**os.environ, "CE_DRILL_HOME": str(home)}
    stack = Stack(home / "stack")
    try:
        up_s, _ = _timed([sys.executable, "-m", "ce_drill", "stack", "up", "--time-scale", "10"], env)
        stack.down()
        print(f"baseline: stack up from nothing {up_s:.1f} s")
        for scenario in scenarios:
            stack.down()
            out = home / f"out-{scenario}"
            cmd = [sys.executable, "-m", "ce_drill", "run", scenario, "--quiet", "--out", str(out)]
            wall, code = _timed(cmd, env)
            verdict = {0: "passed", 1: "failed"}.get(code, f"exit {code}")
            print(f"{scenario}: {wall:.1f} s from nothing to verdict ({verdict})")
    finally:
        stack.down()


if __name__ == "__main__":
    main(sys.argv[1:] or ["memory-leak", "db-lock-contention", "oom"])
