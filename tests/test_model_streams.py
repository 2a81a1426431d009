"""The model's random streams are numpy's, number for number.

Streams are made without building a SeedSequence per stream and drawn in
blocks; both must give exactly what ``SeedSequence(entropy,
spawn_key=(*root.spawn_key, *key))`` → PCG64 → one draw at a time gives, or
every seed's results would change.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.model.streams import BLOCK, SHARES, Exponentials, Seeds, Uniforms, _agrees_with_numpy, shared_streams


def _by_the_book(root: np.random.SeedSequence, key: Sequence[int]) -> np.random.Generator:
    seq = np.random.SeedSequence(entropy=root.entropy, spawn_key=(*root.spawn_key, *key))
    return np.random.Generator(np.random.PCG64(seq))


ROOTS = [
    np.random.SeedSequence(0),
    np.random.SeedSequence(2**70 + 5),  # entropy of several words
    np.random.SeedSequence([3, 2**40, 9]),
    np.random.SeedSequence(7, spawn_key=(12,)),  # a forecast replication's seed
    np.random.SeedSequence(11, spawn_key=(3, 2**33)),
    np.random.SeedSequence(),  # fresh entropy from the OS
    np.random.SeedSequence(np.int64(5)),  # entropy not read here: numpy makes every stream
    np.random.SeedSequence(5, pool_size=8),
]
# Named, not repr'd: the OS-entropy root differs in every process, and pytest-xdist's workers
# must collect the same test ids.
ROOT_IDS = ["0", "multiword", "list", "spawned", "spawned-multiword", "os-entropy", "int64", "pool8"]
KEYS = [(0,), (0, 6), (1, 0, 0, 0), (1, 6, 41, 2), (1, 2, 2**32 + 1, 1), (2, 2**64)]


def test_the_hash_is_numpys() -> None:
    # Otherwise every stream would quietly come from numpy's slower path.
    assert _agrees_with_numpy()


@pytest.mark.parametrize("root", ROOTS, ids=ROOT_IDS)
def test_generators_are_numpys(root: np.random.SeedSequence) -> None:
    seeds = Seeds(root)
    for key in KEYS:
        ours, theirs = seeds.generator(*key), _by_the_book(root, key)
        assert ours.random(8).tolist() == theirs.random(8).tolist(), key


@settings(max_examples=60, deadline=None)
@given(
    entropy=st.integers(min_value=0, max_value=2**130),
    spawn_key=st.lists(st.integers(min_value=0, max_value=2**40), max_size=3),
    keys=st.lists(
        st.lists(st.integers(min_value=0, max_value=2**36), min_size=1, max_size=4), min_size=1, max_size=6
    ),
)
def test_any_root_and_keys(entropy: int, spawn_key: list[int], keys: list[list[int]]) -> None:
    root = np.random.SeedSequence(entropy, spawn_key=tuple(spawn_key))
    seeds = Seeds(root)
    for key in keys:
        assert seeds.generator(*key).random(3).tolist() == _by_the_book(root, key).random(3).tolist()


def test_uniforms_in_blocks_are_the_single_draws() -> None:
    root = np.random.SeedSequence(42)
    stream, reference = Uniforms(Seeds(root), 1, 3, 5, 1), _by_the_book(root, (1, 3, 5, 1))
    # Past the end of a block, too.
    assert [stream.random() for _ in range(2 * BLOCK + 3)] == [
        reference.random() for _ in range(2 * BLOCK + 3)
    ]


@pytest.mark.parametrize("root", ROOTS[:5], ids=ROOT_IDS[:5])
def test_an_incidents_sources_share_one_block_then_carry_on_with_their_own(
    root: np.random.SeedSequence,
) -> None:
    streams = shared_streams(Seeds(root), 1, 3, 5)
    block = _by_the_book(root, (1, 3, 5)).random(sum(SHARES)).tolist()
    assert len(streams) == len(SHARES)
    at = 0
    for source, (stream, share) in enumerate(zip(streams, SHARES, strict=True)):
        # Past the share, into the source's own generator and past its first block.
        own = _by_the_book(root, (1, 3, 5, source)).random(BLOCK + 3).tolist()
        assert [stream.random() for _ in range(share + BLOCK + 3)] == block[at : at + share] + own, source
        at += share


def test_a_source_drawing_more_leaves_the_others_as_they_were() -> None:
    # The common random numbers a what-if relies on: flow draws past its share, content and comms do not move.
    root = np.random.SeedSequence(9)
    quiet = shared_streams(Seeds(root), 1, 0, 2)
    busy = shared_streams(Seeds(root), 1, 0, 2)
    for _ in range(3 * SHARES[1]):
        busy[1].random()
    for source in (0, 2):
        assert [busy[source].random() for _ in range(40)] == [quiet[source].random() for _ in range(40)]


def test_exponentials_in_blocks_are_the_single_draws() -> None:
    root = np.random.SeedSequence(42)
    gaps = Exponentials(Seeds(root).generator(0, 4), 3600.0)
    reference = _by_the_book(root, (0, 4))
    assert [gaps.next() for _ in range(2 * BLOCK + 3)] == [
        float(reference.exponential(3600.0)) for _ in range(2 * BLOCK + 3)
    ]
