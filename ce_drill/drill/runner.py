"""Run a drill: bring the stack up, run the experiment in a subprocess, judge, report, clean up.

The Chaos Toolkit run happens in its own process (``chaos run
--rollback-strategy always``: its exit code is not a verdict, and without
that strategy it skips rollbacks on an interrupted run).  While it runs, the
stack's timeline shows progress.  Ctrl-C or SIGTERM at any point stops the
experiment, lets its rollbacks run, then removes whatever fault is still
there and waits for the stack to be healthy again: exit 130.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from pathlib import Path
from types import FrameType
from typing import Any

from rich.console import Console
from rich.live import Live

from ce_drill.chaos import actions
from ce_drill.drill import claim, scenarios
from ce_drill.drill.evidence import Journal, gather
from ce_drill.drill.judge import Expectation, judge
from ce_drill.drill.scorecard import Scorecard, junit_xml
from ce_drill.plan import DrillPlan
from ce_drill.plan.timing import DEFAULT_DRILL_TIME_SCALE
from ce_drill.prom import Prometheus, PrometheusError
from ce_drill.stack import Stack
from ce_drill.stack.config import Ports, default_run_dir
from ce_drill.stack.procs import ProcRef
from ce_drill.stack.timeline import drill_phase, notified_firing
from sim.playbook import bundled_path
from sim.units import format_duration

STOP_GRACE_S = 120.0
SETTLE_WINDOWS = 8
"""A quiet stack is waited for at most this many range windows (a previous drill's alerts
resolve once their window has no bad samples left)."""


class DrillInterrupted(Exception):  # noqa: N818 - a stop, not an error
    """The drill was stopped by a signal; faults were removed.  Carries the partial scorecard."""

    def __init__(self, card: Scorecard) -> None:
        super().__init__("interrupted")
        self.card = card


def run_drill(
    scenario: str,
    *,
    time_scale: float | None = None,
    breaks: tuple[str, ...] = (),
    out: Path,
    progress: bool = True,
    run_dir: Path | None = None,
) -> Scorecard:
    drill = scenarios.load(scenario)
    scenarios.check_breaks(drill, breaks)
    expect = Expectation.from_extension(drill.expect)
    out.mkdir(parents=True, exist_ok=True)
    console = Console(stderr=True, quiet=not progress)
    base_dir = run_dir or default_run_dir()
    playbook_path = _playbook_for(drill, breaks, out, Stack(base_dir))
    stack, broken_stack = _stack_for(breaks, base_dir, time_scale, playbook_path)
    # Everything below — durations passed to the experiment, the judge's targets, the report's
    # manual time — comes from the plan the stack was started with, never from a playbook of its own.
    plan = stack.plan()
    _settle(stack, plan, console)
    started = time.time()
    journal_path = out / "journal.json"
    journal_path.unlink(missing_ok=True)
    env = {**os.environ, "CE_DRILL_RUN_DIR": str(stack.run_dir), "CE_DRILL_BREAKS": ",".join(breaks)}
    variables = plan.experiment_vars(expect.alerts, expect.severity)
    command = [
        str(Path(sys.executable).with_name("chaos")), "--no-version-check", "--log-file", str(out / "chaos.log"),
        "run", "--rollback-strategy", "always", "--journal-path", str(journal_path),
        *(arg for key, value in variables.items() for arg in ("--var", f"{key}:float={value}")),
        str(drill.path),
    ]  # fmt: skip
    rto_manual_s = plan.severity(expect.severity).rto_manual_s
    line = lambda stopping: _status_line(stack, plan, drill.name, started, rto_manual_s, stopping)  # noqa: E731
    runner = ProcRef.of(os.getpid())
    assert runner is not None

    def started_chaos(pid: int) -> None:
        claim.write(stack, claim.Claim(drill.name, runner, ProcRef.of(pid)))

    claim.write(stack, claim.Claim(drill.name, runner, None))
    try:
        interrupted = _run_chaos(command, env, console, line, started_chaos)
        ended = time.time()
        if not interrupted:
            _await_notifications(stack, plan, expect.alerts, started, console)
        return _finish(stack, plan, drill, expect, breaks, out, journal_path, started, ended, interrupted)
    except KeyboardInterrupt:
        # Stopped after the experiment ended, while the drill was being judged: its rollbacks
        # have played, but a break may have left a fault, so the cleanup is the same as mid-run.
        ended = time.time()
        return _finish(stack, plan, drill, expect, breaks, out, journal_path, started, ended, True)
    finally:
        claim.release(stack)
        if broken_stack:
            stack.down()


def _finish(  # noqa: PLR0917 - the drill's state, handed over once
    stack: Stack, plan: DrillPlan, drill: scenarios.Drill, expect: Expectation, breaks: tuple[str, ...],
    out: Path, journal_path: Path, started: float, ended: float, interrupted: bool,
) -> Scorecard:  # fmt: skip
    """Judge the drill that just ended (or record its interruption), remove its faults, write its report."""
    if interrupted:
        card = Scorecard(drill.name, plan.timing, broken=breaks, wall_s=ended - started, interrupted=True,
                         playbook=plan.playbook_path)  # fmt: skip
        remove_faults(stack)
        _write(out, card, stack, started)
        raise DrillInterrupted(card)
    evidence = gather(
        stack, plan, Journal.load(journal_path), started_ts=started, ended_ts=ended, alerts=expect.alerts
    )
    (out / "evidence.json").write_text(json.dumps(evidence.to_json(), ensure_ascii=False), encoding="utf-8")
    (out / "plan.json").write_text(plan.model_dump_json(indent=2), encoding="utf-8")
    card = judge(plan, evidence, expect, scenario=drill.name, broken=breaks)
    # Whatever a break left in place goes now, after it was judged.
    remove_faults(stack)
    _write(out, card, stack, started)
    return card


def _stack_for(
    breaks: tuple[str, ...], base_dir: Path, time_scale: float | None, playbook_path: Path | None
) -> tuple[Stack, bool]:
    """The stack to drill: the usual one, or a fresh one of its own when a break changes the stack itself."""
    if not {"detection", "restart"} & set(breaks):
        stack = Stack(base_dir)
        _recover(stack)
        stack.up(time_scale or DEFAULT_DRILL_TIME_SCALE) if stack.state() is None else stack.up(time_scale)
        return stack, False
    stack = Stack(base_dir.with_name(base_dir.name + "-break"))
    _recover(stack)
    stack.down()
    ports = Ports.free()
    stack.up(
        time_scale or DEFAULT_DRILL_TIME_SCALE,
        ports=ports,
        playbook=playbook_path,
        restart_pods="restart" not in breaks,
    )
    return stack, True


def _run_chaos(
    command: list[str], env: dict[str, str], console: Console, line: Callable[[bool], str],
    on_start: Callable[[int], None],
) -> bool:  # fmt: skip
    """Run ``chaos run`` to its end; on SIGINT/SIGTERM stop it (its rollbacks play).  True if interrupted."""
    interrupted: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        interrupted.append(signum)

    with ExitStack() as restore:
        for sig in (signal.SIGINT, signal.SIGTERM):
            restore.callback(signal.signal, sig, signal.signal(sig, on_signal))
        proc = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        on_start(proc.pid)
        with Live(console=console, refresh_per_second=4, transient=True) as live:
            stopping_since: float | None = None
            while proc.poll() is None:
                if interrupted and stopping_since is None:
                    stopping_since = time.time()
                    proc.send_signal(signal.SIGTERM)  # chaoslib stops and plays the rollbacks
                if stopping_since is not None and time.time() - stopping_since > STOP_GRACE_S:
                    proc.kill()
                live.update(line(bool(interrupted)))
                time.sleep(0.25)
    return bool(interrupted)


def _settle(stack: Stack, plan: DrillPlan, console: Console) -> None:
    """Wait for a quiet stack: steady state holding and no alert firing or pending.

    A fresh stack has no recorded rates for a window or so; a previous drill's
    alerts take a window to resolve.  Judging a drill on a stack still echoing
    the last one would credit or blame it for someone else's fault.
    """
    from ce_drill.chaos.probes import service_healthy, verification_holds

    config = {"ce_drill_run_dir": str(stack.run_dir)}
    prometheus = _prometheus(stack)
    deadline = time.time() + SETTLE_WINDOWS * plan.range_window_wall_s
    with console.status("waiting for a quiet stack before injecting anything…"):
        while time.time() < deadline:
            try:
                alerts: list[Any] = prometheus.alerts()
            except (PrometheusError, KeyError):
                alerts = [None]
            if (
                not alerts
                and service_healthy(configuration=config)
                and verification_holds(configuration=config)
            ):
                return
            time.sleep(1.0)


def _prometheus(stack: Stack) -> Prometheus:
    from ce_drill.chaos.context import url

    return Prometheus(url({"ce_drill_run_dir": str(stack.run_dir)}, "prometheus"))


def awaited(expected: Iterable[str], notified: set[str], active: set[str], fired: set[str]) -> set[str]:
    """The drill's alerts whose notification may still come: pending or fired in Prometheus, not yet notified."""
    return {name for name in expected if name not in notified and (name in active or name in fired)}


