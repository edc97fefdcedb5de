"""Independent marginals: every column drawn on its own from its (noisy) 1-way histogram.

The floor any correlated model must beat on 2- and 3-way marginals. At finite ε each of the d
histograms gets ε/d and Laplace noise of scale d/ε on its counts (one person changes one count
of each histogram by 1 when added or removed), negative counts are set to 0; at ε = ∞ the exact
histograms are used. Noise from numpy: this is a benchmark baseline, not bayesgen.
"""

from __future__ import annotations

import math
import time

import numpy as np


def run(codes: dict, cards: dict, epsilon: float, n_rows: int, seed: int) -> tuple[dict, float, float]:
    """Returns (synthetic codes, fit seconds, sample seconds)."""
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    d = len(cards)
    probabilities = {}
    for name, card in cards.items():
        counts = np.bincount(np.asarray(codes[name], dtype=np.int64), minlength=card).astype(float)
        if math.isfinite(epsilon):
            counts = np.maximum(counts + rng.laplace(0.0, d / epsilon, card), 0.0)
        total = counts.sum()
        probabilities[name] = counts / total if total > 0 else np.full(card, 1.0 / card)
    fitted = time.perf_counter()
    out = {name: rng.choice(cards[name], n_rows, p=p) for name, p in probabilities.items()}
    return out, fitted - started, time.perf_counter() - fitted
