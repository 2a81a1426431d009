"""``ce-drill forecast``: how likely the manual's promises are to hold over a period, by Monte Carlo.

Runs many replications of the period (a process pool over every core, or a
Dask cluster with ``--scheduler``), then writes
``<period>-sla-forecast.{html,md,json}`` under ``--out`` and prints the
targets at risk.  ``--json`` prints the JSON document instead.  Exits 0 when
the forecast ran, 2 on bad input.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ce_drill.report import fmt
from ce_drill.report.headline import STATUSES, Finding
from sim.errors import InputError
from sim.forecast import DEFAULT_REPLICATIONS, MAX_REPLICATIONS, ForecastError, PeriodError
from sim.model.engine import ModelError, check_compatible
from sim.playbook import Playbook
from sim.playbook import bundled_path as bundled_playbook
from sim.world import World
from sim.world import bundled_path as bundled_world
from sim.world_checks import check_fits

if TYPE_CHECKING:
    from ce_drill.report.forecast import Report

DEFAULT_OUT = Path("reports")
DEFAULT_TORNADO = 300
PROGRESS_AFTER_S = 0.5
"""Show a progress bar only for runs that take longer than this."""
N = TypeVar("N", int, float)


def _number(
    option: str, text: str | None, kind: Callable[[str], N], ok: Callable[[N], bool], rule: str
) -> N | None:
    """An option's number, or one located line (``--precision: ...``) and exit 2."""
    if text is None:
        return None
    try:
        value = kind(text)
    except ValueError:
        raise InputError(option, None, "", f"expected {rule}", text) from None
    if not ok(value):
        raise InputError(option, None, "", f"expected {rule}", text)
    return value


@click.command("forecast")
@click.option(
    "--playbook", "playbook_file", type=click.Path(dir_okay=False, path_type=Path), help="Playbook YAML."
)
@click.option("--world", "world_file", type=click.Path(dir_okay=False, path_type=Path), help="World YAML.")
@click.option("--period", metavar="2027Q1", help="Calendar quarter (2027Q1), month (2027-03) or year (2027).")
@click.option(
    "--days", "days_text", metavar="N", help="Days from the world's calendar start, instead of --period."
)
@click.option(
    "--replications", "replications_text", metavar="N", help=f"Replications (default {DEFAULT_REPLICATIONS})."
)
@click.option(
    "--precision",
    "precision_text",
    metavar="H",
    help="Add replications until every headline 95 % CI is within ±H.",
)
@click.option(
    "--max-replications", "max_text", metavar="N", help=f"Cap for --precision (default {MAX_REPLICATIONS})."
)
@click.option("--seed", "seed_text", metavar="S", default="0", show_default=True, help="Root random seed.")
@click.option(
    "--workers",
    "workers_text",
    metavar="W",
    help="Local worker processes (default: every core; 1 = this process).",
)
@click.option(
    "--scheduler", metavar="ADDR", help="Dask scheduler address, tcp://HOST:PORT (needs ce-drill[dask])."
)
@click.option(
    "--compare",
    "compare_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="What-if world: report B − A, paired.",
)
@click.option(
    "--tornado-replications",
    "tornado_text",
    metavar="N",
    default=str(DEFAULT_TORNADO),
    show_default=True,
    help="Replications for the sensitivity analysis (0: skip it).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_OUT,
    show_default=True,
)
@click.option("--json", "as_json", is_flag=True, help="Print the JSON document on stdout.")
def command(
    *,
    playbook_file: Path | None,
    world_file: Path | None,
    period: str | None,
    days_text: str | None,
    replications_text: str | None,
    precision_text: str | None,
    max_text: str | None,
    seed_text: str,
    workers_text: str | None,
    scheduler: str | None,
    compare_file: Path | None,
    tornado_text: str,
    out_dir: Path,
    as_json: bool,
) -> None:
    """Forecast P(meeting each target) per service, month and severity, with confidence intervals."""
    from ce_drill.forecast import BackendError, forecast, resolve_period
    from ce_drill.report.forecast import build, write

    days = _number("--days", days_text, float, lambda d: 0 < d <= 3660, "a number of days between 0 and 3660")
    replications = _number("--replications", replications_text, int, lambda n: n >= 1, "a whole number >= 1")
    precision = _number(
        "--precision",
        precision_text,
        float,
        lambda h: 0 < h < 0.5,
        "a CI half-width between 0 and 0.5, e.g. 0.01",
    )
    max_replications = _number("--max-replications", max_text, int, lambda n: n >= 1, "a whole number >= 1")
    seed = _number("--seed", seed_text, int, lambda s: s >= 0, "a whole number >= 0")
    workers = _number("--workers", workers_text, int, lambda w: w >= 1, "a whole number >= 1")
    tornado = _number("--tornado-replications", tornado_text, int, lambda n: n >= 0, "a whole number >= 0")
    if replications is not None and precision is not None:
        raise InputError("--precision", None, "", "give --replications or --precision, not both")
    if period is not None and days is not None:
        raise InputError("--period", None, "", "give --period or --days, not both")
    if scheduler is not None and workers is not None:
        raise InputError(
            "--workers", None, "", "--workers is for local processes; a Dask cluster has its own"
        )
    playbook = Playbook.load(playbook_file or bundled_playbook())
    world_path = world_file or bundled_world()
    world = World.load(world_path)
    other = World.load(compare_file) if compare_file is not None else None
    for path, candidate in ((world_path, world), (compare_file, other)):
        try:
            if candidate is not None and path is not None:
                check_fits(path, candidate, playbook)
                check_compatible(playbook, candidate)
        except ModelError as exc:
            raise InputError(str(path), None, "", str(exc)) from None
    try:
        span = resolve_period(world, period, days)
    except PeriodError as exc:
        raise InputError("--period", None, "", str(exc), period) from None
    try:
        with _progress() as progress:
            result = forecast(
                playbook,
                world,
                span,
                replications=replications,
                precision=precision,
                max_replications=max_replications,
                seed=seed or 0,
                workers=workers,
                scheduler=scheduler,
                compare=other,
                tornado_replications=tornado or 0,
                progress=progress,
            )
    except ForecastError as exc:
        raise InputError("forecast", None, "", str(exc)) from None
    except BackendError as exc:
        raise InputError("--scheduler", None, "", str(exc)) from None
    report = build(
        result, str(world_file) if world_file else None, str(compare_file) if compare_file else None
    )
    try:
        paths = write(report, out_dir)
    except OSError as exc:
        raise InputError(str(out_dir), None, "", f"cannot write the report: {exc.strerror or exc}") from None
    if as_json:
        click.echo(json.dumps(report.payload, ensure_ascii=False, indent=2))
        return
    _summary(report, paths)


