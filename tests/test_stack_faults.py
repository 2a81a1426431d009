"""Failures on purpose: a pod OOM-killed for real under its memory limit, a component killed.

The OOM kill is the kernel's, not a simulation: the pod's memory cgroup
counts it (``oom_kill`` in ``memory.oom_control`` on this cgroup-v1 host) and
the deployer restarts the pod like a kubelet and records both in the
timeline.  Needs the real components installed; fails, never skips, without them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from ce_drill.cli import cli
from ce_drill.stack import Stack
from ce_drill.stack.memlimit import MemoryLimit
from ce_drill.stack.standin.service import EXIT_OUT_OF_MEMORY
from ce_drill.stack.standin.spec import PodSpec, Release
from ce_drill.stack.web import HttpError, get_json

from .test_stack_support import free_ports, running_stack

pytestmark = pytest.mark.stack

LEAK_PER_S = 64 << 20
"""Fast enough to cross the pod's limit within a couple of seconds."""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("faults") / "run") as up:
        yield up


def _oom_kills_in(cgroup: Path) -> int:
    for line in (cgroup / "memory.oom_control").read_text().splitlines():
        key, _, value = line.partition(" ")
        if key == "oom_kill":
            return int(value)
    raise AssertionError(f"no oom_kill counter in {cgroup}")


def test_a_leaking_pod_is_oom_killed_by_the_kernel_and_restarted(stack: Stack) -> None:
    before = json.loads(stack.layout.pod_table.read_text())["blue"]
    cgroup = Path(before["memory"]["cgroup"])
    assert before["memory"]["mechanism"] == "cgroup1"
    kills_before = _oom_kills_in(cgroup)
    since = time.time()
    stack.inject_fault("blue", leak_bytes_per_s=LEAK_PER_S)
    killed = stack.wait_for("pod_oom_killed", since_ts=since, timeout_s=30, slot="blue")
    restarted = stack.wait_for("pod_restarted", since_ts=since, timeout_s=30, slot="blue")
    assert killed.get("signal") == "SIGKILL"
    assert killed.get("exit_code") == -signal.SIGKILL
    assert killed.get("pid") == before["pid"]
    assert killed.get("memory_limit_mechanism") == "cgroup1"
    assert _oom_kills_in(cgroup) == kills_before + 1 == killed.get("oom_kill_count")
    assert restarted.get("after") == "oom_kill"
    assert restarted.get("restarts") == 1
    assert restarted.get("pod") == before["pod"]
    assert restarted.ts >= killed.ts
    # back in service: same pod, new process, fault gone with the old process
    deadline = time.monotonic() + 20
    while True:
        try:
            health = get_json(stack.pod_urls("blue")["blue"] + "/health")
            if health["pid"] == restarted.get("pid") and health["database_up"]:
                break
        except HttpError:
            pass  # restarting: refused until the new process listens
        assert time.monotonic() < deadline, "the restarted pod never came back"
        time.sleep(0.1)
    assert health["fault"]["leak_bytes_per_s"] == 0
    after = json.loads(stack.layout.pod_table.read_text())["blue"]
    assert after["oom_kills"] == kills_before + 1
    assert after["restarts"] == 1


def test_a_killed_component_makes_status_fail(stack: Stack) -> None:
    state = stack.state()
    assert state is not None
    victim = state.components["alertmanager"].proc
    assert victim is not None
    os.kill(victim.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while victim.alive():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    result = CliRunner().invoke(cli, ["stack", "status", "--json", "--run-dir", str(stack.run_dir)])
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    health = {c["name"]: c for c in payload["components"]}
    assert health["alertmanager"]["healthy"] is False
    assert health["alertmanager"]["detail"] == "process not running"
    assert all(c["healthy"] for name, c in health.items() if name != "alertmanager")
    table = CliRunner().invoke(cli, ["stack", "status", "--run-dir", str(stack.run_dir)])
    assert table.exit_code == 1
    assert "UNHEALTHY" in table.stdout


def test_without_a_cgroup_the_address_space_limit_stops_the_leak(tmp_path: Path) -> None:
    """The RLIMIT_AS fallback, for hosts where no memory cgroup can be made."""
    spec = PodSpec(
        name="blue-1",
        slot="blue",
        release=Release("leaky", leak_bytes_per_s=LEAK_PER_S),
        port=free_ports().blue,
        db_port=free_ports().postgres,  # nothing listens there: the leak does not need a database
        statement_timeout_s=1.0,
        pool_size=1,
        memory=MemoryLimit("rlimit_as", 64 << 20),
        latency_buckets=(0.1, 1.0),
        ready_file=tmp_path / "ready",
        data_dir=tmp_path,
        seed=1,
    )
    spec.write(tmp_path / "spec.json")
    done = subprocess.run(
        [sys.executable, "-m", "ce_drill.stack.standin", str(tmp_path / "spec.json")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == EXIT_OUT_OF_MEMORY, done.stdout + done.stderr
    assert "RLIMIT_AS" in done.stderr
