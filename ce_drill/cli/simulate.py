"""``ce-drill simulate``: one simulated stretch of incidents, summarised against the playbook."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pandas as pd
from rich.console import Console
from rich.table import Table

from ce_drill.cli.common import echo_json
from sim.errors import InputError
from sim.model import ModelError, simulate
from sim.model.summary import by_service, by_severity, stage_breakdown
from sim.playbook import Playbook, bundled_path
from sim.units import format_duration
from sim.world import World
from sim.world import bundled_path as bundled_world
from sim.world_checks import check_fits


@click.command("simulate")
@click.option(
    "--playbook", "playbook_file", type=click.Path(dir_okay=False, path_type=Path), help="Playbook YAML."
)
@click.option("--world", "world_file", type=click.Path(dir_okay=False, path_type=Path), help="World YAML.")
@click.option(
    "--days", type=click.FloatRange(min=1.0), default=90.0, show_default=True, help="Days to simulate."
)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Random seed.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print every incident record and service month as JSON."
)
@click.option("--trace", is_flag=True, help="With --json, include each incident's event trace.")
def command(
    *, playbook_file: Path | None, world_file: Path | None, days: float, seed: int, as_json: bool, trace: bool
) -> None:
    """Simulate incidents and the manual's response to them; summarise attainment."""
    pb = Playbook.load(playbook_file or bundled_path())
    world_path = world_file or bundled_world()
    world = World.load(world_path)
    check_fits(world_path, world, pb)
    try:
        result = simulate(pb, world, days=days, seed=seed)
    except ModelError as exc:
        raise InputError(str(world_path), None, "", str(exc)) from None
    if as_json:
        payload = result.to_json(with_trace=trace)
        payload["summary"] = {
            "by_severity": _records(by_severity(result)),
            "by_service": _records(by_service(result)),
            "stages": _records(stage_breakdown(result)),
        }
        echo_json(payload)
        return
    console = Console()
    console.print(f"{len(result.records)} incidents in {days:g} days (seed {seed}), {result.events} events")
    console.print(_severity_table(by_severity(result)))
    console.print(_service_table(by_service(result)))
    console.print(_stage_table(stage_breakdown(result)))


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): (None if pd.isna(v) else v) for k, v in row.items()} for row in frame.to_dict("records")]


def _pct(value: Any) -> str:
    return "-" if value is None or pd.isna(value) else f"{float(value):.0%}"


def _dur(value: Any) -> str:
    return "-" if value is None or pd.isna(value) else format_duration(round(float(value)))


def _severity_table(frame: pd.DataFrame) -> Table:
    table = Table(title="Attainment by severity")
    for col in (
        "severity",
        "incidents",
        "RTO met",
        "RPO met",
        "response met",
        "cadence met",
        "restore p50",
        "p90",
    ):
        table.add_column(col)
    for row in frame.to_dict("records"):
        table.add_row(
            str(row["severity"]),
            str(row["incidents"]),
            _pct(row["rto_met"]),
            _pct(row["rpo_met"]),
            _pct(row["response_met"]),
            _pct(row["comms_met"]),
            _dur(row["restore_p50_s"]),
            _dur(row["restore_p90_s"]),
        )
    return table


def _service_table(frame: pd.DataFrame) -> Table:
    table = Table(title="Availability by service (calendar months)")
    for col in ("service", "target", "months met", "mean", "worst month", "downtime"):
        table.add_column(col)
    for row in frame.to_dict("records"):
        table.add_row(
            str(row["service"]),
            f"{row['target']:.2%}",
            f"{row['months_met']}/{row['months']}",
            f"{row['availability_mean']:.3%}",
            f"{row['availability_worst']:.3%}",
            _dur(row["downtime_s"]),
        )
    return table


def _stage_table(frame: pd.DataFrame) -> Table:
    table = Table(title="Where the time goes")
    for col in ("stage", "incidents", "p50", "p90"):
        table.add_column(col)
    for row in frame.to_dict("records"):
        table.add_row(str(row["stage"]), str(row["incidents"]), _dur(row["p50_s"]), _dur(row["p90_s"]))
    return table
