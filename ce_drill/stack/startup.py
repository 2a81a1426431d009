"""Bringing a stack up from nothing, in the order its parts depend on each other.

Prometheus, Alertmanager, the webhook receiver and the router start at once
(Prometheus first: its first scrape takes longest to come); PostgreSQL is
initialised and started alongside.  Once the database answers, the deployer
starts both pods of the stable version; once they are ready, the load
generator starts.  The stack is ready when Prometheus has scraped every
target and found it up, and every component answers its health check.

The state file is written after every start, so a failure half-way leaves a
stack that ``down`` can still clean up — and ``up`` does exactly that before
it reports the failure.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import ce_drill
from ce_drill.plan import DrillPlan
from ce_drill.rules.generate import build, write
from ce_drill.stack import config as cfg
from ce_drill.stack import postgres, prometheus, timeline
from ce_drill.stack.config import StackConfig, url
from ce_drill.stack.layout import Layout
from ce_drill.stack.memlimit import detect
from ce_drill.stack.procs import ProcRef, spawn
from ce_drill.stack.receiver import webhook_url
from ce_drill.stack.rollout import stable_version
from ce_drill.stack.state import Component, StackError, State
from ce_drill.stack.triggers import validate
from ce_drill.stack.web import HttpError, port_in_use, request_json
from sim.errors import InputError
from sim.playbook import Playbook, bundled_path

Progress = Callable[[str, str], None]
"""Told (component, what is happening): "starting", "ready"."""

SOURCE = "stack"
_POLL_S = 0.05


class StackUsageError(InputError):
    """Bad input or an unprepared host for the stack (a port taken, a tool missing): exit 2."""

    def __init__(self, message: str) -> None:
        super().__init__("stack", None, "", message)

    def __str__(self) -> str:
        return self.message


def _child_env() -> dict[str, str]:
    """Our own processes import ce_drill from wherever this one did, installed or not."""
    env = dict(os.environ)
    source_root = str(Path(ce_drill.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (source_root, env.get("PYTHONPATH", "")) if p)
    return env


def check_host(config: StackConfig) -> None:
    missing = [tool for tool in ("prometheus", "promtool") if shutil.which(tool) is None]
    if not (shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")):
        missing.append("alertmanager")
    if postgres.bindir() is None:
        missing.append("postgresql (initdb)")
    if missing:
        raise StackUsageError(f"{', '.join(missing)} not installed; run `ce-drill stack install`")
    for name, port in config.ports.items():
        if not 1024 <= port <= 65535:
            raise StackUsageError(f"port {port} ({name}) is outside 1024-65535")
    taken = [(name, port) for name, port in config.ports.items() if port_in_use(port)]
    if taken:
        name, port = taken[0]
        raise StackUsageError(f"port {port} ({name}) on {cfg.HOST} is already in use by another process")


def _fresh(layout: Layout) -> None:
    """Keep the previous run's evidence in ``previous/``; start with empty data directories."""
    previous = layout.root / "previous"
    shutil.rmtree(previous, ignore_errors=True)
    kept = [p for p in (layout.logs, layout.timeline, layout.acked.parent) if p.exists()]
    if kept:
        previous.mkdir(parents=True)
        for path in kept:
            path.rename(previous / path.name)
    for path in (layout.prometheus, layout.alertmanager, layout.postgres, layout.pods, layout.rules):
        shutil.rmtree(path, ignore_errors=True)
    for path in (layout.routing, layout.state, layout.plan):
        path.unlink(missing_ok=True)
    layout.make()


