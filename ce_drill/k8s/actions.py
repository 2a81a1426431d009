"""Actions of a cluster drill: inject the manual's failure modes into staging, and take them away.

Every change to the cluster goes through the charter's guard, which re-reads
the kubeconfig and re-checks the allowlist first; every injection also asks
the kill switch.  A refusal (``target_refused``) or an engaged switch
(``kill_switch_engaged``) is recorded on the drill's timeline and stops the
experiment (Chaos Toolkit's ``InterruptExecution``: its rollbacks then play,
each through the same guard).

Each injecting action records ``fault_injected`` and its removing twin
``fault_removed``, so the judge can tell when the fault was on and prove none
was left behind.  The auto-rollback watcher records ``phase_started``,
``trigger_held``, ``rollback_started`` (mode ``auto``) and
``rollback_finished``, as the local stack's deployer does.  A break asked for
by the run (``rollback``, ``lock-release``) switches that safety path off.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from chaoslib.exceptions import ActivityFailed, InterruptExecution
from kubernetes import client
from urllib3.exceptions import HTTPError

from ce_drill.chaos.context import seconds as duration
from ce_drill.chaos.lockholder import end_lock_holders
from ce_drill.k8s import killswitch
from ce_drill.k8s.charter import Charter, current
from ce_drill.k8s.kube import TargetRefused
from ce_drill.k8s.probes import prometheus, service_steady
from ce_drill.k8s.redact import ENV_DSN
from ce_drill.k8s.rollout import RolloutError, apply_release, pod_versions, rollout_undo, wait_rollout
from ce_drill.prom import PrometheusError
from ce_drill.stack import config as stack_config
from ce_drill.stack import triggers
from ce_drill.stack.timeline import read
from sim.playbook import Playbook

Configuration = dict[str, Any] | None

ROLLOUT_TIMEOUT_S = stack_config.READY_TIMEOUT_S
"""How long a rollback's rollout may take before it counts as failed (pods pulled and started)."""
KUBELET_MAX_BACKOFF_S = max(stack_config.POD_RESTART_BACKOFF_S)
"""The kubelet's longest CrashLoopBackOff: it runs on the cluster's clock, not the drill's."""
POLL_S = 0.25
MESSAGE_CHARS = 300
HTTP_TRIGGER_TIMEOUT_S = 10.0
"""A fault endpoint answers at once; the pod proxy waits longer for a pod it cannot reach."""


# --- the guard -----------------------------------------------------------------------------------


def _may_inject(charter: Charter) -> None:
    reason = killswitch.engaged(charter.kill_switch, charter.target)
    if reason is not None:
        charter.log("kill_switch_engaged", reason=reason)
        raise InterruptExecution(f"{reason}: nothing more is injected")


@contextlib.contextmanager
def _acting(charter: Charter, *, inject: bool) -> Iterator[client.ApiClient]:
    """A client for one change, after the allowlist (and, to inject, the kill switch) said yes."""
    try:
        if inject:
            _may_inject(charter)
        with charter.guard.change() as api:
            yield api
    except TargetRefused as refused:
        charter.log("target_refused", **refused.to_json())
        raise InterruptExecution(f"refused: {refused.message}") from None


# --- releases ------------------------------------------------------------------------------------


def roll_out_release(release: str = "leaking", configuration: Configuration = None) -> dict[str, Any]:
    """Roll the Deployment to ``release`` of the drill config (``leaking`` or ``stable``)."""
    charter = current(configuration)
    if release not in ("stable", "leaking"):
        raise ActivityFailed(f"release must be 'stable' or 'leaking' (got {release!r})")
    chosen = getattr(charter.releases, release)
    with _acting(charter, inject=True) as api:
        result = apply_release(api, charter.workload, chosen)
    auto = "rollback" not in charter.breaks
    charter.log(
        "fault_injected", fault="release", version=chosen.version, image=chosen.image, auto_rollback=auto
    )
    charter.log("deploy_started", version=chosen.version)
    return {"version": chosen.version, **result}


