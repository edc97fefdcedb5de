"""Empirical lower bounds on ε from a distinguishing test's hit rates (DP auditing).

If a mechanism is (ε, δ)-DP, then for every set S of outputs and neighbouring inputs D, D':
``P[M(D) ∈ S] ≤ e^ε P[M(D') ∈ S] + δ``. Observing ``k1`` of ``n1`` runs on D and ``k0`` of ``n0``
runs on D' land in S gives, with Clopper–Pearson intervals, a one-sided lower confidence bound
``ε ≥ log((p1_low − δ) / p0_high)``. A correct mechanism's bound stays below its claimed ε (except
with probability at most ``1 − confidence``); a bound above the claim refutes the claim (Jagielski
et al. 2020, *Auditing differentially private machine learning*; Ding et al. 2018, *Detecting
violations of differential privacy*).
"""

from __future__ import annotations

import math

from scipy import stats


def clopper_pearson(successes: int, trials: int, confidence: float) -> tuple[float, float]:
    """Two-sided exact binomial interval at ``confidence`` (each tail ``(1 - confidence) / 2``).

    Examples
    --------
    >>> low, high = clopper_pearson(50, 100, 0.95)
    >>> round(low, 3), round(high, 3)
    (0.398, 0.602)
    """
    if trials <= 0:
        return 0.0, 1.0
    tail = (1 - confidence) / 2
    low = 0.0 if successes == 0 else float(stats.beta.ppf(tail, successes, trials - successes + 1))
    high = 1.0 if successes == trials else float(stats.beta.ppf(1 - tail, successes + 1, trials - successes))
    return low, high


def epsilon_lower_bound(hits_with: int, runs_with: int, hits_without: int, runs_without: int,
                        delta: float = 0.0, confidence: float = 0.95) -> tuple[float, float, float]:
    """The point estimate and confidence interval of the ε a distinguishing test demonstrates.

    ``hits_with`` of ``runs_with`` runs on one input and ``hits_without`` of ``runs_without`` on its
    neighbour landed in the test's set. Returns ``(estimate, low, high)`` where ``low`` is the
    lower end of the ``confidence`` interval: the mechanism cannot be ε-DP for any ε below ``low``
    (unless an event of probability ``(1 - confidence) / 2`` happened). Also tries the complement
    set and the swapped direction, and reports the largest.

    Examples
    --------
    >>> estimate, low, high = epsilon_lower_bound(7300, 10000, 2700, 10000)
    >>> round(estimate, 1), low < estimate < high
    (1.0, True)
    """
    best = (0.0, 0.0, 0.0)
    cases = [(hits_with, runs_with, hits_without, runs_without),
             (runs_with - hits_with, runs_with, runs_without - hits_without, runs_without)]
    cases += [(c, d, a, b) for a, b, c, d in cases]  # either input may be the "with" one
    for k1, n1, k0, n0 in cases:
        low1, high1 = clopper_pearson(k1, n1, confidence)
        low0, high0 = clopper_pearson(k0, n0, confidence)
        p1, p0 = k1 / n1, k0 / n0
        estimate = _log_ratio(p1 - delta, p0)
        low = _log_ratio(low1 - delta, high0)
        high = _log_ratio(high1 - delta, low0)
        if low > best[1] or (low == best[1] and estimate > best[0]):
            best = (estimate, low, high)
    return best


def _log_ratio(numerator: float, denominator: float) -> float:
    if numerator <= 0:
        return 0.0
    if denominator <= 0:
        return math.inf
    return max(math.log(numerator / denominator), 0.0)
