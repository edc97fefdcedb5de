"""Random-number conventions (SPEC 7) and the counter-based generator used for sampling.

Every public function takes one ``rng`` argument (int, :class:`numpy.random.Generator` or None),
normalised with :func:`numpy.random.default_rng`. The global ``np.random`` state is never used.

Sampling needs output that is identical whatever the chunk size or number of threads. A sequential
stream cannot give that cheaply, so sampling draws its random numbers from a *counter-based*
generator: draw ``i`` of stream ``key`` is ``splitmix64(key + (i + 1) * GOLDEN)``, the SplitMix64
output function evaluated at position ``i`` (Steele, Lea & Flood 2014). Any worker can compute any
position directly. The network sampler uses the 64 bits as they are (alias tables, see
:mod:`bayesgen.sampling.kernels`); a uniform in [0, 1) keeps the top 53. This module holds the NumPy
implementation; the numba kernels in :mod:`bayesgen.sampling.kernels` compile the same formula, and a
test checks that both agree bit for bit.
"""

from __future__ import annotations

import numpy as np

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
MIX1 = np.uint64(0xBF58476D1CE4E5B9)
MIX2 = np.uint64(0x94D049BB133111EB)
TWO_POW_MINUS_53 = 1.0 / 9007199254740992.0

RandomState = int | np.random.Generator | np.random.SeedSequence | None


def as_generator(rng: RandomState) -> np.random.Generator:
    """Normalise ``rng`` to a :class:`numpy.random.Generator`.

    Examples
    --------
    >>> bool(as_generator(7).integers(10) == as_generator(7).integers(10))
    True
    """
    return np.random.default_rng(rng)


def stream_keys(rng: RandomState, n_streams: int) -> np.ndarray:
    """Draw ``n_streams`` independent 64-bit stream keys from ``rng``.

    Examples
    --------
    >>> keys = stream_keys(0, 3)
    >>> keys.dtype, len(set(keys.tolist()))
    (dtype('uint64'), 3)
    """
    generator = as_generator(rng)
    return generator.integers(0, 2**64 - 1, size=n_streams, dtype=np.uint64, endpoint=True)


def splitmix64(positions: np.ndarray, key: np.uint64) -> np.ndarray:
    """SplitMix64 output at ``positions`` of the stream ``key`` (uint64 in, uint64 out)."""
    with np.errstate(over="ignore"):
        z = np.uint64(key) + (positions.astype(np.uint64) + np.uint64(1)) * GOLDEN
        z = (z ^ (z >> np.uint64(30))) * MIX1
        z = (z ^ (z >> np.uint64(27))) * MIX2
        return z ^ (z >> np.uint64(31))


def uniforms_at(positions: np.ndarray, key: np.uint64) -> np.ndarray:
    """Uniform doubles in [0, 1) at ``positions`` of stream ``key``, 53 bits each.

    Examples
    --------
    >>> u = uniforms_at(np.arange(5), np.uint64(42))
    >>> bool(((u >= 0) & (u < 1)).all())
    True
    >>> bool((uniforms_at(np.arange(2, 4), np.uint64(42)) == u[2:4]).all())
    True
    """
    return (splitmix64(positions, key) >> np.uint64(11)).astype(np.float64) * TWO_POW_MINUS_53
