"""``ce-drill gameday``: run a suite of drills against the staging stack and score them together, for CI.

Writes each drill's artefacts and report under ``--out/<scenario>/``, one
JUnit ``testsuite`` per drill to ``--junit`` (default ``--out/junit.xml``),
``index.html``/``index.md`` linking the drills, and ``gameday.json``.
Exits 0 when every drill passed, 1 when one failed (a crashed drill counts
as failed and the game day goes on), 130 when interrupted (after writing what
it has), 2 on bad input.
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from ce_drill.cli.common import EXIT_FAILED, EXIT_INTERRUPTED, echo_json
from ce_drill.cli.timescale import drill_time_scale
from ce_drill.drill.gameday import DEFAULT_SUITE, SUITES, DrillResult, UnknownSuiteError, run_gameday
from sim.errors import InputError

DEFAULT_OUT = Path("reports/gameday")


@click.command("gameday")
@click.option(
    "--suite",
    default=DEFAULT_SUITE,
    show_default=True,
    help="Which drills, in order (" + "; ".join(f"{k}: {' '.join(v)}" for k, v in SUITES.items()) + ").",
)
@click.option(
    "--junit",
    "junit_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="JUnit XML, one testsuite per drill (default: OUT/junit.xml).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_OUT,
    show_default=True,
    help="Where every drill's artefacts and the index report go.",
)
@drill_time_scale("Run the manual K times faster.")
@click.option("--json", "as_json", is_flag=True, help="Print gameday.json on stdout.")
def command(
    *, suite: str, junit_file: Path | None, out_dir: Path, time_scale: float | None, as_json: bool
) -> None:
    """Run a suite of drills in turn; JUnit XML and an index report of their verdicts."""
    console = Console(stderr=as_json)

    def started(scenario: str) -> None:
        console.print(f"[bold]drill {scenario}[/bold] …")

    def finished(result: DrillResult) -> None:
        card = result.card
        if card.passed:
            console.print(f"  [green]passed[/green] ({len(card.checks)} checks, {card.wall_s:.1f} s)")
            return
        why = result.error or ", ".join(c.id for c in card.failed_checks()) or "no checks"
        console.print(f"  [bold red]failed[/bold red]: {why} ({card.wall_s:.1f} s)")

    try:
        day = run_gameday(
            suite,
            out=out_dir,
            junit=junit_file,
            time_scale=time_scale,
            progress=not as_json,
            on_start=started,
            on_result=finished,
        )
    except UnknownSuiteError as exc:
        raise InputError(
            "--suite", None, "", f"unknown suite (known: {', '.join(SUITES)})", exc.name
        ) from None
    except OSError as exc:
        raise InputError(
            str(out_dir), None, "", f"cannot write the game day: {exc.strerror or exc}"
        ) from None
    if as_json:
        echo_json(day.to_json())
    else:
        verdict = "interrupted" if day.interrupted else ("passed" if day.passed else "failed")
        failed = [r.scenario for r in day.results if not r.card.passed]
        console.print(
            f"[bold]game day {suite}: {verdict}[/bold] — {len(day.results) - len(failed)} of "
            f"{len(day.scenarios)} drills passed" + (f"; not passed: {', '.join(failed)}" if failed else "")
        )
        click.echo(f"index: {out_dir / 'index.html'}")
        click.echo(f"junit: {day.junit}")
    if day.interrupted:
        raise click.exceptions.Exit(EXIT_INTERRUPTED)
    if not day.passed:
        raise click.exceptions.Exit(EXIT_FAILED)