def auto_rollback(timeout_s: float | str = "", configuration: Configuration = None) -> dict[str, Any]:
    """The manual's auto-rollback: watch its triggers through each phase, undo the rollout when one holds.

    Each phase of the plan (canary, blue-green, full switch) is watched for its
    planned hold; the first trigger that holds (``auto_rollback.triggers`` of the
    playbook, metrics from the cluster's Prometheus, compared as the manual
    compares) starts a rollout undo, which must start within the phase's deadline.
    """
    charter = current(configuration)
    wait_s = duration(timeout_s, "auto_rollback timeout_s")
    plan = charter.plan()
    rules = triggers.validate(Playbook.load(plan.playbook_path), plan.playbook_path)
    prom = prometheus(charter)
    auto = "rollback" not in charter.breaks
    poll_s = plan.evaluation_interval_s / 2
    started = time.time()
    unreachable: list[str] = []

    def value_of(metric: str) -> float | None:
        try:
            return prom.value(metric)
        except PrometheusError as exc:
            if not unreachable:
                charter.log("prometheus_unreachable", error=str(exc))
            unreachable.append(str(exc))
            return None

    reported = False
    for phase in plan.phases:
        charter.log("phase_started", phase=phase.phase, hold_wall_s=phase.hold_wall_s)
        phase_end = time.time() + phase.hold_wall_s
        while time.time() < phase_end and time.time() - started < wait_s:
            held = [c for c in triggers.evaluate(rules, value_of) if c.holds]
            if held and not reported:
                charter.log(
                    "trigger_held",
                    phase=phase.phase,
                    triggers=[c.to_json() for c in held],
                    auto_rollback=auto,
                )
                reported = True
            if held and auto:
                return _undo(charter, phase.phase, held[0].trigger, started)
            time.sleep(poll_s)
    with charter.target.api() as api:
        versions = pod_versions(api, charter.workload)
    charter.log("deploy_finished", outcome="completed", versions=versions)
    return {"outcome": "completed", "trigger_held": reported, "finished_s": time.time() - started}


def _undo(charter: Charter, phase: str, trigger: str, started: float) -> dict[str, Any]:
    charter.log("rollback_started", mode="auto", phase=phase, reason=trigger)
    t0 = time.time()
    with _acting(charter, inject=False) as api:
        undone = rollout_undo(api, charter.workload)
        try:
            rollout_s: float | None = wait_rollout(api, charter.workload, ROLLOUT_TIMEOUT_S)
        except RolloutError:
            rollout_s = None
    charter.log(
        "rollback_finished", mode="auto", ok=rollout_s is not None, seconds=time.time() - t0, **undone
    )
    charter.log("deploy_finished", outcome="rolled_back", version=undone["version"])
    return {
        "outcome": "rolled_back",
        "phase": phase,
        "trigger": trigger,
        "finished_s": time.time() - started,
        **undone,
    }


def restore_stable(configuration: Configuration = None) -> dict[str, Any]:
    """The manual's emergency rollback: the stable release back on every pod, if anything else runs."""
    charter = current(configuration)
    w, stable = charter.workload, charter.releases.stable
    with charter.target.api() as api:
        versions = pod_versions(api, w)
        deployment = client.AppsV1Api(api).read_namespaced_deployment(w.deployment, w.namespace)
        template = w.template_version(api.sanitize_for_serialization(deployment.spec.template))
    result: dict[str, Any] = {"versions": versions}
    if template != stable.version or any(v != stable.version for v in versions.values()):
        with _acting(charter, inject=False) as api:
            if template != stable.version:
                try:
                    result["undo"] = rollout_undo(api, w, to_version=stable.version)
                except RolloutError:
                    # No revision of it left in the history: put the stable release itself back.
                    result["applied"] = apply_release(api, w, stable)
            try:
                result["rollout_s"] = wait_rollout(api, w, ROLLOUT_TIMEOUT_S)
            except RolloutError as exc:
                result["rollout_error"] = str(exc)
    charter.log("fault_removed", fault="release", **result)
    return result


# --- OOM -----------------------------------------------------------------------------------------


def _container_status(api: client.ApiClient, charter: Charter, pod: str) -> Any:
    found = client.CoreV1Api(api).read_namespaced_pod(pod, charter.namespace)
    for status in found.status.container_statuses or []:
        if status.name == charter.container:
            return status
    return None


def _memory_limit(api: client.ApiClient, charter: Charter, pod: str) -> str:
    found = client.CoreV1Api(api).read_namespaced_pod(pod, charter.namespace)
    for c in found.spec.containers:
        if c.name == charter.container and c.resources is not None and c.resources.limits:
            limit = c.resources.limits.get("memory")
            if limit:
                return f"container memory limit {limit!s}"
    return "no memory limit set"


def _pick_pod(charter: Charter) -> str:
    with charter.target.api() as api:
        pods = (
            client.CoreV1Api(api)
            .list_namespaced_pod(charter.namespace, label_selector=charter.selector)
            .items
        )
    ready = sorted(
        str(p.metadata.name)
        for p in pods
        if p.metadata.deletion_timestamp is None
        and any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])
    )
    if not ready:
        raise ActivityFailed(f"no Ready pod matches {charter.selector} in {charter.namespace}")
    return ready[0]


