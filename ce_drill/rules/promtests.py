"""promtool unit tests that prove the generated rules keep the manual's promises.

For every alert, two test groups, on the evaluation clock of :class:`Timing`:

* **crossing** — the watched series sits at the threshold (the closest value
  that must not fire), crosses it, and stays across.  The alert must not fire
  one evaluation before ``for`` has elapsed, must fire exactly when it has,
  with its exact labels and annotations, and must resolve once the series is
  back;
* **holding** — the series stays at that closest non-firing value for twice
  ``for``: the alert must never fire.

The crossing value is one :func:`~ce_drill.rules.alerting.threshold_step`
across the threshold, so a rule whose threshold is off by that step, or whose
``for`` is off by one evaluation interval, fails one of the two.

Recording rules get one group each: raw series of the metrics contract in, the
manual's metric out, compared after rounding to :data:`PRECISION_DIGITS` decimals because rates
divide in floating point.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ce_drill.plan.timing import Timing, prom_duration
from ce_drill.rules import contract as c
from ce_drill.rules.alerting import TEST_INSTANCE, AlertRule, number, threshold_step
from ce_drill.rules.recording import RecordingRule
from sim.playbook import Playbook

LEAD_IN_STEPS = 2
"""Evaluations at the non-firing value before a crossing: the alert must not start early."""

PRECISION_DIGITS = 6
"""Recorded values are compared rounded to this many decimals."""
PRECISION = 10.0**PRECISION_DIGITS

_OTHER_JOB = "other-service"
_NODES = (TEST_INSTANCE, f"{c.JOB}-1")

Labels = dict[str, str]


def series(name: str, labels: Labels) -> str:
    body = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return f"{name}{{{body}}}"


def values(*segments: tuple[float, int], slope: float = 0.0) -> str:
    """promtool's expanding notation: each (start, samples) segment, constant unless sloped."""
    parts = []
    for start, count in segments:
        step = f"+{number(slope)}" if slope >= 0 else f"-{number(-slope)}"
        parts.append(f"{number(round(start, 12))}{step}x{count - 1}")
    return " ".join(parts)


def crossing_values(rule: AlertRule) -> tuple[float, float]:
    """(a value that fires, the closest value that must not)."""
    t, d = rule.threshold, threshold_step(rule.threshold, rule.unit)
    pairs = {
        ">": (t + d, t),
        ">=": (t, t - d),
        "<": (t - d, t),
        "<=": (t, t + d),
        "==": (t, 1 - t if rule.unit == "bool" else t + d),
        "!=": (1 - t if rule.unit == "bool" else t + d, t),
    }
    fire, hold = pairs[rule.op]
    return round(fire, 12), round(hold, 12)


def _alert_test(eval_step: int, timing: Timing, rule: AlertRule, firing: bool) -> dict[str, object]:
    expected: list[dict[str, object]] = []
    if firing:
        labels = rule.target.series_labels() | dict(rule.labels)
        expected.append({"exp_labels": labels, "exp_annotations": dict(rule.annotations)})
    return {
        "eval_time": prom_duration(eval_step * timing.scrape_ms),
        "alertname": rule.name,
        "exp_alerts": expected,
    }


def alert_tests(rule: AlertRule, timing: Timing) -> list[dict[str, object]]:
    """The crossing and the holding test group of one alert."""
    fire, hold = crossing_values(rule)
    steps = timing.steps_until_firing(rule.for_ms)
    name = series(rule.target.name, rule.target.series_labels())
    crossing_at = LEAD_IN_STEPS
    fires_at = crossing_at + steps
    interval = prom_duration(timing.scrape_ms)
    crossing: dict[str, object] = {
        "name": f"{rule.name}: crosses to {number(fire)}, fires {steps} evaluation(s) later, resolves",
        "interval": interval,
        "input_series": [
            {"series": name, "values": values((hold, crossing_at), (fire, steps + 1), (hold, 2))}
        ],
        "alert_rule_test": [
            _alert_test(fires_at - 1, timing, rule, firing=False),
            _alert_test(fires_at, timing, rule, firing=True),
            _alert_test(fires_at + 1, timing, rule, firing=False),
        ],
    }
    hold_steps = crossing_at + 2 * steps + 2
    holding: dict[str, object] = {
        "name": f"{rule.name}: holds at {number(hold)} and never fires",
        "interval": interval,
        "input_series": [{"series": name, "values": values((hold, hold_steps))}],
        "alert_rule_test": [
            _alert_test(fires_at, timing, rule, firing=False),
            _alert_test(hold_steps - 1, timing, rule, firing=False),
        ],
    }
    return [crossing, holding]


# --- recording rules --------------------------------------------------------------


