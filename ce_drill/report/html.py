"""The SLA forecast as one self-contained HTML page: headline first, then tables, charts and methods.

Everything is inline — styles, and charts as base64 PNG — and nothing refers
to the network, so the page renders the same offline, in a mail, or archived.
"""

from __future__ import annotations

import base64
from html import escape

from ce_drill.report import fmt
from ce_drill.report.forecast import Report
from ce_drill.report.forecast_charts import Chart
from ce_drill.report.headline import AT_RISK, ON_TRACK, STATUSES, Finding
from ce_drill.report.tables import RTO_MET_NOTE, SERVICE_RECOVERY_NOTE, Table, unchanged
from sim.forecast.period import MONTH_DEFINITION
from sim.forecast.result import INTERVALS, PERCENTILES, SEEDING

CARD_LABELS = {"at risk": "targets at risk", "watch": "targets to watch", "on track": "targets on track"}
CSS = """
:root { --ink:#1f2933; --muted:#616e7c; --line:#e4e7eb; --bg:#f5f7fa; --card:#ffffff;
  --risk:#9b1c1c; --risk-bg:#fde8e8; --watch:#8a5a00; --watch-bg:#fdf3d7; --ok:#1e6b34; --ok-bg:#e3f4e8; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
  font: 15px/1.5 "DejaVu Sans", "Segoe UI", Helvetica, Arial, sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 28px 32px 60px; }
header h1 { margin: 0; font-size: 28px; letter-spacing: -0.01em; }
header p { margin: 4px 0 0; color: var(--muted); }
section { background: var(--card); border: 1px solid var(--line); border-radius: 10px;
  padding: 20px 24px; margin-top: 22px; }
h2 { margin: 0 0 12px; font-size: 19px; }
h3 { margin: 18px 0 8px; font-size: 15px; }
p.note, figcaption, .small { color: var(--muted); font-size: 13px; }
.cards { display: grid; grid-template-columns: 1.6fr 1fr 1fr 1fr; gap: 14px; }
.card { border-radius: 8px; padding: 14px 16px; border: 1px solid var(--line); }
.card .big { font-size: 30px; font-weight: bold; line-height: 1.2; }
.card .label { font-size: 13px; color: var(--muted); }
.at-risk { background: var(--risk-bg); color: var(--risk); }
.watch { background: var(--watch-bg); color: var(--watch); }
.on-track { background: var(--ok-bg); color: var(--ok); }
ul.findings { list-style: none; padding: 0; margin: 12px 0 0; }
ul.findings li { display: grid; grid-template-columns: 100px 170px 1fr 80px 150px; align-items: baseline;
  padding: 6px 10px; border-radius: 6px; margin: 4px 0; }
ul.findings li.plain { display: block; }
ul.findings .p { font-weight: bold; text-align: right; padding-right: 12px; }
.pill { display: inline-block; justify-self: start; font-size: 11px; font-weight: bold; text-transform: uppercase;
  padding: 1px 8px; border-radius: 10px; margin-right: 8px; }
table { border-collapse: collapse; width: 100%; font-size: 13.5px; margin: 6px 0 4px; }
th { text-align: left; font-weight: 600; color: var(--muted); border-bottom: 2px solid var(--line);
  padding: 6px 8px; vertical-align: bottom; }
td { border-bottom: 1px solid var(--line); padding: 6px 8px; vertical-align: top; }
td .ci { display: block; font-size: 11px; opacity: 0.8; }
figure { margin: 14px 0; }
figure img { max-width: 100%; border: 1px solid var(--line); border-radius: 6px; }
details summary { cursor: pointer; color: var(--muted); margin-top: 10px; }
dl { display: grid; grid-template-columns: 200px 1fr; gap: 6px 16px; font-size: 13.5px; }
dt { color: var(--muted); }
dd { margin: 0; }
"""


def render(report: Report) -> str:
    r = report.result
    body = [
        _header(report),
        _summary(report),
        _availability(report),
        _recovery(report),
        _severities(report),
    ]
    if "tornado" in report.tables:
        body.append(_tornado(report))
    if "compare" in report.tables:
        body.append(_compare(report))
    body += [_convergence(report), _methods(report)]
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>SLA forecast {escape(r.period.label)}</title>\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<style>{CSS}</style>\n</head>\n<body>\n<main>\n" + "\n".join(body) + "\n</main>\n</body>\n</html>\n"
    )


