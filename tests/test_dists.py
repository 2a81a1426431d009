"""Assumed-duration distributions: their parameters mean what the world file says."""

from __future__ import annotations

import numpy as np
import pytest

from sim.dists import Dist


def _d(**fields: object) -> Dist:
    return Dist.model_validate(fields)


def test_lognormal_median_and_p90() -> None:
    d = _d(dist="lognormal", median="10m", p90="30m")
    assert d.quantile(0.5) == pytest.approx(600.0)
    assert d.quantile(0.9) == pytest.approx(1800.0)
    draws = np.array([d.sample(np.random.default_rng(s)) for s in range(4000)])
    assert np.median(draws) == pytest.approx(600.0, rel=0.06)
    assert np.mean(draws) == pytest.approx(d.mean(), rel=0.08)


def test_loglogistic_has_the_median_and_a_heavier_tail() -> None:
    heavy = _d(dist="loglogistic", median="10m", shape=2.5)
    light = _d(dist="lognormal", median="10m", p90="30m")
    assert heavy.quantile(0.5) == pytest.approx(600.0)
    assert heavy.quantile(0.999) > light.quantile(0.999)


def test_exponential_fixed_uniform() -> None:
    assert _d(dist="exponential", mean="1h").mean() == 3600.0
    assert _d(dist="exponential", mean="1h").quantile(1 - np.exp(-1)) == pytest.approx(3600.0)
    assert _d(dist="fixed", value="2m").sample(np.random.default_rng(0)) == 120.0
    assert _d(dist="uniform", low="1m", high="3m").quantile(0.5) == 120.0


def test_copies_sample_with_their_own_parameters() -> None:
    d = _d(dist="lognormal", median="10m", p90="30m")
    assert d.scaled(2).quantile(0.5) == pytest.approx(1200.0)
    assert d.model_copy(update={"median_s": 60.0, "p90_s": 120.0}).quantile(0.5) == pytest.approx(60.0)
    assert d.quantile(0.5) == pytest.approx(600.0)


def test_every_draw_consumes_one_uniform() -> None:
    """Streams stay aligned across what-ifs that swap one distribution for another."""
    for d in (
        _d(dist="fixed", value=1),
        _d(dist="lognormal", median=1, p90=2),
        _d(dist="exponential", mean=1),
    ):
        a, b = np.random.default_rng(5), np.random.default_rng(5)
        d.sample(a)
        b.random()
        assert a.random() == b.random()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"dist": "lognormal", "median": "10m"}, "needs 'p90'"),
        ({"dist": "lognormal", "median": "10m", "p90": "5m"}, "0 < median < p90"),
        ({"dist": "uniform", "low": "5m", "high": "1m"}, "low <= high"),
        ({"dist": "loglogistic", "median": "5m", "shape": 0.5}, "greater than 1"),
    ],
)
def test_bad_parameters(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Dist.model_validate(fields)
