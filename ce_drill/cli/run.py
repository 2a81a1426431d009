"""``ce-drill run SCENARIO``: a real chaos drill against the local staging stack or a staging cluster, judged against the manual."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from ce_drill.cli.common import EXIT_FAILED, EXIT_INTERRUPTED, echo_json
from ce_drill.cli.timescale import drill_time_scale
from ce_drill.drill.scorecard import Scorecard
from ce_drill.drill.signals import sigterm_interrupts
from sim.errors import InputError

_STYLE = {"passed": "green", "failed": "bold red", "error": "yellow"}


@contextmanager
def _stack_left(stop: bool) -> Iterator[None]:
    """After the drill, stop the local stack (``--down``) or say that it is still up and how to stop it."""
    try:
        yield
    except InputError:
        raise  # bad input: nothing ran, nothing to say about the stack
    except BaseException:
        _say_where_the_stack_is(stop)
        raise
    _say_where_the_stack_is(stop)


def _say_where_the_stack_is(stop: bool) -> None:
    from ce_drill.stack import Stack

    stack = Stack()
    if stop:
        stack.down()
        click.echo(f"ce-drill: stack in {stack.run_dir} stopped", err=True)
    elif stack.state() is not None:
        click.echo(
            f"ce-drill: the stack is still up in {stack.run_dir} (next drills reuse it); "
            "stop it with `ce-drill stack down`",
            err=True,
        )


@click.command("run")
@click.argument("scenario")
@click.option("--target", type=click.Choice(["local", "k8s"]), default="local", show_default=True,
              help="Where to drill: the local staging stack, or a Kubernetes staging cluster (with --config).")  # fmt: skip
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path),
              help="The drill config of a cluster target (ce-drill.k8s.yaml; see docs/k8s.md).")  # fmt: skip
@click.option("--dry-run", is_flag=True,
              help="Cluster target: resolve it, check every permission, print what would be done; change nothing.")  # fmt: skip
@drill_time_scale("Run manual time K times faster.")
@click.option("--break", "breaks", multiple=True, metavar="PATH",
              help="Switch a safety path off on purpose: detection, rollback, restart, lock-release.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Keep journal, scorecard, JUnit, timeline chart and report here (default reports/drill-SCENARIO).")  # fmt: skip
@click.option("--quiet", is_flag=True, help="No live progress.")
@click.option(
    "--down", "stop_stack", is_flag=True, help="Stop the local stack after the drill (default: leave it up)."
)
def command(
    *, scenario: str, target: str, config_file: Path | None, dry_run: bool, time_scale: float | None,
    breaks: tuple[str, ...], as_json: bool, out_dir: Path | None, quiet: bool, stop_stack: bool,
) -> None:  # fmt: skip
    """Inject SCENARIO (memory-leak, db-lock-contention, oom) into the staging stack and judge it.

    The target is the local stack, or with --target k8s --config FILE a Kubernetes staging
    cluster (its allowlist enforced before every change; --dry-run changes nothing).

    Exit 0 when every check passes, 1 when one fails (or, with --dry-run, a permission is
    missing), 2 on bad input or a target outside the allowlist, 130 when interrupted or
    stopped by the kill switch (the fault is removed first).
    """
    from ce_drill.drill.runner import DrillInterrupted, run_drill

    out = out_dir or Path("reports") / f"drill-{Path(scenario).stem}"
    if target == "k8s":
        _run_on_cluster(scenario, config_file, dry_run=dry_run, breaks=breaks, time_scale=time_scale,
                        as_json=as_json, out=out, quiet=quiet)  # fmt: skip
        return
    if config_file is not None or dry_run:
        raise InputError("--target", None, "", "--config and --dry-run are for --target k8s", target)
    try:
        with sigterm_interrupts(), _stack_left(stop_stack):
            card = run_drill(scenario, time_scale=time_scale, breaks=breaks, out=out, progress=not quiet)
    except KeyboardInterrupt:
        # Stopped before any fault was injected (the stack starting, or waiting for it to be quiet).
        click.echo(
            f"ce-drill: {scenario} interrupted before its fault was injected; nothing to remove", err=True
        )
        raise click.exceptions.Exit(EXIT_INTERRUPTED) from None
    except DrillInterrupted as stop:
        click.echo(f"ce-drill: {scenario} interrupted; faults removed, stack healthy ({out})", err=True)
        if as_json:
            echo_json(stop.card.to_json())
        raise click.exceptions.Exit(EXIT_INTERRUPTED) from None
    if as_json:
        echo_json(card.to_json())
    else:
        Console().print(scorecard_table(card))
        click.echo(f"artefacts: {out}")
    if not card.passed:
        raise click.exceptions.Exit(EXIT_FAILED)


def _run_on_cluster(
    scenario: str, config_file: Path | None, *, dry_run: bool, breaks: tuple[str, ...], time_scale: float | None,
    as_json: bool, out: Path, quiet: bool,
) -> None:  # fmt: skip
    from ce_drill.k8s import runner

    if config_file is None:
        raise InputError("--config", None, "", "--target k8s needs the drill config (--config FILE)")
    if time_scale is not None:
        raise InputError("--time-scale", None, "", "a cluster's time scale is the drill config's time_scale")
    try:
        with sigterm_interrupts():
            prepared = runner.prepare(scenario, config_file, breaks, out)
            if dry_run:
                report = runner.dry_run(prepared)
                if as_json:
                    echo_json(report.to_json())
                else:
                    click.echo("\n".join(report.lines()))
                if not report.allowed:
                    raise click.exceptions.Exit(EXIT_FAILED)
                return
            card = runner.run(prepared, progress=not quiet)
    except KeyboardInterrupt:
        # Stopped while the target was resolved and checked, or while waiting for a quiet cluster.
        click.echo(
            f"ce-drill: {scenario} interrupted before its fault was injected; nothing to remove", err=True
        )
        raise click.exceptions.Exit(EXIT_INTERRUPTED) from None
    except runner.ClusterDrillStopped as stop:
        click.echo(f"ce-drill: {scenario} {stop.reason}; rollbacks played, faults removed ({out})", err=True)
        if as_json:
            echo_json(stop.card.to_json())
        raise click.exceptions.Exit(EXIT_INTERRUPTED) from None
    if as_json:
        echo_json(card.to_json())
    else:
        Console().print(scorecard_table(card))
        click.echo(f"artefacts: {out}")
    if not card.passed:
        raise click.exceptions.Exit(EXIT_FAILED)


def scorecard_table(card: Scorecard) -> Table:
    verdict = "[green]PASSED[/]" if card.passed else "[bold red]FAILED[/]"
    table = Table(title=f"{card.scenario} at time scale {card.scale:g}: {verdict}")
    for col in ("check", "status", "measured", "target", "manual"):
        table.add_column(col)
    for c in card.checks:
        manual = "" if c.source is None else f"L{c.source.first_line}"
        table.add_row(c.title, f"[{_STYLE[c.status]}]{c.status}[/]", c.measured, c.target, manual)
    if card.broken:
        table.caption = "broken on purpose: " + ", ".join(card.broken)
    return table
