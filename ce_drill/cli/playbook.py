"""``ce-drill playbook``: validate, show and lint the manual-as-data."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from ce_drill.cli.common import EXIT_FAILED, echo_json
from ce_drill.lint import lint
from sim.playbook import Playbook, bundled_path
from sim.units import format_duration

_FILE = click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))


def _load(file: Path | None) -> tuple[Path, Playbook]:
    path = file if file is not None else bundled_path()
    return path, Playbook.load(path)


@click.group("playbook")
def group() -> None:
    """The manual's promises as a validated playbook (bundled one when FILE is omitted)."""


@group.command()
@_FILE
def validate(file: Path | None) -> None:
    """Check FILE against the playbook schema; exit 2 with the first problem."""
    path, pb = _load(file)
    click.echo(
        f"{path}: ok — {len(pb.severities)} severities, {len(pb.detection_rules)} detection rules, "
        f"{len(pb.services)} services, {sum(1 for _ in pb.sources())} manual references"
    )


@group.command()
@_FILE
@click.option("--json", "as_json", is_flag=True, help="Print the whole playbook as JSON (durations as *_s).")
def show(file: Path | None, as_json: bool) -> None:
    """Print the playbook: a summary, or everything with --json."""
    _, pb = _load(file)
    if as_json:
        echo_json(pb.model_dump(mode="json"))
        return
    console = Console()
    sev = Table(title="Severities")
    for col in ("id", "name", "RTO", "RPO", "response", "update every"):
        sev.add_column(col)
    for s in pb.severities:
        within = s.response.within_s
        cadence = pb.cadence_s(s.id)
        sev.add_row(
            s.id,
            s.name,
            format_duration(s.rto_s),
            format_duration(s.rpo_s),
            s.response.kind if within is None else f"within {format_duration(within)}",
            "-" if cadence is None else format_duration(cadence),
        )
    console.print(sev)
    rules = Table(title="Detection rules")
    for col in ("name", "condition", "for", "severity"):
        rules.add_column(col)
    for r in pb.detection_rules:
        rules.add_row(r.name, f"{r.metric} {r.op} {r.threshold:g}", format_duration(r.for_s), r.severity)
    console.print(rules)
    services = Table(title="Services")
    for col in ("id", "name", "RTO", "RPO", "availability"):
        services.add_column(col)
    for svc in pb.services:
        services.add_row(
            svc.id,
            svc.name,
            format_duration(svc.rto_s),
            format_duration(svc.rpo_s),
            f"{svc.availability:.2%}",
        )
    console.print(services)


@group.command("lint")
@_FILE
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
def lint_cmd(file: Path | None, as_json: bool) -> None:
    """List where the manual contradicts itself; exit 1 when there are findings."""
    _, pb = _load(file)
    findings = lint(pb)
    if as_json:
        echo_json({"findings": [f.to_json() for f in findings], "count": len(findings)})
    else:
        for finding in findings:
            click.echo(finding.render())
            click.echo()
        click.echo(f"{len(findings)} finding(s)")
    if findings:
        raise click.exceptions.Exit(EXIT_FAILED)
