"""The stack's parts on their own: memory limits, traffic split, timeline, processes, the stand-in's model."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from ce_drill.drill import runner
from ce_drill.rules.contract import latency_buckets
from ce_drill.stack import timeline
from ce_drill.stack.config import Ports, StackConfig
from ce_drill.stack.deployer import parse_plan
from ce_drill.stack.memlimit import MemoryLimit, detect
from ce_drill.stack.procs import ProcRef, spawn, stop
from ce_drill.stack.router import Table
from ce_drill.stack.standin.behaviour import Degradation, Fault, SelfOptimisationCache
from ce_drill.stack.standin.metrics import Metrics, exported_names
from ce_drill.stack.state import Component, State
from sim.playbook import Playbook

# --- memory limits ------------------------------------------------------------


def _tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_cgroup_v2_is_preferred_and_made_beside_our_own_group(tmp_path: Path) -> None:
    mount = tmp_path / "cgroup"
    _tree(
        mount,
        {
            "cgroup.controllers": "cpu io memory pids",
            "cgroup.subtree_control": "memory pids",
            "user.slice/cgroup.subtree_control": "memory",
            "user.slice/session.scope/cgroup.procs": "1",
        },
    )
    self_cgroup = tmp_path / "self"
    self_cgroup.write_text("0::/user.slice/session.scope\n")
    hierarchy = detect(mount, self_cgroup)
    assert hierarchy.mechanism == "cgroup2"
    assert hierarchy.parent == mount / "user.slice"
    group = hierarchy.make_group("ce-drill-test")
    assert group is not None
    limit = MemoryLimit.create("cgroup2", group, "blue-1", 64 << 20)
    assert (group / "blue-1" / "memory.max").read_text() == str(64 << 20)
    (group / "blue-1" / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    assert limit.oom_kills() == 1
    assert limit.wrap(["prog", "arg"])[-2:] == ["prog", "arg"]
    assert str(group / "blue-1" / "cgroup.procs") in limit.wrap(["prog"])
    assert MemoryLimit.from_json(limit.to_json()) == limit


def test_cgroup_v1_memory_hierarchy_when_v2_has_no_memory_controller(tmp_path: Path) -> None:
    mount = tmp_path / "cgroup"
    _tree(
        mount,
        {
            "unified/cgroup.controllers": "",
            "memory/memory.limit_in_bytes": "9223372036854771712",
            "memory/sandbox/job/cgroup.procs": "1",
        },
    )
    self_cgroup = tmp_path / "self"
    self_cgroup.write_text("4:memory:/sandbox/job\n0::/\n")
    hierarchy = detect(mount, self_cgroup)
    assert hierarchy.mechanism == "cgroup1"
    assert hierarchy.parent == mount / "memory" / "sandbox" / "job"
    group = hierarchy.make_group("ce-drill-test")
    limit = MemoryLimit.create("cgroup1", group, "green-2", 32 << 20)
    assert limit.cgroup is not None
    assert (limit.cgroup / "memory.limit_in_bytes").read_text() == str(32 << 20)
    (limit.cgroup / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
    assert limit.oom_kills() == 2


def test_rlimit_as_when_no_cgroup_can_be_made(tmp_path: Path) -> None:
    self_cgroup = tmp_path / "self"
    self_cgroup.write_text("0::/\n")
    hierarchy = detect(tmp_path / "no-cgroups", self_cgroup)
    assert hierarchy.mechanism == "rlimit_as"
    assert hierarchy.make_group("x") is None
    limit = MemoryLimit.create("rlimit_as", None, "blue-1", 1 << 20)
    assert limit.wrap(["prog"]) == ["prog"]
    assert limit.oom_kills() == 0
    assert limit.usage_bytes() is None


# --- traffic split --------------------------------------------------------------


def _routing(path: Path, weights: dict[str, float]) -> None:
    slots = {
        slot: {"port": 1000 + i, "weight": w, "version": "v"} for i, (slot, w) in enumerate(weights.items())
    }
    path.write_text(json.dumps({"slots": slots}))


def test_router_gives_the_canary_exactly_its_share(tmp_path: Path) -> None:
    path = tmp_path / "routing.json"
    _routing(path, {"blue": 0.9, "green": 0.1})
    table = Table(path)
    picks = [table.pick() for _ in range(100)]
    assert sum(1 for p in picks if p is not None and p.slot == "green") == 10
    assert table.pick(frozenset({"blue", "green"})) is None


def test_router_follows_a_changed_routing_file(tmp_path: Path) -> None:
    path = tmp_path / "routing.json"
    _routing(path, {"blue": 0.5, "green": 0.5})
    table = Table(path)
    assert table.pick() is not None
    _routing(path, {"blue": 1.0, "green": 0.0})
    # a different size makes the change visible even within one mtime tick
    path.write_text(path.read_text() + " ")
    slots = {p.slot for p in (table.pick() for _ in range(10)) if p is not None}
    assert slots == {"blue"}


# --- timeline -------------------------------------------------------------------


def test_timeline_keeps_every_event_whole_under_concurrent_appends(tmp_path: Path) -> None:
    path = tmp_path / "timeline.jsonl"
    timeline.record(path, "stack", timeline.ORIGIN_KIND, ts=1000.0)
    big = "x" * 20000  # larger than a pipe buffer: whole-line writes must not interleave

    def writer(n: int) -> None:
        for i in range(50):
            timeline.record(path, f"w{n}", "tick", i=i, blob=big)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with path.open("a") as handle:
        handle.write('{"ts": 2e9, "source": "cut", "kin')  # a writer killed mid-line
    line = timeline.read(path)
    assert len(line.of("tick")) == 200
    assert line.origin_ts == 1000.0
    assert line.events[0].t_s == 0.0
    assert all(e.t_s >= 0 for e in line)
    assert line.to_json()["origin"].startswith("1970-01-01T00:16:40")


# --- processes ------------------------------------------------------------------


def _wait_for_line(log: Path, text: str) -> None:
    deadline = time.monotonic() + 10
    while text not in log.read_text():
        assert time.monotonic() < deadline, f"{text!r} never appeared in {log}"
        time.sleep(0.01)


def test_spawned_process_logs_to_its_file_and_is_stopped(tmp_path: Path) -> None:
    log = tmp_path / "p.log"
    ref = spawn([sys.executable, "-c", "import time; print('up', flush=True); time.sleep(60)"], log)
    assert ref.alive()
    assert not ProcRef(ref.pid, ref.start_ticks + 1).alive()  # same pid, another process
    _wait_for_line(log, "up")
    assert stop([ref], timeout_s=5) == []
    assert not ref.alive()


def test_a_process_ignoring_sigterm_is_killed(tmp_path: Path) -> None:
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"
    log = tmp_path / "stubborn.log"
    ref = spawn([sys.executable, "-c", code], log)
    _wait_for_line(log, "ready")
    assert stop([ref], timeout_s=0.3) == [ref]
    assert not ref.alive()


# --- state and settings -------------------------------------------------------------


def test_state_and_config_survive_a_round_trip(tmp_path: Path) -> None:
    config = StackConfig(tmp_path, 30.0, Ports.from_base(30000))
    assert StackConfig.from_json(json.loads(json.dumps(config.to_json()))) == config
    assert [port for _, port in config.ports.items()] == list(range(30000, 30008))
    ref = ProcRef(12, 34)
    state = State(
        "id", str(tmp_path), 30.0, 1.0, None, {"mechanism": "cgroup1", "group": None}, {"service": "u"}
    )
    state.components["router"] = Component("router", ref, "http://x", "log", 1)
    state.save(tmp_path / "state.json")
    loaded = json.loads((tmp_path / "state.json").read_text())
    assert State.from_json(loaded).to_json() == state.to_json()


# --- the stand-in's model -------------------------------------------------------------


def test_degradation_starts_at_the_onset_and_is_worst_at_the_limit() -> None:
    model = Degradation()
    assert not model.effect(model.onset - 0.01).degraded
    assert model.effect(model.onset - 0.01).failure_ratio == 0.0
    at_limit = model.effect(1.0)
    assert at_limit.degraded
    assert at_limit.failure_ratio == pytest.approx(model.max_failure_ratio)
    assert at_limit.extra_latency_s == pytest.approx(model.max_latency_s)
    half = model.effect((model.onset + 1.0) / 2)
    assert half.failure_ratio == pytest.approx(model.max_failure_ratio / 2)
    assert model.effect(1.5) == at_limit


def test_the_leak_keeps_what_each_request_and_second_leave_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    monkeypatch.setattr("ce_drill.stack.standin.behaviour.time.monotonic", lambda: clock[0])
    cache = SelfOptimisationCache(per_request=1000, per_s=300)
    cache.on_request()
    cache.on_request(extra=500)
    assert cache.held_bytes == 2500
    clock[0] += 2.5
    cache.tick(extra_per_s=100)
    assert cache.held_bytes == 2500 + 1000


def test_fault_requests_are_validated() -> None:
    assert Fault.parse({"error_ratio": 1, "latency_s": 0.5}).error_ratio == 1.0
    with pytest.raises(ValueError, match="error_ratio: expected a ratio"):
        Fault.parse({"error_ratio": 2})
    with pytest.raises(ValueError, match="unknown fault field"):
        Fault.parse({"errors": 1})
    with pytest.raises(ValueError, match="latency_s: expected a non-negative number"):
        Fault.parse({"latency_s": -1})


def test_deploy_requests_are_validated(tmp_path: Path) -> None:
    config = StackConfig(tmp_path)
    plan = parse_plan({"version": "v2"}, config)
    assert plan.auto_rollback is True
    assert plan.canary_weight == config.canary_weight
    assert plan.release.leak_bytes_per_request == config.leak_bytes_per_request
    assert plan.release.error_ratio == 0.0
    assert parse_plan({"version": "v2", "error_ratio": 1}, config).release.error_ratio == 1.0
    for body, field in (
        ({}, "version"),
        ({"version": "v2", "canary_weight": 1.5}, "canary_weight"),
        ({"version": "v2", "leak_bytes_per_s": -1}, "leak_bytes_per_s"),
        ({"version": "v2", "auto_rollback": "no"}, "auto_rollback"),
        ({"version": "v2", "error_ratio": 1.5}, "error_ratio"),
        ({"version": "v2", "leak_bytes_per_request": 1.5}, "leak_bytes_per_request"),
    ):
        with pytest.raises(ValueError, match=field):
            parse_plan(body, config)


def test_metrics_are_exactly_the_contract(tmp_path: Path, playbook: Playbook) -> None:
    metrics = Metrics(latency_buckets(playbook), lambda: (10, 100), tmp_path)
    metrics.observe(201, 0.01)
    metrics.observe(500, 0.02)
    metrics.coordination_failures.inc()
    text = generate_latest(metrics.registry).decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    names = {name + ("_total" if f.type == "counter" else "") for name, f in families.items()}
    assert names == exported_names()
    codes = {s.labels["code"] for s in families["ce_http_requests"].samples}
    assert codes == {"201", "500"}
    bounds = {
        float(s.labels["le"])
        for s in families["ce_http_request_duration_seconds"].samples
        if "le" in s.labels
    }
    assert set(latency_buckets(playbook)) <= bounds


def test_the_stand_in_module_runs_as_a_program() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ce_drill.stack.standin", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0
    assert "--listen-fd" in done.stdout


def _notified(ts: float, receiver: str, alertname: str, status: str) -> timeline.Event:
    data = {"receiver": receiver, "alerts": [{"alertname": alertname, "status": status}]}
    return timeline.Event(ts, ts, "receiver", "notification", data)


def test_a_drill_waits_for_the_notification_of_each_alert_that_fired() -> None:
    """An alert that fired joins a group Alertmanager still holds and is notified at its next flush."""
    events = [
        _notified(1, "pagerduty", "P2Major", "firing"),
        _notified(2, "slack", "P3Warning", "resolved"),
    ]
    assert timeline.notified_firing(events) == {"P2Major"}
    expected = ("P2Major", "P1Critical")
    # Fired in Prometheus, not yet at any receiver: wait.
    assert runner.awaited(expected, {"P2Major"}, set(), {"P1Critical"}) == {"P1Critical"}
    # Still pending or firing now: it may yet be notified.
    assert runner.awaited(expected, {"P2Major"}, {"P1Critical"}, set()) == {"P1Critical"}
    # Never fired and not active (detection broken, or a fault that did not land): nothing to wait for.
    assert runner.awaited(expected, {"P2Major"}, set(), set()) == set()
    assert runner.awaited(expected, {"P2Major", "P1Critical"}, {"P1Critical"}, {"P1Critical"}) == set()
