"""Random streams: one per stochastic source, derived from the run's seed by key.

Every source of randomness — a failure mode's arrivals; an incident's content,
flow and communication — draws from its own PCG64 seeded by
``SeedSequence(entropy, spawn_key=(*root.spawn_key, *key))``, so a what-if
that changes one source leaves every other source's numbers as they were.

Done by the book, three costs would outweigh the rest of an incident's
bookkeeping; all are avoided here:

- Each SeedSequence costs ~15 µs to build and ~10 µs to hash into PCG64's
  seed, and a simulated year needs ~90 of them.  SeedSequence hashes its
  entropy, then folds in the words of its spawn key one after another, so the
  keys of one run share all but their last steps.  :class:`Seeds` runs the
  same hash (O'Neill's ``seed_seq``, as numpy implements it) on plain ints,
  once per shared prefix.  It is checked against numpy once per process;
  should they ever disagree, numpy does all the work.  Same numbers as numpy.
- A numpy scalar draw costs about as much as a SimPy event.
  :class:`Uniforms` and :class:`Exponentials` draw a block at a time and hand
  the numbers out one by one: numpy's block draws give the same numbers in
  the same order as its scalar draws.  Same numbers as numpy.
- Even so, a generator per source is three per incident, and making one
  (~7 µs) costs more than the draws it serves.  :func:`shared_streams` makes
  one generator per incident and hands each source a fixed share of its first
  block (:data:`SHARES`); a source that needs more carries on with its own
  keyed generator.  A share is fixed, so a source drawing more or fewer
  numbers still leaves the others' numbers as they were.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, cast

import numpy as np
from numpy.random.bit_generator import ISeedSequence

# numpy's SeedSequence (bit_generator.pyx): a pool of four 32-bit words and its hash constants.
_POOL = 4
_MASK = 0xFFFF_FFFF
_INIT_A, _MULT_A = 0x43B0_D7E5, 0x931E_8875
_INIT_B, _MULT_B = 0x8B51_F9DD, 0x58F3_8DED
_MIX_L, _MIX_R = 0xCA01_F9DD, 0x4973_F715

# A keyed stream draws this many numbers per numpy call.
BLOCK = 16
# An incident's sources (content, flow, communication) and the numbers each is given from the
# incident's shared block.  Over 200 years of the default world they drew at most 11; median
# 12, 99th percentile 24; median 7, 99th percentile 18: nearly every incident needs one generator.
SHARES = (16, 32, 32)

_State = tuple[int, int, int, int, int]
"""SeedSequence part-way through its entropy: the four pool words and the running hash constant."""


def _hash_constants(init: int, mult: int, n: int) -> tuple[tuple[int, int], ...]:
    """The hash constant before and after each of ``n`` steps."""
    out, h = [], init
    for _ in range(n):
        out.append((h, (h * mult) & _MASK))
        h = out[-1][1]
    return tuple(out)


# generate_state starts its hash afresh, so for PCG64's eight words its constants are fixed.
_GENERATE = _hash_constants(_INIT_B, _MULT_B, 2 * _POOL)


def _words(value: int) -> list[int]:
    """An int as SeedSequence reads it: little-endian 32-bit words, at least one."""
    if value < 0:
        raise ValueError(f"seed words must be non-negative (got {value})")
    words = [value & _MASK]
    value >>= 32
    while value:
        words.append(value & _MASK)
        value >>= 32
    return words


def _hash(value: int, before: int, after: int) -> int:
    """numpy's ``hashmix``, given the hash constant before and after its step."""
    x = ((value ^ before) * after) & _MASK
    return x ^ (x >> 16)


def _mix(x: int, y: int) -> int:
    """numpy's ``mix``: one pool word with one hashed word."""
    r = (_MIX_L * x - _MIX_R * y) & _MASK
    return r ^ (r >> 16)


def _mix_entropy(words: Sequence[int]) -> _State:
    """``mix_entropy`` over at least a pool's worth of 32-bit words."""
    pool, h = [], _INIT_A
    for word in words[:_POOL]:
        after = (h * _MULT_A) & _MASK
        pool.append(_hash(word, h, after))
        h = after
    # Every pool word into every other, so late words reach early ones.
    for src in range(_POOL):
        for dst in range(_POOL):
            if src != dst:
                after = (h * _MULT_A) & _MASK
                pool[dst] = _mix(pool[dst], _hash(pool[src], h, after))
                h = after
    state = (pool[0], pool[1], pool[2], pool[3], h)
    for word in words[_POOL:]:
        state = _fold(state, word)
    return state


def _fold(state: _State, value: int) -> _State:
    """The state after one more entropy word (past the first pool-size words)."""
    p0, p1, p2, p3, h0 = state
    for word in (value,) if 0 <= value <= _MASK else _words(value):
        # The word is hashed once per pool word, the hash constant moving on each time.
        h1 = (h0 * _MULT_A) & _MASK
        h2 = (h1 * _MULT_A) & _MASK
        h3 = (h2 * _MULT_A) & _MASK
        h4 = (h3 * _MULT_A) & _MASK
        p0 = _mix(p0, _hash(word, h0, h1))
        p1 = _mix(p1, _hash(word, h1, h2))
        p2 = _mix(p2, _hash(word, h2, h3))
        p3 = _mix(p3, _hash(word, h3, h4))
        h0 = h4
    return p0, p1, p2, p3, h0


