"""A drill's report: the verdict, every check against the manual's promise, and what happened when.

:func:`write_drill_report` writes ``report.html`` (one self-contained file:
the timeline chart embedded as base64 PNG, styles inline, nothing fetched
from the network), ``report.md`` (the same, linking ``timeline.png`` beside
it) and ``timeline.png``.  It reads a typed
:class:`~ce_drill.drill.scorecard.Scorecard` (``Scorecard.from_json`` reads one
back from ``scorecard.json``) and the drill's event timeline as dicts
(``t_s``, ``at``, ``source``, ``kind``, ``data``); manual time is the
scorecard's clock's, the drill plan's.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from ce_drill.drill.scorecard import Check, CheckKind, Scorecard
from ce_drill.report import fmt
from ce_drill.report.drill_charts import Event, alerts_of, drill_timeline, events, lane_of
from ce_drill.report.html import CSS
from ce_drill.report.html import table as html_table
from ce_drill.report.markdown import table as md_table
from ce_drill.report.render import png
from ce_drill.report.tables import Cell, Table

STATUS_CLASS = {"passed": "on track", "failed": "at risk", "error": "watch"}
"""Check status → the forecast report's colour classes (green, red, amber)."""
FAULT_KINDS = ("fault_injected", "lock_held", "deploy_started")
"""What starts the incident a drill's RTO is counted from, in order of preference."""
MAX_WHAT = 180
EXTRA_CSS = """
.verdict { display: flex; gap: 24px; align-items: center; border-radius: 10px; padding: 18px 24px; margin-top: 18px; }
.verdict .big { font-size: 46px; font-weight: bold; letter-spacing: 0.04em; text-transform: uppercase; }
.verdict ul { margin: 0; padding-left: 18px; }
td.t { white-space: nowrap; font-variant-numeric: tabular-nums; }
"""
CHART_CAPTION = (
    "Each lane is one kind of happening; spans run from start to end (a span still open at the end of "
    "the drill runs to the edge). Bottom axis: wall seconds since the drill started; top axis: the "
    "same instant in manual time (wall × time scale). Red dashed line: the RTO deadline, counted from "
    "the fault's injection."
)


@dataclass(frozen=True)
class DrillReport:
    card: Scorecard
    events: list[Event]
    rto_deadline_s: float | None
    png: bytes

    @property
    def scenario(self) -> str:
        return self.card.scenario

    @property
    def verdict(self) -> str:
        return "passed" if self.card.passed else "failed"

    @property
    def scale(self) -> float:
        return self.card.scale

    @property
    def checks(self) -> list[Check]:
        return self.card.checks

    @property
    def failed(self) -> list[Check]:
        return self.card.failed_checks()


def rto_deadline(card: Scorecard, evs: Sequence[Event]) -> float | None:
    """When, on the drill's clock, service had to be back: the RTO check's target after the fault began."""
    check = card.check(CheckKind.RTO)
    target = None if check is None else check.target_wall_s
    if target is None:
        return None
    for kind in FAULT_KINDS:
        start = next((ev.t_s for ev in evs if ev.kind == kind), None)
        if start is not None:
            return start + float(target)
    return float(target)


def build(card: Scorecard, timeline: Sequence[Mapping[str, Any]]) -> DrillReport:
    evs = events(timeline)
    deadline = rto_deadline(card, evs)
    lanes = len({lane_of(ev) for ev in evs} - {None})
    image = png(
        lambda ax: drill_timeline(
            ax[0],
            timeline,
            timing=card.timing,
            rto_deadline_s=deadline,
            title=f"Drill {card.scenario}",
        ),
        width=11,
        height=min(2.2 + 0.45 * lanes, 6.5),
    )
    return DrillReport(card, evs, deadline, image)


def write_drill_report(
    out: Path, scorecard: Scorecard, timeline: Sequence[Mapping[str, Any]]
) -> dict[str, Path]:
    """Write ``timeline.png``, ``report.html`` and ``report.md`` into ``out``; return their paths."""
    report = build(scorecard, timeline)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"timeline": out / "timeline.png", "html": out / "report.html", "md": out / "report.md"}
    paths["timeline"].write_bytes(report.png)
    paths["html"].write_text(render_html(report), encoding="utf-8")
    paths["md"].write_text(render_markdown(report, paths["timeline"].name), encoding="utf-8")
    return paths


def manual_ref(check: Check) -> str:
    ref = check.source
    if ref is None:
        return ""
    where = f"L{ref.first_line}" if ref.first_line == ref.last_line else f"L{ref.first_line}–{ref.last_line}"
    return " ".join(part for part in (where, ref.section) if part)


def scorecard_table(report: DrillReport) -> Table:
    rows = []
    for c in report.checks:
        rows.append(
            (
                Cell(c.status, STATUS_CLASS.get(c.status, "watch")),
                Cell(c.id),
                Cell(c.title),
                Cell(c.measured),
                Cell(c.target),
                Cell(manual_ref(c)),
                Cell(c.detail),
            )
        )
    return Table(("status", "check", "promise", "measured", "target", "manual", "detail"), rows)


