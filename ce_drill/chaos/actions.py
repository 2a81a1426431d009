"""Actions: inject the manual's failure modes into the stack, and take them away again.

Each injecting action records ``fault_injected`` on the stack's timeline and
its removing twin ``fault_removed``, so the judge can tell when the fault was
on and prove none was left behind.  A break asked for by the run
(``ce_drill_breaks``) switches one safety path off: ``rollback`` deploys
with auto-rollback off, ``restart`` is honoured by the stack itself,
``lock-release`` makes the lock outlive the drill's own release.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from ce_drill.chaos import context
from ce_drill.chaos.context import Configuration, breaks, log, playbook, stack, url
from ce_drill.chaos.lockholder import end_lock_holders
from ce_drill.stack import config as stack_config
from ce_drill.stack.state import StackError

MIB = 1024 * 1024


def deploy_release(
    version: str,
    leak_mib_per_s: float = 0.0,
    timeout_s: float | str = "",
    configuration: Configuration = None,
) -> dict[str, Any]:
    """Roll ``version`` out through the pipeline and wait for the outcome (completed or rolled back)."""
    wait_s = context.seconds(timeout_s, "deploy_release timeout_s")
    s = stack(configuration)
    auto = "rollback" not in breaks(configuration)
    started = time.time()
    s.deploy(version, auto_rollback=auto, leak_bytes_per_s=int(leak_mib_per_s * MIB))
    log(configuration, "fault_injected", fault="release", version=version, auto_rollback=auto)
    done = s.wait_for("deploy_finished", since_ts=started, timeout_s=wait_s)
    return {"outcome": done.get("outcome"), "finished_s": done.ts - started}


def rollback_if_needed(reason: str = "drill_cleanup", configuration: Configuration = None) -> dict[str, Any]:
    """The manual's emergency rollback, when anything but the stable version is live."""
    s = stack(configuration)
    stable = {m.stable_version for m in playbook(configuration).manual_rollback if m.stable_version}
    versions = _versions(configuration)
    result: dict[str, Any] = {"versions": versions}
    if any(v not in stable for v in versions.values() if v):
        result["rollback"] = s.rollback(reason, mode="emergency")
    log(configuration, "fault_removed", fault="release", versions=versions)
    return result


def _versions(configuration: Configuration) -> dict[str, str | None]:
    payload = stack(configuration).status().to_json()
    out: dict[str, str | None] = {}
    for component in payload.get("components", []):
        if component.get("name", "").startswith("pod-"):
            out[component["name"]] = component.get("version")
    return out


