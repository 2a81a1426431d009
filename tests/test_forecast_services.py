"""Recovery by service in a forecast: each service's own RTO and RPO, judged over the incidents that hit it.

One failure mode hits the primary database and file storage, is reported and
fixed in exactly 20 minutes, and loses 6 minutes of the database's writes.
Every incident therefore misses the database's 15-minute RTO and 5-minute RPO
(恢复目标 › 服务级别目标, L577), keeps file storage's 30-minute RTO (L579), and
— held to the stricter of P2 and its services — misses its severity verdicts too.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from ce_drill.report.tables import service_recovery_table
from sim.forecast import Forecast, days_from, run_forecast
from sim.playbook import Playbook
from tests.worlds import build, fixed, mode, quiet_world

MIN = 60.0


@pytest.fixture(scope="module")
def result() -> Forecast:
    playbook = Playbook.default()
    variant = {"name": "v", "weight": 1, "reported_severity": "P2", "down": True}
    data = quiet_world(
        mode(
            services=["primary_db", "file_storage"],
            team="database",
            incidents_per_year=24,
            data_loss={"probability": 1.0, "service": "primary_db"},
            variants=[variant],
        ),
        fix=fixed("20m"),
    )
    next(p for p in data["durable_points"] if p["service"] == "primary_db")["lag"] = fixed("6m")
    world = build(data)
    return run_forecast(playbook, world, days_from(world.calendar.start, 90), replications=20, seed=1)


def _row(result: Forecast, service: str) -> dict[str, Any]:
    rows = result.service_recovery.to_dict("records")
    return {str(k): v for k, v in next(r for r in rows if r["service"] == service).items()}


def test_each_service_is_judged_against_its_own_targets(playbook: Playbook, result: Forecast) -> None:
    db, files = _row(result, "primary_db"), _row(result, "file_storage")
    assert (db["rto_s"], db["rpo_s"]) == (
        playbook.service("primary_db").rto_s,
        playbook.service("primary_db").rpo_s,
    )
    assert (files["rto_s"], files["rpo_s"]) == (30 * MIN, 15 * MIN)
    incidents = db["rto_met_n"]
    assert incidents > 20
    assert (db["rto_met"], db["rpo_met"], db["rpo_met_n"]) == (0.0, 0.0, incidents)
    assert (files["rto_met"], files["rto_met_n"], files["rpo_met_n"]) == (1.0, incidents, 0)
    assert math.isnan(files["rpo_met"])
    gateway = _row(result, "api_gateway")
    assert (gateway["rto_met_n"], gateway["rpo_met_n"]) == (0, 0)  # never hit


def test_severity_verdicts_use_the_stricter_targets(result: Forecast) -> None:
    p2 = result.severities.set_index("severity").loc["P2"]
    assert p2["incidents"] == _row(result, "primary_db")["rto_met_n"]
    # 20 minutes meets P2's hour and 6 minutes its 15; not the database's 15 and 5 minutes.
    assert (p2["rto_met"], p2["rpo_met"]) == (0.0, 0.0)


def test_the_json_and_the_report_table_carry_them(result: Forecast) -> None:
    recovery = {r["service"]: r for r in result.to_json()["service_recovery"]}
    assert recovery["primary_db"]["rto_s"] == 15 * MIN
    assert recovery["primary_db"]["rto_met"]["estimate"] == 0.0
    assert recovery["file_storage"]["rpo_met"] == {
        "estimate": None, "ci95": [0.0, 1.0], "incidents": 0, "pooled_over": "incidents that lost its writes",
    }  # fmt: skip
    table = service_recovery_table(result)
    assert table.headers == (
        "service",
        "name",
        "RTO",
        "P(restored within RTO)",
        "RPO",
        "P(data lost within RPO)",
    )
    rows = {r[0].text: r for r in table.rows}
    assert [c.text.replace("\N{NO-BREAK SPACE}", " ") for c in rows["primary_db"][2:]] == [
        "15.0 min", "0.0 %", "5.0 min", "0.0 %",
    ]  # fmt: skip
    assert rows["api_gateway"][3].text == "–"