def describe(event: Event) -> str:
    """An event's fields in one line: alerts by name for notifications, ``key=value`` otherwise."""
    if event.kind == "notification":
        alerts = ", ".join(
            f"{name} {sev} {status}".replace("  ", " ") for name, sev, status in alerts_of(event)
        )
        text = f"{event.data.get('status', '')}: {alerts}"
    else:
        text = ", ".join(
            f"{k}={v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)}"
            for k, v in event.data.items()
            if k != "payload"
        )
    return text if len(text) <= MAX_WHAT else text[: MAX_WHAT - 1] + "…"


def events_table(report: DrillReport) -> Table:
    rows = [
        (
            Cell(f"{ev.t_s:.1f}"),
            Cell(fmt.duration(report.card.timing.manual_s(ev.t_s))),
            Cell(ev.at),
            Cell(ev.source),
            Cell(ev.kind),
            Cell(describe(ev)),
        )
        for ev in report.events
    ]
    return Table(("t (wall s)", "manual time", "at (UTC)", "source", "kind", "what"), rows)


def facts(report: DrillReport) -> list[tuple[str, str]]:
    """The run's particulars: time scale, wall time, breaks, start, interruption."""
    card = report.card
    broken = list(card.broken)
    out = [
        ("time scale", f"{report.scale:g}× (manual time = wall × {report.scale:g})"),
        ("wall time", f"{card.wall_s:.1f} s"),
        (
            "breaks applied",
            ", ".join(broken) + " — disabled on purpose; the drill is expected to fail" if broken else "none",
        ),
    ]
    if report.events and report.events[0].at:
        out.append(("started", report.events[0].at))
    if report.rto_deadline_s is not None:
        out.append(("RTO deadline", f"{report.rto_deadline_s:.1f} s after the drill started"))
    if card.playbook:
        out.append(("playbook", card.playbook))
    if card.interrupted:
        out.append(("interrupted", "yes — the drill did not run to the end"))
    return out


def _nothing_failed(report: DrillReport) -> str:
    if report.checks:
        return "Every check passed."
    why = " — the drill was interrupted" if report.card.interrupted else ""
    return f"No check was judged{why}."


def _failed_line(c: Check) -> str:
    return f"{c.id} — {c.title}: {c.measured} (target {c.target})"


def render_html(report: DrillReport) -> str:
    verdict = report.verdict
    klass = STATUS_CLASS.get(verdict, "at risk").replace(" ", "-")
    failed = "".join(f"<li>{escape(_failed_line(c))}</li>" for c in report.failed)
    counts = {s: sum(1 for c in report.checks if c.status == s) for s in STATUS_CLASS}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "no checks"
    image = base64.b64encode(report.png).decode("ascii")
    body = [
        f"<header><h1>Drill · {escape(report.scenario)}</h1>"
        f"<p>{escape(' · '.join(f'{k}: {v}' for k, v in facts(report)[:3]))}</p></header>",
        f'<div class="verdict {klass}"><div class="big">{escape(verdict)}</div>'
        f"<div><b>{escape(summary)}</b>"
        + (f"<p>Not passed:</p><ul>{failed}</ul>" if failed else f"<p>{escape(_nothing_failed(report))}</p>")
        + "</div></div>",
        "<section><h2>Scorecard</h2>" + html_table(scorecard_table(report)) + "</section>",
        "<section><h2>Timeline</h2>"
        f'<figure><img alt="Timeline of the drill" src="data:image/png;base64,{image}">'
        f"<figcaption>{escape(CHART_CAPTION)}</figcaption></figure>"
        "<dl>" + "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in facts(report)) + "</dl>"
        "<h3>Events</h3>" + html_table(events_table(report)) + "</section>",
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>Drill {escape(report.scenario)}: {escape(verdict)}</title>\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<style>{CSS}{EXTRA_CSS}</style>\n</head>\n<body>\n<main>\n"
        + "\n".join(body)
        + "\n</main>\n</body>\n</html>\n"
    )


def render_markdown(report: DrillReport, image: str) -> str:
    out = [f"# Drill · {report.scenario}", "", f"## Verdict: **{report.verdict.upper()}**", ""]
    out += [f"- not passed: {_failed_line(c)}" for c in report.failed] or [_nothing_failed(report)]
    out += [
        "",
        *[f"- {k}: {v}" for k, v in facts(report)],
        "",
        "## Scorecard",
        "",
        md_table(scorecard_table(report)),
    ]
    out += ["", "## Timeline", "", f"![Timeline of the drill]({image})", "", f"*{CHART_CAPTION}*", ""]
    out += ["### Events", "", md_table(events_table(report)), ""]
    return "\n".join(out)


