"""The agent-coordinator stand-in: the service the manual's alerts and rollbacks are about.

One pod of it answers:

* ``GET /health`` — liveness, with the version it serves and its memory-limit mechanism;
* ``GET /ready`` — 200 once the database answers, 503 while it does not;
* ``GET /api/v1/agents`` — recent workflows; ``POST /api/v1/agents`` — coordinate agents
  for a new workflow and store its row; the returned ``id`` is the acknowledged write;
* ``GET /metrics`` — the raw metrics contract;
* ``GET|POST|DELETE /-/fault`` — the faults drills inject (see :class:`Fault`).

Every agent request first lets the version's self-optimisation logic run (the
5.1 leak), then suffers what memory pressure does to it, then coordinates —
which fails, with a 500 and the manual's ``agent coordination failed`` log
line, as often as pressure or an injected fault says — and finally writes to
PostgreSQL.
"""

from __future__ import annotations

import json
import os
import random
import resource
import sys
import threading
import time
from pathlib import Path
from typing import Any, NoReturn

import psycopg
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ce_drill.stack.postgres import conninfo
from ce_drill.stack.standin.behaviour import Degradation, Fault, SelfOptimisationCache
from ce_drill.stack.standin.db import Pool, PoolExhaustedError, probe
from ce_drill.stack.standin.metrics import Metrics
from ce_drill.stack.standin.spec import PodSpec
from ce_drill.stack.web import JsonHandler

EXIT_OUT_OF_MEMORY = 3
"""Exit status when RLIMIT_AS, not the kernel, stopped the leak (no cgroup on the host)."""

AGENTS_PATH = "/api/v1/agents"
RECENT_LIMIT = 20
TICK_S = 0.1
PROBE_EVERY_S = 1.0


def out_of_memory(limit_bytes: int) -> NoReturn:
    """End the pod the way the kernel would have, had there been a cgroup.

    Only reachable under RLIMIT_AS (a cgroup's OOM killer strikes first).  An
    allocation can fail in any thread; whichever it is, the pod must die,
    not limp on with a dead thread.
    """
    os.write(2, f"out of memory: RLIMIT_AS of {limit_bytes} bytes reached; exiting\n".encode())
    os._exit(EXIT_OUT_OF_MEMORY)


def log(message: str) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    sys.stdout.write(f"{stamp} {message}\n")
    sys.stdout.flush()


def _rss_bytes() -> int:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


