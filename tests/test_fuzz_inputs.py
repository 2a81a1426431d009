"""Fuzzed inputs keep the CLI's promise: exit 0, 1 or 2, and 2 only with one located line.

A few hundred seeded mutations (see ``tests/fuzzing.py``) of every kind of
file ce-drill reads, each through every command that reads it.  The mix
leans away from the playbook, whose three commands each parse a thousand
lines, to stay within a minute; ``bench/bench_fuzz.py`` runs a thousand
cases evenly.
"""

from __future__ import annotations

import pytest

from tests.fuzzing import Case, cases_of, run_case

MIX = {"playbook": 39, "world": 39, "timeline": 52, "scenario": 52, "answers": 39, "experiment": 78}
CASES: list[Case] = []
for _kind, _count in MIX.items():
    CASES += cases_of(_kind, _count, seed=2027, first=len(CASES))


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[f"{c.kind}-{c.mutation}-{c.number}" for c in CASES])
def test_bad_input_exits_2_with_one_located_line(case: Case) -> None:
    broken = [o for o in run_case(case) if o.problem is not None]
    assert not broken, "; ".join(
        f"`{o.command}` on {case.source}: {o.problem} {o.detail or o.stderr!r}" for o in broken
    )


def test_the_mix_covers_every_kind_and_mutation() -> None:
    from tests.fuzzing import KINDS, MUTATIONS

    assert set(MIX) == set(KINDS)
    for kind in KINDS:
        assert {c.mutation for c in CASES if c.kind == kind} == set(MUTATIONS)