GAMEDAY_HEADERS = ("drill", "verdict", "checks passed", "not passed", "wall time", "report")


def gameday_rows(payload: Mapping[str, Any]) -> list[tuple[Cell, ...]]:
    """One row per drill of a game day (the last cell is the report's relative path), then the drills not run."""
    rows: list[tuple[Cell, ...]] = []
    for d in payload.get("drills") or []:
        verdict = "interrupted" if d.get("interrupted") else str(d.get("verdict", "failed"))
        failed = d.get("failed_checks") or []
        rows.append(
            (
                Cell(str(d.get("scenario", ""))),
                Cell(verdict, STATUS_CLASS.get(verdict, "at risk")),
                Cell(f"{int(d.get('checks', 0)) - len(failed)} / {d.get('checks', 0)}"),
                Cell("; ".join(f"{c.get('id')}: {c.get('title')}" for c in failed) or fmt.DASH),
                Cell(fmt.duration(d.get("wall_s"))),
                Cell(str(d.get("report") or "")),
            )
        )
    rows += [
        (Cell(s), Cell("not run", "watch"), Cell(fmt.DASH), Cell(fmt.DASH), Cell(fmt.DASH), Cell(""))
        for s in payload.get("not_run") or []
    ]
    return rows


def _html_rows(rows: Sequence[tuple[Cell, ...]]) -> str:
    """The index table; like the forecast report's tables, with the report cell as a relative link."""
    head = "".join(f"<th>{escape(h)}</th>" for h in GAMEDAY_HEADERS)
    body = []
    for *cells, report in rows:
        tds = [
            f'<td class="{c.status.replace(" ", "-")}">{escape(c.text)}</td>'
            if c.status
            else f"<td>{escape(c.text)}</td>"
            for c in cells
        ]
        link = f'<a href="{escape(report.text, quote=True)}">report</a>' if report.text else fmt.DASH
        body.append("<tr>" + "".join(tds) + f"<td>{link}</td></tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def write_gameday_index(out: Path, payload: Mapping[str, Any]) -> dict[str, Path]:
    """``index.html`` and ``index.md`` in ``out``: the game day's verdict and every drill's, linked."""
    paths = {"html": out / "index.html", "md": out / "index.md"}
    verdict = "interrupted" if payload.get("interrupted") else str(payload.get("verdict", "failed"))
    suite = str(payload.get("suite", ""))
    drills = payload.get("drills") or []
    failing = [d for d in drills if d.get("verdict") != "passed"]
    scale = payload.get("time_scale")
    about = (
        f"{len(drills)} of {len(payload.get('scenarios') or drills)} drills run · "
        f"{len(failing)} not passed · time scale {'each drill’s default' if scale is None else f'{scale:g}×'} · "
        f"{fmt.duration(payload.get('wall_s'))} · JUnit: {payload.get('junit', '')}"
    )
    rows = gameday_rows(payload)
    klass = STATUS_CLASS.get(verdict, "at risk").replace(" ", "-")
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>Game day {escape(suite)}: {escape(verdict)}</title>\n"
        f"<style>{CSS}{EXTRA_CSS}</style>\n</head>\n<body>\n<main>\n"
        f"<header><h1>Game day · suite {escape(suite)}</h1><p>{escape(about)}</p></header>\n"
        f'<div class="verdict {klass}"><div class="big">{escape(verdict)}</div><div>'
        + (
            "<p>Not passed:</p><ul>"
            + "".join(f"<li>{escape(str(d.get('scenario')))}: {escape(_why(d))}</li>" for d in failing)
            + "</ul>"
            if failing
            else "<p>Every drill passed.</p>"
        )
        + f"</div></div>\n<section><h2>Drills</h2>{_html_rows(rows)}</section>\n</main>\n</body>\n</html>\n"
    )
    paths["html"].write_text(page, encoding="utf-8")
    md = [f"# Game day · suite {suite}", "", f"## Verdict: **{verdict.upper()}**", "", about, ""]
    md += [f"- not passed: {d.get('scenario')}: {_why(d)}" for d in failing] or ["Every drill passed."]
    md += [
        "",
        "## Drills",
        "",
        md_table(
            Table(
                GAMEDAY_HEADERS,
                [(*r[:-1], Cell(f"[report]({r[-1].text})" if r[-1].text else fmt.DASH)) for r in rows],
            )
        ),
        "",
    ]
    paths["md"].write_text("\n".join(md), encoding="utf-8")
    return paths


def _why(drill: Mapping[str, Any]) -> str:
    if drill.get("error"):
        return str(drill["error"])
    failed = drill.get("failed_checks") or []
    parts = [
        f"{c.get('id')}: {c.get('measured')}"
        if c.get("status") == "error"
        else f"{c.get('id')} ({c.get('measured')}, target {c.get('target')})"
        for c in failed
    ]
    return ", ".join(parts) or "no checks"