def _await_notifications(
    stack: Stack, plan: DrillPlan, alerts: Iterable[str], started: float, console: Console
) -> None:
    """After the experiment, wait for the notification of each of the drill's alerts that fired.

    Prometheus re-sends a resolved alert for 15 minutes, so Alertmanager keeps
    an earlier drill's aggregation group alive that long; an alert of the same
    name joins it and is notified at its next flush, up to a group interval
    after it fired, instead of a group wait.  The judge reads the firing time
    off the notification: a drill whose rollback ended before that flush
    would be judged as never fired.  Waited for at most a group interval and
    a notification deadline; an alert that never fired is not waited for.
    """
    expected = tuple(alerts)
    prometheus = _prometheus(stack)
    step = plan.evaluation_interval_s
    longest = max((a.notify_by_wall_s for n in expected if (a := plan.alert(n)) is not None), default=0.0)
    deadline = time.time() + plan.timing.group_interval_ms / 1000 + longest
    with console.status("waiting for the drill's alerts to reach their receivers…"):
        while time.time() < deadline:
            notified = notified_firing(stack.timeline().since(started))
            try:
                active = {str(a["labels"]["alertname"]) for a in prometheus.alerts()}
            except (PrometheusError, KeyError, TypeError):
                active = set(expected)  # unanswered: assume the worst and keep waiting
            fired = prometheus.fired([n for n in expected if n not in notified], started, time.time(), step)
            if not awaited(expected, notified, active, fired):
                return
            time.sleep(1.0)