def _trigger_oom(api: client.ApiClient, charter: Charter, pod: str, nth: int) -> None:
    oom = charter.oom
    assert oom is not None
    if oom.trigger == "annotation":
        assert oom.annotation is not None
        # A new value each time: the stage fires on a change, not on a value.
        body = {"metadata": {"annotations": {oom.annotation: f"{nth}-{time.time_ns()}"}}}
        client.CoreV1Api(api).patch_namespaced_pod(pod, charter.namespace, body)
        return
    http = oom.http
    assert http is not None
    api.call_api(
        f"/api/v1/namespaces/{charter.namespace}/pods/{pod}:{http.port}/proxy{http.path}",
        "POST",
        header_params={"Content-Type": "application/json", "Accept": "*/*"},
        body=http.body,
        auth_settings=["BearerToken"],
        _preload_content=False,
        _request_timeout=HTTP_TRIGGER_TIMEOUT_S,
    )


def _message(exc: client.ApiException) -> str:
    """The API server's own words (a Status's message, or the body as text), briefly."""
    body = exc.body.decode(errors="replace") if isinstance(exc.body, bytes) else str(exc.body or "")
    with contextlib.suppress(ValueError, AttributeError):
        body = str(json.loads(body).get("message", body))
    return body[:MESSAGE_CHARS]