def _summary(report: Report, paths: dict[str, Path]) -> None:
    """The headline, the targets at risk or to watch, the precision reached, and where the files are."""
    result = report.result
    overall = result.overall
    console = Console()
    console.print(
        f"[bold]SLA forecast {result.period.label}[/bold] ({result.replications_run:,} replications): "
        f"P(all availability targets met) = [bold]{fmt.pct(overall['p_met'])}[/bold] "
        f"(95 % CI {fmt.ci(overall['p_met_lo'], overall['p_met_hi'])})"
    )
    flagged = [f for f in report.services + report.severities if f.status != "on track"]
    if flagged:
        console.print(_flagged(flagged))
    else:
        console.print("Every target is on track.")
    if result.precision is not None:
        p = result.precision
        verdict = (
            "reached"
            if p.reached
            else f"NOT reached: stopped at the cap of {p.max_replications:,} replications"
        )
        click.echo(
            f"precision ±{p.target:g}: {verdict}; widest interval {p.worst_figure} ±{p.worst_half_width:.4f}"
        )
    for kind, path in paths.items():
        click.echo(f"{kind}: {path}")


def _flagged(findings: list[Finding]) -> Table:
    table = Table(title="Targets at risk (< 80 %) or to watch (< 95 %)")
    for column in ("status", "subject", "target", "P(met)", "95 % CI"):
        table.add_column(column)
    colours = dict(zip(STATUSES, ("red", "yellow", "green"), strict=True))
    for f in findings:
        table.add_row(
            f"[{colours[f.status]}]{f.status}[/]",
            f.subject,
            f.figure,
            fmt.pct(f.estimate),
            fmt.ci(f.lo, f.hi),
        )
    return table


@contextmanager
def _progress() -> Iterator[Callable[[int, int], None]]:
    """A progress callback that shows a bar on stderr once a run has taken more than a moment."""
    console = Console(stderr=True)
    started = time.perf_counter()
    bar: Progress | None = None
    task = None

    def update(done: int, total: int) -> None:
        nonlocal bar, task
        if bar is None:
            if not console.is_terminal or time.perf_counter() - started < PROGRESS_AFTER_S:
                return
            bar = Progress(
                TextColumn("simulating"),
                BarColumn(),
                TextColumn("{task.completed:,}/{task.total:,} runs"),
                TimeRemainingColumn(),
                console=console,
                transient=True,
            )
            bar.start()
            task = bar.add_task("forecast", total=total)
        assert task is not None
        bar.update(task, completed=done, total=total)

    try:
        yield update
    finally:
        if bar is not None:
            bar.stop()
