"""Benchmark: do the drills pass on a busy machine?  Each drill N times with ``stress-ng --cpu 2`` beside it.

A drill's verdict must not depend on the host's load: its fault is specified
by its effect (held for the plan's fault hold, checked by ``fault-landed``),
not by a number of kills, so a slow host holds the fault longer instead of
failing detection.  Beside the loaded runs, the same drills once on an idle
machine in the same run, as the baseline.

Run: ``.venv/bin/python -m bench.bench_drill_load [--runs N] [--time-scale K] [SCENARIO ...]``
(a private CE_DRILL_HOME; everything is brought down afterwards).  Prints one
line per run and the pass rate per drill, loaded and idle.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ce_drill.stack import Stack

SCENARIOS = ["memory-leak", "db-lock-contention", "oom"]


@contextmanager
def cpu_load(workers: int) -> Iterator[None]:
    """``stress-ng --cpu N`` for as long as the block runs (none when N is 0)."""
    if workers == 0:
        yield
        return
    if shutil.which("stress-ng") is None:
        raise SystemExit("stress-ng is not installed (scripts/setup.sh installs it)")
    proc = subprocess.Popen(
        ["stress-ng", "--cpu", str(workers), "--timeout", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def run_once(scenario: str, home: Path, n: int, scale: str | None) -> tuple[str, float, list[str]]:
    out = home / f"out-{scenario}-{n}"
    cmd = [sys.executable, "-m", "ce_drill", "run", scenario, "--quiet", "--json", "--out", str(out)]
    cmd += ["--time-scale", scale] if scale else []
    env = {**os.environ, "CE_DRILL_HOME": str(home)}
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    verdict = {0: "passed", 1: "failed"}.get(done.returncode, f"exit {done.returncode}")
    try:
        failed = list(json.loads(done.stdout).get("failed", []))
    except ValueError:
        failed = [done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "no output"]
    return verdict, wall, failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.bench_drill_load")
    parser.add_argument("scenarios", nargs="*", default=SCENARIOS)
    parser.add_argument("--runs", type=int, default=5, help="loaded runs per drill (default 5)")
    parser.add_argument("--idle-runs", type=int, default=1, help="baseline runs per drill, no load")
    parser.add_argument("--cpu", type=int, default=2, help="stress-ng CPU workers beside the drills")
    parser.add_argument("--time-scale", default=None)
    args = parser.parse_args(argv)
    home = Path(tempfile.mkdtemp(prefix="ce-drill-load-"))
    stack = Stack(home / "stack")
    passes: dict[tuple[str, str], list[bool]] = defaultdict(list)
    try:
        for label, workers, runs in (("idle", 0, args.idle_runs), ("loaded", args.cpu, args.runs)):
            with cpu_load(workers):
                for scenario in args.scenarios:
                    for n in range(runs):
                        verdict, wall, failed = run_once(scenario, home, n, args.time_scale)
                        passes[(label, scenario)].append(verdict == "passed")
                        why = f" — not passed: {', '.join(failed)}" if failed else ""
                        print(
                            f"{label:<6} {scenario:<20} run {n + 1}/{runs}: {verdict} in {wall:.0f} s{why}",
                            flush=True,
                        )
    finally:
        stack.down()
        Stack(home / "stack-break").down()
    print()
    for (label, scenario), results in passes.items():
        rate = sum(results) / len(results)
        print(f"{label:<6} {scenario:<20} {sum(results)}/{len(results)} passed ({rate:.0%})")
    # The target is every drill passing, idle or loaded: anything less fails the benchmark.
    return 0 if all(all(results) for results in passes.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
