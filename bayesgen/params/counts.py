"""Family counts: how many rows have each (parent configuration, value) of a node."""

from __future__ import annotations

import numpy as np


def family_counts(codes: list[np.ndarray], cards: list[int]) -> np.ndarray:
    """Counts of each joint configuration of ``codes`` (parents first, node last).

    A vectorised mixed-radix index (last variable fastest) and one ``np.bincount``; the result has
    shape ``cards``, the same layout as a CPT.

    Examples
    --------
    >>> family_counts([np.array([0, 1, 1]), np.array([1, 0, 0])], [2, 2]).tolist()
    [[0, 1], [2, 0]]
    """
    n = len(codes[0])
    flat = np.zeros(n, dtype=np.int64)
    for values, card in zip(codes, cards, strict=True):
        flat *= card
        flat += values
    return np.bincount(flat, minlength=int(np.prod(cards))).reshape(cards)
