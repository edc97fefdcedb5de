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
                    mask: np.ndarray | None = None) -> tuple[ConditionalTable, int]:
    """Post-process (noisy) counts of shape ``(*parent_cards, card)`` into a CPT.

    Negative counts are clipped to 0 and forbidden cells zeroed. A parent configuration with no mass
    left falls back to the node's marginal (the clipped counts summed over all configurations,
    restricted to that row's allowed values), and to uniform over the allowed values if that is empty
    too. This is pure post-processing of the released counts: it costs no privacy.

    Returns the table and the number of parent configurations that used the fallback.

    Examples
    --------
    >>> table, fallbacks = cpt_from_counts("B", ("A",), np.array([[3, 1], [0, 0]]))
    >>> table.probabilities.tolist(), fallbacks
    ([[0.75, 0.25], [0.75, 0.25]], 1)
    """
    values = np.clip(np.asarray(counts, dtype=np.float64), 0, None)
    if mask is None:
        mask = np.ones(values.shape, dtype=bool)
    values = np.where(mask, values, 0.0)
    card = values.shape[-1]
    rows = values.reshape(-1, card)
    allowed = np.broadcast_to(mask, values.shape).reshape(-1, card)
    totals = rows.sum(axis=1)
    empty = totals <= 0
    if empty.any():
        marginal = rows.sum(axis=0)
        fallback = np.where(allowed[empty], marginal, 0.0)
        no_marginal = fallback.sum(axis=1) <= 0
        fallback[no_marginal] = allowed[empty][no_marginal].astype(np.float64)
        rows = rows.copy()
        rows[empty] = fallback
        totals = rows.sum(axis=1)
    probabilities = (rows / totals[:, None]).reshape(values.shape)
    return ConditionalTable(node, tuple(parents), probabilities), int(empty.sum())
