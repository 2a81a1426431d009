"""The forecast's arithmetic: Wilson intervals, paired differences, periods, seeds, task cutting."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from sim.forecast import PeriodError, child_seed, days_from, parse_period, quarter_of
from sim.forecast.levers import failure_odds
from sim.forecast.runner import task_sizes
from sim.forecast.stats import ratio_difference, wilson, wilson_arrays


@pytest.mark.parametrize(
    ("k", "n", "lo", "hi"),
    [
        (5, 10, 0.236593, 0.763407),  # worked by hand from the score formula
        (0, 10, 0.0, 0.277533),
        (10, 10, 0.722467, 1.0),
        (81, 263, 0.255288, 0.366208),
    ],
)
def test_wilson_matches_reference_values(k: int, n: int, lo: float, hi: float) -> None:
    ci = wilson(k, n)
    assert ci.estimate == pytest.approx(k / n)
    assert ci.lo == pytest.approx(lo, abs=1e-5)
    assert ci.hi == pytest.approx(hi, abs=1e-5)


def test_wilson_without_trials_says_nothing() -> None:
    ci = wilson(0, 0)
    assert math.isnan(ci.estimate)
    assert (ci.lo, ci.hi) == (0.0, 1.0)


def test_vectorised_wilson_agrees() -> None:
    k = np.array([0.0, 3.0, 7.0, 0.0])
    n = np.array([10.0, 10.0, 7.0, 0.0])
    lo, hi = wilson_arrays(k, n)
    for i in range(3):
        ci = wilson(k[i], n[i])
        assert (lo[i], hi[i]) == pytest.approx((ci.lo, ci.hi))
    assert (lo[3], hi[3]) == (0.0, 1.0)


def test_paired_difference_of_identical_runs_is_exactly_zero() -> None:
    x = np.array([1.0, 0.0, 1.0, 1.0, 0.0])
    ones = np.ones(5)
    paired = ratio_difference(x, ones, x, ones)
    unpaired = ratio_difference(x, ones, x, ones, paired=False)
    assert (paired.estimate, paired.lo, paired.hi) == (0.0, 0.0, 0.0)
    assert unpaired.lo < 0 < unpaired.hi


def test_paired_difference_of_indicators_is_the_mean_difference_with_its_t_style_interval() -> None:
    rng = np.random.default_rng(3)
    a = (rng.random(400) < 0.5).astype(float)
    b = np.where(rng.random(400) < 0.2, 1.0 - a, a)
    ones = np.ones(400)
    diff = b - a
    ci = ratio_difference(a, ones, b, ones)
    half = 1.959964 * diff.std(ddof=1) / math.sqrt(400)
    assert ci.estimate == pytest.approx(diff.mean())
    assert (ci.lo, ci.hi) == pytest.approx((diff.mean() - half, diff.mean() + half))


def test_a_quarter_is_three_calendar_months_in_utc() -> None:
    q = parse_period("2027Q1")
    assert q.start == dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    assert q.days == 31 + 28 + 31
    assert parse_period("2028Q1").days == 31 + 29 + 31  # leap year
    assert parse_period("2027q4").end == dt.datetime(2028, 1, 1, tzinfo=dt.UTC)
    assert parse_period("2027-02").days == 28
    assert parse_period("2027").days == 365
    assert quarter_of(dt.datetime(2027, 5, 17, tzinfo=dt.UTC)).label == "2027Q2"
    assert days_from(dt.datetime(2027, 1, 1, tzinfo=dt.UTC), 45).label == "2027-01-01+45d"


@pytest.mark.parametrize("text", ["2027Q5", "2027Q0", "27Q1", "2027-13", "2027-1", "Q1 2027", ""])
def test_bad_periods_are_refused(text: str) -> None:
    with pytest.raises(PeriodError):
        parse_period(text)


def test_replication_seeds_are_the_children_of_the_root_sequence() -> None:
    children = np.random.SeedSequence(42).spawn(7)
    for i, child in enumerate(children):
        assert (child_seed(42, i).generate_state(4) == child.generate_state(4)).all()


@pytest.mark.parametrize(("count", "workers"), [(1, 2), (7, 2), (10_000, 2), (333, 8), (50, 1)])
def test_tasks_cover_every_replication_once(count: int, workers: int) -> None:
    sizes = task_sizes(count, workers, days=90, worlds=1)
    assert sum(sizes) == count
    assert all(s >= 1 for s in sizes)
    assert max(sizes) * 90 <= 25_000 or max(sizes) == 1


def test_failure_odds_stay_probabilities() -> None:
    assert failure_odds(0.9, 2.0) == pytest.approx(0.8)
    assert failure_odds(0.9, 0.5) == pytest.approx(0.95)
    assert failure_odds(0.3, 2.0) == 0.0
    assert failure_odds(1.0, 2.0) == 1.0
