"""Noise mechanisms: OpenDP's discrete Laplace and discrete Gaussian on integer count vectors.

This module is the only place noise is drawn. OpenDP samples from a cryptographically secure source,
so the noise is not seedable (by design). Each call builds an OpenDP measurement, asks OpenDP's own
privacy map for the cost at the given sensitivity, charges that cost to the accountant *before*
releasing anything, and only then runs the measurement.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from bayesgen.privacy.accountant import LedgerEntry, PrivacyAccountant


@functools.cache
def opendp():
    """The ``opendp.prelude`` module with the ``contrib`` features enabled."""
    import opendp.prelude as dp

    dp.enable_features("contrib")
    return dp


def _scale_for(cost_of, target: float, scale: float) -> float:
    """Nudge ``scale`` up until OpenDP's map reports a cost within ``target`` (float rounding)."""
    for _ in range(60):
        if cost_of(scale) <= target:
            return scale
        scale = math.nextafter(scale, math.inf) * (1 + 1e-12)
    raise RuntimeError("could not calibrate noise scale")  # pragma: no cover


def vector_sensitivity(per_person: list[int], definition: str) -> int:
    """Sensitivity of a vector whose entry ``i`` one person changes by at most ``per_person[i]``: their
    sum (L1, pure DP) or the root of their squares rounded up (L2, zCDP; the mechanisms take integers).

    Examples
    --------
    >>> vector_sensitivity([1, 4, 3], "pure"), vector_sensitivity([1, 4, 3], "zcdp")
    (8, 6)
    """
    if definition == "pure":
        return int(sum(per_person))
    return math.ceil(math.sqrt(sum(s * s for s in per_person)))


def laplace_measurement(scale: float):
    dp = opendp()
    space = dp.vector_domain(dp.atom_domain(T="i64")), dp.l1_distance(T="i64")
    return dp.m.make_laplace(*space, scale=scale)


def gaussian_measurement(scale: float):
    dp = opendp()
    space = dp.vector_domain(dp.atom_domain(T="i64")), dp.l2_distance(T="i64")
    return dp.m.make_gaussian(*space, scale=scale)


def noisy_counts(counts: np.ndarray, *, sensitivity: int, budget: float, accountant: PrivacyAccountant,
                 what: str) -> np.ndarray:
    """Release integer ``counts`` with discrete noise costing ``budget`` (ε or ρ, per the accountant).

    ``sensitivity`` bounds how much one person changes the vector: in L1 for the discrete Laplace
    (pure DP), in L2 for the discrete Gaussian (zCDP). With an accountant of infinite ε the counts
    are returned unchanged and nothing is charged.

    Examples
    --------
    >>> accountant = PrivacyAccountant(epsilon=1.0)
    >>> noisy = noisy_counts(np.array([10, 20, 30]), sensitivity=1, budget=0.5,
    ...                      accountant=accountant, what="example")
    >>> noisy.shape, accountant.entries[0].scale
    ((3,), 2.0)
    """
    counts = np.asarray(counts, dtype=np.int64)
    if not accountant.is_private:
        return counts.copy()
    if not budget > 0:
        raise ValueError(f"{what}: budget must be positive")
    if accountant.definition == "pure":
        mechanism, build = "discrete laplace", laplace_measurement
        scale = sensitivity / budget
    else:
        mechanism, build = "discrete gaussian", gaussian_measurement
        scale = sensitivity / math.sqrt(2 * budget)
    scale = _scale_for(lambda s: build(s).map(int(sensitivity)), budget, scale)
    measurement = build(scale)
    cost = float(measurement.map(int(sensitivity)))
    accountant.charge(LedgerEntry(what, mechanism, float(sensitivity), float(scale), cost, int(counts.size)))
    return np.asarray(measurement(counts.tolist()), dtype=np.int64)


def noisy_max_measurement(scale: float, definition: str):
    dp = opendp()
    space = dp.vector_domain(dp.atom_domain(T=float, nan=False)), dp.linf_distance(T=float)
    measure = dp.max_divergence() if definition == "pure" else dp.zero_concentrated_divergence()
    return dp.m.make_noisy_max(*space, measure, scale=scale)


def noisy_max_index(utilities: np.ndarray, *, sensitivity: float, budget: float,
                    accountant: PrivacyAccountant, what: str) -> int:
    """The index of the (noisily) highest utility: the exponential mechanism, costing ``budget``.

    OpenDP's ``make_noisy_max`` (Gumbel noise, equivalent to the exponential mechanism) on utilities
    whose values one person changes by at most ``sensitivity`` each, in either direction. The cost is
    ε for pure DP (``2 Δ / scale``) or ρ for zCDP, from OpenDP's privacy map. With an accountant of
    infinite ε the exact maximum is returned and nothing is charged.

    Examples
    --------
    >>> accountant = PrivacyAccountant(epsilon=1.0)
    >>> index = noisy_max_index(np.array([0.0, 500.0, 3.0]), sensitivity=1.0, budget=0.5,
    ...                         accountant=accountant, what="example")
    >>> index, round(accountant.spent, 6)
    (1, 0.5)
    """
    values = [float(u) for u in np.asarray(utilities, dtype=np.float64)]
    if not values:
        raise ValueError(f"{what}: no candidates")
    if not accountant.is_private:
        return int(np.argmax(values))
    if not budget > 0:
        raise ValueError(f"{what}: budget must be positive")
    definition = accountant.definition
    scale = 2 * sensitivity / budget if definition == "pure" else sensitivity / math.sqrt(2 * budget)
    scale = _scale_for(lambda s: noisy_max_measurement(s, definition).map(float(sensitivity)), budget, scale)
    measurement = noisy_max_measurement(scale, definition)
    cost = float(measurement.map(float(sensitivity)))
    accountant.charge(LedgerEntry(what, "exponential (noisy max)", float(sensitivity), float(scale), cost,
                                  len(values)))
    return int(measurement(values))
