"""The tables of an SLA forecast report, as plain cells that HTML and Markdown both render."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from ce_drill.report import fmt
from ce_drill.report.headline import VERDICT_NAMES, by_service, status
from ce_drill.report.methods import mode_rows, stage_rows, versions
from sim.forecast import Forecast
from sim.forecast.jobs import SERVICE_VERDICTS, VERDICTS
from sim.world import World

RTO_MET_NOTE = (
    "RTO and RPO met are judged against the stricter of the severity's target and those of the "
    "services the incident hit (for the RPO: the service whose writes it lost)."
)
SERVICE_RECOVERY_NOTE = (
    "Each service's own RTO and RPO (恢复目标 › 服务级别目标): the share of the incidents that hit the "
    "service restored within its RTO, and of those that lost its writes, the share that lost no more "
    "than its RPO. Pooled across simulated periods, 95 % Wilson CI in brackets."
)


@dataclass(frozen=True)
class Cell:
    text: str
    status: str | None = None
    """``at risk`` / ``watch`` / ``on track``: how the cell is coloured."""
    note: str = ""
    """Secondary text (a confidence interval), shown smaller."""


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: Sequence[tuple[Cell, ...]]


def _p(p: float, lo: float, hi: float) -> Cell:
    return Cell(fmt.pct(p), None if fmt.missing(p) else status(p), fmt.ci(lo, hi))


def availability_matrix(result: Forecast) -> Table:
    """One row per service: P(target met) in each month, expected availability, worst-month p90 downtime."""
    months = result.layout.months
    rows = []
    for service, group in by_service(result).items():
        cells = [Cell(service), Cell(fmt.target(float(group[0]["target"])))]
        cells += [_p(r["p_met"], r["p_met_lo"], r["p_met_hi"]) for r in group]
        worst = min(group, key=lambda r: float(r["p_met"]))
        mean = sum(float(r["availability_mean"]) for r in group) / len(group)
        cells += [
            Cell(f"{100 * mean:.3f}{fmt.NBSP}%"),
            Cell(fmt.duration(worst["downtime_p90_s"]), note=f"budget {fmt.duration(worst['budget_s'])}"),
        ]
        rows.append(tuple(cells))
    headers = (
        "service",
        "target",
        *(f"P(met) {m}" for m in months),
        "expected availability",
        "p90 downtime, worst month",
    )
    return Table(headers, rows)


def availability_detail(result: Forecast) -> Table:
    rows = []
    for r in result.services.to_dict("records"):
        rows.append(
            (
                Cell(str(r["service"])),
                Cell(str(r["month"])),
                Cell(fmt.target(r["target"])),
                Cell(fmt.duration(r["budget_s"])),
                _p(r["p_met"], r["p_met_lo"], r["p_met_hi"]),
                Cell(f"{100 * r['availability_mean']:.4f}{fmt.NBSP}%"),
                Cell(fmt.pct(r["p_down"], 0)),
                Cell(fmt.duration(r["downtime_p50_s"])),
                Cell(fmt.duration(r["downtime_p90_s"])),
                Cell(fmt.duration(r["downtime_p99_s"])),
            )
        )
    headers = (
        "service",
        "month",
        "target",
        "error budget",
        "P(met)",
        "expected availability",
        "P(any downtime)",
        "downtime p50",
        "p90",
        "p99",
    )
    return Table(headers, rows)


def service_recovery_table(result: Forecast) -> Table:
    """One row per service: its own RTO and RPO from the playbook, and how often they were kept."""
    rows = []
    for r in result.service_recovery.to_dict("records"):
        cells = [Cell(str(r["service"])), Cell(str(r["name"]))]
        for verdict, target in zip(SERVICE_VERDICTS, ("rto_s", "rpo_s"), strict=True):
            cells.append(Cell(fmt.duration(r[target])))
            n = int(r[f"{verdict}_n"])
            if n:
                p = _p(r[verdict], r[f"{verdict}_lo"], r[f"{verdict}_hi"])
                cells.append(Cell(p.text, p.status, f"{p.note}; {n:,} incidents"))
            else:
                cells.append(Cell("–", note="no incidents judged"))
        rows.append(tuple(cells))
    headers = ("service", "name", "RTO", "P(restored within RTO)", "RPO", "P(data lost within RPO)")
    return Table(headers, rows)


def severity_table(result: Forecast) -> Table:
    rows = []
    for r in result.severities.to_dict("records"):
        cells = [
            Cell(str(r["severity"])),
            Cell(fmt.duration(r["rto_s"])),
            Cell(f"{r['incidents_per_replication']:.2f}"),
        ]
        for verdict in VERDICTS:
            if r[f"{verdict}_n"]:
                cells.append(_p(r[verdict], r[f"{verdict}_lo"], r[f"{verdict}_hi"]))
            else:
                cells.append(Cell("–", note="no incidents judged"))
        cells += [
            Cell(fmt.duration(r["restore_p50_s"])),
            Cell(fmt.duration(r["restore_p90_s"])),
            Cell(fmt.duration(r["restore_p99_s"])),
            _p(r["no_rto_miss"], r["no_rto_miss_lo"], r["no_rto_miss_hi"]),
        ]
        rows.append(tuple(cells))
    headers = (
        "severity",
        "severity RTO",
        "incidents per period",
        *(f"P({VERDICT_NAMES[v]})" for v in VERDICTS),
        "restore p50",
        "p90",
        "p99",
        "P(no RTO miss in the period)",
    )
    return Table(headers, rows)


def stage_table(result: Forecast) -> Table:
    frame = result.stages[result.stages["incidents"] > 0]
    rows = [
        (
            Cell(str(r["severity"])),
            Cell(str(r["stage"])),
            Cell(str(r["incidents"])),
            Cell(fmt.duration(r["mean_s"])),
            Cell(fmt.duration(r["p50_s"])),
            Cell(fmt.duration(r["p90_s"])),
        )
        for r in frame.to_dict("records")
    ]
    return Table(("severity", "stage", "incidents", "mean", "p50", "p90"), rows)


def tornado_table(frame: pd.DataFrame) -> Table:
    rows = []
    ordered = frame.sort_values(["swing", "lever", "factor"], ascending=[False, True, True], kind="stable")
    for r in ordered.to_dict("records"):
        rows.append(
            (
                Cell(str(r["label"]).replace("×f", f"×{r['factor']:g}")),
                Cell(fmt.pct(r["p_met"])),
                Cell(
                    fmt.points(r["diff"]), note=f"{100 * r['diff_lo']:+.1f} to {100 * r['diff_hi']:+.1f} pp"
                ),
            )
        )
    return Table(("assumption", "P(all availability targets met)", "change (paired 95 % CI)"), rows)


def unchanged(frame: pd.DataFrame) -> pd.Series:
    """Figures that came out the same on every replication in both worlds (a paired CI of exactly 0)."""
    return (frame["diff"] == 0) & (frame["diff_lo"] == 0) & (frame["diff_hi"] == 0)


def compare_table(frame: pd.DataFrame) -> Table:
    """Every figure that the what-if moved on at least one replication."""
    rows = []
    for r in frame[~unchanged(frame)].to_dict("records"):
        figure = str(r["figure"])
        if r["kind"] == "severity":
            verdict, severity = figure.split(" ", 1)
            figure = f"{severity} {VERDICT_NAMES.get(verdict, verdict)}"
        rows.append(
            (
                Cell(figure),
                Cell(fmt.pct(r["a"])),
                Cell(fmt.pct(r["b"])),
                Cell(fmt.points(r["diff"]), note=fmt.points_range(r["diff_lo"], r["diff_hi"])),
                Cell(fmt.points_range(r["unpaired_lo"], r["unpaired_hi"])),
            )
        )
    return Table(("figure", "A (baseline)", "B (what-if)", "B − A (paired 95 % CI)", "CI if unpaired"), rows)


def assumptions_table(world: World) -> Table:
    return Table(("assumption", "distribution"), [(Cell(a), Cell(b)) for a, b in stage_rows(world)])


def modes_table(world: World) -> Table:
    rows = [
        (
            Cell(str(m["id"])),
            Cell(f"{m['incidents_per_year']:g}"),
            Cell(", ".join(m["services"])),
            Cell(str(m["team"])),
            Cell(fmt.pct(m["fix_success_probability"], 0)),
            Cell("yes" if m["rollback_possible"] else "no"),
        )
        for m in mode_rows(world)
    ]
    return Table(
        (
            "failure mode",
            "per year",
            "services down or degraded",
            "team",
            "fix succeeds",
            "rollback possible",
        ),
        rows,
    )


def versions_table() -> Table:
    return Table(("software", "version"), [(Cell(k), Cell(v)) for k, v in versions().items()])
