"""An analytic oracle for the forecast's attainment probabilities and their confidence intervals.

One failure mode takes ``api_gateway`` down for exactly one hour, found and
fixed at once otherwise, striking as a Poisson process of rate λ.  Simulating
January from its first instant, the month meets the 99.95 % target exactly
when no incident starts before ``T − b`` (T the month, b its error budget: an
incident that late cannot use more than b of January; one earlier uses more).
So P(met) = exp(−λ (T − b)).

A 95 % interval should cover that in about 95 of 100 independent forecasts,
and cover a wrong answer — the one for twice the rate — far less often.
"""

from __future__ import annotations

import math

import pytest

from sim.forecast import days_from, run_forecast
from sim.playbook import Playbook
from tests.worlds import build, fixed, mode, quiet_world

RATE_PER_YEAR = 8.0
YEAR_S = 365.25 * 86400
FORECASTS = 100
REPLICATIONS = 100


def test_wilson_intervals_cover_the_exact_attainment_probability(playbook: Playbook) -> None:
    world = build(quiet_world(mode(incidents_per_year=RATE_PER_YEAR), fix=fixed("1h")))
    period = days_from(world.calendar.start, 31)
    month = 31 * 86400.0
    budget = (1 - playbook.service("api_gateway").availability) * month
    exposed = (month - budget) / YEAR_S
    truth = math.exp(-RATE_PER_YEAR * exposed)
    wrong = math.exp(-2 * RATE_PER_YEAR * exposed)
    covered = covered_wrong = 0
    estimates = []
    for seed in range(FORECASTS):
        result = run_forecast(playbook, world, period, replications=REPLICATIONS, seed=seed)
        row = result.services.iloc[0]
        assert (row["service"], row["month"], row["length_s"]) == ("api_gateway", "2027-01", month)
        assert row["budget_s"] == pytest.approx(budget)
        covered += row["p_met_lo"] <= truth <= row["p_met_hi"]
        covered_wrong += row["p_met_lo"] <= wrong <= row["p_met_hi"]
        estimates.append(row["p_met"])
    assert covered >= 88, (covered, truth)
    assert covered_wrong <= 20, (covered_wrong, wrong)
    # Pooled over all 10,000 replications the estimate is sharp.
    assert sum(estimates) / FORECASTS == pytest.approx(truth, abs=0.02)
