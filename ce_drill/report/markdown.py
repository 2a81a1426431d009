"""The SLA forecast in Markdown: the same figures as the HTML, charts as PNG files beside it."""

from __future__ import annotations

from ce_drill.report import fmt
from ce_drill.report.forecast import Report
from ce_drill.report.headline import AT_RISK, ON_TRACK
from ce_drill.report.tables import RTO_MET_NOTE, SERVICE_RECOVERY_NOTE, Table
from sim.forecast.period import MONTH_DEFINITION
from sim.forecast.result import INTERVALS, PERCENTILES, SEEDING

MARKS = {"at risk": "🔴 ", "watch": "🟠 ", "on track": ""}


def table(t: Table) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["| " + " | ".join(cell(h) for h in t.headers) + " |", "|" + "---|" * len(t.headers)]
    for row in t.rows:
        parts = []
        for c in row:
            mark = MARKS.get(c.status or "", "")
            note = f" ({c.note})" if c.note else ""
            parts.append(cell(f"{mark}{c.text}{note}"))
        lines.append("| " + " | ".join(parts) + " |")
    return "\n".join(lines)


def render(report: Report, images: dict[str, str]) -> str:
    r = report.result
    t = report.tables
    out = [
        f"# SLA forecast · {r.period.label}",
        "",
        f"{r.playbook.manual.title} (manual {r.playbook.manual.version}) · {r.period.days:g} days from "
        f"{r.period.start:%Y-%m-%d} 00:00 UTC · {r.replications_run:,} simulated periods · seed {r.seed}",
        "",
        "## Headline",
        "",
        f"**P(every service meets its availability target in every month) = {fmt.pct(r.overall['p_met'])}** "
        f"(95 % CI {fmt.ci(r.overall['p_met_lo'], r.overall['p_met_hi'])})",
        "",
    ]
    for title, findings in (("Availability", report.services), ("Severities", report.severities)):
        flagged = [f for f in findings if f.status != "on track"]
        out += [f"{title}, at risk or to watch:", ""]
        for f in flagged:
            out.append(
                f"- {MARKS[f.status]}**{f.status}** — {f.subject}: P({f.figure}) = {fmt.pct(f.estimate)} "
                f"(95 % CI {fmt.ci(f.lo, f.hi)})"
            )
        if not flagged:
            out.append("- every target is on track")
        out.append("")
    out += [
        f"At risk: less than an {AT_RISK:.0%} chance of meeting the target; watch: less than {ON_TRACK:.0%}.",
        "",
        "## Availability by service and month",
        "",
        f"Months: {MONTH_DEFINITION}. Error budget = (1 − target) × month length. 95 % Wilson CIs in brackets.",
        "",
        table(t["availability"]),
        "",
    ]
    out += _charts(report, images, [c.name for c in report.charts_named("downtime-")] + ["budget"])
    out += ["### Every service and month", "", table(t["availability_detail"]), ""]
    out += [
        "## Recovery by service",
        "",
        f"{SERVICE_RECOVERY_NOTE}",
        "",
        table(t["service_recovery"]),
        "",
    ]
    out += [
        "## Severities",
        "",
        "Proportions over incidents pooled across simulated periods (95 % Wilson CI; slightly optimistic, "
        "as incidents of one period share responders). P(no RTO miss in the period) is per simulated period. "
        f"{RTO_MET_NOTE}",
        "",
        table(t["severities"]),
        "",
    ]
    out += _charts(report, images, ["restore", "stages"])
    out += ["### Stage durations", "", table(t["stages"]), ""]
    if "tornado" in t:
        out += ["## Sensitivity", "", *_charts(report, images, ["tornado"]), table(t["tornado"]), ""]
    if "compare" in t:
        out += [
            f"## What-if: {report.compare_file or 'what-if world'}",
            "",
            "B − A over the same seeds (common random numbers), paired 95 % CI; the unpaired CI for reference. "
            "Figures identical on every replication in both worlds are left out (the JSON has them).",
            "",
            table(t["compare"]),
            "",
        ]
    out += ["## Convergence", "", *_charts(report, images, ["convergence"])]
    if r.precision is not None:
        p = r.precision
        out += [
            f"Precision asked: ±{fmt.pct(p.target, 2)}; {'reached' if p.reached else 'not reached, capped at ' + format(p.max_replications, ',')}; "
            f"widest: {p.worst_figure} ±{fmt.pct(p.worst_half_width, 2)}; rounds: {', '.join(map(str, p.rounds))}.",
            "",
        ]
    m = report.payload["methods"]
    out += [
        "## Methods",
        "",
        f"- period: {r.period.label}, {r.period.days:g} days from {r.period.start.isoformat()}",
        f"- months: {MONTH_DEFINITION}",
        f"- replications: {r.replications_run:,}, seed {r.seed}; {SEEDING}",
        f"- intervals: {INTERVALS}",
        f"- percentiles: {PERCENTILES}",
        f"- world: {m['world']['file']} (fingerprint {m['world']['digest']}); assumptions, not promises",
        f"- run: {r.execution.backend}, {r.execution.workers} worker(s), {r.execution.tasks} tasks",
        "",
        "### Failure modes",
        "",
        table(t["modes"]),
        "",
        "### Durations and delays",
        "",
        table(t["assumptions"]),
        "",
        "### Software",
        "",
        table(t["versions"]),
        "",
    ]
    return "\n".join(out)


def _charts(report: Report, images: dict[str, str], names: list[str]) -> list[str]:
    out = []
    for name in names:
        chart = report.chart(name)
        if chart is not None and name in images:
            out += [f"![{chart.title}]({images[name]})", "", f"*{chart.caption}*", ""]
    return out