def _cls(status: str | None) -> str:
    return "" if status is None else status.replace(" ", "-")


def table(t: Table) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in t.headers)
    rows = []
    for row in t.rows:
        cells = []
        for c in row:
            note = f'<span class="ci">{escape(c.note)}</span>' if c.note else ""
            klass = f' class="{_cls(c.status)}"' if c.status else ""
            cells.append(f"<td{klass}>{escape(c.text)}{note}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def figure(chart: Chart) -> str:
    data = base64.b64encode(chart.png).decode("ascii")
    return (
        f'<figure><img alt="{escape(chart.title)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{escape(chart.caption)}</figcaption></figure>"
    )


def _header(report: Report) -> str:
    r = report.result
    manual = r.playbook.manual
    end = (r.period.end).strftime("%d %b %Y")
    return (
        f"<header><h1>SLA forecast · {escape(r.period.label)}</h1>"
        f"<p>{escape(manual.title)} (manual {escape(manual.version)}) · "
        f"{r.period.start:%d %b %Y} 00:00 – {end} 00:00 UTC · {r.replications_run:,} simulated periods · seed {r.seed}</p>"
        "</header>"
    )


def _finding(f: Finding) -> str:
    klass = _cls(f.status)
    return (
        f'<li class="{klass}"><span class="pill">{escape(f.status)}</span><b>{escape(f.subject)}</b>'
        f'<span>P({escape(f.figure)})</span><span class="p">{fmt.pct(f.estimate)}</span>'
        f'<span class="small">95 % CI {fmt.ci(f.lo, f.hi)}</span></li>'
    )


def _findings(title: str, findings: list[Finding]) -> str:
    flagged = [f for f in findings if f.status != "on track"]
    if not flagged:
        return f'<h3>{escape(title)}</h3><ul class="findings"><li class="on-track plain">Every target is on track.</li></ul>'
    return f'<h3>{escape(title)}</h3><ul class="findings">' + "".join(_finding(f) for f in flagged) + "</ul>"


def _summary(report: Report) -> str:
    r = report.result
    overall = r.overall
    findings = report.services + report.severities
    counts = {s: sum(1 for f in findings if f.status == s) for s in STATUSES}
    cards = (
        '<div class="cards">'
        f'<div class="card {_cls(_status_of(overall["p_met"]))}"><div class="label">P(every service meets its availability '
        f'target in every month)</div><div class="big">{fmt.pct(overall["p_met"])}</div>'
        f'<div class="label">95 % CI {fmt.ci(overall["p_met_lo"], overall["p_met_hi"])}</div></div>'
        + "".join(
            f'<div class="card {_cls(s)}"><div class="big">{counts[s]}</div><div class="label">{CARD_LABELS[s]}</div></div>'
            for s in STATUSES
        )
        + "</div>"
    )
    return (
        "<section><h2>Headline</h2>"
        + cards
        + _findings("Availability targets at risk or to watch", report.services)
        + _findings("Severity targets at risk or to watch", report.severities)
        + f'<p class="note">At risk: less than an {AT_RISK:.0%} chance of meeting the target; watch: less than '
        f"{ON_TRACK:.0%}. Availability: each service's least likely month. Severities: over all simulated "
        "incidents of that severity.</p></section>"
    )


def _status_of(p: float) -> str:
    from ce_drill.report.headline import status

    return status(p)


def _availability(report: Report) -> str:
    t = report.tables
    parts = [
        "<section><h2>Availability by service and month</h2>",
        '<p class="note">P(met): share of simulated periods in which the service met its availability target '
        f"that month, with its 95 % Wilson CI. Months: {escape(MONTH_DEFINITION)}. Error budget = "
        "(1 − target) × month length.</p>",
        table(t["availability"]),
    ]
    parts += [figure(c) for c in report.charts_named("downtime-")]
    budget = report.chart("budget")
    if budget is not None:
        parts.append(figure(budget))
    parts.append("<details><summary>Every service and month: downtime percentiles</summary>")
    parts.append(table(t["availability_detail"]) + "</details></section>")
    return "".join(parts)


def _recovery(report: Report) -> str:
    return (
        "<section><h2>Recovery by service</h2>"
        f'<p class="note">{escape(SERVICE_RECOVERY_NOTE)}</p>'
        + table(report.tables["service_recovery"])
        + "</section>"
    )


def _severities(report: Report) -> str:
    t = report.tables
    parts = [
        "<section><h2>Severities: recovery, data, response and updates</h2>",
        '<p class="note">Proportions over incidents pooled across all simulated periods (95 % Wilson CI; '
        "incidents of one period share responders, so these intervals are slightly optimistic). "
        "P(no RTO miss in the period) is per simulated period: no incident of the severity missed its RTO. "
        f"{escape(RTO_MET_NOTE)}</p>",
        table(t["severities"]),
    ]
    for name in ("restore", "stages"):
        chart = report.chart(name)
        if chart is not None:
            parts.append(figure(chart))
    parts.append("<details><summary>Stage durations</summary>" + table(t["stages"]) + "</details></section>")
    return "".join(parts)


def _tornado(report: Report) -> str:
    chart = report.chart("tornado")
    return (
        "<section><h2>Sensitivity: which assumptions matter</h2>"
        + (figure(chart) if chart is not None else "")
        + table(report.tables["tornado"])
        + "</section>"
    )


def _compare(report: Report) -> str:
    other = escape(report.compare_file or "what-if world")
    frame = report.result.comparison
    same = int(unchanged(frame).sum()) if frame is not None else 0
    return (
        f"<section><h2>What-if: {other}</h2>"
        '<p class="note">Each figure in world B beside the baseline A, over the same seeds (common random '
        "numbers). The paired CI is what the comparison supports; the unpaired one is what it would be "
        f"with independent runs. {same} figures came out identical on every replication in both worlds "
        "and are left out here (the JSON has them).</p>" + table(report.tables["compare"]) + "</section>"
    )


def _convergence(report: Report) -> str:
    r = report.result
    chart = report.chart("convergence")
    text = f"{r.replications_run:,} replications."
    if r.precision is not None:
        p = r.precision
        verdict = "reached" if p.reached else f"NOT reached (capped at {p.max_replications:,} replications)"
        text = (
            f"Asked for every headline 95 % CI to be within ±{fmt.pct(p.target, 2)}: {verdict}. "
            f"Widest: {escape(p.worst_figure)} ±{fmt.pct(p.worst_half_width, 2)}. "
            f"Rounds: {', '.join(f'{n:,}' for n in p.rounds)} replications."
        )
    return (
        "<section><h2>Convergence</h2>"
        + f'<p class="note">{text}</p>'
        + (figure(chart) if chart else "")
        + "</section>"
    )


def _methods(report: Report) -> str:
    r = report.result
    m = report.payload["methods"]
    t = report.tables
    world = escape(m["world"]["file"])
    return (
        "<section><h2>Methods</h2><dl>"
        f"<dt>period</dt><dd>{escape(r.period.label)}: {r.period.days:g} days from {r.period.start.isoformat()}</dd>"
        f"<dt>months</dt><dd>{escape(MONTH_DEFINITION)}</dd>"
        f"<dt>replications</dt><dd>{r.replications_run:,}, seed {r.seed}; {escape(SEEDING)}</dd>"
        f"<dt>intervals</dt><dd>{escape(INTERVALS)}</dd>"
        f"<dt>percentiles</dt><dd>{escape(PERCENTILES)}</dd>"
        f"<dt>targets</dt><dd>from the playbook: {escape(r.playbook.manual.title)} {escape(r.playbook.manual.version)}</dd>"
        f"<dt>world</dt><dd>{world} (fingerprint {escape(m['world']['digest'])}); every number below is an "
        "assumption, not a promise of the manual</dd>"
        f"<dt>run</dt><dd>{escape(r.execution.backend)}, {r.execution.workers} worker(s), {r.execution.tasks} tasks, "
        f"{r.execution.events:,} simulation events</dd>"
        "</dl><h3>Failure modes</h3>"
        + table(t["modes"])
        + "<h3>Durations and delays</h3>"
        + table(t["assumptions"])
        + "<h3>Software</h3>"
        + table(t["versions"])
        + "</section>"
    )
