"""The methods appendix: how a forecast was made, so anyone can re-run it and get the same numbers."""

from __future__ import annotations

import hashlib
import platform
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from sim.dists import Dist
from sim.forecast import Forecast
from sim.forecast.result import INTERVALS, PERCENTILES, SEEDING
from sim.world import World

PACKAGES = ("ce-drill", "simpy", "numpy", "pandas", "matplotlib")


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def digest(world: World) -> str:
    """A short fingerprint of a world's assumptions: two reports with the same one used the same world."""
    return hashlib.sha256(world.model_dump_json().encode()).hexdigest()[:12]


def describe(dist: Dist) -> str:
    """A distribution as people say it: "lognormal, median 10.0 min, p90 30.0 min"."""
    from ce_drill.report.fmt import duration

    if dist.dist == "fixed":
        return f"fixed {duration(dist.value_s)}"
    if dist.dist == "exponential":
        return f"exponential, mean {duration(dist.mean_s)}"
    if dist.dist == "uniform":
        return f"uniform {duration(dist.low_s)}–{duration(dist.high_s)}"
    if dist.dist == "lognormal":
        return f"lognormal, median {duration(dist.median_s)}, p90 {duration(dist.p90_s)}"
    return f"log-logistic, median {duration(dist.median_s)}, shape {dist.shape:g}"


def describe_factor(dist: Dist) -> str:
    """A unitless distribution (a fraction of the cadence), by its parameters."""
    numbers = {k: getattr(dist, f"{k}_s") for k in ("value", "mean", "median", "p90", "low", "high")}
    given = ", ".join(f"{k} {v:g}×" for k, v in numbers.items() if v is not None)
    return f"{dist.dist}, {given} the cadence"


def stage_rows(world: World) -> list[tuple[str, str]]:
    rows = [
        ("acknowledgement delay", describe(world.responders.ack_delay)),
        ("acknowledgement delay (all hands paged)", describe(world.responders.all_hands_ack_delay)),
    ]
    for name in type(world.stages).model_fields:
        dist = getattr(world.stages, name)
        text = describe_factor(dist) if name == "status_update_gap_factor" else describe(dist)
        rows.append((name.replace("_", " "), text))
    rows.append(("auto-rollback success", f"{world.deployments.auto_rollback_success_probability:.0%}"))
    return rows


def mode_rows(world: World) -> list[dict[str, Any]]:
    return [
        {
            "id": m.id,
            "name": m.name,
            "incidents_per_year": m.incidents_per_year,
            "services": list(m.services),
            "team": m.team,
            "fix_success_probability": m.fix_success_probability,
            "rollback_possible": m.rollback_possible,
        }
        for m in world.failure_modes
    ]


def methods(result: Forecast, world_file: str | None, compare_file: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "replications": result.replications_run,
        "seed": result.seed,
        "seeding": SEEDING,
        "intervals": INTERVALS,
        "percentiles": PERCENTILES,
        "playbook": {"title": result.playbook.manual.title, "version": result.playbook.manual.version},
        "world": {
            "file": world_file or "bundled default",
            "digest": digest(result.world),
            "calendar_start": result.world.calendar.start.isoformat(),
            "failure_modes": mode_rows(result.world),
            "assumptions": result.world.model_dump(mode="json"),
        },
        "versions": versions(),
    }
    if result.other_world is not None:
        out["compare_world"] = {"file": compare_file, "digest": digest(result.other_world)}
    return out
