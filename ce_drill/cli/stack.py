"""``ce-drill stack``: install, start, inspect, deploy to, roll back and stop the local staging stack."""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from ce_drill.cli.common import EXIT_FAILED, echo_json
from ce_drill.cli.timescale import drill_time_scale

if TYPE_CHECKING:
    from ce_drill.stack import Stack

F = TypeVar("F", bound=Callable[..., Any])

_RUN_DIR = click.option(
    "--run-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The stack's directory (default: $CE_DRILL_HOME/stack, else .ce-drill/stack here).",
)
_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


def _failures(command: F) -> F:
    """A component that fails is a failed check (exit 1, one line); bad input stays exit 2."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        from ce_drill.stack import StackError
        from ce_drill.stack.install import InstallError

        try:
            return command(*args, **kwargs)
        except (StackError, InstallError) as exc:
            click.echo(f"ce-drill: {exc}", err=True)
            sys.exit(EXIT_FAILED)

    return run  # type: ignore[return-value]


def _stack(run_dir: Path | None) -> Stack:
    from ce_drill.stack import Stack

    return Stack(run_dir)


@click.group("stack")
def group() -> None:
    """The local staging stack: PostgreSQL, Prometheus, Alertmanager, the stand-in service,
    a deployer and a load generator on 127.0.0.1."""


@group.command()
@_failures
def install() -> None:
    """Install PostgreSQL, Prometheus, Alertmanager (promtool, amtool) and stress-ng with apt-get."""
    from ce_drill.stack.install import install as run_install

    result = run_install(lambda line: click.echo(f"stack install: {line}"))
    if result.installed:
        click.echo(f"stack install: installed {' '.join(result.installed)}")
    else:
        click.echo(f"stack install: already installed: {' '.join(result.already)}")


@group.command()
@drill_time_scale("Replay the manual K times faster (rules, rollback phases, restarts).")
@click.option(
    "--port-base", type=click.IntRange(1024, 65000), default=None, help="First port of the stack's block."
)
@click.option(
    "--playbook",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Playbook to generate rules from (default: the bundled manual).",
)
@_RUN_DIR
@_JSON
@_failures
def up(
    time_scale: float | None,
    port_base: int | None,
    playbook: Path | None,
    run_dir: Path | None,
    as_json: bool,
) -> None:
    """Start every component, or do nothing if a healthy stack is already up."""
    from ce_drill.stack import Ports

    console = Console(stderr=True)
    start = time.monotonic()

    def progress(name: str, what: str) -> None:
        if not as_json and what == "ready":
            console.print(f"  [green]✓[/green] {name} ready ({time.monotonic() - start:.1f}s)")

    stack = _stack(run_dir)
    ports = None if port_base is None else Ports.from_base(port_base)
    spinner = console.status("starting the stack…", spinner="dots") if not as_json else nullcontext()
    with spinner:
        result = stack.up(time_scale, ports=ports, playbook=playbook, progress=progress)
    state = result.state
    if as_json:
        echo_json({"already_up": result.already_up, **state.to_json()})
        return
    if result.already_up:
        click.echo(
            f"stack already up in {state.run_dir} (healthy, time scale {state.time_scale:g}); nothing to do"
        )
        return
    note = " (replaced a broken one)" if result.replaced_broken else ""
    click.echo(f"stack up in {state.ready_s:.1f}s{note}: {state.run_dir}, time scale {state.time_scale:g}")
    for name, address in state.urls.items():
        click.echo(f"  {name:<12} {address}")


@group.command()
@_RUN_DIR
@_JSON
@_failures
def down(run_dir: Path | None, as_json: bool) -> None:
    """Stop every component (SIGTERM, then SIGKILL) and remove its cgroups; logs stay.

    A drill that was killed outright is cleaned up after first (its experiment stopped, its faults
    removed); a drill still running keeps the stack (exit 2).
    """
    from ce_drill.drill import claim

    stack = _stack(run_dir)
    if stack.state() is not None:
        note = claim.recover(stack)
        if note and not as_json:
            click.echo(f"stack down: {note}")
    result = stack.down()
    if as_json:
        echo_json({"was_running": result.was_running, "stopped": result.stopped, "killed": result.killed})
    elif not result.was_running:
        click.echo("stack down: nothing was running")
    else:
        killed = f"; had to kill {', '.join(result.killed)}" if result.killed else ""
        click.echo(f"stack down: stopped {len(result.stopped)} components{killed}")


@group.command()
@_RUN_DIR
@_JSON
@click.pass_context
@_failures
def status(ctx: click.Context, run_dir: Path | None, as_json: bool) -> None:
    """Each component's pid, URL and health; exit 1 if any is unhealthy."""
    stack = _stack(run_dir)
    result = stack.status()
    if as_json:
        echo_json(result.to_json())
    elif result.state is None:
        click.echo(f"no stack is up in {stack.run_dir}")
    else:
        table = Table(title=f"stack in {stack.run_dir} (time scale {result.state.time_scale:g})")
        for col in ("component", "health", "pid", "url", "detail"):
            table.add_column(col)
        for comp in result.components:
            extra = comp.info
            detail = comp.detail
            if "version" in extra:
                detail += (
                    f", serves {extra['version']}, memory limit by {extra.get('memory_limit_mechanism')}"
                )
            if extra.get("live_version"):
                detail += f", live {extra['live_version']}" + (
                    f", phase {extra['phase']}" if extra.get("phase") else ""
                )
            mark = "[green]healthy[/green]" if comp.healthy else "[red]UNHEALTHY[/red]"
            table.add_row(comp.name, mark, str(comp.pid or "-"), comp.url or "-", detail)
        Console().print(table)
    if not result.healthy:
        ctx.exit(EXIT_FAILED)