class Startup:
    def __init__(self, config: StackConfig, playbook: Path | None, progress: Progress) -> None:
        self.config = config
        self.layout = Layout(config.run_dir)
        self.playbook_path = playbook
        origin = str(playbook or bundled_path())
        self.pb = Playbook.load(playbook) if playbook else Playbook.default()
        validate(self.pb, origin)
        self.plan = DrillPlan.build(
            playbook, time_scale=config.time_scale, scrape_interval_s=config.scrape_interval_s
        )
        stable_version(self.pb, origin)
        self.progress = progress
        self.env = _child_env()
        self.state: State | None = None

    def _save(self) -> None:
        assert self.state is not None
        self.state.save(self.layout.state)

    def _spawn(self, name: str, argv: list[str], port: int | None, health_url: str | None) -> None:
        assert self.state is not None
        self.progress(name, "starting")
        proc = spawn(argv, self.layout.log(name), env=self.env)
        self.state.components[name] = Component(name, proc, health_url, str(self.layout.log(name)), port)
        self._save()

    def _py(self, module: str, *args: object) -> list[str]:
        return [sys.executable, "-m", module, *(str(a) for a in args)]

    def run(self) -> State:
        config, layout = self.config, self.layout
        _fresh(layout)
        started = time.time()
        stack_id = secrets.token_hex(4)
        timeline.record(layout.timeline, SOURCE, "stack_starting", ts=started, time_scale=config.time_scale)
        layout.config.write_text(json.dumps(config.to_json(), indent=2))
        self.plan.save(layout.plan)
        p = config.ports
        hook = webhook_url(p.receiver)
        rules = build(self.pb, timing=self.plan.timing, webhook_url=hook)
        write(rules.files(), layout.rules)
        hierarchy = detect()
        group = hierarchy.make_group(f"ce-drill-{stack_id}")
        self.state = State(
            stack_id=stack_id,
            run_dir=str(layout.root),
            time_scale=config.time_scale,
            started_ts=started,
            playbook=None if self.playbook_path is None else str(self.playbook_path),
            memory_limit={"mechanism": hierarchy.mechanism, "group": None if group is None else str(group)},
            urls={
                "service": url(p.router),
                "prometheus": url(p.prometheus),
                "alertmanager": url(p.alertmanager),
                "receiver": hook,
                "deployer": url(p.deployer),
                "postgres": f"postgresql://{postgres.DB_USER}@{cfg.HOST}:{p.postgres}/{postgres.DB_NAME}",
            },
        )
        self._save()
        pg_result: list[BaseException | postgres.Cluster] = []
        pg_thread = threading.Thread(target=self._postgres, args=(pg_result, stack_id), daemon=True)
        pg_thread.start()
        prom_file = prometheus.write_prometheus_config(config, layout.rules, layout.prometheus)
        self._spawn(
            "prometheus",
            prometheus.prometheus_argv(config, prom_file, layout.prometheus / "data"),
            p.prometheus,
            url(p.prometheus),
        )
        self._spawn(
            "alertmanager",
            prometheus.alertmanager_argv(config, layout.rules, layout.alertmanager / "data"),
            p.alertmanager,
            url(p.alertmanager),
        )
        self._spawn(
            "receiver",
            self._py("ce_drill.stack.receiver", p.receiver, layout.timeline),
            p.receiver,
            url(p.receiver),
        )
        self._spawn(
            "router", self._py("ce_drill.stack.router", p.router, layout.routing), p.router, url(p.router)
        )
        pg_thread.join(cfg.READY_TIMEOUT_S)
        if not pg_result:
            raise StackError("PostgreSQL did not start in time; see " + str(layout.log("postgres")))
        outcome = pg_result[0]
        if isinstance(outcome, BaseException):
            raise StackError(f"PostgreSQL: {outcome}")
        self.progress("postgres", "ready")
        deployer = self._py("ce_drill.stack.deployer", layout.root, "--mechanism", hierarchy.mechanism) + (
            ["--group", str(group)] if group else []
        )
        self._spawn("deployer", deployer, p.deployer, url(p.deployer))
        self._wait_http("deployer", url(p.deployer, "/health"))
        self.progress("pods", "ready")
        self._spawn(
            "loadgen",
            self._py(
                "ce_drill.stack.loadgen",
                url(p.router, "/api/v1/agents"),
                config.load_rate_per_s,
                layout.acked,
                layout.load_stats,
            ),
            None,
            None,
        )
        self._wait_http("alertmanager", url(p.alertmanager, "/-/ready"))
        self._wait_http("receiver", url(p.receiver, "/health"))
        self._wait_http("router", url(p.router, "/-/health"))
        self._wait_scraped()
        self._wait_file("loadgen", layout.load_stats)
        self.state.ready_s = round(time.time() - started, 3)
        self._save()
        timeline.record(layout.timeline, SOURCE, "stack_ready", ready_s=self.state.ready_s, stack_id=stack_id)
        return self.state

    def _postgres(self, result: list[BaseException | postgres.Cluster], tag: str) -> None:
        assert self.state is not None
        self.progress("postgres", "starting")
        try:
            log = self.layout.log("postgres")
            cluster = postgres.create(self.layout.postgres, self.config.ports.postgres, log, tag)
            self.state.postgres = cluster.to_json()
            postgres.start(cluster)
            self.state.components["postgres"] = Component(
                "postgres", cluster.pid(), self.state.urls["postgres"], str(log), self.config.ports.postgres
            )
            self._save()
            result.append(cluster)
        except Exception as exc:  # handed to the main thread, which reports it
            result.append(exc)

    def _check_alive(self, name: str) -> None:
        assert self.state is not None
        proc: ProcRef | None = self.state.components[name].proc
        if proc is not None and not proc.alive():
            raise StackError(f"{name} exited during start-up; see {self.layout.log(name)}")

    def _wait_http(self, name: str, health: str) -> None:
        deadline = time.monotonic() + cfg.READY_TIMEOUT_S
        while time.monotonic() < deadline:
            self._check_alive(name)
            try:
                status, _ = request_json(health, timeout_s=1.0)
                if status == 200:
                    self.progress(name, "ready")
                    return
            except HttpError:
                pass
            time.sleep(_POLL_S)
        raise StackError(f"{name} not healthy after {cfg.READY_TIMEOUT_S:g}s; see {self.layout.log(name)}")

    def _wait_file(self, name: str, path: Path) -> None:
        deadline = time.monotonic() + cfg.READY_TIMEOUT_S
        while not path.exists():
            self._check_alive(name)
            if time.monotonic() > deadline:
                raise StackError(
                    f"{name} not running after {cfg.READY_TIMEOUT_S:g}s; see {self.layout.log(name)}"
                )
            time.sleep(_POLL_S)
        self.progress(name, "ready")

    def _wait_scraped(self) -> None:
        prom = url(self.config.ports.prometheus)
        deadline = time.monotonic() + cfg.READY_TIMEOUT_S
        jobs: dict[str, bool] = {}
        while time.monotonic() < deadline:
            self._check_alive("prometheus")
            jobs = prometheus.scraped(prom, self.config)
            if jobs and all(jobs.values()):
                self.progress("prometheus", "ready")
                return
            time.sleep(_POLL_S * 4)
        waiting = ", ".join(job for job, ok in jobs.items() if not ok)
        raise StackError(f"Prometheus has not scraped {waiting} after {cfg.READY_TIMEOUT_S:g}s")