@dataclass
class Fixture:
    """Raw input series and the recorded values they must produce."""

    series: dict[str, str] = field(default_factory=dict)
    """series selector → values"""
    expected: dict[tuple[int, tuple[tuple[str, str], ...]], float] = field(default_factory=dict)
    """(evaluation step, output labels) → value"""

    def add(self, name: str, labels: Labels, vals: str) -> None:
        self.series[series(name, labels)] = vals

    def expect(self, step: int, labels: Labels, value: float) -> None:
        self.expected[(step, tuple(labels.items()))] = value


def _svc(job: str = c.JOB, instance: str = TEST_INSTANCE, **extra: str) -> Labels:
    return {"job": job, "instance": instance, **extra}


def _counter(per_step: float, samples: int) -> str:
    return values((0.0, samples), slope=per_step)


@dataclass(frozen=True)
class _Clock:
    """Sample layout of a recording test: evaluated once the range window is full."""

    window_steps: int
    scrape_s: float

    @property
    def samples(self) -> int:
        return self.window_steps + 4

    @property
    def at(self) -> int:
        return self.window_steps + 2


_SERVICE_OUT = {"job": c.JOB}


def _http(pb: Playbook, clock: _Clock) -> dict[str, list[Fixture]]:
    n, at = clock.samples, clock.at
    # Error rate: 4xx are the caller's errors, not the service's; another job is ignored.
    ok, client, server = 5.0, 2.0, 1.0
    f = Fixture()
    for code, per_step in (("200", ok), ("404", client), ("503", server)):
        f.add(c.HTTP_REQUESTS.name, _svc(code=code), _counter(per_step, n))
    f.add(c.HTTP_REQUESTS.name, _svc(job=_OTHER_JOB, code="500"), _counter(100.0, n))
    f.expect(at, _SERVICE_OUT, server / (ok + client + server))
    no_errors = Fixture()
    no_errors.add(c.HTTP_REQUESTS.name, _svc(code="200"), _counter(ok, n))
    no_errors.expect(at, _SERVICE_OUT, 0.0)

    # p95: 90% of requests at most the lowest latency threshold, 10% in the next
    # bucket, so the quantile interpolates inside that bucket.
    bounds = c.latency_buckets(pb)
    upper = min(bounds.index(min(c.latency_thresholds(pb))) + 1, len(bounds) - 1)
    lower = upper - 1
    below, above = 90.0, 10.0
    p95 = Fixture()
    for i, le in enumerate((*bounds, math.inf)):
        cumulative = (below if i >= lower else 0.0) + (above if i >= upper else 0.0)
        le_text = "+Inf" if le == math.inf else number(le)
        p95.add(c.HTTP_REQUEST_DURATION.name + "_bucket", _svc(le=le_text), _counter(cumulative, n))
    rank = c.LATENCY_QUANTILE * (below + above)
    p95.expect(at, _SERVICE_OUT, bounds[lower] + (bounds[upper] - bounds[lower]) * (rank - below) / above)
    return {c.ERROR_RATE.name: [f, no_errors], c.P95_RESPONSE_TIME.name: [p95]}


def _service(clock: _Clock) -> dict[str, list[Fixture]]:
    n, at = clock.samples, clock.at
    failures_per_step = 3.0
    failures = Fixture()
    failures.add(c.AGENT_COORDINATION_FAILURES.name, _svc(), _counter(failures_per_step, n))
    failures.add(c.AGENT_COORDINATION_FAILURES.name, _svc(job=_OTHER_JOB), _counter(50.0, n))
    failures.expect(at, _SERVICE_OUT, failures_per_step * clock.window_steps)

    # Availability: one instance misses `down` scrapes inside the window, the other none.
    # Prometheus 2.x range selectors include both ends: window_steps + 1 samples.
    down = 3
    up = Fixture()
    up.add(c.UP.name, _svc(instance=_NODES[0]), values((1.0, n - down - 1), (0.0, down), (1.0, 1)))
    up.add(c.UP.name, _svc(instance=_NODES[1]), values((1.0, n)))
    up.expect(at + 1, _SERVICE_OUT, 1 - down / (clock.window_steps + 1) / 2)
    return {c.AGENT_FAILURES_IN_WINDOW.name: [failures], c.AVAILABILITY.name: [up]}


def _node(clock: _Clock) -> dict[str, list[Fixture]]:
    """Two instances, each with a different largest resource."""
    n, at = clock.samples, clock.at
    cpu = {_NODES[0]: (0.5, 2.0), _NODES[1]: (0.875, 4.0)}  # utilisation, cores
    mem = {_NODES[0]: 0.75, _NODES[1]: 0.25}
    disk = {_NODES[0]: 0.625, _NODES[1]: 0.5}
    size = 2.0**30
    fc, fm, fd = Fixture(), Fixture(), Fixture()
    for node in _NODES:
        labels = _svc(instance=node)
        util, cores = cpu[node]
        fc.add(c.CPU_SECONDS.name, labels, _counter(util * cores * clock.scrape_s, n))
        fc.add(c.CPU_LIMIT.name, labels, values((cores, n)))
        fc.expect(at, labels, util)
        fm.add(c.MEMORY_USED.name, labels, values((mem[node] * size, n)))
        fm.add(c.MEMORY_LIMIT.name, labels, values((size, n)))
        fm.expect(at, labels, mem[node])
        fd.add(c.DISK_USED.name, labels, values((disk[node] * size, n)))
        fd.add(c.DISK_SIZE.name, labels, values((size, n)))
        fd.expect(at, labels, disk[node])
    return {c.CPU_UTILIZATION.name: [fc], c.MEMORY_UTILIZATION.name: [fm], c.DISK_UTILIZATION.name: [fd]}