class Coordinator:
    def __init__(self, spec: PodSpec) -> None:
        self.spec = spec
        self.fault = Fault()
        self.degradation = Degradation()
        self.cache = SelfOptimisationCache(spec.release.leak_bytes_per_request, spec.release.leak_bytes_per_s)
        self.pool = Pool(conninfo(spec.db_port), spec.pool_size, spec.statement_timeout_s)
        self.metrics = Metrics(spec.latency_buckets, self.memory, spec.data_dir)
        self.database_up = False
        self._rng = random.Random(spec.seed)
        self._rng_lock = threading.Lock()
        self.stopping = threading.Event()

    # --- memory -------------------------------------------------------------

    def memory(self) -> tuple[int, int]:
        """(bytes in use, limit): the cgroup's charge where there is one, else our resident set."""
        used = self.spec.memory.usage_bytes()
        return (used if used is not None else _rss_bytes()), self.spec.memory.limit_bytes

    def pressure(self) -> float:
        used, limit = self.memory()
        return used / limit if limit else 0.0

    def _leak(self, per_request: bool) -> None:
        if per_request:
            self.cache.on_request(self.fault.leak_bytes_per_request)
        else:
            self.cache.tick(self.fault.leak_bytes_per_s)

    # --- requests -----------------------------------------------------------

    def _chance(self, ratio: float) -> bool:
        with self._rng_lock:
            return self._rng.random() < ratio

    def agents(self, method: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        start = time.monotonic()
        code, payload = self._agents(method, body)
        self.metrics.observe(code, time.monotonic() - start)
        return code, payload

    def _agents(self, method: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self._leak(per_request=True)
        effect = self.degradation.effect(self.pressure())
        delay = effect.extra_latency_s + self.fault.latency_s
        if delay > 0:
            time.sleep(delay)
        if self._chance(max(effect.failure_ratio, self.fault.error_ratio, self.spec.release.error_ratio)):
            self.metrics.coordination_failures.inc()
            log(f"agent coordination failed (memory pressure {self.pressure():.2f})")
            return 500, {"error": "agent coordination failed"}
        try:
            if method == "POST":
                agent = str(body.get("agent", "planner"))
                row_id = self.pool.insert_workflow(agent, self.spec.version, json.dumps(body)[:1000])
                return 201, {"id": row_id, "version": self.spec.version, "pod": self.spec.name}
            return 200, {"workflows": self.pool.recent_workflows(RECENT_LIMIT), "version": self.spec.version}
        except PoolExhaustedError as exc:
            return 503, {"error": str(exc)}
        except psycopg.errors.QueryCanceled:
            return 503, {"error": "database statement timeout"}
        except psycopg.OperationalError as exc:
            return 503, {"error": f"database unavailable: {exc}".strip()}

    def health(self) -> dict[str, Any]:
        used, limit = self.memory()
        effect = self.degradation.effect(used / limit if limit else 0.0)
        return {
            "status": "degraded" if effect.degraded else "ok",
            "pod": self.spec.name,
            "slot": self.spec.slot,
            "version": self.spec.version,
            "release": self.spec.release.to_json(),
            "pid": os.getpid(),
            "database_up": self.database_up,
            "memory": {
                **self.spec.memory.to_json(),
                "used_bytes": used,
                "leaked_bytes": self.cache.held_bytes,
            },
            "fault": self.fault.to_json(),
        }

    # --- background ---------------------------------------------------------

    def run_ticker(self) -> None:
        while not self.stopping.wait(TICK_S):
            try:
                self._leak(per_request=False)
                self.metrics.degraded.set(1 if self.degradation.effect(self.pressure()).degraded else 0)
            except MemoryError:
                out_of_memory(self.spec.memory.limit_bytes)

    def run_probe(self) -> None:
        while True:
            self.database_up = probe(conninfo(self.spec.db_port), self.spec.statement_timeout_s)
            self.metrics.database_up.set(1 if self.database_up else 0)
            if self.database_up and not self.spec.ready_file.exists():
                self.spec.ready_file.write_text(json.dumps({"pid": os.getpid(), "ts": time.time()}))
            if self.stopping.wait(PROBE_EVERY_S):
                return


def apply_rlimit(spec: PodSpec) -> None:
    """Cap the address space at what we use now plus the limit (only without a cgroup)."""
    if spec.memory.mechanism != "rlimit_as":
        return
    status = Path("/proc/self/status").read_text().splitlines()
    vm_kib = next(int(line.split()[1]) for line in status if line.startswith("VmSize:"))
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    soft = vm_kib * 1024 + spec.memory.limit_bytes
    resource.setrlimit(
        resource.RLIMIT_AS, (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard)
    )


def make_handler(app: Coordinator) -> type[JsonHandler]:
    class Handler(JsonHandler):
        def do_GET(self) -> None:  # noqa: N802 -- http.server's naming
            path = self.path.split("?", 1)[0]
            if path == "/health":
                self.send_json(200, app.health())
            elif path == "/ready":
                self.send_json(200 if app.database_up else 503, {"ready": app.database_up})
            elif path == "/metrics":
                self.send_text(200, generate_latest(app.metrics.registry).decode(), CONTENT_TYPE_LATEST)
            elif path == AGENTS_PATH:
                self.send_json(*app.agents("GET", {}))
            elif path == "/-/fault":
                self.send_json(200, app.fault.to_json())
            else:
                self.send_json(404, {"error": f"no route {path}"})

        def do_POST(self) -> None:  # noqa: N802 -- http.server's naming
            path = self.path.split("?", 1)[0]
            try:
                body = self.read_json()
            except ValueError:
                self.send_json(400, {"error": "body is not JSON"})
                return
            if path == AGENTS_PATH:
                self.send_json(*app.agents("POST", body if isinstance(body, dict) else {}))
            elif path == "/-/fault":
                try:
                    app.fault = Fault.parse(body if isinstance(body, dict) else {})
                except ValueError as exc:
                    self.send_json(400, {"error": str(exc)})
                    return
                log(f"fault injected: {app.fault.to_json()}")
                self.send_json(200, app.fault.to_json())
            else:
                self.send_json(404, {"error": f"no route {path}"})

        def do_DELETE(self) -> None:  # noqa: N802 -- http.server's naming
            if self.path.split("?", 1)[0] == "/-/fault":
                app.fault = Fault()
                log("faults cleared")
                self.send_json(200, app.fault.to_json())
            else:
                self.send_json(404, {"error": f"no route {self.path}"})

    return Handler
