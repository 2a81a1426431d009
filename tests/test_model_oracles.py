"""Analytic oracles: configured as textbook systems, the model must give the textbook answers.

* M/M/c: Poisson incidents, exponential work, c responders and no detection or
  acknowledgement delay make the technical team an M/M/c queue; the mean wait
  and P(wait > t) must match Erlang C within the 95 % confidence interval over
  replications — and a wrong c must be rejected by the same interval.
* Availability: a service that fails after exponential up-times and is repaired
  in exponential time is up MTBF/(MTBF + MTTR) of the time.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

import numpy as np
import pytest

from sim.model import simulate
from sim.playbook import Playbook
from tests.worlds import ZERO, build, fixed, mode, quiet_world

HOUR = 3600.0
YEAR_H = 365.25 * 24


def erlang_c(lam: float, mu: float, c: int) -> tuple[float, float]:
    """(P(wait > 0), mean wait) of an M/M/c queue."""
    a = lam / mu
    rho = a / c
    top = a**c / math.factorial(c) / (1 - rho)
    p_wait = top / (sum(a**k / math.factorial(k) for k in range(c)) + top)
    return p_wait, p_wait / (c * mu - lam)


def p_wait_longer(lam: float, mu: float, c: int, t: float) -> float:
    p_wait, _ = erlang_c(lam, mu, c)
    return p_wait * math.exp(-(c * mu - lam) * t)


def ci95(samples: list[float]) -> tuple[float, float]:
    mean = statistics.fmean(samples)
    half = 1.96 * statistics.stdev(samples) / math.sqrt(len(samples))
    return mean - half, mean + half


LAM, MU, C = 2.4, 1.0, 3


def _mmc_world(c: int) -> Any:
    data = quiet_world(
        mode(
            incidents_per_year=LAM * YEAR_H,
            concurrent=True,
            team="devops",
            variants=[{"name": "v", "weight": 1, "reported_severity": "P2", "down": False}],
        ),
        fix={"dist": "exponential", "mean": f"{HOUR / MU}s"},
    )
    data["responders"]["teams"]["devops"] = c
    data["responders"]["commanders_primary"] = 400
    return build(data)


@pytest.fixture(scope="module")
def mmc_waits(playbook: Playbook) -> list[list[float]]:
    """Team waits (hours) per replication; the first day of each is warm-up and dropped."""
    world = _mmc_world(C)
    reps = []
    for seq in np.random.SeedSequence(2024).spawn(30):
        result = simulate(playbook, world, days=15, seed=seq)
        reps.append(
            [
                r.team_wait_s / HOUR
                for r in result.records
                if r.team_wait_s is not None and r.started_s > 86400
            ]
        )
    return reps


def test_mean_wait_matches_erlang_c(mmc_waits: list[list[float]]) -> None:
    lo, hi = ci95([statistics.fmean(w) for w in mmc_waits])
    _, wq = erlang_c(LAM, MU, C)
    assert lo <= wq <= hi, (lo, wq, hi)
    assert wq == pytest.approx(1.0787, abs=1e-4)


def test_wait_tail_matches_erlang_c(mmc_waits: list[list[float]]) -> None:
    lo, hi = ci95([sum(1 for x in w if x > 1.0) / len(w) for w in mmc_waits])
    expected = p_wait_longer(LAM, MU, C, 1.0)
    assert lo <= expected <= hi, (lo, expected, hi)
    assert expected == pytest.approx(0.3552, abs=1e-4)


@pytest.mark.parametrize("wrong_c", [4, 5])
def test_a_wrong_number_of_responders_is_rejected(mmc_waits: list[list[float]], wrong_c: int) -> None:
    lo, hi = ci95([statistics.fmean(w) for w in mmc_waits])
    _, wq = erlang_c(LAM, MU, wrong_c)
    assert not lo <= wq <= hi


MTBF_H, MTTR_H = 240.0, 6.0


def test_steady_state_availability_is_mtbf_over_mtbf_plus_mttr(playbook: Playbook) -> None:
    data = quiet_world(
        mode(incidents_per_year=YEAR_H / MTBF_H, user_reports={"probability": 1.0, "delay": ZERO}),
        fix={"dist": "exponential", "mean": f"{MTTR_H * HOUR}s"},
    )
    data["responders"]["commanders_primary"] = 50
    data["responders"]["teams"]["devops"] = 50
    world = build(data)
    days = 400
    shares = []
    for seq in np.random.SeedSequence(7).spawn(30):
        result = simulate(playbook, world, days=days, seed=seq)
        shares.append(1 - sum(r.downtime_s for r in result.records) / (days * 86400))
    lo, hi = ci95(shares)
    expected = MTBF_H / (MTBF_H + MTTR_H)
    assert lo <= expected <= hi, (lo, expected, hi)
    wrong = MTBF_H / (MTBF_H + 2 * MTTR_H)  # an oracle fed the wrong MTTR must disagree
    assert not lo <= wrong <= hi


def test_stages_fixed_at_zero_really_cost_nothing(playbook: Playbook) -> None:
    """The oracles rely on it: with every stage at zero, restoring takes exactly the fix."""
    world = build(quiet_world(mode(), fix=fixed("7m")))
    for record in simulate(playbook, world, days=90, seed=1).records:
        assert record.mitigated_s is not None
        assert record.mitigated_s - record.started_s == pytest.approx(420.0)
