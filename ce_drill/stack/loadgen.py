"""The load generator: users creating workflows at a steady rate, and a record of every ack.

It sends ``POST /api/v1/agents`` through the router open-loop — on a fixed
schedule, whether or not earlier requests have come back, as real users do —
so a slow service shows up as latency and pile-up rather than as a politely
slower client.  Every write the service acknowledged (a 201 with an ``id``)
is appended to ``acked.jsonl`` in the run directory before anything else, so
a drill can afterwards prove, against PostgreSQL, that none was lost.

Run: ``python -m ce_drill.stack.loadgen URL RATE ACKED STATS``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
import time
from collections import Counter
from pathlib import Path
from types import FrameType

from ce_drill.stack.config import LOAD_MAX_IN_FLIGHT, LOAD_TIMEOUT_S
from ce_drill.stack.web import HttpError, request_json

STATS_EVERY_S = 1.0
DRAIN_S = 2.0
AGENTS = ("planner", "coder", "reviewer", "tester")


class LoadGenerator:
    def __init__(self, url: str, rate_per_s: float, acked: Path, stats: Path) -> None:
        self.url = url
        self.period_s = 1.0 / rate_per_s
        self.acked = acked
        self.stats = stats
        self.outcomes: Counter[str] = Counter()
        self.sent = 0
        self.skipped = 0
        self.in_flight = 0
        self._lock = threading.Lock()
        self._acked = acked.open("a", encoding="utf-8")
        self.stopping = threading.Event()

    def _one(self, seq: int) -> None:
        try:
            body = {"agent": AGENTS[seq % len(AGENTS)], "seq": seq}
            try:
                status, payload = request_json(self.url, method="POST", body=body, timeout_s=LOAD_TIMEOUT_S)
            except HttpError:
                status, payload = 0, None
            outcome = str(status) if status else "no_answer"
            if status == 201 and isinstance(payload, dict) and isinstance(payload.get("id"), int):
                record = {"id": payload["id"], "seq": seq, "ts": time.time(), "pod": payload.get("pod")}
                with self._lock:
                    if not self._acked.closed:
                        self._acked.write(json.dumps(record) + "\n")
                        self._acked.flush()
            with self._lock:
                self.outcomes[outcome] += 1
        finally:
            with self._lock:
                self.in_flight -= 1

    def write_stats(self) -> None:
        with self._lock:
            data = {
                "ts": time.time(),
                "pid": os.getpid(),
                "sent": self.sent,
                "skipped": self.skipped,
                "in_flight": self.in_flight,
                "outcomes": dict(self.outcomes),
            }
        tmp = self.stats.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(self.stats)

    def run(self) -> None:
        start = time.monotonic()
        next_stats = start
        seq = 0
        while not self.stopping.is_set():
            due = start + seq * self.period_s
            self.stopping.wait(max(0.0, due - time.monotonic()))
            if self.stopping.is_set():
                break
            seq += 1
            with self._lock:
                room = self.in_flight < LOAD_MAX_IN_FLIGHT
                if room:
                    self.in_flight += 1
                    self.sent += 1
                else:
                    self.skipped += 1
            if room:
                threading.Thread(target=self._one, args=(seq,), daemon=True).start()
            if time.monotonic() >= next_stats:
                self.write_stats()
                next_stats += STATS_EVERY_S
        # Let requests in flight come back (briefly) so their acks are recorded too.
        deadline = time.monotonic() + DRAIN_S
        while self.in_flight and time.monotonic() < deadline:
            time.sleep(0.05)
        self.write_stats()
        with self._lock:
            self._acked.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ce_drill.stack.loadgen")
    parser.add_argument("url")
    parser.add_argument("rate", type=float)
    parser.add_argument("acked", type=Path)
    parser.add_argument("stats", type=Path)
    args = parser.parse_args(argv)
    gen = LoadGenerator(args.url, args.rate, args.acked, args.stats)

    def on_term(_signum: int, _frame: FrameType | None) -> None:
        gen.stopping.set()

    signal.signal(signal.SIGTERM, on_term)
    gen.run()


if __name__ == "__main__":
    main()
