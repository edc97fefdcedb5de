"""One privacy accountant per fit: a declared budget, a ledger of charges, and no overspending.

Two privacy definitions are supported, composed by basic (sequential) composition:

* ``"pure"``: ε-differential privacy; each charge is an ε, charges add up.
* ``"zcdp"``: ρ-zero-concentrated DP; each charge is a ρ, charges add up; the declared (ε, δ) budget
  is converted to the largest ρ whose (ε, δ) guarantee is within it, using OpenDP's
  zCDP → approximate-DP conversion (the tight bound of Canonne, Kamath & Steinke 2020).

The neighbouring relation is *add or remove one person* (a root-table row with everything linked to
it); sensitivities passed to the mechanisms reflect how many rows one person can contribute after
contribution bounding.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from bayesgen.errors import PrivacyBudgetError

DEFINITIONS = ("pure", "zcdp")
TOLERANCE = 1e-9  # relative slack for floating-point sums of charges


@dataclass(frozen=True)
class LedgerEntry:
    """One charge: what was measured, how, and what it cost.

    ``cost`` is ε for pure DP and ρ for zCDP, as reported by OpenDP's privacy map.
    """

    what: str
    mechanism: str
    sensitivity: float
    scale: float
    cost: float
    n_values: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def rho_for_epsilon_delta(epsilon: float, delta: float) -> float:
    """The largest ρ whose zCDP guarantee implies (ε, δ)-DP, by bisection on OpenDP's conversion.

    Examples
    --------
    >>> rho = rho_for_epsilon_delta(1.0, 1e-6)
    >>> 0.005 < rho < 0.05
    True
    """
    if not 0 < delta < 1:
        raise ValueError("zCDP needs 0 < delta < 1")
    if math.isinf(epsilon):
        return math.inf
    lo, hi = 0.0, epsilon
    for _ in range(100):
        mid = (lo + hi) / 2
        if epsilon_from_rho(mid, delta) <= epsilon:
            lo = mid
        else:
            hi = mid
    return lo


def epsilon_from_rho(rho: float, delta: float) -> float:
    """ε at ``delta`` of a ρ-zCDP guarantee, computed by OpenDP."""
    if rho == 0:
        return 0.0
    from bayesgen.privacy.mechanisms import opendp

    dp = opendp()
    # a zCDP measurement whose privacy map at d_in = 1 is exactly rho: gaussian with scale 1/sqrt(2 rho)
    space = dp.atom_domain(T=int), dp.absolute_distance(T=int)
    measurement = dp.c.make_zCDP_to_approxDP(dp.m.make_gaussian(*space, scale=1 / math.sqrt(2 * rho)))
    return float(measurement.map(1).epsilon(delta))


class PrivacyAccountant:
    """Tracks the privacy budget of one fit.

    Parameters
    ----------
    epsilon : float
        The total ε; ``math.inf`` means no privacy (no noise; nothing is charged).
    delta : float
        For ``definition="zcdp"``, the δ at which the budget ε is stated; must be 0 for ``"pure"``.
    definition : {"pure", "zcdp"}

    Examples
    --------
    >>> accountant = PrivacyAccountant(epsilon=1.0)
    >>> accountant.charge(LedgerEntry("counts of AGE", "discrete laplace", 1, 2.0, 0.5))
    >>> accountant.spent, accountant.remaining
    (0.5, 0.5)
    >>> accountant.charge(LedgerEntry("too much", "discrete laplace", 1, 1.0, 1.0))
    Traceback (most recent call last):
    ...
    bayesgen.errors.PrivacyBudgetError: charging 1 for 'too much' would spend 1.5 of a budget of 1 (pure DP)
    """

    def __init__(self, epsilon: float, delta: float = 0.0, definition: str = "pure"):
        if definition not in DEFINITIONS:
            raise ValueError(f"definition must be one of {DEFINITIONS}")
        if not epsilon > 0:
            raise ValueError("epsilon must be positive (use math.inf for no privacy)")
        if definition == "pure" and delta != 0:
            raise ValueError("pure DP has delta = 0; use definition='zcdp' for a delta")
        if definition == "zcdp" and not 0 < delta < 1:
            raise ValueError("zCDP needs 0 < delta < 1")
        self.epsilon = float(epsilon)
        self.delta = float(delta)
        self.definition = definition
        self.budget = self.epsilon if definition == "pure" else rho_for_epsilon_delta(self.epsilon, self.delta)
        self.entries: list[LedgerEntry] = []

    @property
    def is_private(self) -> bool:
        return not math.isinf(self.epsilon)

    @property
    def unit(self) -> str:
        return "epsilon" if self.definition == "pure" else "rho"

    @property
    def spent(self) -> float:
        return float(sum(e.cost for e in self.entries))

    @property
    def remaining(self) -> float:
        return self.budget - self.spent

    def charge(self, entry: LedgerEntry) -> None:
        """Record ``entry``; raise :class:`PrivacyBudgetError` if it would exceed the budget."""
        if not entry.cost >= 0:
            raise PrivacyBudgetError(f"charge for {entry.what!r} has invalid cost {entry.cost!r}")
        total = self.spent + entry.cost
        if total > self.budget * (1 + TOLERANCE):
            label = "pure DP" if self.definition == "pure" else f"zCDP rho, from epsilon={self.epsilon:g} at delta={self.delta:g}"
            raise PrivacyBudgetError(f"charging {entry.cost:g} for {entry.what!r} would spend {total:g} of a "
                                     f"budget of {self.budget:g} ({label})")
        self.entries.append(entry)

    def epsilon_spent(self) -> float:
        """The (ε at the declared δ) guarantee of what has been spent so far."""
        if self.definition == "pure":
            return self.spent
        return epsilon_from_rho(self.spent, self.delta)

    def ledger(self) -> dict:
        """The ledger as plain data (what is written into model files and printed)."""
        return {"definition": self.definition, "epsilon": self.epsilon, "delta": self.delta,
                "budget": self.budget, "unit": self.unit, "spent": self.spent,
                "epsilon_spent": self.epsilon_spent() if self.is_private else math.inf,
                "entries": [e.to_dict() for e in self.entries]}
