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
    size = int(np.prod(cards))
    index_type = np.int32 if size < 2**31 else np.int64  # half the memory traffic when it fits
    flat = codes[0].astype(index_type)
    for values, card in zip(codes[1:], cards[1:], strict=True):
        flat *= card
        flat += values
    return np.bincount(flat, minlength=size).reshape(cards)