def _pcg64_seed(state: _State) -> np.ndarray[Any, np.dtype[np.uint64]]:
    """``generate_state(4, np.uint64)``: eight 32-bit words from the cycled pool, paired little-endian."""
    p0, p1, p2, p3, _ = state
    (b0, a0), (b1, a1), (b2, a2), (b3, a3), (b4, a4), (b5, a5), (b6, a6), (b7, a7) = _GENERATE
    return np.array(
        [
            _hash(p0, b0, a0) | _hash(p1, b1, a1) << 32,
            _hash(p2, b2, a2) | _hash(p3, b3, a3) << 32,
            _hash(p0, b4, a4) | _hash(p1, b5, a5) << 32,
            _hash(p2, b6, a6) | _hash(p3, b7, a7) << 32,
        ],
        dtype=np.uint64,
    )


def _entropy_words(entropy: object) -> list[int] | None:
    """The run entropy as SeedSequence reads it, for ints and sequences of ints (None otherwise)."""
    if isinstance(entropy, int):
        return _words(entropy)
    if isinstance(entropy, (list, tuple)) and all(isinstance(e, int) for e in entropy):
        return [w for e in entropy for w in _words(e)]
    return None


class _Seeded(ISeedSequence):
    """A seed already hashed: what PCG64 asks of a seed sequence, answered from a state."""

    def __init__(self, state: np.ndarray[Any, np.dtype[np.uint64]]) -> None:
        self.state = state

    def generate_state(self, n_words: int, dtype: Any = np.uint32) -> np.ndarray[Any, np.dtype[Any]]:
        # PCG64 asks for exactly this; anything else would be a caller this was not made for.
        if n_words != len(self.state) or dtype is not np.uint64:
            raise ValueError("a folded seed serves PCG64 only")
        return self.state


class Seeds:
    """Generators keyed like ``SeedSequence(root.entropy, spawn_key=(*root.spawn_key, *key))``, made cheaply."""

    def __init__(self, root: np.random.SeedSequence) -> None:
        self.root = root
        base = _root_state(root) if _agrees_with_numpy() else None
        # The states after each key prefix seen so far: a key shares all but its last word with others.
        self._prefixes: dict[tuple[int, ...], _State] = {} if base is None else {(): base}

    def generator(self, *key: int) -> np.random.Generator:
        if not key or not self._prefixes:
            return np.random.Generator(np.random.PCG64(_by_the_book(self.root, key)))
        state = _fold(self._prefix(key[:-1]), key[-1])
        # numpy takes any ISeedSequence as a seed; its stubs name only SeedSequence.
        return np.random.Generator(np.random.PCG64(cast(Any, _Seeded(_pcg64_seed(state)))))

    def _prefix(self, key: tuple[int, ...]) -> _State:
        state = self._prefixes.get(key)
        if state is None:
            state = self._prefixes[key] = _fold(self._prefix(key[:-1]), key[-1])
        return state


def _by_the_book(root: np.random.SeedSequence, key: Sequence[int]) -> np.random.SeedSequence:
    return np.random.SeedSequence(root.entropy, spawn_key=(*root.spawn_key, *key))


def _root_state(root: np.random.SeedSequence) -> _State | None:
    """The state after the root's entropy and spawn key; None for entropy read in ways not copied here."""
    run = _entropy_words(root.entropy)
    if run is None:
        return None
    # With a spawn key (and every stream has one), numpy pads the run entropy to the pool size.
    spawn = [w for k in root.spawn_key for w in _words(k)]
    return _mix_entropy(run + [0] * (_POOL - len(run)) + spawn)


@functools.cache
def _agrees_with_numpy() -> bool:
    """Whether the hash here is numpy's, on entropy and keys of several words (checked once)."""
    for entropy in (2**70 + 12_345, [7, 2**40 + 1]):
        root = np.random.SeedSequence(entropy, spawn_key=(3, 2**33 + 5))
        base = _root_state(root)
        for key in ((1,), (1, 6, 2**32 + 9, 2)):
            state = base
            for word in key:
                state = None if state is None else _fold(state, word)
            expected = _by_the_book(root, key).generate_state(_POOL, np.uint64)
            if state is None or not np.array_equal(_pcg64_seed(state), expected):
                return False
    return True


class Uniforms:
    """One stream's uniform draws in [0, 1), in order.

    The stream opens with the numbers it was handed (``first``, its share of
    a shared block), if any, then draws from its own keyed generator, made at
    its first draw.
    """

    __slots__ = ("_key", "_left", "_rng", "_seeds")

    def __init__(self, seeds: Seeds, *key: int, first: Sequence[float] = ()) -> None:
        self._seeds, self._key = seeds, key
        self._rng: np.random.Generator | None = None
        self._left: list[float] = list(reversed(first))

    def random(self) -> float:
        if not self._left:
            if self._rng is None:
                self._rng = self._seeds.generator(*self._key)
            self._left = self._rng.random(BLOCK).tolist()
            self._left.reverse()
        return self._left.pop()


def shared_streams(seeds: Seeds, *key: int) -> tuple[Uniforms, ...]:
    """One stream per entry of :data:`SHARES`, all opening from one generator keyed ``key``.

    Source ``i`` first gets its share of that generator's first block, then
    carries on with the generator keyed ``(*key, i)``.
    """
    block = seeds.generator(*key).random(sum(SHARES)).tolist()
    streams, at = [], 0
    for source, share in enumerate(SHARES):
        streams.append(Uniforms(seeds, *key, source, first=block[at : at + share]))
        at += share
    return tuple(streams)


class Exponentials:
    """One stream's exponential draws of a fixed mean, in order, a block at a time."""

    __slots__ = ("_draw", "_left")

    def __init__(self, rng: np.random.Generator, mean: float, block: int = BLOCK) -> None:
        self._draw: Callable[[], list[float]] = lambda: rng.exponential(mean, block).tolist()
        self._left: list[float] = []

    def next(self) -> float:
        if not self._left:
            self._left = self._draw()
            self._left.reverse()
        return self._left.pop()
