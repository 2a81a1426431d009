"""The deployer: the staging stack's control plane.

It plays what Kubernetes and the release pipeline do in production: it runs
the stand-in pods (restarting them after a crash or an OOM kill), decides
which pod gets how much traffic, rolls new versions out through the manual's
phases and rolls them back — automatically when an auto-rollback trigger
holds, or on request (``ce-drill stack rollback``).

Its control API on 127.0.0.1:

* ``GET /health``, ``GET /status`` — live version, deployment phase, weights, pods;
* ``POST /deploy`` ``{"version", "auto_rollback", "canary_weight", "leak_bytes_per_request",
  "leak_bytes_per_s"}`` — start a deployment (202), 409 while one runs;
* ``POST /rollback`` ``{"reason", "mode"}`` — roll back now; answers when done.

Run: ``python -m ce_drill.stack.deployer RUN_DIR --mechanism M [--group DIR]``; the
playbook and every duration come from the stack's drill plan (``RUN_DIR/plan.json``).
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from ce_drill.plan import DrillPlan
from ce_drill.rules.contract import latency_buckets
from ce_drill.stack import timeline
from ce_drill.stack.config import StackConfig, url
from ce_drill.stack.layout import Layout
from ce_drill.stack.memlimit import MECHANISMS
from ce_drill.stack.pods import Supervisor
from ce_drill.stack.prometheus import value
from ce_drill.stack.rollout import Plan, Rollout, RolloutError, stable_version
from ce_drill.stack.standin.spec import Release
from ce_drill.stack.triggers import validate
from ce_drill.stack.web import JsonHandler, serve
from sim.playbook import Playbook

SOURCE = "deployer"


def _number(
    body: dict[str, Any], key: str, default: float, *, whole: bool = False, most: float | None = None
) -> float:
    value = body.get(key, default)
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
    if ok and whole and not isinstance(value, int):
        ok = False
    if not ok or (most is not None and value > most):
        kind = (
            "a whole number of bytes" if whole else f"a number between 0 and {most:g}" if most else "a number"
        )
        raise ValueError(f"{key}: expected {kind} (got {value!r})")
    return float(value)


def parse_plan(body: Any, config: StackConfig) -> Plan:
    """A deploy request, validated; raises ValueError naming the bad field."""
    if not isinstance(body, dict) or not isinstance(body.get("version"), str) or not body["version"]:
        raise ValueError("version: expected a non-empty string")
    weight = body.get("canary_weight", config.canary_weight)
    if not isinstance(weight, int | float) or isinstance(weight, bool) or not 0 < weight < 1:
        raise ValueError(f"canary_weight: expected a share between 0 and 1 (got {weight!r})")
    auto = body.get("auto_rollback", True)
    if not isinstance(auto, bool):
        raise ValueError(f"auto_rollback: expected true or false (got {auto!r})")
    release = Release(
        version=body["version"],
        leak_bytes_per_request=int(
            _number(body, "leak_bytes_per_request", config.leak_bytes_per_request, whole=True)
        ),
        leak_bytes_per_s=int(_number(body, "leak_bytes_per_s", 0, whole=True)),
        error_ratio=_number(body, "error_ratio", 0.0, most=1.0),
    )
    return Plan(release, auto, float(weight))


def make_handler(
    rollout: Rollout, supervisor: Supervisor, config: StackConfig, started: threading.Event
) -> type[JsonHandler]:
    class Handler(JsonHandler):
        def do_GET(self) -> None:  # noqa: N802 -- http.server's naming
            if self.path == "/health":
                # Healthy once both slots have a ready pod and traffic is routed.
                ok = started.is_set()
                self.send_json(200 if ok else 503, {"status": "ok" if ok else "starting", **rollout.status()})
            elif self.path == "/status":
                self.send_json(200, {**rollout.status(), "pods": supervisor.table()})
            else:
                self.send_json(404, {"error": f"no route {self.path}"})

        def do_POST(self) -> None:  # noqa: N802 -- http.server's naming
            try:
                body = self.read_json()
            except ValueError:
                self.send_json(400, {"error": "body is not JSON"})
                return
            try:
                if self.path == "/deploy":
                    plan = parse_plan(body, config)
                    rollout.deploy(plan)
                    self.send_json(202, {"accepted": True, "plan": plan.to_json()})
                elif self.path == "/rollback":
                    reason = body.get("reason") if isinstance(body, dict) else None
                    mode = body.get("mode", "emergency") if isinstance(body, dict) else None
                    if not isinstance(reason, str) or not reason or mode not in ("emergency", "planned"):
                        raise ValueError("expected {reason: text, mode: emergency|planned}")
                    self.send_json(200, rollout.rollback(reason, mode))
                else:
                    self.send_json(404, {"error": f"no route {self.path}"})
            except ValueError as exc:
                self.send_json(400, {"error": str(exc)})
            except RolloutError as exc:
                self.send_json(409, {"error": str(exc)})

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ce_drill.stack.deployer")
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--mechanism", choices=sorted(str(m) for m in MECHANISMS), required=True)
    parser.add_argument("--group", type=Path, default=None)
    args = parser.parse_args(argv)
    layout = Layout(args.run_dir)
    config = StackConfig.from_json(json.loads(layout.config.read_text()))
    plan = DrillPlan.load(layout.plan)
    pb = Playbook.load(plan.playbook_path)

    def record(kind: str, **data: Any) -> dict[str, Any]:
        return timeline.record(layout.timeline, SOURCE, kind, **data)

    supervisor = Supervisor(
        config=config,
        plan=plan,
        layout=layout,
        mechanism=MECHANISMS[args.mechanism],
        group=args.group,
        buckets=latency_buckets(pb),
        record=record,
    )

    def set_weights(weights: dict[str, float]) -> None:
        versions = supervisor.versions()
        slots = {
            slot: {
                "port": supervisor.ports[slot],
                "weight": weights.get(slot, 0.0),
                "version": versions[slot],
            }
            for slot in supervisor.slots
        }
        tmp = layout.routing.with_suffix(".tmp")
        tmp.write_text(json.dumps({"slots": slots}, indent=2))
        tmp.replace(layout.routing)

    prometheus_url = url(config.ports.prometheus)
    rollout = Rollout(
        supervisor=supervisor,
        config=config,
        phases=plan.phases,
        triggers=validate(pb),
        stable_version=stable_version(pb),
        value_of=lambda metric: value(prometheus_url, metric),
        set_weights=set_weights,
        record=record,
    )
    started = threading.Event()
    stop = threading.Event()
    server = serve(config.ports.deployer, make_handler(rollout, supervisor, config, started))
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()

    def on_term(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_term)
    try:
        rollout.start()
        started.set()
        while not stop.wait(0.5):
            pass
    finally:
        server.shutdown()
        server.server_close()
        rollout.close()
        supervisor.stop_all()


if __name__ == "__main__":
    main()
