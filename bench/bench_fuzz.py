"""Fuzz every input ce-drill reads, 1,000 cases: how often is the exit-2 promise broken?

Runs the seeded mutations of ``tests/fuzzing.py`` over the bundled playbook,
worlds, timelines, scenarios, answers and experiments, each through every
command that reads that kind of file, and counts the broken promises:
tracebacks, exit 2 without exactly one ``FILE:LINE:`` line, other exit codes,
hangs, and stacks started for an invalid experiment.

Run: ``.venv/bin/python -m bench.bench_fuzz [--cases 1000] [--seed 0] [--show 5]``.
Exits 1 when any promise was broken.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time

from click.testing import CliRunner

from tests.fuzzing import cases, run_case


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show", type=int, default=5, help="Examples of each problem to print.")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    runner = CliRunner()
    problems: collections.Counter[str] = collections.Counter()
    by_kind: collections.Counter[tuple[str, str]] = collections.Counter()
    exits: collections.Counter[int] = collections.Counter()
    examples: dict[str, list[str]] = collections.defaultdict(list)
    runs = 0
    for case in cases(args.cases, args.seed):
        for outcome in run_case(case, runner):
            runs += 1
            exits[outcome.exit_code] += 1
            if outcome.problem is None:
                continue
            problems[outcome.problem] += 1
            by_kind[(case.kind, case.mutation)] += 1
            if len(examples[outcome.problem]) < args.show:
                examples[outcome.problem].append(
                    f"  case {case.number} {case.kind}/{case.source} {case.mutation} `{outcome.command}`: "
                    f"{outcome.detail or outcome.stderr.strip()[:200]!r}"
                )
    elapsed = time.perf_counter() - started

    broken = sum(problems.values())
    print(f"{args.cases} cases (seed {args.seed}), {runs} command runs in {elapsed:.0f} s")
    print("exit codes: " + ", ".join(f"{code}: {n}" for code, n in sorted(exits.items())))
    for name in ("traceback", "unlocated", "bad-exit", "hang", "stack-started"):
        print(f"{name:>14}: {problems[name]}")
    print(f"{'broken':>14}: {broken}")
    for name, lines in examples.items():
        print(f"\n{name}:")
        print("\n".join(lines))
    if by_kind:
        print("\nbroken by input and mutation:")
        for (kind, mutation), n in by_kind.most_common():
            print(f"  {kind:>10} {mutation:<16} {n}")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
