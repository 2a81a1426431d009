"""Interruption campaign: drills stopped at random points, and what each left behind.

Each round starts a drill (``ce-drill run``) and, at a random moment —
while the stack waits to be quiet, while the fault is on, while the drill is
judged — sends its runner SIGINT, SIGTERM or SIGKILL.  After SIGINT and
SIGTERM the runner must remove its faults itself (exit 130).  After SIGKILL
nothing of the runner is left to do it, so the next command must: either
``ce-drill stack down`` or the next ``ce-drill run`` (stopped with SIGINT
once it has claimed the stack).  Then the round is checked:

* no fault left: no pod carries a fault, every pod serves the stable version,
  no drill lock session in PostgreSQL, no lock-holder or orphaned experiment
  process alive;
* no acknowledged write lost (the load generator's record against PostgreSQL);
* the stack healthy, or brought back by ``ce-drill stack up``.

Run: ``.venv/bin/python -m bench.bench_interrupts [--rounds N] [--seed S]``
(a private CE_DRILL_HOME; everything is brought down afterwards).  Prints a
line per round and the totals; exits 1 if any round left something behind.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from ce_drill.chaos.lockholder import APPLICATION_NAME
from ce_drill.drill import claim
from ce_drill.stack import Stack

SCENARIOS = ("memory-leak", "db-lock-contention", "oom")
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGKILL)
ROUND_TIMEOUT_S = 900.0


@dataclass
class Round:
    n: int
    scenario: str
    sig: signal.Signals
    after_s: float
    follow: str = ""
    exit_code: int | None = None
    bad_exit: str = ""
    problems: list[str] = field(default_factory=list)
    lost: int = 0


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "CE_DRILL_HOME": str(home)}


def _cli(home: Path, *args: str, timeout_s: float = ROUND_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ce_drill", *args],
        env=_env(home), capture_output=True, text=True, timeout=timeout_s, check=False,
    )  # fmt: skip


def _processes(pattern: str) -> list[int]:
    done = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True, check=False)
    return [int(p) for p in done.stdout.split()]


def _start_drill(home: Path, scenario: str, out: Path) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "ce_drill", "run", scenario, "--quiet", "--out", str(out)]
    return subprocess.Popen(cmd, env=_env(home), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _next_run_recovers(home: Path, stack: Stack, out: Path) -> int | None:
    """The next ``ce-drill run``: once it has claimed the stack (the dead drill cleaned up), stop it."""
    proc = _start_drill(home, "memory-leak", out)
    deadline = time.monotonic() + ROUND_TIMEOUT_S
    while time.monotonic() < deadline and proc.poll() is None:
        held = claim.read(stack)
        if held is not None and held.runner.pid == proc.pid:
            break
        time.sleep(0.2)
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=ROUND_TIMEOUT_S)
    return proc.returncode


def _check(stack: Stack, home: Path, r: Round) -> None:
    leftovers = _processes("ce_drill.chaos.lockholder") + _processes("chaos --no-version-check")
    if leftovers:
        r.problems.append(f"processes left: {leftovers}")
    if stack.state() is None or not stack.status().healthy:
        up = _cli(home, "stack", "up")
        if up.returncode != 0:
            r.problems.append(f"stack up failed: {up.stderr.strip()[-200:]}")
            return
    for slot, base in stack.pod_urls().items():
        with urllib.request.urlopen(base + "/-/fault", timeout=5) as response:
            fault = json.loads(response.read())
        if any(fault.values()):
            r.problems.append(f"{slot} still carries {fault}")
    versions = {
        c["name"]: c.get("version")
        for c in stack.status().to_json()["components"]
        if c["name"].startswith("pod-")
    }
    stable = set(stack.plan().stable_versions)
    if any(v not in stable for v in versions.values()):
        r.problems.append(f"not on the stable version: {versions}")
    state = stack.state()
    assert state is not None
    with psycopg.connect(state.urls["postgres"], autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (APPLICATION_NAME,)
        )
        locks = rows.fetchall()
    if locks:
        r.problems.append(f"lock sessions left: {locks}")
    r.lost = len(stack.lost_writes())


def play(r: Round, home: Path, rng: random.Random) -> None:
    stack = Stack(home / "stack")
    out = home / f"round-{r.n}"
    proc = _start_drill(home, r.scenario, out)
    time.sleep(r.after_s)
    signalled = proc.poll() is None
    if signalled:
        proc.send_signal(r.sig)
    try:
        _, err = proc.communicate(timeout=ROUND_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        r.problems.append("the drill did not stop")
    r.exit_code = proc.returncode
    # A drill stopped by SIGINT or SIGTERM exits 130, whatever it was doing; 0 or 1 only if it
    # had already ended before the signal was sent.
    if r.sig is not signal.SIGKILL and r.exit_code not in ((130,) if signalled else (0, 1)):
        r.bad_exit = f"exit {r.exit_code}: {err.strip()[-200:]}"
    if r.sig is signal.SIGKILL:
        r.follow = rng.choice(("stack down", "next run"))
        if r.follow == "stack down":
            down = _cli(home, "stack", "down")
            if down.returncode != 0:
                r.problems.append(f"stack down: {down.stderr.strip()[-200:]}")
        else:
            code = _next_run_recovers(home, stack, out / "next")
            if code not in (0, 1, 130):
                r.problems.append(f"next run exit {code}")
    _check(stack, home, r)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.bench_interrupts")
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--seed", type=int, default=20261202)
    parser.add_argument("--latest-s", type=float, default=120.0, help="latest interruption after the start")
    parser.add_argument(
        "--signals", default=",".join(s.name for s in SIGNALS), help="comma-separated, e.g. SIGTERM"
    )
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    signals = [signal.Signals[name.strip()] for name in args.signals.split(",")]
    home = Path(tempfile.mkdtemp(prefix="ce-drill-interrupts-"))
    rounds: list[Round] = []
    started = time.perf_counter()
    try:
        for n in range(args.rounds):
            r = Round(
                n + 1, rng.choice(SCENARIOS), rng.choice(signals), round(rng.uniform(0.5, args.latest_s), 1)
            )
            play(r, home, rng)
            rounds.append(r)
            follow = f", then {r.follow}" if r.follow else ""
            found = [*(f"LEFT: {p}" for p in r.problems), f"LOST {r.lost}" if r.lost else "", r.bad_exit]
            verdict = "; ".join(f for f in found if f) or "clean"
            print(f"round {r.n:3d} {r.scenario:<19} {r.sig.name:<7} after {r.after_s:5.1f} s "
                  f"(exit {r.exit_code}{follow}): {verdict}", flush=True)  # fmt: skip
    finally:
        _cli(home, "stack", "down")
    dirty = [r for r in rounds if r.problems]
    lost = sum(r.lost for r in rounds)
    bad_exits = [r for r in rounds if r.bad_exit]
    print(f"\n{len(rounds)} interruptions in {time.perf_counter() - started:.0f} s: "
          f"{len(dirty)} left a fault or process behind, {lost} acknowledged writes lost, "
          f"{len(bad_exits)} signalled drills did not exit 130")  # fmt: skip
    by_signal = {s.name: sum(1 for r in rounds if r.sig is s) for s in SIGNALS}
    print("by signal: " + ", ".join(f"{k} {v}" for k, v in by_signal.items()))
    return 1 if dirty or lost or bad_exits else 0


if __name__ == "__main__":
    raise SystemExit(main())
