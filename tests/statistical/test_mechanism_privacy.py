"""The noise mechanisms keep their privacy claim on neighbouring inputs, and an under-noised one is caught.

For each mechanism bayesgen uses (discrete Laplace counts, discrete Gaussian counts, exponential
selection by noisy max), many draws are taken on two neighbouring inputs: counts ``c`` and
``c + sensitivity`` (utilities ``u`` and ``u'`` differing by at most the sensitivity). For a family of
output sets (tails ``{o >= t}``, or one index), the Clopper–Pearson interval of each hit rate gives a
lower confidence bound on the ε the draws demonstrate (:func:`bayesgen.audit.epsilon_lower_bound`).

Tolerance and why it is sound: a correct mechanism's lower bound exceeds the claimed ε only if one of
the two binomial intervals misses, probability at most ``1 - CONFIDENCE`` per set; with a Bonferroni
correction over the sets tried, the false-failure rate of each test is at most ``ALPHA = 1e-3``. The
negative control runs the same test on the same mechanism with half (or a third) of the noise scale,
whose true ε is twice (three times) the claim; with the draw counts below, its lower bound clears the
claim by a wide margin (power > 0.999 at these sizes, checked by the printed estimates).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from bayesgen.audit import epsilon_lower_bound
from bayesgen.privacy.accountant import PrivacyAccountant, epsilon_from_rho
from bayesgen.privacy.mechanisms import (
    gaussian_measurement,
    laplace_measurement,
    noisy_counts,
    noisy_max_measurement,
)

ALPHA = 1e-3
DRAWS = 60_000


def _draws(measurement, count: int, n: int) -> np.ndarray:
    return np.asarray(measurement([int(count)] * n), dtype=np.int64)


def _audit_tails(without: np.ndarray, with_: np.ndarray, thresholds, delta=0.0) -> float:
    """The largest ε lower bound over the tail sets {o >= t}, Bonferroni-corrected."""
    confidence = 1 - ALPHA / len(thresholds)
    best = 0.0
    for t in thresholds:
        _, low, _ = epsilon_lower_bound(int((with_ >= t).sum()), len(with_), int((without >= t).sum()),
                                        len(without), delta=delta, confidence=confidence)
        best = max(best, low)
    return best


def _calibrated_laplace_scale(epsilon: float, sensitivity: int) -> float:
    accountant = PrivacyAccountant(epsilon)
    noisy_counts(np.zeros(1, dtype=np.int64), sensitivity=sensitivity, budget=epsilon, accountant=accountant,
                 what="calibration")
    return accountant.entries[0].scale


@pytest.mark.parametrize("epsilon,sensitivity", [(1.0, 1), (0.5, 3)])
def test_discrete_laplace_keeps_its_epsilon_and_an_under_noised_one_is_caught(epsilon, sensitivity):
    scale = _calibrated_laplace_scale(epsilon, sensitivity)  # what bayesgen uses for this budget
    thresholds = [1, sensitivity, 2 * sensitivity]
    correct = laplace_measurement(scale)
    bound = _audit_tails(_draws(correct, 0, DRAWS), _draws(correct, sensitivity, DRAWS), thresholds)
    assert bound <= epsilon, f"claimed {epsilon}, demonstrated at least {bound:.3f}"
    assert bound > 0.8 * epsilon  # the test is tight enough to see the real loss
    under_noised = laplace_measurement(scale / 2)  # true epsilon = 2 x claim
    control = _audit_tails(_draws(under_noised, 0, DRAWS), _draws(under_noised, sensitivity, DRAWS), thresholds)
    assert control > epsilon, f"an under-noised mechanism passed: bound {control:.3f} <= {epsilon}"


def test_discrete_gaussian_keeps_its_epsilon_delta_and_an_under_noised_one_is_caught():
    epsilon, delta, sensitivity = 1.0, 1e-6, 1
    accountant = PrivacyAccountant(epsilon, delta=delta, definition="zcdp")
    noisy_counts(np.zeros(1, dtype=np.int64), sensitivity=sensitivity, budget=accountant.budget,
                 accountant=accountant, what="calibration")
    scale = accountant.entries[0].scale
    assert epsilon_from_rho(accountant.spent, delta) <= epsilon + 1e-9
    thresholds = [int(round(k * scale)) for k in (0.5, 1.0, 1.5)]
    correct = gaussian_measurement(scale)
    bound = _audit_tails(_draws(correct, 0, DRAWS), _draws(correct, sensitivity, DRAWS), thresholds, delta)
    assert bound <= epsilon, f"claimed ({epsilon}, {delta}), demonstrated at least {bound:.3f}"
    # with a third of the noise, rho is 9x: the privacy loss at these tails is far above the claim
    under_noised = gaussian_measurement(scale / 3)
    thresholds = [int(round(k * scale / 3)) for k in (1.0, 2.0, 3.0)]
    control = _audit_tails(_draws(under_noised, 0, DRAWS), _draws(under_noised, sensitivity, DRAWS),
                           thresholds, delta)
    assert control > epsilon, f"an under-noised Gaussian passed: bound {control:.3f} <= {epsilon}"


def _noisy_max_rate(measurement, utilities, draws: int) -> int:
    return sum(1 for _ in range(draws) if measurement(utilities) == 0)


def test_exponential_selection_keeps_its_epsilon_and_an_under_noised_one_is_caught():
    # u = all zeros, u' = +1 on candidate 0 and -1 elsewhere (each utility moves by 1 = sensitivity):
    # P'(0) / P(0) tends to e^epsilon as the number of candidates grows
    epsilon, candidates, draws = 1.0, 40, 8_000
    scale = 2.0 / epsilon
    assert noisy_max_measurement(scale, "pure").map(1.0) <= epsilon + 1e-12
    without = [0.0] * candidates
    with_ = [1.0] + [-1.0] * (candidates - 1)
    correct = noisy_max_measurement(scale, "pure")
    _, bound, _ = epsilon_lower_bound(_noisy_max_rate(correct, with_, draws), draws,
                                      _noisy_max_rate(correct, without, draws), draws, confidence=1 - ALPHA)
    assert bound <= epsilon, f"claimed {epsilon}, demonstrated at least {bound:.3f}"
    under_noised = noisy_max_measurement(scale / 3, "pure")  # true epsilon = 3 x claim
    _, control, _ = epsilon_lower_bound(_noisy_max_rate(under_noised, with_, draws), draws,
                                        _noisy_max_rate(under_noised, without, draws), draws,
                                        confidence=1 - ALPHA)
    assert control > epsilon, f"an under-noised selection passed: bound {control:.3f} <= {epsilon}"
    assert math.isfinite(control)