def _summary(data: dict[str, Any]) -> str:
    skip = {"at", "t_s", "source", "kind", "payload"}
    parts = []
    for key, value in data.items():
        if key in skip or value in (None, [], {}):
            continue
        shown = value
        if key == "alerts":
            shown = ", ".join(f"{a.get('alertname')}[{a.get('severity')}]" for a in value)
        parts.append(f"{key}={shown}")
    return " ".join(parts)


@group.command()
@click.option("--kind", "kinds", multiple=True, help="Only events of this kind (repeatable).")
@_RUN_DIR
@_JSON
@_failures
def timeline(kinds: tuple[str, ...], run_dir: Path | None, as_json: bool) -> None:
    """The stack's event timeline: notifications, rollout steps, rollbacks, pod restarts and OOM kills."""
    line = _stack(run_dir).timeline()
    events = [e for e in line if not kinds or e.kind in kinds]
    if as_json:
        payload = line.to_json()
        payload["events"] = [e.to_json() for e in events]
        echo_json(payload)
        return
    table = Table(title=f"timeline (origin {line.to_json()['origin']})")
    for col in ("t_s", "source", "kind", "what"):
        table.add_column(col)
    for event in events:
        table.add_row(f"{event.t_s:.3f}", event.source, event.kind, _summary(event.to_json()))
    Console().print(table)


@group.command()
@click.argument("version")
@click.option(
    "--no-auto-rollback",
    is_flag=True,
    help="Record triggers that hold but do not roll back (a drill breaking the safety net).",
)
@click.option(
    "--canary-weight",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=None,
    help="Share of traffic to the canary.",
)
@click.option(
    "--leak-per-request",
    type=click.IntRange(min=0),
    default=None,
    help="Bytes the version's self-optimisation cache keeps per request.",
)
@click.option(
    "--leak-per-second", type=click.IntRange(min=0), default=None, help="Bytes it keeps per second besides."
)
@click.option(
    "--error-ratio",
    type=click.FloatRange(0, 1),
    default=None,
    help="Make the release a bad build that fails this share of agent coordinations.",
)
@click.option(
    "--wait/--no-wait", default=True, show_default=True, help="Follow the rollout until it finishes."
)
@_RUN_DIR
@_JSON
@click.pass_context
@_failures
def deploy(
    ctx: click.Context,
    *,
    version: str,
    no_auto_rollback: bool,
    canary_weight: float | None,
    leak_per_request: int | None,
    leak_per_second: int | None,
    error_ratio: float | None,
    wait: bool,
    run_dir: Path | None,
    as_json: bool,
) -> None:
    """Roll VERSION out: canary → blue-green → full switch; exit 1 if it was rolled back."""
    from ce_drill.stack import StackError

    stack = _stack(run_dir)
    since = time.time()
    plan = stack.deploy(
        version,
        auto_rollback=not no_auto_rollback,
        canary_weight=canary_weight,
        leak_bytes_per_request=leak_per_request,
        leak_bytes_per_s=leak_per_second,
        error_ratio=error_ratio,
    )
    if not wait:
        echo_json(plan) if as_json else click.echo(f"deploying {version}: {plan}")
        return
    if stack.state() is None:
        raise StackError(f"the stack in {stack.run_dir} went down during the deployment")
    # Every phase is held for its rollback delay; pods take seconds to start on top.
    deadline = time.monotonic() + sum(p.hold_wall_s for p in stack.plan().phases) + 120
    shown = 0
    finished = None
    while finished is None:
        events = [e for e in stack.timeline().since(since) if e.source == "deployer"]
        if not as_json:
            for event in events[shown:]:
                click.echo(f"  {event.t_s:9.3f}  {event.kind:<17} {_summary(event.to_json())}")
            shown = len(events)
        finished = next(
            (e for e in events if e.kind == "deploy_finished" and e.get("version") == version), None
        )
        if finished is None:
            if time.monotonic() > deadline:
                raise StackError(f"deploy {version}: no outcome before the phases' time ran out")
            time.sleep(0.2)
    outcome = finished.get("outcome")
    if as_json:
        echo_json({"plan": plan, "outcome": outcome, "events": [e.to_json() for e in events]})
    else:
        click.echo(f"deploy {version}: {outcome} in {finished.get('duration_s')}s")
    if outcome != "completed":
        ctx.exit(EXIT_FAILED)


@group.command()
@click.option("-r", "--reason", required=True, help="Why (recorded in the timeline).")
@click.option(
    "-f", "--force", is_flag=True, help="Emergency rollback: no confirmation (the manual's P1 `-f`)."
)
@click.option("-y", "--yes", is_flag=True, help="Planned rollback, confirmed here (the manual's P2/P3 `-y`).")
@_RUN_DIR
@_JSON
@_failures
def rollback(reason: str, force: bool, yes: bool, run_dir: Path | None, as_json: bool) -> None:
    """Roll back to the previous version now, like emergency-rollback.sh -r REASON [-f|-y]."""
    from ce_drill.stack import StackUsageError

    if force and yes:
        raise StackUsageError("--force and --yes are different rollbacks (emergency, planned); choose one")
    if not force and not yes:
        if not sys.stdin.isatty():
            raise StackUsageError("refusing to roll back without confirmation; pass --force or --yes")
        click.confirm(f"Roll back now ({reason})?", abort=True)
    event = _stack(run_dir).rollback(reason, mode="emergency" if force else "planned")
    if as_json:
        echo_json(event)
        return
    click.echo(
        f"rolled back from {event.get('from_version')} to {event.get('version')} in {event.get('duration_s')}s "
        f"(traffic on {event.get('version')} after {event.get('traffic_restored_s')}s)"
    )
