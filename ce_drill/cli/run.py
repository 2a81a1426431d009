"""``ce-drill run SCENARIO``: a real chaos drill against the local staging stack, judged against the manual."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from ce_drill.cli.common import EXIT_FAILED, EXIT_INTERRUPTED, echo_json
from ce_drill.cli.timescale import drill_time_scale
from ce_drill.drill.scorecard import Scorecard

_STYLE = {"passed": "green", "failed": "bold red", "error": "yellow"}


@click.command("run")
@click.argument("scenario")
@click.option("--target", type=click.Choice(["local"]), default="local", show_default=True,
              help="Where to drill: the local staging stack.")  # fmt: skip
@drill_time_scale("Run manual time K times faster.")
@click.option("--break", "breaks", multiple=True, metavar="PATH",
              help="Switch a safety path off on purpose: detection, rollback, restart, lock-release.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Keep journal, scorecard, JUnit, timeline chart and report here (default reports/drill-SCENARIO).")  # fmt: skip
@click.option("--quiet", is_flag=True, help="No live progress.")
def command(
    *, scenario: str, target: str, time_scale: float | None, breaks: tuple[str, ...], as_json: bool,
    out_dir: Path | None, quiet: bool,
) -> None:  # fmt: skip
    """Inject SCENARIO (memory-leak, db-lock-contention, oom) into the staging stack and judge it.

    The target is the local stack (a Kubernetes staging cluster is not supported yet).

    Exit 0 when every check passes, 1 when one fails, 2 on bad input, 130 when interrupted
    (the fault is removed first).
    """
    from ce_drill.drill.runner import DrillInterrupted, run_drill

    del target  # one target for now: the local stack

    out = out_dir or Path("reports") / f"drill-{Path(scenario).stem}"
    try:
        card = run_drill(scenario, time_scale=time_scale, breaks=breaks, out=out, progress=not quiet)
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
