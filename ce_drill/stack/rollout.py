"""The manual's deployment pipeline: canary → blue-green → full switch, with auto-rollback.

At rest both slots run the live version and share the traffic.  Deploying a
new version walks the phases of ``pb.auto_rollback.phases`` in order:

* **canary** — the green slot gets a pod of the new version and a small share
  of the traffic (:data:`~ce_drill.stack.config.CANARY_WEIGHT`);
* **blue_green** — all traffic goes to green; blue keeps the old version,
  warm, so switching back is instant;
* **full_switch** — blue is replaced with the new version too and traffic is
  shared again; the old version is gone, so rolling back now means deploying it.

Each phase is watched for as long as its rollback delay (the drill plan's
wall-clock hold of the manual's delay): every half evaluation interval the deployer asks
Prometheus for the recorded metric of each auto-rollback trigger (and records
``monitoring_unavailable`` if it cannot).  When one
holds it records it and — unless auto-rollback is off for this deployment —
rolls back at once, so it acts well within the phase's delay, which it
records as the deadline a drill judges it by.

Rollback puts all traffic on a pod of the previous version (blue, started
first if blue no longer has it), then brings green back to it.  Every step is
an event in the stack's timeline.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ce_drill.stack import config as cfg
from ce_drill.stack.standin.spec import Release
from ce_drill.stack.triggers import Check, evaluate
from ce_drill.stack.web import HttpError
from sim.errors import InputError
from sim.playbook import Playbook, RollbackTrigger

if TYPE_CHECKING:
    from ce_drill.plan import PlannedPhase

KNOWN_PHASES = ("canary", "blue_green", "full_switch")
REST_WEIGHTS = {"blue": 0.5, "green": 0.5}


class RolloutError(Exception):
    """A request the pipeline cannot take now (busy, nothing to roll back, unknown phase)."""


class Pods(Protocol):
    """What the pipeline needs of the pod supervisor (:class:`ce_drill.stack.pods.Supervisor`)."""

    def deploy_to(self, slot_name: str, release: Release) -> object: ...

    def versions(self) -> dict[str, str | None]: ...


def stable_version(pb: Playbook, origin: str = "playbook") -> str:
    """The version the manual rolls back to (its emergency rollback names it)."""
    for entry in pb.manual_rollback:
        if entry.stable_version:
            return entry.stable_version
    raise InputError(origin, None, "manual_rollback", "no entry names a stable_version to roll back to")


@dataclass(frozen=True)
class Plan:
    release: Release
    auto_rollback: bool
    canary_weight: float

    @property
    def version(self) -> str:
        return self.release.version

    def to_json(self) -> dict[str, Any]:
        return {
            "release": self.release.to_json(),
            "auto_rollback": self.auto_rollback,
            "canary_weight": self.canary_weight,
        }


class Rollout:
    def __init__(
        self,
        *,
        supervisor: Pods,
        config: cfg.StackConfig,
        phases: tuple[PlannedPhase, ...],
        triggers: tuple[RollbackTrigger, ...],
        stable_version: str,
        value_of: Callable[[str], float | None],
        set_weights: Callable[[dict[str, float]], None],
        record: Callable[..., dict[str, Any]],
    ) -> None:
        unknown = [p.phase for p in phases if p.phase not in KNOWN_PHASES]
        if unknown:
            raise RolloutError(
                f"the pipeline knows phases {', '.join(KNOWN_PHASES)}, not {', '.join(unknown)}"
            )
        self.pods = supervisor
        self.config = config
        self.phases = phases
        self.triggers = triggers
        self.stable_version = stable_version
        self.value_of = value_of
        self.set_weights = set_weights
        self.record = record
        self.live_version = stable_version
        self.previous_version: str | None = None
        self.phase: str | None = None
        self.plan: Plan | None = None
        self.busy = False
        self.weights = dict(REST_WEIGHTS)
        self._releases: dict[str, Release] = {stable_version: Release(stable_version)}
        self._cancel = threading.Event()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rollout")
        self._lock = threading.Lock()

    # --- shared helpers --------------------------------------------------------

    def _route(self, weights: dict[str, float], why: str) -> None:
        self.weights = dict(weights)
        self.set_weights(weights)
        self.record("traffic_switched", weights=weights, versions=self.pods.versions(), reason=why)

    def _place(self, slot: str, version: str) -> None:
        self.pods.deploy_to(slot, self._releases.get(version, Release(version)))

    def start(self) -> None:
        """Bring both slots up with the stable version, sharing the traffic."""
        # Both at once: each pod takes about a second to become ready.
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(lambda slot: self._place(slot, self.stable_version), ("blue", "green")))
        self._route(REST_WEIGHTS, "initial")

    def status(self) -> dict[str, Any]:
        return {
            "live_version": self.live_version,
            "previous_version": self.previous_version,
            "deploying": self.busy,
            "phase": self.phase,
            "plan": None if self.plan is None else self.plan.to_json(),
            "weights": self.weights,
        }

    # --- deploy ---------------------------------------------------------------

    def deploy(self, plan: Plan) -> None:
        """Start a deployment in the background; raises RolloutError when one cannot start."""
        with self._lock:
            if self.busy:
                raise RolloutError(
                    f"a deployment of {self.plan.version if self.plan else '?'} is in progress"
                )
            if plan.version == self.live_version:
                raise RolloutError(f"version {plan.version} is already live")
            self.busy = True
            self.plan = plan
            self._cancel.clear()
        if plan.version != self.stable_version:
            self._releases[plan.version] = plan.release
        self._worker.submit(self._deploy, plan)

    def _deploy(self, plan: Plan) -> None:
        start = time.monotonic()
        from_version = self.live_version
        # From the first phase on, rolling back means returning to what was live.
        self.previous_version = from_version
        self.record(
            "deploy_started",
            version=plan.version,
            from_version=from_version,
            auto_rollback=plan.auto_rollback,
            canary_weight=plan.canary_weight,
            release=self._releases.get(plan.version, plan.release).to_json(),
        )
        ignored: list[str] = []

        def finished(outcome: str) -> None:
            self.record(
                "deploy_finished",
                version=plan.version,
                outcome=outcome,
                duration_s=round(time.monotonic() - start, 3),
                triggers_ignored=ignored,
            )

        try:
            for phase in self.phases:
                if self._cancel.is_set():
                    finished("stopped_for_rollback")
                    return
                self.phase = phase.phase
                self._enter(phase.phase, plan)
                self.record(
                    "phase_started",
                    phase=phase.phase,
                    version=plan.version,
                    weights=self.weights,
                    hold_s=round(phase.hold_wall_s, 3),
                    delay_manual_s=phase.delay_manual_s,
                    deadline_s=round(phase.deadline_wall_s, 3),
                )
                fired = self._watch(phase.phase, phase.hold_wall_s, plan, ignored)
                if self._cancel.is_set():
                    finished("stopped_for_rollback")
                    return
                if fired is not None:
                    self._rollback(f"auto: {fired.trigger}", "auto", phase.phase, trigger=fired)
                    finished("rolled_back")
                    return
            self.live_version = plan.version
            finished("completed")
        except Exception as exc:  # a failed step is recorded and undone, never left half-done
            self.record("deploy_failed", version=plan.version, phase=self.phase, error=str(exc))
            try:
                self._rollback(f"deploy failed: {exc}", "auto", self.phase)
            except Exception as again:
                self.record("rollback_failed", error=str(again))
        finally:
            self.phase = None
            with self._lock:
                self.busy = False

    def _enter(self, phase: str, plan: Plan) -> None:
        if phase == "canary":
            self._place("green", plan.version)
            self._route({"blue": 1.0 - plan.canary_weight, "green": plan.canary_weight}, "canary")
        elif phase == "blue_green":
            if self.pods.versions()["green"] != plan.version:
                self._place("green", plan.version)
            self._route({"blue": 0.0, "green": 1.0}, "blue_green")
        else:
            self._place("blue", plan.version)
            self._route(REST_WEIGHTS, "full_switch")

    def _watch(self, phase: str, hold_s: float, plan: Plan, ignored: list[str]) -> Check | None:
        end = time.monotonic() + hold_s
        seen: set[str] = set()
        poll_s = self.config.scrape_interval_s / 2
        blind = False
        while not self._cancel.is_set():
            try:
                results = evaluate(self.triggers, self.value_of)
            except HttpError as exc:
                # Without Prometheus no trigger can hold: say so once, keep trying.
                if not blind:
                    self.record("monitoring_unavailable", phase=phase, version=plan.version, error=str(exc))
                blind = True
                results = []
            for result in results:
                if not result.holds or result.trigger in seen:
                    continue
                seen.add(result.trigger)
                self.record(
                    "trigger_held",
                    phase=phase,
                    version=plan.version,
                    auto_rollback=plan.auto_rollback,
                    **result.to_json(),
                )
                if plan.auto_rollback:
                    return result
                ignored.append(result.trigger)
            left = end - time.monotonic()
            if left <= 0:
                return None
            self._cancel.wait(min(poll_s, left))
        return None

    # --- rollback -------------------------------------------------------------

    def rollback(self, reason: str, mode: str) -> dict[str, Any]:
        """Roll back now (stopping a deployment in progress); returns the finished event."""
        with self._lock:
            if self.previous_version is None:
                raise RolloutError(
                    f"nothing to roll back: version {self.live_version} is live and no deployment is in progress"
                )
            phase = self.phase
            self._cancel.set()
        future: Future[dict[str, Any]] = self._worker.submit(self._rollback, reason, mode, phase)
        return future.result()

    def _rollback(
        self, reason: str, mode: str, phase: str | None, trigger: Check | None = None
    ) -> dict[str, Any]:
        start = time.monotonic()
        target = self.previous_version or self.stable_version
        from_version = self.plan.version if self.plan is not None else self.live_version
        self.record(
            "rollback_started",
            reason=reason,
            mode=mode,
            auto=mode == "auto",
            phase=phase,
            from_version=from_version,
            to_version=target,
            trigger=None if trigger is None else trigger.to_json(),
        )
        if self.pods.versions()["blue"] != target:
            self._place("blue", target)
        self._route({"blue": 1.0, "green": 0.0}, "rollback")
        restored_s = time.monotonic() - start
        if self.pods.versions()["green"] != target:
            self._place("green", target)
        self._route(REST_WEIGHTS, "rollback")
        self.live_version = target
        self.previous_version = None
        return self.record(
            "rollback_finished",
            version=target,
            from_version=from_version,
            reason=reason,
            mode=mode,
            traffic_restored_s=round(restored_s, 3),
            duration_s=round(time.monotonic() - start, 3),
        )

    def close(self) -> None:
        self._cancel.set()
        self._worker.shutdown(wait=True, cancel_futures=True)
