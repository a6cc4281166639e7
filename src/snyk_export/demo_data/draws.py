"""Random draws: one named PCG64 stream per purpose, and weighted picks from it.

``random_stream`` gives chunk k of a stream its own jump, so rows never depend
on how a dataset is cut into batches. ``Traits`` hashes a problem's id instead
of drawing, so a problem reads the same wherever it appears.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from snyk_export.demo_data.arrays import FloatArray, IntArray

_STREAMS = {
    "tenant": 11,
    "world": 23,
    "issues": 101,
    "usage": 202,
    "pr_checks": 303,
    "pr_checks_project_adoption": 404,
    "pr_checks_integration_adoption": 505,
}

CHUNK_ROWS = 65_536

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def random_stream(seed: int, stream: str, chunk: int = 0) -> np.random.Generator:
    """The generator of ``stream``; chunk ``k`` > 0 gets the stream jumped k times."""
    bits = np.random.PCG64(seed + _STREAMS[stream])
    return np.random.Generator(bits.jumped(chunk) if chunk else bits)


def bucket(unit: FloatArray, shares: Sequence[float]) -> IntArray:
    """Map uniform draws in [0, 1) to indices of ``shares`` with those weights."""
    edges = np.cumsum(np.asarray(shares, dtype=np.float64))
    picks = np.searchsorted(edges / edges[-1], unit, side="right")
    return np.minimum(picks, len(shares) - 1).astype(np.int64)


def draw(rng: np.random.Generator, shares: Sequence[float], count: int) -> IntArray:
    return bucket(rng.random(count), shares)


def pick(
    rng: np.random.Generator, values: Sequence[str], shares: Sequence[float]
) -> str:
    """One of ``values``, drawn with relative weights ``shares``."""
    return values[int(draw(rng, shares, 1)[0])]


def between(
    rng: np.random.Generator, low: IntArray, high: IntArray, power: float = 1.0
) -> IntArray:
    """Instants in [low, high] (ms); ``power`` > 1 skews them towards ``low``."""
    fraction = rng.random(len(low)) ** power
    return low + (fraction * (high - low)).astype(np.int64)


def _mix(keys: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """The splitmix64 finaliser: a cheap, well-spread 64-bit hash."""
    z = keys + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


class Traits:
    """Stable pseudo-random draws per problem, hashed from its ecosystem and number."""

    def __init__(self, seed: int, ecosystem: IntArray, problem: IntArray) -> None:
        salt = _mix(np.array([seed & 0xFFFFFFFF], dtype=np.uint64))[0]
        ecosystem_bits = ecosystem.astype(np.uint64) << np.uint64(40)
        self._keys = _mix(salt ^ ecosystem_bits ^ problem.astype(np.uint64))

    def integers(self, trait: int, bound: IntArray | int) -> IntArray:
        bounds = np.asarray(bound).astype(np.uint64)
        return (self._hashed(trait) % bounds).astype(np.int64)

    def unit(self, trait: int) -> FloatArray:
        return (self._hashed(trait) >> np.uint64(11)).astype(np.float64) * 2.0**-53

    def _hashed(self, trait: int) -> NDArray[np.uint64]:
        return _mix(self._keys + np.uint64((trait * int(_GOLDEN)) % 2**64))
