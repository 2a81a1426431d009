"""The real stack, end to end: up from nothing, alert to receiver, writes kept, down leaves nothing.

Needs PostgreSQL, Prometheus and Alertmanager installed (``ce-drill stack
install``); without them these tests fail, they do not skip.  One stack
serves the whole module and is brought down however the module ends.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from ce_drill.cli import cli
from ce_drill.plan.timing import Timing
from ce_drill.rules import contract
from ce_drill.rules.alertmanager import routing
from ce_drill.rules.generate import build
from ce_drill.stack import Stack
from ce_drill.stack.config import url
from ce_drill.stack.procs import ProcRef, descendants
from ce_drill.stack.prometheus import rules_loaded
from ce_drill.stack.rollout import stable_version
from ce_drill.stack.standin.metrics import exported_names
from ce_drill.stack.web import HttpError, get_json, get_text
from sim.playbook import Playbook

from .test_stack_support import TEST_TIME_SCALE, running_stack

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("e2e") / "run") as up:
        yield up


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout


def test_up_from_nothing_is_healthy(stack: Stack, playbook: Playbook) -> None:
    status = stack.status()
    assert status.healthy, [c.to_json() for c in status.components if not c.healthy]
    names = {c.name for c in status.components}
    assert names == {
        "postgres",
        "prometheus",
        "alertmanager",
        "receiver",
        "router",
        "deployer",
        "loadgen",
        "pod-blue",
        "pod-green",
    }
    for slot in ("pod-blue", "pod-green"):
        pod = status.component(slot)
        assert pod.info["version"] == stable_version(playbook)
        # this host mounts cgroup v1 with a memory controller (see facts.md)
        assert pod.info["memory_limit_mechanism"] == "cgroup1"
    state = stack.state()
    assert state is not None
    assert state.ready_s is not None
    assert all(c.proc is not None and c.proc.alive() for c in state.components.values())
    code, out = _cli("stack", "status", "--json", "--run-dir", str(stack.run_dir))
    assert code == 0
    assert json.loads(out)["healthy"] is True


def test_a_second_up_does_nothing(stack: Stack) -> None:
    before = stack.state()
    code, out = _cli("stack", "up", "--json", "--run-dir", str(stack.run_dir))
    assert code == 0
    payload = json.loads(out)
    assert payload["already_up"] is True
    assert before is not None
    assert payload["components"] == before.to_json()["components"]


def test_prometheus_loaded_the_generated_rules(stack: Stack, playbook: Playbook) -> None:
    state = stack.state()
    assert state is not None
    expected = build(playbook, scale=TEST_TIME_SCALE, scrape_interval_s=1.0).counts()
    loaded = rules_loaded(state.urls["prometheus"])
    assert loaded == expected["recording_rules"] + expected["alerting_rules"]
    assert loaded > 0


def test_the_stand_in_exports_exactly_the_metrics_contract(stack: Stack) -> None:
    text = get_text(stack.pod_urls("blue")["blue"] + "/metrics")
    names = {
        line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")
    }
    base = {n.removesuffix("_bucket").removesuffix("_sum").removesuffix("_count") for n in names}
    assert base == exported_names()


def test_errors_fire_an_alert_through_alertmanager_to_the_receiver(stack: Stack, playbook: Playbook) -> None:
    error_rules = {r.name: r for r in playbook.detection_rules if r.metric == contract.ERROR_RATE.name}
    channels = routing(playbook, Timing.create(TEST_TIME_SCALE, 1.0))
    since = time.time()
    stack.inject_fault(error_ratio=1.0)
    try:
        event = None
        deadline = time.monotonic() + 90
        while event is None and time.monotonic() < deadline:
            for candidate in stack.timeline().since(since).of("notification", status="firing"):
                if any(a["alertname"] in error_rules for a in candidate.get("alerts")):
                    event = candidate
                    break
            time.sleep(0.2)
    finally:
        stack.clear_faults()
    assert event is not None, "no error-rate alert reached the receiver"
    alert = next(a for a in event.get("alerts") if a["alertname"] in error_rules)
    assert alert["severity"] == error_rules[alert["alertname"]].severity
    assert event.get("channel") in channels.receivers_for(alert["severity"])
    assert event.get("payload")["receiver"] == event.get("channel")


def test_every_acknowledged_write_is_in_postgres(stack: Stack) -> None:
    deadline = time.monotonic() + 30
    while len(stack.acknowledged_writes()) < 10:
        assert time.monotonic() < deadline, "the load generator acknowledged nothing"
        time.sleep(0.2)
    assert stack.lost_writes() == []


def test_the_timeline_reads_as_json(stack: Stack) -> None:
    code, out = _cli("stack", "timeline", "--json", "--run-dir", str(stack.run_dir))
    assert code == 0
    payload = json.loads(out)
    kinds = [e["kind"] for e in payload["events"]]
    assert kinds[0] == "stack_starting"
    assert "stack_ready" in kinds
    assert payload["events"][0]["t_s"] == 0
    assert kinds.count("pod_started") == 2


def test_down_leaves_no_process_behind(stack: Stack) -> None:
    state = stack.state()
    assert state is not None
    refs = [c.proc for c in state.components.values() if c.proc is not None]
    pods = json.loads(stack.layout.pod_table.read_text())
    pod_pids = [entry["pid"] for entry in pods.values()]
    family = {pid for ref in refs for pid in descendants(ref.pid)} | set(pod_pids)
    family_refs = [r for r in (ProcRef.of(pid) for pid in family) if r is not None]
    group = Path(state.memory_limit["group"])
    assert group.is_dir()
    result = stack.down()
    assert result.killed == ()
    assert [r.pid for r in refs + family_refs if r.alive()] == []
    assert not group.exists()
    assert stack.state() is None
    assert not stack.status().running
    assert (stack.run_dir / "logs" / "prometheus.log").exists()
    assert stack.timeline().events[-1].kind == "stack_stopped"
    with pytest.raises(HttpError, match="refused"):
        get_json(url(state.components["router"].port or 0, "/-/health"))
