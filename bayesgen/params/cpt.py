"""Conditional probability tables and their construction from (noisy) counts by post-processing."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bayesgen.errors import SchemaError


@dataclass(frozen=True, eq=False)
class ConditionalTable:
    """P(node | parents) as an array of shape ``(*parent_cards, card)``; every last-axis row sums to 1.

    Examples
    --------
    >>> table = ConditionalTable("B", ("A",), np.array([[0.9, 0.1], [0.2, 0.8]]))
    >>> table.card, table.parent_cards
    (2, (2,))
    """

    node: str
    parents: tuple[str, ...]
    probabilities: np.ndarray

    def __post_init__(self):
        p = np.asarray(self.probabilities, dtype=np.float64)
        if p.ndim != len(self.parents) + 1:
            raise ValueError(f"CPT of {self.node}: {p.ndim} axes for {len(self.parents)} parents")
        if not np.isfinite(p).all() or (p < 0).any():
            raise ValueError(f"CPT of {self.node}: probabilities must be finite and non-negative")
        sums = p.sum(axis=-1)
        if not np.allclose(sums, 1.0, atol=1e-9):
            raise ValueError(f"CPT of {self.node}: rows must sum to 1 (worst {sums.min():.6g}..{sums.max():.6g})")
        p.setflags(write=False)
        object.__setattr__(self, "probabilities", p)

    @property
    def card(self) -> int:
        return self.probabilities.shape[-1]

    @property
    def parent_cards(self) -> tuple[int, ...]:
        return tuple(self.probabilities.shape[:-1])

    @property
    def n_cells(self) -> int:
        return int(self.probabilities.size)

    def to_dict(self) -> dict:
        return {"parents": list(self.parents), "shape": list(self.probabilities.shape),
                "probabilities": [float(x) for x in self.probabilities.ravel()]}

    @classmethod
    def from_dict(cls, node: str, data: dict) -> ConditionalTable:
        shape = tuple(int(s) for s in data["shape"])
        values = np.asarray(data["probabilities"], dtype=np.float64)
        if values.size != int(np.prod(shape)):
            raise ValueError(f"CPT of {node}: {values.size} values for shape {shape}")
        return cls(node, tuple(data["parents"]), values.reshape(shape))


def constraint_mask(node: str, parents: tuple[str, ...], shape: tuple[int, ...], schema) -> np.ndarray:
    """Which cells of ``node``'s CPT the schema's constraints allow (True = allowed).

    A constraint ``A in S => B in T`` with edge A -> B forbids B outside T where A in S; with edge
    B -> A it forbids A in S where B is outside T. Either way every sampled row satisfies it.
    """
    mask = np.ones(shape, dtype=bool)
    variables = schema.variables
    for constraint in schema.constraints:
        a, b = constraint.antecedent, constraint.consequent
        if node == b.column and a.column in parents:
            parent_axis, parent_codes = parents.index(a.column), variables[a.column].column.codes_matching(a)
            child_forbidden = ~variables[node].column.codes_matching(b)
        elif node == a.column and b.column in parents:
            parent_axis, parent_codes = parents.index(b.column), ~variables[b.column].column.codes_matching(b)
            child_forbidden = variables[node].column.codes_matching(a)
        else:
            continue
        axes = len(shape)
        selected = np.asarray(parent_codes).reshape([-1 if i == parent_axis else 1 for i in range(axes)])
        forbidden = np.asarray(child_forbidden).reshape([1] * (axes - 1) + [-1])
        mask &= ~(selected & forbidden)
    empty = ~mask.any(axis=-1)
    if empty.any():
        raise SchemaError(f"constraints leave no allowed value of {node} for "
                          f"{int(empty.sum())} parent configurations; they contradict each other")
    return mask


def project_to_total(values: np.ndarray, total: float) -> np.ndarray:
    """Euclidean projection of ``values`` onto ``{x >= 0, sum(x) = total}`` ("norm-sub").

    Subtracts one common threshold and clips at zero. For a sparse noisy histogram this removes the
    positive noise that clipping alone leaves in the many empty cells (Wang et al. 2020, *Locally
    differentially private frequency estimation with consistency*); the sort-based algorithm is
    Duchi et al. 2008.

    Examples
    --------
    >>> project_to_total(np.array([5.0, -2.0, 1.0, 0.5]), 4.0).tolist()
    [4.0, 0.0, 0.0, 0.0]
    >>> float(project_to_total(np.array([3.0, 3.0, -1.0]), 10.0).sum())
    10.0
    """
    flat = np.asarray(values, dtype=np.float64).ravel()
    if total <= 0 or flat.size == 0:
        return np.zeros_like(values, dtype=np.float64)
    ordered = np.sort(flat)[::-1]
    excess = np.cumsum(ordered) - total
    rank = np.arange(1, flat.size + 1)
    positive = ordered - excess / rank > 0
    last = rank[positive][-1]
    threshold = excess[positive][-1] / last
    return np.maximum(flat - threshold, 0.0).reshape(np.shape(values))


def cpt_from_counts(node: str, parents: tuple[str, ...], counts: np.ndarray,
                    mask: np.ndarray | None = None, noise_sd: float = 0.0,
                    shrinkage: float = 1.0, unbiased_counts: np.ndarray | None = None,
                    ) -> tuple[ConditionalTable, int]:
    """Post-process (noisy) counts of shape ``(*parent_cards, card)`` into a CPT.

    Negative counts are clipped to 0 and forbidden cells zeroed. Each parent configuration's row is
    then pooled towards the same row with its **last parent dropped** (the counts summed over that
    parent's axis), recursively down to the node's marginal and, below that, uniform over the allowed
    values (hierarchical shrinkage, as in the additive smoothing of Friedman and Goldszmidt's
    hierarchical CPT priors)::

        p(x | a_1..a_L) = (n(a_1..a_L, x) + k_L p(x | a_1..a_{L-1})) / (n(a_1..a_L) + k_L)

    with the pseudo-count ``k_L = shrinkage * sqrt(card) * sd_L``, where ``sd_L`` is the noise
    standard deviation of one summed cell at that level. A row whose counts are large next to the
    noise keeps its own distribution; a row that is mostly noise takes its coarser parent's. With
    ``noise_sd = 0`` (no noise) this is the maximum-likelihood CPT, and an empty row falls back to the
    nearest non-empty coarser row. Pure post-processing of the released counts: it costs no privacy.

    Returns the table and the number of parent configurations with no mass of their own (whose
    distribution therefore comes entirely from the coarser levels).

    Examples
    --------
    >>> table, fallbacks = cpt_from_counts("B", ("A",), np.array([[3, 1], [0, 0]]))
    >>> table.probabilities.tolist(), fallbacks
    ([[0.75, 0.25], [0.75, 0.25]], 1)
    >>> noisy, _ = cpt_from_counts("B", ("A",), np.array([[300, 100], [2, 0]]), noise_sd=10.0)
    >>> [round(float(p), 2) for p in noisy.probabilities[1]]   # 2 counts, noise sd 10: pooled
    [0.77, 0.23]
    """
    values = np.clip(np.asarray(counts, dtype=np.float64), 0, None)
    if mask is None:
        mask = np.ones(values.shape, dtype=bool)
    mask = np.broadcast_to(mask, values.shape)
    values = np.where(mask, values, 0.0)
    raw = values if unbiased_counts is None else np.where(mask, np.asarray(unbiased_counts, np.float64), 0.0)
    card = values.shape[-1]
    n_parents = values.ndim - 1
    # level 0: the marginal, pooled towards uniform over the values allowed anywhere
    allowed_anywhere = mask.reshape(-1, card).any(axis=0).astype(np.float64)
    prior = allowed_anywhere / allowed_anywhere.sum()
    for level in range(0, n_parents + 1):
        summed_axes = tuple(range(level, n_parents))
        level_counts = np.clip(raw.sum(axis=summed_axes), 0, None) if summed_axes else values
        cells_per_count = int(np.prod(values.shape[level:n_parents])) if summed_axes else 1
        pseudo = shrinkage * np.sqrt(card) * noise_sd * np.sqrt(cells_per_count)
        totals = level_counts.sum(axis=-1, keepdims=True)
        prior_b = np.expand_dims(prior, axis=-2) if level > 0 else prior  # broadcast over the new parent
        if pseudo > 0:
            prior = (level_counts + pseudo * prior_b) / (totals + pseudo)
        else:
            prior = np.where(totals > 0, level_counts / np.where(totals > 0, totals, 1.0), prior_b)
    rows = (prior * mask).reshape(-1, card)
    totals = rows.sum(axis=1)
    no_mass = totals <= 0
    if no_mass.any():  # the coarser rows put all their mass on values this row forbids
        rows = rows.copy()
        rows[no_mass] = mask.reshape(-1, card)[no_mass]
        totals = rows.sum(axis=1)
    probabilities = (rows / totals[:, None]).reshape(values.shape)
    own_mass = values.reshape(-1, card).sum(axis=1) > 0
    return ConditionalTable(node, tuple(parents), probabilities), int((~own_mass).sum())


def tilt_to_mean(probabilities: np.ndarray, weights: np.ndarray, target: float) -> np.ndarray:
    """Tilt every row ``p(k | parents)`` to ``p(k | parents) * exp(theta * k)`` (renormalised), with one
    ``theta`` chosen so that the ``weights``-weighted mean of ``k`` over the rows equals ``target``.

    For a count variable (rows per parent), the mean is the table's size: noisy rows of a CPT are
    made non-negative and pooled, which pulls sparse rows towards flat and moves the mean towards
    the middle of the range, while the raw noisy counts still give an unbiased mean. The tilt is the
    smallest change (in Kullback-Leibler divergence) that restores it; zeros stay zeros. A target
    out of reach is met as closely as the tilt allows.

    Examples
    --------
    >>> p = np.array([[0.5, 0.5], [0.25, 0.75]])
    >>> tilted = tilt_to_mean(p, np.array([1.0, 1.0]), 0.5)
    >>> bool(np.isclose((tilted[:, 1]).mean(), 0.5)), bool(np.allclose(tilted.sum(axis=1), 1.0))
    (True, True)
    """
    p = np.asarray(probabilities, dtype=np.float64)
    w = np.maximum(np.asarray(weights, dtype=np.float64), 0.0)
    if w.sum() <= 0:
        return p
    k = np.arange(p.shape[-1], dtype=np.float64)
    with np.errstate(divide="ignore"):
        log_p = np.log(p)

    def tilted(theta: float) -> np.ndarray:
        logits = log_p + theta * k
        logits = logits - logits.max(axis=-1, keepdims=True)
        q = np.exp(logits)
        return q / q.sum(axis=-1, keepdims=True)

    def mean(theta: float) -> float:
        return float((w * (tilted(theta) * k).sum(axis=-1)).sum() / w.sum())

    low, high = -30.0, 30.0
    if target <= mean(low):
        return tilted(low)
    if target >= mean(high):
        return tilted(high)
    for _ in range(100):  # the mean grows with theta: bisection
        middle = (low + high) / 2
        if mean(middle) < target:
            low = middle
        else:
            high = middle
    return tilted((low + high) / 2)
