"""The local staging stack as one object: bring it up, ask how it is, deploy, roll back, take it down.

``Stack(run_dir)`` is the Python API that ``ce-drill stack`` wraps.  Drills use
it directly: they inject faults into the pods, deploy a version, read the
event timeline to judge detection and rollback, and compare the load
generator's acknowledged writes with PostgreSQL to prove none was lost.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

from ce_drill.plan.timing import DEFAULT_DRILL_TIME_SCALE
from ce_drill.stack import config as cfg
from ce_drill.stack import health, postgres, procs, timeline
from ce_drill.stack.config import Ports, StackConfig, default_run_dir, url
from ce_drill.stack.layout import Layout
from ce_drill.stack.memlimit import remove_group
from ce_drill.stack.startup import Progress, StackUsageError, Startup, check_host
from ce_drill.stack.state import StackError, State, load
from ce_drill.stack.timeline import Event, Timeline
from ce_drill.stack.web import HttpError, request_json

if TYPE_CHECKING:
    from ce_drill.plan import DrillPlan

DEPLOYER_STOP_TIMEOUT_S = 3 * cfg.STOP_TIMEOUT_S
"""The deployer stops its pods gracefully before it exits."""

# Stopped after the deployer (which stops the pods), then PostgreSQL last:
# nothing may still be writing when the database goes.
_STOP_ORDER = ("loadgen", "router", "receiver", "alertmanager", "prometheus")


@dataclass(frozen=True)
class UpResult:
    state: State
    already_up: bool = False
    replaced_broken: bool = False


@dataclass(frozen=True)
class StackStatus:
    running: bool
    components: tuple[health.ComponentHealth, ...] = ()
    state: State | None = None

    @property
    def healthy(self) -> bool:
        return self.running and all(c.healthy for c in self.components)

    def component(self, name: str) -> health.ComponentHealth:
        for comp in self.components:
            if comp.name == name:
                return comp
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        s = self.state
        return {
            "running": self.running,
            "healthy": self.healthy,
            "run_dir": None if s is None else s.run_dir,
            "time_scale": None if s is None else s.time_scale,
            "memory_limit": None if s is None else s.memory_limit,
            "urls": None if s is None else s.urls,
            "components": [c.to_json() for c in self.components],
        }


@dataclass(frozen=True)
class DownResult:
    was_running: bool
    stopped: tuple[str, ...] = ()
    killed: tuple[str, ...] = field(default_factory=tuple)
    """Components that ignored SIGTERM and had to be killed."""


class Stack:
    def __init__(self, run_dir: Path | None = None) -> None:
        self.layout = Layout((run_dir or default_run_dir()).resolve())

    @property
    def run_dir(self) -> Path:
        return self.layout.root

    def state(self) -> State | None:
        return load(self.layout.state)

    def plan(self) -> DrillPlan:
        """The drill plan this stack was started with: its playbook, clock and every deadline."""
        from ce_drill.plan import DrillPlan

        self._require()
        return DrillPlan.load(self.layout.plan)

    def _require(self) -> State:
        state = self.state()
        if state is None:
            raise StackError(f"no stack is up in {self.run_dir}; run `ce-drill stack up`")
        return state

    # --- up / down ---------------------------------------------------------------

    def up(
        self,
        time_scale: float | None = None,
        *,
        ports: Ports | None = None,
        playbook: Path | None = None,
        progress: Progress | None = None,
        **settings: Any,
    ) -> UpResult:
        """Start everything, or nothing if a healthy stack is already up here.

        ``settings`` override :class:`StackConfig` fields (memory limit, load rate…).
        """
        if time_scale is not None and not time_scale >= 1.0:
            raise StackUsageError(f"time scale must be a number >= 1 (got {time_scale:g})")
        existing = self.state()
        replaced = False
        if existing is not None:
            status = self.status()
            if status.healthy:
                if time_scale is not None and time_scale != existing.time_scale:
                    raise StackUsageError(
                        f"a stack is already up in {self.run_dir} at time scale {existing.time_scale:g}; "
                        "run `ce-drill stack down` first"
                    )
                return UpResult(existing, already_up=True)
            self.down()
            replaced = True
        config = StackConfig(self.run_dir, time_scale or DEFAULT_DRILL_TIME_SCALE, ports or Ports.free())
        config = replace(config, **settings)
        check_host(config)
        startup = Startup(config, playbook, progress or (lambda _name, _what: None))
        try:
            state = startup.run()
        except BaseException:
            self.down()
            raise
        return UpResult(state, replaced_broken=replaced)

    def down(self) -> DownResult:
        """Stop every process of the stack and remove its cgroups; logs and timeline stay."""
        state = self.state()
        if state is None:
            return DownResult(was_running=False)
        timeline.record(self.layout.timeline, "stack", "stack_stopping")
        comps = state.components
        killed: list[str] = []
        deployer = comps.get("deployer")
        if (
            deployer is not None
            and deployer.proc is not None
            and procs.stop([deployer.proc], DEPLOYER_STOP_TIMEOUT_S)
        ):
            killed.append("deployer")
        refs = {name: comps[name].proc for name in _STOP_ORDER if name in comps and comps[name].proc}
        stubborn = procs.stop([r for r in refs.values() if r is not None])
        killed += [name for name, ref in refs.items() if ref in stubborn]
        if state.postgres is not None:
            cluster = postgres.Cluster.from_json(state.postgres)
            postmaster = cluster.pid()
            if not postgres.stop(cluster, cfg.STOP_TIMEOUT_S) and postmaster is not None:
                procs.stop([postmaster])
                killed.append("postgres")
            postgres.remove_private(cluster)
        killed += self._stop_pods(state)
        left = [name for name, comp in comps.items() if comp.proc is not None and comp.proc.alive()]
        if left:
            raise StackError(f"still running after down: {', '.join(left)}")
        self.layout.state.unlink(missing_ok=True)
        timeline.record(self.layout.timeline, "stack", "stack_stopped", killed=killed)
        return DownResult(True, tuple(comps), tuple(killed))

    def _stop_pods(self, state: State) -> list[str]:
        """Whatever pods the deployer left (it was killed, or ignored SIGTERM)."""
        killed = []
        group = state.memory_limit.get("group")
        if group:
            if remove_group(Path(group)):
                killed.append("pods")
            return killed
        try:
            table = json.loads(self.layout.pod_table.read_text())
        except (OSError, ValueError):
            return killed
        for entry in table.values():
            pid = entry.get("pid") if entry else None
            ref = procs.ProcRef.of(pid) if pid else None
            if ref is not None and "ce_drill.stack.standin" in Path(f"/proc/{pid}/cmdline").read_text():
                procs.stop([ref])
                killed.append(f"pod-{entry.get('slot')}")
        return killed

    # --- inspection ----------------------------------------------------------------

    def status(self) -> StackStatus:
        state = self.state()
        if state is None:
            return StackStatus(running=False)
        return StackStatus(True, tuple(health.check(state, self.layout)), state)

    def timeline(self) -> Timeline:
        return timeline.read(self.layout.timeline)

    def wait_for(self, kind: str, *, since_ts: float = 0.0, timeout_s: float = 60.0, **match: Any) -> Event:
        """The first event of ``kind`` (with ``match``) at or after ``since_ts``; StackError on timeout."""
        deadline = time.monotonic() + timeout_s
        while True:
            found = self.timeline().since(since_ts).first(kind, **match)
            if found is not None:
                return found
            if time.monotonic() >= deadline:
                raise StackError(f"no {kind} event {match or ''} within {timeout_s:g}s")
            time.sleep(0.1)

    def config(self) -> StackConfig:
        return StackConfig.from_json(json.loads(self.layout.config.read_text()))

    # --- deployer ------------------------------------------------------------------

    def _deployer(self, path: str, body: dict[str, Any], timeout_s: float) -> tuple[int, Any]:
        state = self._require()
        try:
            return request_json(state.urls["deployer"] + path, method="POST", body=body, timeout_s=timeout_s)
        except HttpError as exc:
            raise StackError(f"the deployer does not answer: {exc}") from None

    def deploy(
        self,
        version: str,
        *,
        auto_rollback: bool = True,
        canary_weight: float | None = None,
        leak_bytes_per_request: int | None = None,
        leak_bytes_per_s: int | None = None,
        error_ratio: float | None = None,
    ) -> dict[str, Any]:
        """Start rolling ``version`` out; returns the accepted plan (the rollout runs on).

        A version other than the playbook's stable one leaks (``leak_bytes_*``,
        default :data:`~ce_drill.stack.config.LEAK_BYTES_PER_REQUEST` per request);
        ``error_ratio`` makes it a bad build that fails that share of coordinations too.
        """
        body: dict[str, Any] = {"version": version, "auto_rollback": auto_rollback}
        for key, value in (
            ("canary_weight", canary_weight),
            ("leak_bytes_per_request", leak_bytes_per_request),
            ("leak_bytes_per_s", leak_bytes_per_s),
            ("error_ratio", error_ratio),
        ):
            if value is not None:
                body[key] = value
        status, payload = self._deployer("/deploy", body, 10.0)
        if status in (400, 409):
            raise StackUsageError(f"deploy {version}: {payload.get('error') if payload else status}")
        if status != 202:
            raise StackError(f"deploy {version}: deployer answered HTTP {status}")
        return dict(payload["plan"])

    def rollback(self, reason: str, *, mode: str = "emergency") -> dict[str, Any]:
        """Roll back now, like ``emergency-rollback.sh -r REASON``; returns the finished event."""
        status, payload = self._deployer("/rollback", {"reason": reason, "mode": mode}, 300.0)
        if status in (400, 409):
            raise StackUsageError(f"rollback: {payload.get('error') if payload else status}")
        if status != 200:
            raise StackError(f"rollback: deployer answered HTTP {status}")
        return dict(payload)

    # --- faults and evidence ---------------------------------------------------------

    def pod_urls(self, slot: str | None = None) -> dict[str, str]:
        config = self.config()
        ports = {"blue": config.ports.blue, "green": config.ports.green}
        return {s: url(port) for s, port in ports.items() if slot in (None, s)}

    def inject_fault(self, slot: str | None = None, **fault: float) -> None:
        """Set faults (error_ratio, latency_s, leak_bytes_per_request, leak_bytes_per_s) on pods."""
        for name, base in self.pod_urls(slot).items():
            status, payload = request_json(base + "/-/fault", method="POST", body=fault)
            if status != 200:
                raise StackUsageError(f"fault on {name}: {payload.get('error') if payload else status}")

    def clear_faults(self, slot: str | None = None) -> None:
        for base in self.pod_urls(slot).values():
            request_json(base + "/-/fault", method="DELETE")

    def acknowledged_writes(self) -> list[int]:
        if not self.layout.acked.exists():
            return []
        ids = []
        for line in self.layout.acked.read_text().splitlines():
            try:
                ids.append(int(json.loads(line)["id"]))
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short when the generator was killed
        return ids

    def lost_writes(self) -> list[int]:
        """Acknowledged writes PostgreSQL does not have (should be none)."""
        acked = self.acknowledged_writes()
        state = self._require()
        port = int(state.components["postgres"].port or self.config().ports.postgres)
        with psycopg.connect(postgres.conninfo(port)) as conn:
            rows = conn.execute(f"SELECT id FROM {postgres.TABLE} WHERE id = ANY(%s)", (acked,)).fetchall()
        present = {int(r[0]) for r in rows}
        return sorted(set(acked) - present)
