"""An SLA forecast report: ``<period>-sla-forecast.html``, ``.md`` (with its PNG charts) and ``.json``.

The HTML is self-contained — charts embedded as base64 PNG, styles inline,
nothing fetched from the network — so it can be mailed or archived as one
file.  The Markdown carries the same figures and links its charts as PNG
files beside it; the JSON carries every number.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ce_drill.report import tables
from ce_drill.report.forecast_charts import Chart, make_charts
from ce_drill.report.headline import Finding, service_findings, severity_findings
from ce_drill.report.methods import methods
from sim.forecast import Forecast


@dataclass(frozen=True)
class Report:
    result: Forecast
    stem: str
    charts: list[Chart]
    services: list[Finding]
    severities: list[Finding]
    payload: dict[str, Any]
    world_file: str | None
    compare_file: str | None

    def chart(self, name: str) -> Chart | None:
        return next((c for c in self.charts if c.name == name), None)

    def charts_named(self, prefix: str) -> list[Chart]:
        return [c for c in self.charts if c.name.startswith(prefix)]

    @property
    def tables(self) -> dict[str, tables.Table]:
        r = self.result
        out = {
            "availability": tables.availability_matrix(r),
            "availability_detail": tables.availability_detail(r),
            "service_recovery": tables.service_recovery_table(r),
            "severities": tables.severity_table(r),
            "stages": tables.stage_table(r),
            "assumptions": tables.assumptions_table(r.world),
            "modes": tables.modes_table(r.world),
            "versions": tables.versions_table(),
        }
        if r.tornado is not None and not r.tornado.empty:
            out["tornado"] = tables.tornado_table(r.tornado)
        if r.comparison is not None:
            out["compare"] = tables.compare_table(r.comparison)
        return out


def payload(
    result: Forecast, world_file: str | None = None, compare_file: str | None = None
) -> dict[str, Any]:
    """The JSON document: every figure, plus the methods appendix."""
    out = result.to_json()
    out["methods"] = methods(result, world_file, compare_file)
    return out


def build(result: Forecast, world_file: str | None = None, compare_file: str | None = None) -> Report:
    return Report(
        result=result,
        stem=f"{result.period.label}-sla-forecast",
        charts=make_charts(result),
        services=service_findings(result),
        severities=severity_findings(result),
        payload=payload(result, world_file, compare_file),
        world_file=world_file,
        compare_file=compare_file,
    )


def write(report: Report, out_dir: Path) -> dict[str, Path]:
    """Write the three files (and the Markdown's PNGs) into ``out_dir``; return their paths."""
    from ce_drill.report import html, markdown

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "html": out_dir / f"{report.stem}.html",
        "md": out_dir / f"{report.stem}.md",
        "json": out_dir / f"{report.stem}.json",
    }
    images = {}
    for chart in report.charts:
        image = out_dir / f"{report.stem}-{chart.name}.png"
        image.write_bytes(chart.png)
        images[chart.name] = image.name
    paths["html"].write_text(html.render(report), encoding="utf-8")
    paths["md"].write_text(markdown.render(report, images), encoding="utf-8")
    paths["json"].write_text(
        json.dumps(report.payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return paths