def _playbook_for(drill: scenarios.Drill, breaks: tuple[str, ...], out: Path, usual: Stack) -> Path | None:
    """For ``--break detection``: a copy of the usual stack's playbook without the alerts this drill expects."""
    if "detection" not in breaks:
        return None
    from ce_drill.drill.breaks import without_alerts

    base = Path(usual.plan().playbook_path) if usual.state() is not None else bundled_path()
    path = out / "playbook-detection-broken.yaml"
    path.write_text(without_alerts(base, drill.expect.get("alerts", [])), encoding="utf-8")
    return path


def _recover(stack: Stack) -> None:
    """A drill killed outright (SIGKILL) left its experiment and faults on this stack: remove them first."""
    if stack.state() is None:
        claim.release(stack)
        return
    note = claim.recover(stack)
    if note:
        Console(stderr=True).print(f"[yellow]{note}[/]")


def remove_faults(stack: Stack) -> None:
    """Unconditional cleanup: the drill's faults are gone and the stack healthy when this returns."""
    config = {"ce_drill_run_dir": str(stack.run_dir)}
    if stack.state() is None:
        return
    steps = (
        lambda: actions.terminate_lock_holders(configuration=config),
        lambda: actions.clear_faults(configuration=config),
        lambda: actions.rollback_if_needed("drill_cleanup", configuration=config),
    )
    for step in steps:
        try:
            step()
        except Exception:
            continue
    deadline = time.time() + 60
    while time.time() < deadline and not stack.status().healthy:
        time.sleep(0.5)


def _status_line(  # noqa: PLR0917 - bound once in run_drill
    stack: Stack, plan: DrillPlan, name: str, started: float, rto_s: float, stopping: bool
) -> str:
    phase = drill_phase(stack.timeline().since(started))
    wall = time.time() - started
    manual = format_duration(round(plan.manual_s(wall)))
    prefix = "[yellow]stopping, removing faults…[/] " if stopping else ""
    return (
        f"{prefix}[bold]{name}[/] {phase} — {wall:5.1f} s wall = {manual} manual "
        f"(RTO {format_duration(round(rto_s))})"
    )


def _write(out: Path, card: Scorecard, stack: Stack, started: float) -> None:
    (out / "scorecard.json").write_text(
        json.dumps(card.to_json(), ensure_ascii=False, indent=2), encoding="utf-8"
    )
    (out / "junit.xml").write_text(junit_xml([card]), encoding="utf-8")
    events = [
        {"t_s": e.ts - started, "at": e.at, "source": e.source, "kind": e.kind, "data": e.data}
        for e in stack.timeline().since(started).events
    ]
    (out / "timeline.json").write_text(json.dumps(events, ensure_ascii=False, indent=2), encoding="utf-8")
    from ce_drill.report.drill import write_drill_report

    write_drill_report(out, card, events)
