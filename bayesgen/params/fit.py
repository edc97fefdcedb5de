"""Fit CPTs under differential privacy: measure noisy family counts once, then post-process.

Following private-pgm's measure/estimate split, noise is added only here, to the exact family counts
(node + parents) of the bounded data; everything after that (clipping, constraint masks,
normalisation, fallbacks) is post-processing of the noisy measurements and costs nothing.

Each family's counts are computed over the rows of the node's table: root-table nodes over persons,
child-table nodes over the bounded child rows (their root-table parents joined through the foreign
key), and patient-level *outcome* nodes over persons joined with their index child row. The L1/L2
sensitivity of a family's count vector is the number of rows one person contributes to that table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bayesgen.params.allocation import allocate_budget
from bayesgen.params.counts import family_counts
from bayesgen.params.cpt import ConditionalTable, constraint_mask, cpt_from_counts
from bayesgen.privacy.accountant import PrivacyAccountant
from bayesgen.privacy.mechanisms import noisy_counts


@dataclass
class Family:
    """A node with its parents, the table whose rows are counted, and the person-level sensitivity."""

    node: str
    parents: tuple[str, ...]
    shape: tuple[int, ...]
    rows_of: str
    sensitivity: int

    @property
    def n_cells(self) -> int:
        return int(np.prod(self.shape))


def families(schema, structure) -> list[Family]:
    """The families of ``structure``, in sampling order, with their row tables and sensitivities."""
    variables = schema.variables
    out = []
    for phase, nodes in structure.phases(schema):
        for node in nodes:
            parents = structure.parents(node)
            shape = tuple(variables[p].n_states for p in parents) + (variables[node].n_states,)
            if phase == "outcome":
                rows_of = schema.root_table
            else:
                rows_of = variables[node].table
            out.append(Family(node, parents, shape, rows_of, 0))
    return out


def family_data(family: Family, encoded, schema) -> list[np.ndarray]:
    """The code columns (parents then node) aligned on the rows ``family`` counts."""
    variables = schema.variables
    root = schema.root_table
    columns = []
    for name in (*family.parents, family.node):
        table = variables[name].table
        codes = encoded.codes[name]
        if table == family.rows_of:
            columns.append(codes)
        elif table == root:  # root parent of a child-table node: through the foreign key
            columns.append(codes[encoded.parent_row[family.rows_of]])
        else:  # child-table parent of a root outcome: the person's index row
            first = encoded.index_row[table]
            columns.append(codes[first])
    return columns


@dataclass
class FittedParameters:
    cpts: dict[str, ConditionalTable]
    fallback_rows: dict[str, int]


def fit_parameters(encoded, schema, structure, accountant: PrivacyAccountant, budget: float | None = None,
                   allocation: str = "size") -> FittedParameters:
    """Measure every family's counts with noise and post-process them into CPTs.

    Parameters
    ----------
    encoded : EncodedData
        Codes after contribution bounding.
    accountant : PrivacyAccountant
        Charged once per family; ``budget`` (default: all that remains) is split by ``allocation``.
    """
    all_families = families(schema, structure)
    for family in all_families:
        family.sensitivity = encoded.rows_per_person[family.rows_of]
    if accountant.is_private:
        total = accountant.remaining if budget is None else budget
        shares = allocate_budget(total, [f.n_cells for f in all_families], [f.sensitivity for f in all_families],
                                 allocation, accountant.definition)
    else:
        shares = np.full(len(all_families), np.inf)
    cpts, fallbacks = {}, {}
    for family, share in zip(all_families, shares, strict=True):
        exact = family_counts(family_data(family, encoded, schema), list(family.shape))
        parent_text = f" | {', '.join(family.parents)}" if family.parents else ""
        noisy = noisy_counts(exact.ravel(), sensitivity=family.sensitivity, budget=float(share),
                             accountant=accountant, what=f"counts of {family.node}{parent_text}").reshape(family.shape)
        mask = constraint_mask(family.node, family.parents, family.shape, schema)
        cpts[family.node], fallbacks[family.node] = cpt_from_counts(family.node, family.parents, noisy, mask)
    return FittedParameters(cpts, fallbacks)
