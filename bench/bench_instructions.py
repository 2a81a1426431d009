"""Benchmark: the simulation's cost per event in instructions, which machine noise does not move.

Wall-clock figures on these shared machines swing by a third between runs;
``valgrind --tool=callgrind`` counts the instructions the interpreter executes,
the same count for the same code and inputs whatever else the machine does.
Each measurement runs in its own valgrind process and counts only inside
``functools.reduce``, which does nothing but the measured loop, so imports,
parsing the playbook and the warm-up run are left out.

Measured: ten simulated years of the default world (seeds 0-9), a bare SimPy
process of ``yield env.timeout(d)`` scheduling as many events, and the M/M/3
queue of :mod:`bench.bench_simulate`.  Instructions are not seconds (the
model's many objects cost it more cache misses than the bare loop), so the
ratios here are lower than the timed ones; they are for telling whether a
change to the model made it cheaper.  Run:
``.venv/bin/python -m bench.bench_instructions`` (needs ``valgrind``; 2-4 min).
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MMC_JOBS = 2_000


def _inside(what: str, years: int, events: int) -> list[str]:
    """The command line of this module measuring ``what`` (run with :data:`_ENV`, from :data:`ROOT`)."""
    return [
        sys.executable, "-m", "bench.bench_instructions", "--inside", what,
        "--years", str(years), "--events", str(events),
    ]  # fmt: skip


# A fixed hash seed: dict and set layouts, and so the instructions, are the same every run.
_ENV = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(ROOT)}


def measure(what: str, years: int, events: int) -> int:
    """Instructions of ``--inside WHAT`` run under callgrind (the measured loop only)."""
    callgrind = [
        "valgrind",
        "--tool=callgrind",
        "--toggle-collect=functools_reduce",
        "--callgrind-out-file=/dev/null",
    ]
    done = subprocess.run(
        [*callgrind, *_inside(what, years, events)],
        capture_output=True,
        text=True,
        env=_ENV,
        cwd=ROOT,
        check=True,
    )
    found = re.search(r"Collected : ([\d,]+)", done.stderr)
    if found is None:
        raise SystemExit(f"bench_instructions: no instruction count from valgrind:\n{done.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def inside(what: str, years: int, events: int) -> None:
    """The measured loop, run under valgrind: prints how many SimPy events it scheduled."""
    from bench.bench_simulate import bare_simpy, mm3
    from sim import Playbook, World, simulate

    playbook, world = Playbook.default(), World.default()
    simulate(playbook, world, days=365, seed=10_000)  # warm-up: lazy imports and caches, not counted
    bare_simpy(1_000, 0)
    mm3(100, 0)
    if what == "model":
        total = functools.reduce(
            lambda n, s: n + simulate(playbook, world, days=365, seed=s).events, range(years), 0
        )
    elif what == "bare":
        # Split as the model's years are, so the per-run set-up is paid as often.
        per = events // years
        functools.reduce(lambda _, s: bare_simpy(per, s), range(years), 0.0)
        total = per * years
    else:
        total = functools.reduce(lambda n, s: n + mm3(MMC_JOBS, s)[0], range(years), 0)
    print(f"events {total}")


def events_of(what: str, years: int, events: int) -> int:
    """SimPy events the measured loop schedules, run once without valgrind."""
    done = subprocess.run(
        _inside(what, years, events), capture_output=True, text=True, env=_ENV, cwd=ROOT, check=True
    )
    return int(done.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--inside", choices=("model", "bare", "mm3"), help=argparse.SUPPRESS)
    parser.add_argument("--events", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside:
        inside(args.inside, args.years, args.events)
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("bench_instructions: needs valgrind (apt-get install valgrind)")
    events = events_of("model", args.years, 0)
    per_event = {}
    for what in ("model", "bare", "mm3"):
        counted = events if what != "mm3" else events_of("mm3", args.years, 0)
        per_event[what] = measure(what, args.years, events) / counted
        print(f"{what:5s}: {per_event[what]:9,.0f} instructions per event ({counted:,} events)", flush=True)
    print(
        f"model / bare SimPy: {per_event['model'] / per_event['bare']:.2f}x; "
        f"model / M/M/3: {per_event['model'] / per_event['mm3']:.2f}x (instructions, not seconds)"
    )


if __name__ == "__main__":
    main()
