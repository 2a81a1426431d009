"""The staging stack's own settings: ports, intervals, limits, load and the stand-in's behaviour.

Nothing here comes from the manual.  The manual's numbers (alert thresholds,
rollback triggers, phase delays, the stable version) are read from the
playbook where they are used; these are the choices of the staging
environment that plays the manual's production system, kept in one place so
they can be seen and changed together.
"""

from __future__ import annotations

import contextlib
import os
import socket
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"

DEFAULT_PORT_BASE = 19180
"""First port of a fixed block (``stack up --port-base``); every component listens at base +
its offset.  Without it each stack takes free ports the kernel hands out, so a user's stack,
the test suite's and parallel CI jobs never collide."""

SCRAPE_INTERVAL_S = 1.0
"""Scrape and rule-evaluation interval (wall time), the shortest measured to work."""

RESEND_DELAY_S = 1.0
"""Prometheus re-sends firing alerts to Alertmanager this often, so a drill sees them fast."""

MEMORY_LIMIT_BYTES = 160 * 1024 * 1024
"""Memory limit of each stand-in pod.  A pod's cgroup is charged about 65 MiB at
idle (interpreter, libraries, page cache), so a leak has ~95 MiB to grow
through before the kernel kills it."""

LEAK_BYTES_PER_REQUEST = 512 * 1024
"""Default growth of the self-optimisation cache per request a leaking version
serves.  Two pods sharing the default load are killed after about a minute
and a quarter; a canary serving a tenth of it lasts ten times longer — which
is how a leak slips through a short canary."""

LOAD_RATE_PER_S = 5.0
"""Workflow writes per second the load generator sends (open loop)."""

LOAD_MAX_IN_FLIGHT = 64
"""Requests the load generator keeps open at most; beyond it a tick is skipped and counted."""

LOAD_TIMEOUT_S = 15.0
"""A write not answered within this is given up by the client (never acknowledged)."""

CANARY_WEIGHT = 0.1
"""Share of traffic the canary pod gets during the canary phase."""

STATEMENT_TIMEOUT_S = 3.0
"""PostgreSQL statement timeout of the stand-in.  A request normally takes a few
milliseconds, so lock contention first shows as latency, then as 5xx."""

DB_POOL_SIZE = 16
"""Database connections per pod; a request that finds none free within the
statement timeout is answered 503 (the manual's "connection pool exhausted")."""

UPSTREAM_TIMEOUT_S = 30.0
"""The router gives up on a pod after this long (then answers 504)."""

READY_TIMEOUT_S = 60.0
"""How long `stack up` waits for every component before it gives up."""

STOP_TIMEOUT_S = 5.0
"""SIGTERM, then SIGKILL after this long."""

POD_RESTART_BACKOFF_S = (0.0, 10.0, 20.0, 40.0, 80.0, 160.0, 300.0)
"""Delay before the n-th consecutive restart of a crashed pod, in manual time (Kubernetes'
CrashLoopBackOff: the first restart is immediate, then doubling from 10 s up to 5 min).
Compressed by the drill plan like every other duration of a drill."""

POD_STABLE_AFTER_S = 600.0
"""A pod that ran this long (manual time) before crashing restarts without back-off again."""

DEGRADE_ONSET = 0.75
"""Share of its memory limit at which the stand-in starts to degrade (allocation
pressure and garbage collection slow it; coordination starts to fail)."""

DEGRADE_MAX_LATENCY_S = 1.5
"""Extra latency a request suffers right at the memory limit (linear from the onset)."""

DEGRADE_MAX_FAILURE_RATIO = 0.75
"""Share of agent coordinations that fail right at the memory limit (linear from the onset)."""


@dataclass(frozen=True)
class Ports:
    """Where each component listens on 127.0.0.1."""

    prometheus: int
    alertmanager: int
    receiver: int
    postgres: int
    router: int
    blue: int
    green: int
    deployer: int

    @classmethod
    def from_base(cls, base: int = DEFAULT_PORT_BASE) -> Ports:
        names = [f.name for f in fields(cls)]
        return cls(**{name: base + offset for offset, name in enumerate(names)})

    @classmethod
    def free(cls) -> Ports:
        """A port for every component that nothing listens on now, all different.

        Every socket stays bound until all are chosen, so the kernel hands out distinct
        ports; they are released just before the components bind them (a race with
        another process in between is caught by the start-up's own port check).
        """
        with contextlib.ExitStack() as held:
            chosen = {}
            for f in fields(cls):
                sock = held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
                sock.bind((HOST, 0))
                chosen[f.name] = int(sock.getsockname()[1])
        return cls(**chosen)

    def items(self) -> list[tuple[str, int]]:
        return list(asdict(self).items())


def default_run_dir() -> Path:
    """``$CE_DRILL_HOME/stack``, else ``.ce-drill/stack`` under the current directory."""
    home = os.environ.get("CE_DRILL_HOME")
    return (Path(home) if home else Path.cwd() / ".ce-drill") / "stack"


@dataclass(frozen=True)
class StackConfig:
    """One stack's settings; written into its run directory so every process reads the same."""

    run_dir: Path
    time_scale: float = 1.0
    ports: Ports = field(default_factory=Ports.free)
    scrape_interval_s: float = SCRAPE_INTERVAL_S
    memory_limit_bytes: int = MEMORY_LIMIT_BYTES
    leak_bytes_per_request: int = LEAK_BYTES_PER_REQUEST
    load_rate_per_s: float = LOAD_RATE_PER_S
    canary_weight: float = CANARY_WEIGHT
    statement_timeout_s: float = STATEMENT_TIMEOUT_S
    db_pool_size: int = DB_POOL_SIZE
    restart_pods: bool = True
    """Restart crashed pods like a kubelet; off only for drills that break the restart path on purpose."""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["run_dir"] = str(self.run_dir)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StackConfig:
        values = dict(data)
        values["run_dir"] = Path(values["run_dir"])
        values["ports"] = Ports(**values["ports"])
        return cls(**values)

    def with_run_dir(self, run_dir: Path) -> StackConfig:
        return replace(self, run_dir=run_dir)


def url(port: int, path: str = "") -> str:
    return f"http://{HOST}:{port}{path}"