def hold_lock(table: str, seconds: float | str, configuration: Configuration = None) -> dict[str, Any]:
    """Take ``ACCESS EXCLUSIVE`` on ``table`` in a process of its own, held for at most ``seconds``.

    The runbook's remedy (terminating the blocker) normally ends it much sooner; with the
    release broken on purpose the lock lasts its full time.
    """
    hold = context.seconds(seconds, "hold_lock seconds")
    holder = subprocess.Popen(
        [sys.executable, "-m", "ce_drill.chaos.lockholder", url(configuration, "postgres"), table, str(hold)],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert holder.stdout is not None
    backend = holder.stdout.readline().strip()
    log(
        configuration,
        "fault_injected",
        fault="lock",
        table=table,
        backend_pid=int(backend),
        holder_pid=holder.pid,
    )
    log(configuration, "lock_held", table=table, backend_pid=int(backend))
    return {"backend_pid": int(backend), "holder_pid": holder.pid, "hold_s": hold}


def release_locks(configuration: Configuration = None) -> list[int]:
    """End every lock-holding session of the drill (``pg_terminate_backend``) and its process."""
    if "lock-release" in breaks(configuration):
        log(configuration, "release_skipped", fault="lock", why="break lock-release")
        return []
    return terminate_lock_holders(configuration)


def terminate_lock_holders(configuration: Configuration = None) -> list[int]:
    """Unconditional cleanup, also used after a drill with the release broken on purpose."""
    holders = stack(configuration).timeline().of("fault_injected", fault="lock")
    ended = end_lock_holders(
        url(configuration, "postgres"), [int(e.get("holder_pid")) for e in holders if e.get("holder_pid")]
    )
    log(configuration, "lock_released", backends=ended)
    log(configuration, "fault_removed", fault="lock", backends=ended)
    return ended


def oom_crash_loop(
    slot: str = "green",
    hold_s: float | str = "",
    leak_mib_per_s: float = 200.0,
    until_firing: list[str] | None = None,
    configuration: Configuration = None,
) -> dict[str, Any]:
    """Keep one pod in an OOM crash loop until ``until_firing`` alerts have fired, at most ``hold_s``.

    The fault is its effect, not a number of kills: every time the pod is back it is
    pushed over its memory limit again, until the manual's alerts have fired in
    Prometheus (or the plan's fault hold has passed) — however long a kill or a
    restart takes on this host.
    """
    hold = context.seconds(hold_s, "oom_crash_loop hold_s")
    s = stack(configuration)
    _wait_until_stable(configuration, slot)
    # A crash-looping pod comes back after its back-off (the plan's, up to minutes at scale 1)
    # and its start-up; an OOM kill at this leak rate takes seconds whatever the scale.
    restart_wait_s = max(s.plan().pod_restart_backoff_wall_s) + stack_config.READY_TIMEOUT_S
    started = since = time.time()
    log(configuration, "fault_injected", fault="oom", slot=slot, hold_s=hold)
    done: list[dict[str, Any]] = []
    fired_since = _alerts_fired(configuration)

    def seen() -> bool:
        names = until_firing or []
        return bool(names) and fired_since(names, started) == set(names)

    while (time.time() - started < hold and not seen()) or not done:
        try:
            s.inject_fault(slot, leak_bytes_per_s=leak_mib_per_s * MIB)
        except (StackError, OSError) as exc:
            done.append({"inject_failed": str(exc)})
            break
        killed = s.wait_for("pod_oom_killed", since_ts=since, timeout_s=restart_wait_s, slot=slot)
        try:
            restarted = s.wait_for("pod_restarted", since_ts=killed.ts, timeout_s=restart_wait_s, slot=slot)
        except StackError:
            done.append({"killed_s": killed.ts - started, "restarted": False})
            break
        done.append({"killed_s": killed.ts - started, "restarted_s": restarted.ts - started})
        since = restarted.ts
    return {"kills": done, "held_s": time.time() - started}


def _wait_until_stable(configuration: Configuration, slot: str, limit_s: float = 90.0) -> None:
    """Let a recently restarted pod count as stable, so its crash loop starts from a fresh back-off."""
    s = stack(configuration)
    stable_after = s.plan().pod_stable_after_wall_s
    starts = [
        e for e in s.timeline().events if e.kind in ("pod_started", "pod_restarted") and e.get("slot") == slot
    ]
    if starts:
        wait = starts[-1].ts + stable_after - time.time()
        if wait > 0:
            time.sleep(min(wait + 1.0, limit_s))


def clear_faults(fault: str = "pod_faults", configuration: Configuration = None) -> str:
    """Remove injected pod faults (a restarted pod starts clean anyway); ``fault`` names what is removed."""
    s = stack(configuration)
    for slot in ("blue", "green"):
        try:
            s.clear_faults(slot)
        except (StackError, OSError):
            continue  # a pod that is down has no faults to clear
    log(configuration, "fault_removed", fault=fault)
    return "cleared"


def wait_for_steady_state(timeout_s: float | str = "", configuration: Configuration = None) -> dict[str, Any]:
    """Wait until the manual's rollback verification holds again; records ``steady_state_met``."""
    from ce_drill.chaos.probes import service_healthy, verification_holds

    wait_s = context.seconds(timeout_s, "wait_for_steady_state timeout_s")
    started = time.time()
    while time.time() - started < wait_s:
        if service_healthy(configuration=configuration) and verification_holds(configuration=configuration):
            log(configuration, "steady_state_met")
            return {"met_after_s": time.time() - started}
        time.sleep(0.5)
    return {"met_after_s": None}


def wait_for_alerts(
    alerts: list[str], timeout_s: float | str = "", configuration: Configuration = None
) -> dict[str, Any]:
    """Hold the fault until every alert in ``alerts`` has fired, at most ``timeout_s``.

    The fault is held for its effect — until the manual's alerts have seen it — not for a
    fixed time: a slow host holds it longer, a fast one ends it (and the outage) sooner.
    ``timeout_s`` is the plan's fault hold, by when every on-time alert has fired.  Firing,
    not notification, ends the hold: Alertmanager may flush a notification up to a group
    interval later (the runner waits for it before judging), and an outage held for
    that flush would be charged to recovery.
    """
    wait_s = context.seconds(timeout_s, "wait_for_alerts timeout_s")
    started = time.time()
    since = _fault_started(configuration, started)
    fired_since = _alerts_fired(configuration)
    fired: set[str] = set()
    while time.time() - started < wait_s:
        fired = fired_since(alerts, since)
        if fired == set(alerts):
            break
        time.sleep(0.5)
    return {"fired": sorted(fired), "waited_s": round(time.time() - started, 3)}


def _fault_started(configuration: Configuration, default: float) -> float:
    faults = stack(configuration).timeline().of("fault_injected")
    return faults[-1].ts if faults else default


def _alerts_fired(configuration: Configuration) -> Callable[[list[str], float], set[str]]:
    """Which of some alerts Prometheus has had firing at an evaluation since a moment.

    The stack's Prometheus and evaluation interval are read once, not on every poll.
    """
    from ce_drill.prom import Prometheus

    prometheus = Prometheus(url(configuration, "prometheus"))
    step = context.plan(configuration).evaluation_interval_s
    return lambda alerts, since: prometheus.fired(alerts, since, time.time(), step)


def pause(seconds: float | str) -> float:
    """Let the system react to a fault for ``seconds`` (the drill plan's hold)."""
    wait = context.seconds(seconds, "pause seconds")
    time.sleep(wait)
    return wait
