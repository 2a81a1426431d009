"""Pods: stand-in processes in two slots, blue and green, supervised like a kubelet would.

Each slot has a fixed port.  The supervisor (inside the deployer) holds each
slot's listening socket and hands it to the pod it starts, so replacing a pod
with another version is seamless: the new pod accepts on the same socket
before the old one is told to stop, and no connection is refused — the way a
rolling update adds a ready pod before it removes the old one.

Each pod runs in a memory-limited group of its own (:mod:`ce_drill.stack.memlimit`).
When a pod dies on its own the supervisor closes the slot's socket (a dead
pod refuses connections; ``up`` turns 0), records the death in the timeline —
an OOM kill as such, read from the group's ``oom_kill`` counter — and
restarts it with Kubernetes' CrashLoopBackOff delays, compressed with the
time scale.  A restart keeps the pod (same name, same group, so the counter
accumulates); a new version is a new pod.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ce_drill.stack import config as cfg
from ce_drill.stack.config import HOST, StackConfig
from ce_drill.stack.layout import Layout
from ce_drill.stack.memlimit import Mechanism, MemoryLimit, remove_group
from ce_drill.stack.standin.service import EXIT_OUT_OF_MEMORY
from ce_drill.stack.standin.spec import PodSpec, Release

if TYPE_CHECKING:
    from ce_drill.plan import DrillPlan

SLOTS = ("blue", "green")
READY_POLL_S = 0.05

Recorder = Callable[..., object]


class PodStartError(Exception):
    """A new pod died or never became ready."""


@dataclass
class Pod:
    spec: PodSpec
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    crashes_in_a_row: int = 0
    oom_kills_seen: int = 0
    started: float = field(default_factory=time.monotonic)
    retiring: bool = False

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def version(self) -> str:
        return self.spec.version

    def to_json(self) -> dict[str, Any]:
        pid = self.proc.pid if self.proc is not None else None
        return {
            "pod": self.name,
            "slot": self.spec.slot,
            "version": self.version,
            "port": self.spec.port,
            "pid": pid,
            "running": self.proc is not None and self.proc.poll() is None,
            "restarts": self.restarts,
            "oom_kills": self.spec.memory.oom_kills(),
            "memory": self.spec.memory.to_json(),
            "release": self.spec.release.to_json(),
        }


@dataclass
class Slot:
    name: str
    port: int
    sock: socket.socket | None = None
    pod: Pod | None = None

    def listen(self) -> socket.socket:
        if self.sock is None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((HOST, self.port))
            sock.listen(128)
            # Non-blocking for every process sharing it: whichever pod loses the
            # race for a connection must not hang in accept().
            sock.setblocking(False)
            sock.set_inheritable(True)
            self.sock = sock
        return self.sock

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class Supervisor:
    def __init__(
        self,
        *,
        config: StackConfig,
        plan: DrillPlan,
        layout: Layout,
        mechanism: Mechanism,
        group: Path | None,
        buckets: tuple[float, ...],
        record: Recorder,
    ) -> None:
        self.config = config
        self.plan = plan
        self.layout = layout
        self.mechanism = mechanism
        self.group = group
        self.buckets = buckets
        self.record = record
        self.ports = {"blue": config.ports.blue, "green": config.ports.green}
        self.slots = {name: Slot(name, self.ports[name]) for name in SLOTS}
        self._serial = 0
        self._lock = threading.RLock()
        self.stopping = threading.Event()

    # --- starting ------------------------------------------------------------

    def _new_spec(self, slot: str, release: Release) -> PodSpec:
        self._serial += 1
        name = f"{slot}-{self._serial}"
        limit = MemoryLimit.create(self.mechanism, self.group, name, self.config.memory_limit_bytes)
        return PodSpec(
            name=name,
            slot=slot,
            release=release,
            port=self.ports[slot],
            db_port=self.config.ports.postgres,
            statement_timeout_s=self.config.statement_timeout_s,
            pool_size=self.config.db_pool_size,
            memory=limit,
            latency_buckets=self.buckets,
            ready_file=self.layout.pods / f"{name}.ready",
            data_dir=self.layout.root,
            seed=self._serial,
        )

    def _launch(self, pod: Pod) -> None:
        slot = self.slots[pod.spec.slot]
        sock = slot.listen()
        spec_file = self.layout.pods / f"{pod.name}.json"
        pod.spec.write(spec_file)
        pod.spec.ready_file.unlink(missing_ok=True)
        argv = [
            sys.executable,
            "-m",
            "ce_drill.stack.standin",
            str(spec_file),
            "--listen-fd",
            str(sock.fileno()),
        ]
        with self.layout.log(f"pod-{pod.name}").open("ab") as log:
            pod.proc = subprocess.Popen(
                pod.spec.memory.wrap(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                pass_fds=(sock.fileno(),),
                start_new_session=True,
            )
        pod.started = time.monotonic()
        pod.oom_kills_seen = pod.spec.memory.oom_kills()
        threading.Thread(
            target=self._watch, args=(pod, pod.proc), name=f"watch-{pod.name}", daemon=True
        ).start()

    def _wait_ready(self, pod: Pod) -> None:
        deadline = time.monotonic() + cfg.READY_TIMEOUT_S
        proc = pod.proc
        assert proc is not None
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise PodStartError(
                    f"pod {pod.name} ({pod.version}) exited with {proc.returncode} while starting"
                )
            try:
                marker = json.loads(pod.spec.ready_file.read_text())
                if marker.get("pid") == proc.pid:
                    return
            except (OSError, ValueError):
                pass
            time.sleep(READY_POLL_S)
        raise PodStartError(f"pod {pod.name} ({pod.version}) not ready after {cfg.READY_TIMEOUT_S:g}s")

    def deploy_to(self, slot_name: str, release: Release) -> Pod:
        """Put a new pod of ``release`` in the slot; the one there (if any) stops once it is ready."""
        with self._lock:
            spec = self._new_spec(slot_name, release)
            pod = Pod(spec)
            self._launch(pod)
        self._wait_ready(pod)
        with self._lock:
            slot = self.slots[slot_name]
            old, slot.pod = slot.pod, pod
            self.write_table()
        self.record(
            "pod_started",
            pod=pod.name,
            slot=slot_name,
            version=release.version,
            pid=pod.proc.pid if pod.proc else None,
        )
        if old is not None:
            self._retire(old)
        return pod

    def _retire(self, pod: Pod) -> None:
        pod.retiring = True
        proc = pod.proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(cfg.STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.record("pod_stopped", pod=pod.name, slot=pod.spec.slot, version=pod.version)
        self._remove_group(pod)

    def _remove_group(self, pod: Pod) -> None:
        cgroup = pod.spec.memory.cgroup
        if cgroup is not None:
            try:
                remove_group(cgroup)
            except OSError as exc:
                self.record("cgroup_left", pod=pod.name, cgroup=str(cgroup), error=str(exc))

    # --- crashes and restarts ------------------------------------------------

    def _watch(self, pod: Pod, proc: subprocess.Popen[bytes]) -> None:
        code = proc.wait()
        with self._lock:
            slot = self.slots[pod.spec.slot]
            current = slot.pod is pod and pod.proc is proc
            if pod.retiring or self.stopping.is_set() or not current:
                return
            # A dead pod refuses connections until it is back, like a real one.
            slot.close()
        kills = pod.spec.memory.oom_kills()
        oom = kills > pod.oom_kills_seen or (
            pod.spec.memory.mechanism == "rlimit_as" and code == EXIT_OUT_OF_MEMORY
        )
        ran_s = time.monotonic() - pod.started
        if ran_s >= self.plan.pod_stable_after_wall_s:
            pod.crashes_in_a_row = 0
        self.record(
            "pod_oom_killed" if oom else "pod_crashed",
            pod=pod.name,
            slot=pod.spec.slot,
            version=pod.version,
            pid=proc.pid,
            exit_code=code,
            signal=signal.Signals(-code).name if code < 0 else None,
            oom_kill_count=kills,
            memory_limit_mechanism=pod.spec.memory.mechanism,
            ran_s=round(ran_s, 3),
        )
        if not self.config.restart_pods:
            self.record("pod_not_restarted", pod=pod.name, slot=pod.spec.slot, why="restarts switched off")
            return
        backoffs = self.plan.pod_restart_backoff_wall_s
        delay_s = backoffs[min(pod.crashes_in_a_row, len(backoffs) - 1)]
        pod.crashes_in_a_row += 1
        if self.stopping.wait(delay_s):
            return
        with self._lock:
            if pod.retiring or slot.pod is not pod:
                return
            pod.restarts += 1
            self._launch(pod)
            self.write_table()
        self.record(
            "pod_restarted",
            pod=pod.name,
            slot=pod.spec.slot,
            version=pod.version,
            pid=pod.proc.pid if pod.proc else None,
            restarts=pod.restarts,
            backoff_s=round(delay_s, 3),
            after="oom_kill" if oom else "crash",
        )

    # --- inspection and teardown --------------------------------------------

    def versions(self) -> dict[str, str | None]:
        return {name: (slot.pod.version if slot.pod else None) for name, slot in self.slots.items()}

    def table(self) -> dict[str, Any]:
        with self._lock:
            return {name: (slot.pod.to_json() if slot.pod else None) for name, slot in self.slots.items()}

    def write_table(self) -> None:
        path = self.layout.pod_table
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.table(), indent=2))
        tmp.replace(path)

    def stop_all(self) -> None:
        self.stopping.set()
        with self._lock:
            pods = [slot.pod for slot in self.slots.values() if slot.pod is not None]
        for pod in pods:
            self._retire(pod)
        for slot in self.slots.values():
            slot.close()
