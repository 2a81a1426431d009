"""Benchmark: 10,000 replicated quarters of the default world, on 1 worker and on every core.

The goal is a forecast of 10,000 quarters (2027Q1, the bundled playbook and
world) in at most 60 s of wall time on a 2-core machine.  The same forecast
runs in this process (1 worker) and on a process pool (all cores), so the
parallel efficiency — T(1) / (W × T(W)) — is measured in the same run, and
the two must give identical numbers.  Run: ``.venv/bin/python -m bench.bench_forecast``.
"""

from __future__ import annotations

import argparse
import json
import os

from ce_drill.forecast import forecast
from ce_drill.report import fmt
from sim import Playbook, World
from sim.forecast import Forecast

GOAL_S = 60.0


def _numbers(result: Forecast) -> str:
    payload = result.to_json()
    del payload["execution"]
    return json.dumps(payload, sort_keys=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=10_000)
    parser.add_argument("--period", default="2027Q1")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    playbook, world = Playbook.default(), World.default()
    runs = {}
    for workers in (1, args.workers):
        result = forecast(playbook, world, args.period, replications=args.replications, workers=workers)
        ex = result.execution
        wall = ex.wall_s or float("nan")
        runs[workers] = result
        print(
            f"{args.replications:,} quarters on {workers} worker(s) [{ex.backend}, {ex.tasks} tasks]: "
            f"{wall:.1f} s wall, {args.replications / wall:,.0f} quarters/s, {ex.events / wall:,.0f} events/s"
        )
    one, many = runs[1], runs[args.workers]
    t1, tw = one.execution.wall_s or 0.0, many.execution.wall_s or 0.0
    if args.workers > 1:
        print(
            f"speed-up {t1 / tw:.2f}x on {args.workers} workers; parallel efficiency {t1 / (args.workers * tw):.0%}"
        )
    print(f"identical numbers on 1 and {args.workers} worker(s): {_numbers(one) == _numbers(many)}")
    print(
        f"goal: {args.replications:,} quarters in <= {GOAL_S:g} s wall -> {'met' if tw <= GOAL_S else 'MISSED'} ({tw:.1f} s)"
    )
    print()
    overall = many.overall
    print(
        f"{args.period}: P(all availability targets met) = {fmt.pct(overall['p_met'])} "
        f"(95 % CI {fmt.ci(overall['p_met_lo'], overall['p_met_hi'])})"
    )
    for row in many.services.to_dict("records"):
        print(
            f"  {row['service']:<18} {row['month']}  P(met {fmt.target(row['target'])}) = {fmt.pct(row['p_met'])} "
            f"({fmt.ci(row['p_met_lo'], row['p_met_hi'])}); downtime p50/p90/p99 = "
            f"{fmt.duration(row['downtime_p50_s'])} / {fmt.duration(row['downtime_p90_s'])} / "
            f"{fmt.duration(row['downtime_p99_s'])} (budget {fmt.duration(row['budget_s'])})"
        )
    for row in many.severities.to_dict("records"):
        if row["incidents"]:
            print(
                f"  {row['severity']}: {row['incidents']:,} incidents; P(RTO met) = {fmt.pct(row['rto_met'])} "
                f"({fmt.ci(row['rto_met_lo'], row['rto_met_hi'])}); restore p50/p90/p99 = "
                f"{fmt.duration(row['restore_p50_s'])} / {fmt.duration(row['restore_p90_s'])} / "
                f"{fmt.duration(row['restore_p99_s'])}"
            )


if __name__ == "__main__":
    main()
