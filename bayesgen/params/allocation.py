"""How the parameter budget is split between node families.

``uniform`` gives every family the same share. ``size`` minimises the total expected noise over all
tables: a family with ``m`` cells and sensitivity ``Δ`` under budget ``b`` has total absolute noise
proportional to ``m Δ / b`` (Laplace) or ``m Δ / sqrt(b)`` (Gaussian, b = ρ); minimising the sum under a
fixed total budget (Lagrange) gives ``b ∝ sqrt(m Δ)`` for pure DP and ``b ∝ (m Δ)^(2/3)`` for zCDP.
Large tables, which are spread over many cells, thus get more budget, but less than proportionally.
"""

from __future__ import annotations

import numpy as np

ALLOCATIONS = ("uniform", "size")


def allocate_budget(total: float, cells: list[int], sensitivities: list[float], method: str = "size",
                    definition: str = "pure") -> np.ndarray:
    """Split ``total`` between families.

    Examples
    --------
    >>> allocate_budget(1.0, [10, 10], [1, 1], "uniform").tolist()
    [0.5, 0.5]
    >>> shares = allocate_budget(1.0, [100, 1], [1, 1], "size")
    >>> bool(shares[0] > shares[1]) and bool(np.isclose(shares.sum(), 1.0))
    True
    """
    if method not in ALLOCATIONS:
        raise ValueError(f"allocation must be one of {ALLOCATIONS}, got {method!r}")
    size = np.asarray(cells, dtype=np.float64) * np.asarray(sensitivities, dtype=np.float64)
    if method == "uniform":
        weights = np.ones_like(size)
    elif definition == "pure":
        weights = np.sqrt(size)
    else:
        weights = size ** (2.0 / 3.0)
    shares = total * weights / weights.sum()
    # floating point: never hand out more than the total
    excess = shares.sum() - total
    if excess > 0:
        shares[np.argmax(shares)] -= excess
    return shares
