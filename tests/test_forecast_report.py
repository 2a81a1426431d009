"""The SLA forecast report: self-contained HTML that a real browser renders, Markdown with its charts, JSON."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib import image

from ce_drill.forecast import forecast
from ce_drill.report.forecast import build, write
from sim.forecast import Forecast

CHROMIUM = ("chromium", "chromium-browser", "google-chrome")


@pytest.fixture(scope="module")
def result() -> Forecast:
    return forecast(period="2027Q1", replications=120, tornado_replications=20, seed=3, workers=1)


@pytest.fixture(scope="module")
def written(result: Forecast, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("report")
    return write(build(result, compare_file=None), out)


def test_the_three_files_are_named_after_the_period(written: dict[str, Path]) -> None:
    assert {p.name for p in written.values()} == {
        "2027Q1-sla-forecast.html",
        "2027Q1-sla-forecast.md",
        "2027Q1-sla-forecast.json",
    }


def test_the_html_loads_nothing_from_anywhere(written: dict[str, Path]) -> None:
    page = written["html"].read_text(encoding="utf-8")
    assert "<script" not in page
    assert "<link" not in page
    assert "@import" not in page
    assert "url(" not in page
    sources = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert sources, "the charts should be embedded images"
    assert all(s.startswith("data:image/png;base64,") for s in sources), sources
    assert len(sources) >= 6  # downtime, budget, restore, stages, tornado, convergence


def test_the_html_leads_with_the_headline(written: dict[str, Path], result: Forecast) -> None:
    page = written["html"].read_text(encoding="utf-8")
    headline = page.index("Headline")
    assert headline < page.index("Availability by service and month") < page.index("Methods")
    assert "targets at risk" in page
    for service in result.layout.services:
        assert service in page
    for name in ("ce-drill", "simpy", "numpy", "python"):
        assert f"<td>{name}</td>" in page


def test_the_markdown_links_its_charts_beside_it(written: dict[str, Path]) -> None:
    text = written["md"].read_text(encoding="utf-8")
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(links) >= 6
    for link in links:
        png = written["md"].parent / link
        assert png.is_file(), link
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| service | target |" in text


def test_the_json_has_seconds_and_intervals(written: dict[str, Path], result: Forecast) -> None:
    doc: dict[str, Any] = json.loads(written["json"].read_text(encoding="utf-8"))
    assert doc["period"]["label"] == "2027Q1"
    assert "UTC" in doc["period"]["month_definition"]
    assert doc["replications"] == 120
    first = doc["availability"][0]
    assert set(first["downtime_s"]) == {"mean", "p50", "p90", "p99"}
    lo, hi = first["p_met"]["ci95"]
    assert lo <= first["p_met"]["estimate"] <= hi
    assert first["budget_s"] == pytest.approx((1 - first["target"]) * first["length_s"])
    p1 = next(s for s in doc["severities"] if s["severity"] == "P1")
    assert p1["rto_s"] == result.playbook.severity("P1").rto_s
    assert p1["rto_met"]["pooled_over"] == "incidents"
    assert set(p1["time_to_restore_s"]) == {"p50", "p90", "p99"}
    assert doc["methods"]["versions"]["simpy"]
    assert doc["methods"]["world"]["assumptions"]["stages"]["fix"]["median_s"] > 0


def _chromium() -> str:
    for name in CHROMIUM:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("chromium is not installed (apt-get install chromium); scripts/setup.sh installs it")


def test_a_real_browser_renders_the_report(written: dict[str, Path], tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    browser = _chromium()
    proc = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}",
            "--window-size=1280,2000",
            written["html"].resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert shot.is_file()
    assert shot.stat().st_size > 10_000
    pixels = np.asarray(image.imread(str(shot)))[..., :3]
    assert pixels.shape[:2] == (2000, 1280)
    # The headline cards are coloured, and the first charts (below them) have ink on them.
    top = pixels[:700]
    assert (np.abs(top - top.mean(axis=(0, 1))) > 0.05).any()
    charts = pixels[1300:2000]
    dark = (charts.sum(axis=2) < 1.5).mean()
    blue = ((charts[..., 2] > 0.6) & (charts[..., 0] < 0.4)).mean()
    assert dark > 0.005, dark  # text and axes
    assert blue > 0.002, blue  # the histogram's bars
