"""The one Prometheus client both targets ask: what it answers when Prometheus answers oddly or not at all."""

from __future__ import annotations

import math
from typing import Any

from ce_drill.prom import Prometheus, PrometheusError, Series


def test_value_is_the_largest_real_sample_and_none_without_one() -> None:
    """What a verification check compares with its threshold: a NaN sample must not decide it."""

    class Answering(Prometheus):
        def __init__(self, samples: list[float]) -> None:
            super().__init__("http://prom")
            self.samples = samples

        def query(self, *_: Any) -> list[Series]:
            return [({"pod": str(i)}, v) for i, v in enumerate(self.samples)]

    assert Answering([math.nan, 0.2, 0.7]).value("x") == 0.7
    assert Answering([0.2, math.nan]).value("x") == 0.2
    assert Answering([math.nan]).value("x") is None
    assert Answering([]).value("x") is None


def test_held_lists_each_evaluation_at_which_the_condition_held_once() -> None:
    """The evidence both targets read to tell a landed fault from one that never took hold."""

    class Answering(Prometheus):
        def query_range(self, *_: Any) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
            return [({"pod": "a"}, [(12.0, 1.0), (11.0, 1.0)]), ({"pod": "b"}, [(11.0, 0.5)])]

    class Refusing(Prometheus):
        def query_range(self, *_: Any) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
            raise PrometheusError("HTTP 503")

    assert Answering("http://prom").held("up == 0", 10.0, 13.0, 1.0) == (11.0, 12.0)
    assert Refusing("http://prom").held("up == 0", 10.0, 13.0, 1.0) == ()

    class OnlyP1(Prometheus):
        def query_range(self, expr: str, *_: Any) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
            assert 'alertstate="firing"' in expr
            return [({}, [(11.0, 1.0)])] if 'alertname="P1Critical"' in expr else []

    assert OnlyP1("http://prom").fired(["P1Critical", "P2Major"], 10.0, 13.0, 1.0) == {"P1Critical"}
    # Nothing listens on port 1: unreachable is evidence of nothing, not a traceback.
    assert Prometheus("http://127.0.0.1:1").held("up == 0", 10.0, 13.0, 1.0) == ()
