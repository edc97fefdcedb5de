"""Size every conditional table to the noise it will get: PrivBayes' θ-usefulness rule on a given DAG.

Under a budget ``b`` per family, a count table of ``m`` cells over ``n`` rows gets noise of scale
``s`` per cell (``Δ / b`` for the discrete Laplace, ``Δ / sqrt(2 b)`` for the discrete Gaussian with
``b = ρ``). When the average count per cell, ``n / m``, is small against ``s``, the table is mostly
noise: its rows fall back to coarser rows, or, worse, the noise in the many empty cells of a sparse
table becomes probability mass (a gene-test count that is mostly zero comes out three times too
high). PrivBayes (Zhang et al., 2017, section 4.3) keeps a family only if it is *θ-useful*:
``n / (m s) >= θ``. :func:`prune_to_noise` applies the rule to an expert DAG: while a family's table
has more than ``n / (θ s)`` cells, it drops the node's last-listed parent (the structure lists the
most important parent first), except parents that carry a schema constraint, which are kept.

The only data-dependent input is each table's row count, and that is measured with noise first
(a small share of the budget, charged to the same accountant); everything else is public (the
schema's states, the structure, the budget). The dropped parents are summed out of the exact counts,
which is exact: the table of a node over fewer parents is the sum of its table over more.

On the ten-table simulated registry at ε = 1 (200,000 patients, one fit each), pruning the expert
DAG with θ = 4 dropped 73 of its 128 edges and took the mean 2-way TVD of the tumour table from 0.137
to 0.065, and the gene tests per tumour from +199 % of the truth to -1.3 % (docs/tuning.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from bayesgen.params.allocation import allocate_budget
from bayesgen.params.fit import ExactCounts, measured_families
from bayesgen.privacy.accountant import PrivacyAccountant
from bayesgen.privacy.mechanisms import noisy_counts, vector_sensitivity
from bayesgen.structure.structure import Structure

DEFAULT_THETA = 4.0
DEFAULT_SIZING_SHARE = 0.01


@dataclass
class Pruning:
    """What :func:`prune_to_noise` did: the pruned structure and counts, and why.

    Attributes
    ----------
    structure : Structure
        The given structure without the dropped edges.
    counts : ExactCounts
        The exact counts with the dropped parents summed out (private, never saved).
    dropped : list of (str, str)
        The dropped edges (parent, node), in sampling order.
    noisy_rows : dict of str to float
        The noisy row count of each counted table (released: it went through the accountant).
    cell_limits : dict of str to float
        Per node, the most cells its table could keep (``n / (θ s)``).
    """

    structure: Structure
    counts: ExactCounts
    dropped: list[tuple[str, str]] = field(default_factory=list)
    noisy_rows: dict[str, float] = field(default_factory=dict)
    cell_limits: dict[str, float] = field(default_factory=dict)


def required_edges(schema) -> set[tuple[str, str]]:
    """Edges that carry a schema constraint (either direction): never pruned."""
    out = set()
    for constraint in schema.constraints:
        a, b = constraint.antecedent.column, constraint.consequent.column
        out |= {(a, b), (b, a)}
    return out


def noise_scale(sensitivity: float, budget: float, definition: str) -> float:
    """Per-cell noise scale of a count table measured with ``budget`` (ε for pure DP, ρ for zCDP).

    Examples
    --------
    >>> noise_scale(2, 0.5, "pure"), noise_scale(1, 0.5, "zcdp")
    (4.0, 1.0)
    """
    if definition == "pure":
        return sensitivity / budget
    return sensitivity / math.sqrt(2 * budget)


def prune_to_noise(structure: Structure, schema, exact: ExactCounts, accountant: PrivacyAccountant,
                   sizing_budget: float, parameters_budget: float, theta: float = DEFAULT_THETA,
                   allocation: str = "uniform") -> Pruning:
    """Drop parents until every family's table is θ-useful under the noise it will get.

    Parameters
    ----------
    structure : Structure
        The expert DAG (its parents listed most important first).
    exact : ExactCounts
        Exact counts of ``structure``'s families (private).
    accountant : PrivacyAccountant
        Charged ``sizing_budget`` for one noisy row count per counted table.
    sizing_budget : float
        Budget for the row counts (ε, or ρ under zCDP).
    parameters_budget : float
        The budget the families will share when measured (split by ``allocation`` as
        :func:`bayesgen.params.measure_parameters` does); it sets each family's noise scale.
    theta : float
        The usefulness threshold: average count per cell at least ``theta`` noise scales.

    Returns
    -------
    Pruning

    Examples
    --------
    >>> import bayesgen as bg
    >>> from bayesgen.params.fit import exact_family_counts
    >>> from bayesgen.schema.encode import encode_tables
    >>> schema = bg.Schema.load("schemas/simulacrum_v2_core.yaml")
    >>> structure = bg.Structure.load("structures/simulacrum_v2_core.yaml")
    >>> data = encode_tables(bg.datasets.simulate_registry(2_000, rng=0, full=False), schema)
    >>> accountant = PrivacyAccountant(1.0)
    >>> pruned = prune_to_noise(structure, schema, exact_family_counts(data, schema, structure), accountant,
    ...                         sizing_budget=0.01, parameters_budget=0.99)
    >>> len(pruned.structure.edges) < len(structure.edges), round(accountant.spent, 6)
    (True, 0.01)
    >>> ("SITE_ICD10_O2", "T_BEST") in pruned.dropped   # 114 sites x 7 T states: too many cells for 2,000 persons
    True
    """
    all_families = measured_families(schema, structure, exact.rows_per_person)
    # every family over a table counts the same rows: the first one's total is the table's
    first = {}
    for family in all_families:
        if not family.complete_counts_only:  # those count a subset of their table's rows
            first.setdefault(family.rows_of, family)
    tables = list(first)
    sensitivity = {t: family.sensitivity for t, family in first.items()}
    totals = np.array([int(exact.counts[family.node].sum()) for family in first.values()])
    # one person changes table t's count by at most its sensitivity
    sizing_sensitivity = vector_sensitivity([sensitivity[t] for t in tables], accountant.definition)
    noisy = noisy_counts(totals, sensitivity=sizing_sensitivity, budget=sizing_budget, accountant=accountant,
                         what="rows per table (to size the conditional tables)")
    noisy_rows = {t: float(max(v, 1)) for t, v in zip(tables, noisy, strict=True)}
    shares = allocate_budget(parameters_budget, [f.n_cells for f in all_families],
                             [f.sensitivity for f in all_families], allocation, accountant.definition,
                             weights=[structure.budget_weights.get(f.node, 1.0) for f in all_families])
    required = required_edges(schema)
    variables = schema.variables
    dropped, limits, counts = [], {}, dict(exact.counts)
    for family, share in zip(all_families, shares, strict=True):
        scale = noise_scale(family.sensitivity, float(share), accountant.definition)
        limit = noisy_rows[family.rows_of] / (theta * scale)
        limits[family.node] = limit
        parents = list(family.parents)
        states = variables[family.node].n_states
        while states * math.prod(variables[p].n_states for p in parents) > limit:
            optional = [p for p in parents if (p, family.node) not in required]
            if not optional:
                break
            parents.remove(optional[-1])
        if len(parents) < len(family.parents):
            gone = [p for p in family.parents if p not in parents]
            dropped += [(p, family.node) for p in gone]
            axes = tuple(family.parents.index(p) for p in gone)
            counts[family.node] = counts[family.node].sum(axis=axes)
    keep = set(structure.edges) - set(dropped)
    body = structure.to_dict()
    body["edges"] = [edge for edge in body["edges"] if (edge["from"], edge["to"]) in keep]
    pruned = Structure.from_dict(body, source=f"structure pruned at theta={theta:g}")
    pruned.validate_for(schema)
    return Pruning(pruned, ExactCounts(counts, dict(exact.rows_per_person), dict(exact.bounding_report),
                                       dict(exact.n_rows)), dropped, noisy_rows, limits)
