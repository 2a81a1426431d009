"""Where replications run changes nothing: one process, a pool of two, or a Dask cluster give the same JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import distributed
import pytest
from click.testing import CliRunner

from ce_drill.cli import cli

ARGS = ["forecast", "--replications", "40", "--tornado-replications", "12", "--seed", "7", "--json"]


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """A real Dask scheduler on TCP, with one in-process worker thread to keep it light."""
    cluster_type: Any = distributed.LocalCluster  # untyped
    with cluster_type(
        n_workers=1, threads_per_worker=2, processes=False, protocol="tcp", dashboard_address=None
    ) as cluster:
        yield str(cluster.scheduler_address)


def _run(tmp_path: Path, *extra: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, [*ARGS, "--out", str(tmp_path), *extra])
    assert result.exit_code == 0, result.output
    payload: dict[str, Any] = json.loads(result.stdout)
    return payload


def _numbers(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if k != "execution"}


def test_one_worker_two_workers_and_dask_give_identical_numbers(tmp_path: Path, scheduler: str) -> None:
    serial = _run(tmp_path / "one", "--workers", "1")
    pool = _run(tmp_path / "two", "--workers", "2")
    dask = _run(tmp_path / "dask", "--scheduler", scheduler)
    assert [p["execution"]["backend"] for p in (serial, pool, dask)] == ["serial", "processes", "dask"]
    assert pool["execution"]["tasks"] > 1
    assert dask["execution"]["tasks"] > 1
    assert _numbers(serial) == _numbers(pool)
    assert _numbers(serial) == _numbers(dask)
    assert serial["replications"] == 40
    assert len(serial["tornado"]) == 16
    # The files carry the same document as stdout.
    written = json.loads((tmp_path / "one" / "2027Q1-sla-forecast.json").read_text(encoding="utf-8"))
    assert _numbers(written) == _numbers(serial)