def _wait_for(check: Callable[[], Any], timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(POLL_S)
    return None


def oom_crash_loop(
    kills: int = 6, kill_timeout_s: float | str = "", configuration: Configuration = None
) -> dict[str, Any]:
    """Drive one pod's container over its memory limit ``kills`` times, as a crash loop does.

    Each kill must show in the container's status (``lastState.terminated.reason``
    ``OOMKilled``, ``restartCount`` up by one) within ``kill_timeout_s``; the next is
    triggered once the kubelet has the container running again.
    """
    charter = current(configuration)
    if charter.oom is None:
        raise ActivityFailed("the drill config has no oom section (trigger: annotation or http)")
    kill_wait = duration(kill_timeout_s, "oom_crash_loop kill_timeout_s")
    pod = _pick_pod(charter)
    restart_wait = KUBELET_MAX_BACKOFF_S + ROLLOUT_TIMEOUT_S
    with charter.target.api() as api:
        mechanism = _memory_limit(api, charter, pod)
    done: list[dict[str, Any]] = []
    injected = False
    for nth in range(1, kills + 1):
        with charter.target.api() as api:
            before = _container_status(api, charter, pod)
        restarts = before.restart_count if before is not None else 0
        with _acting(charter, inject=True) as api:
            if not injected:
                charter.log("fault_injected", fault="oom", pod=pod, trigger=charter.oom.trigger, kills=kills)
                injected = True
            try:
                _trigger_oom(api, charter, pod, nth)
            except client.ApiException as exc:
                charter.log(
                    "oom_trigger_failed", pod=pod, status=exc.status, reason=exc.reason, message=_message(exc)
                )
                done.append({"trigger_failed": f"{exc.status} {exc.reason}"})
                break
            except HTTPError as exc:  # the pod proxy did not answer in time
                charter.log("oom_trigger_failed", pod=pod, status=None, reason=str(exc))
                done.append({"trigger_failed": str(exc)})
                break
        t0 = time.time()

        def killed(restarts: int = restarts) -> Any:
            with charter.target.api() as reader:
                status = _container_status(reader, charter, pod)
            last = status.last_state.terminated if status is not None and status.last_state else None
            return (
                status
                if status is not None and status.restart_count > restarts and last is not None
                else None
            )

        status = _wait_for(killed, kill_wait)
        if status is None:
            done.append({"killed": False})
            break
        last = status.last_state.terminated
        charter.log(
            "pod_oom_killed" if last.reason == "OOMKilled" else "pod_crashed",
            slot=pod,
            container=status.name,
            reason=last.reason,
            exit_code=last.exit_code,
            restart_count=status.restart_count,
            memory_limit_mechanism=mechanism,
        )

        def running(count: int = status.restart_count) -> bool:
            with charter.target.api() as reader:
                now = _container_status(reader, charter, pod)
            return bool(
                now is not None and now.restart_count >= count and now.state.running is not None and now.ready
            )

        if not _wait_for(running, restart_wait):
            done.append({"killed_s": time.time() - t0, "restarted": False})
            break
        charter.log("pod_restarted", slot=pod, restart_count=status.restart_count)
        done.append(
            {"killed_s": time.time() - t0, "reason": last.reason, "restart_count": status.restart_count}
        )
    return {"pod": pod, "kills": done}


def clear_oom_trigger(configuration: Configuration = None) -> list[str]:
    """Remove the OOM trigger from every pod of the Deployment (a restarted container starts clean anyway)."""
    charter = current(configuration)
    cleared: list[str] = []
    oom = charter.oom
    if oom is not None and oom.trigger == "annotation" and oom.annotation is not None:
        with charter.target.api() as api:
            pods = (
                client.CoreV1Api(api)
                .list_namespaced_pod(charter.namespace, label_selector=charter.selector)
                .items
            )
        carrying = [p.metadata.name for p in pods if oom.annotation in (p.metadata.annotations or {})]
        if carrying:
            with _acting(charter, inject=False) as api:
                core = client.CoreV1Api(api)
                for name in carrying:
                    core.patch_namespaced_pod(
                        name, charter.namespace, {"metadata": {"annotations": {oom.annotation: None}}}
                    )
                    cleared.append(name)
    charter.log("fault_removed", fault="oom", pods=cleared)
    return cleared


# --- database locks --------------------------------------------------------------------------------


def hold_lock(seconds: float | str = "", configuration: Configuration = None) -> dict[str, Any]:
    """Take ``ACCESS EXCLUSIVE`` on the config's hot table in a process of its own, for at most ``seconds``.

    The runbook's remedy (terminating the blocker) normally ends it much sooner; with the
    release broken on purpose the lock lasts its full time.
    """
    charter = current(configuration)
    hold = duration(seconds, "hold_lock seconds")
    if charter.lock_table is None:
        raise ActivityFailed("the drill config has no database.lock_table")
    _may_inject(charter)
    holder = subprocess.Popen(
        [sys.executable, "-m", "ce_drill.k8s.lock", charter.lock_table, str(hold)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    assert holder.stdout is not None
    backend = holder.stdout.readline().strip()
    if not backend.isdigit():
        holder.kill()
        raise ActivityFailed(f"could not lock {charter.lock_table} (the lock holder exited {holder.wait()})")
    data = {"table": charter.lock_table, "backend_pid": int(backend), "holder_pid": holder.pid}
    charter.log("fault_injected", fault="lock", **data)
    charter.log("lock_held", **data)
    return {**data, "hold_s": hold}


def release_locks(configuration: Configuration = None) -> list[int]:
    """The runbook's remedy: terminate the blocking backend (every lock backend of the drill)."""
    charter = current(configuration)
    if "lock-release" in charter.breaks:
        charter.log("release_skipped", fault="lock", why="break lock-release")
        return []
    return terminate_lock_holders(charter)


def terminate_lock_holders(charter: Charter) -> list[int]:
    """Unconditional cleanup: ``pg_terminate_backend`` on the drill's lock backends, then their processes."""
    holders = read(Path(charter.timeline_path)).of("fault_injected", fault="lock")
    ended = end_lock_holders(
        os.environ[ENV_DSN], [int(e.get("holder_pid")) for e in holders if e.get("holder_pid")]
    )
    charter.log("lock_released", backends=ended)
    charter.log("fault_removed", fault="lock", backends=ended)
    return ended


def wait_for_alerts(
    alerts: list[str], timeout_s: float | str = "", configuration: Configuration = None
) -> dict[str, Any]:
    """Hold the fault until every alert in ``alerts`` fires in the cluster's Prometheus, at most ``timeout_s``.

    The fault is held for its effect — until the manual's alerts have seen it — not for a
    fixed time, so the outage lasts no longer than it takes to be detected.  ``timeout_s``
    is the plan's fault hold, by when every on-time alert has fired.
    """
    charter = current(configuration)
    wait_s = duration(timeout_s, "wait_for_alerts timeout_s")
    prom = prometheus(charter)
    started = time.time()
    firing: set[str] = set()
    while time.time() - started < wait_s:
        try:
            firing = {
                str(a["labels"].get("alertname"))
                for a in prom.alerts()
                if a.get("state") == "firing" and a["labels"].get("alertname") in alerts
            }
        except PrometheusError:
            firing = set()  # asked again on the next turn
        if firing == set(alerts):
            break
        time.sleep(POLL_S * 2)
    return {"firing": sorted(firing), "waited_s": round(time.time() - started, 3)}


# --- recovery --------------------------------------------------------------------------------------


def wait_for_steady_state(timeout_s: float | str = "", configuration: Configuration = None) -> dict[str, Any]:
    """Wait until the Deployment is available, every pod scraped and the manual's checklist met again."""
    charter = current(configuration)
    wait_s = duration(timeout_s, "wait_for_steady_state timeout_s")
    started = time.time()
    while time.time() - started < wait_s:
        try:
            steady = service_steady(charter)
        except (PrometheusError, client.ApiException):
            steady = False
        if steady:
            charter.log("steady_state_met")
            return {"met_after_s": time.time() - started}
        time.sleep(POLL_S * 2)
    return {"met_after_s": None}