def _indicators(clock: _Clock) -> dict[str, list[Fixture]]:
    n = clock.samples
    out: dict[str, list[Fixture]] = {}
    # All well, then one instance goes bad at step 2.
    for recorded, raw, bad in (
        (c.DATABASE_CONNECTIVITY_FAILED, c.DATABASE_UP, 0.0),
        (c.AGENT_COORDINATION_DEGRADED_FLAG, c.AGENT_COORDINATION_DEGRADED, 1.0),
    ):
        f = Fixture()
        f.add(raw.name, _svc(instance=_NODES[0]), values((1.0 - bad, n)))
        f.add(raw.name, _svc(instance=_NODES[1]), values((1.0 - bad, 2), (bad, n - 2)))
        f.expect(1, _SERVICE_OUT, 0.0)
        f.expect(3, _SERVICE_OUT, 1.0)
        out[recorded.name] = [f]
    # Backups: succeeded (t=1000), then failed (t=2000), then succeeded again (t=3000).
    f = Fixture()
    f.add(c.BACKUP_LAST_SUCCESS.name, _svc(), values((1000.0, 4), (3000.0, n - 4)))
    f.add(c.BACKUP_LAST_FAILURE.name, _svc(), values((0.0, 2), (2000.0, n - 2)))
    f.expect(1, _SERVICE_OUT, 0.0)
    f.expect(3, _SERVICE_OUT, 1.0)
    f.expect(5, _SERVICE_OUT, 0.0)
    out[c.BACKUP_JOB_FAILED.name] = [f]
    return out


def _fixtures(pb: Playbook, timing: Timing) -> dict[str, list[Fixture]]:
    """Input series and expected values for each recorded metric with a fixed definition."""
    clock = _Clock(timing.window_ms // timing.scrape_ms, timing.scrape_ms / 1000)
    return _http(pb, clock) | _service(clock) | _node(clock) | _indicators(clock)


def _aggregate(rule: RecordingRule, fixtures: dict[str, list[Fixture]]) -> Fixture:
    """Inputs of every covered metric; the expected value is their maximum."""
    f = Fixture()
    best: dict[tuple[int, tuple[tuple[str, str], ...]], float] = {}
    for name in rule.inputs:
        for part in fixtures[name]:
            f.series.update(part.series)
            for key, value in part.expected.items():
                best[key] = max(best.get(key, value), value)
    f.expected = best
    return f


def _rounded(value: float) -> float:
    # The same rounding as the PromQL the test evaluates: round() rounds half up.
    return math.floor(value * PRECISION + 0.5) / PRECISION


def recording_tests(rules: Sequence[RecordingRule], pb: Playbook, timing: Timing) -> list[dict[str, object]]:
    fixtures = _fixtures(pb, timing)
    groups: list[dict[str, object]] = []
    for rule in rules:
        name = rule.metric.name
        cases = fixtures.get(name) or [_aggregate(rule, fixtures)]
        for i, fixture in enumerate(cases, start=1):
            groups.append(_recording_group(f"{name} #{i}", name, fixture, timing))
    return groups


def _recording_group(title: str, metric: str, fixture: Fixture, timing: Timing) -> dict[str, object]:
    by_step: dict[int, list[dict[str, object]]] = {}
    for (step, labels), value in sorted(fixture.expected.items()):
        by_step.setdefault(step, []).append({"labels": series("", dict(labels)), "value": _rounded(value)})
    return {
        "name": title,
        "interval": prom_duration(timing.scrape_ms),
        "input_series": [{"series": s, "values": v} for s, v in fixture.series.items()],
        "promql_expr_test": [
            {
                "expr": f"round({metric} * 1e{PRECISION_DIGITS}) / 1e{PRECISION_DIGITS}",
                "eval_time": prom_duration(step * timing.scrape_ms),
                "exp_samples": samples,
            }
            for step, samples in by_step.items()
        ],
    }


def test_file(
    rule_files: Iterable[str], timing: Timing, groups: list[dict[str, object]]
) -> dict[str, object]:
    return {
        "rule_files": list(rule_files),
        "evaluation_interval": prom_duration(timing.scrape_ms),
        "tests": groups,
    }
