"""How long ``stack up`` takes from nothing to ready, against a baseline measured in the same run.

Each repetition brings a stack up in a fresh run directory (initdb included),
waits until Prometheus has scraped every target, then brings it down.  The
goal is ≤ 15 s on a 2-core machine.  Because such machines are noisy, the same
run also measures what no stack can beat: a bare ``initdb`` + ``pg_ctl start``
and a bare Prometheus from start to its first successful scrape of itself.

    .venv/bin/python bench/bench_stack_up.py [--repeat 3] [--time-scale 30]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from ce_drill.stack import Ports, Stack
from ce_drill.stack import postgres as pg
from ce_drill.stack.config import HOST
from ce_drill.stack.procs import spawn, stop
from ce_drill.stack.prometheus import query
from ce_drill.stack.web import HttpError, port_in_use

GOAL_S = 15.0


def _free_base() -> int:
    for base in range(41000, 60000, 10):
        if not any(port_in_use(port) for _, port in Ports.from_base(base).items()):
            return base
    raise RuntimeError("no free block of ports")


def bench_up(work: Path, time_scale: float) -> tuple[float, float]:
    """(wall seconds of ``up`` until it returned ready, seconds ``down`` took)."""
    stack = Stack(work / "stack")
    start = time.perf_counter()
    try:
        stack.up(time_scale, ports=Ports.from_base(_free_base()))
        ready = time.perf_counter() - start
    finally:
        t = time.perf_counter()
        stack.down()
        down = time.perf_counter() - t
    return ready, down


def bench_postgres(work: Path) -> float:
    """initdb + pg_ctl -w start, nothing else."""
    base = _free_base()
    start = time.perf_counter()
    cluster = pg.create(work / "pg", base + 3, work / "pg.log", "bench")
    try:
        pg.start(cluster)
        return time.perf_counter() - start
    finally:
        pg.stop(cluster, 10)
        pg.remove_private(cluster)


def bench_prometheus(work: Path) -> float:
    """Prometheus from exec to its first successful scrape (of itself)."""
    port = _free_base()
    config = work / "prometheus.yml"
    scrape = {"job_name": "self", "static_configs": [{"targets": [f"{HOST}:{port}"]}]}
    config.write_text(json.dumps({"global": {"scrape_interval": "1s"}, "scrape_configs": [scrape]}))
    binary = shutil.which("prometheus") or "prometheus"
    argv = [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={work / 'data'}",
        f"--web.listen-address={HOST}:{port}",
    ]
    start = time.perf_counter()
    ref = spawn(argv, work / "prometheus.log")
    try:
        while True:
            try:
                if any(v == 1 for _, v in query(f"http://{HOST}:{port}", 'up{job="self"}')):
                    return time.perf_counter() - start
            except HttpError:
                pass
            time.sleep(0.05)
    finally:
        stop([ref])


def _summary(name: str, values: list[float]) -> str:
    shown = ", ".join(f"{v:.2f}" for v in values)
    return f"{name:<34} median {statistics.median(values):6.2f} s  (min {min(values):.2f}, max {max(values):.2f}; runs: {shown})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--time-scale", type=float, default=30.0)
    args = parser.parse_args(argv)
    ups, downs, pgs, proms = [], [], [], []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="ce-drill-bench-") as tmp:
            work = Path(tmp)
            (work / "pg").mkdir()
            pgs.append(bench_postgres(work))
            proms.append(bench_prometheus(work))
            ready, down = bench_up(work, args.time_scale)
            ups.append(ready)
            downs.append(down)
    print(_summary("stack up (nothing → ready)", ups))
    print(_summary("stack down", downs))
    print(_summary("baseline: initdb + pg_ctl start", pgs))
    print(_summary("baseline: prometheus → 1st scrape", proms))
    # The stack starts PostgreSQL and Prometheus side by side, so the slower of
    # the two is the floor; everything else is what the stack adds on top.
    floor = max(statistics.median(pgs), statistics.median(proms))
    overhead = statistics.median(ups) - floor
    print(f"{'floor (slower baseline)':<34} {floor:13.2f} s; stack up adds {overhead:.2f} s on top")
    verdict = "meets" if statistics.median(ups) <= GOAL_S else "MISSES"
    print(f"goal ≤ {GOAL_S:g} s: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
