"""Fit CPTs under differential privacy: measure noisy family counts once, then post-process.

Following private-pgm's measure/estimate split, noise is added only here, to the exact family counts
(node + parents) of the bounded data; everything after that (clipping, constraint masks,
normalisation, fallbacks) is post-processing of the noisy measurements and costs nothing.

Each family's counts are computed over the rows of the node's table: root-table nodes over persons,
child-table nodes over the bounded child rows (their root-table parents joined through the foreign
key), and patient-level *outcome* nodes over persons joined with their index child row. The L1/L2
sensitivity of a family's count vector is the number of rows one person contributes to that table.

Counting and measuring are separate steps, so that exact counts can be taken where the data are
(one partition of persons at a time, possibly on other machines) and summed before the one central
measurement: :func:`exact_family_counts` (per partition), :func:`sum_exact_counts` (central), then
:func:`measure_parameters` (central, the only place noise is drawn). :func:`fit_parameters` is the
three in one for data held in one place.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from bayesgen.params.allocation import allocate_budget
from bayesgen.params.counts import family_counts
from bayesgen.params.cpt import (
    ConditionalTable,
    constraint_mask,
    cpt_from_counts,
    project_to_total,
    tilt_to_mean,
)
from bayesgen.privacy.accountant import PrivacyAccountant
from bayesgen.privacy.mechanisms import noisy_counts
from bayesgen.schema.encode import related_rows


@dataclass
class Family:
    """A node with its parents, the table whose rows are counted, and the person-level sensitivity."""

    node: str
    parents: tuple[str, ...]
    shape: tuple[int, ...]
    rows_of: str
    sensitivity: int
    complete_counts_only: bool = False  # a count variable fitted on parents followed up long enough

    @property
    def n_cells(self) -> int:
        return int(np.prod(self.shape))

    @property
    def row_set(self) -> str:
        """The rows counted: ``rows_of``, or its rows with a complete count (a subset, another total)."""
        return f"{self.rows_of} (complete {self.node})" if self.complete_counts_only else self.rows_of


def families(schema, structure) -> list[Family]:
    """The families of ``structure``, in sampling order, with their row tables and sensitivities."""
    variables = schema.variables
    followed_up = {t.count_variable for t in schema.child_tables if schema.count_follow_up(t) is not None}
    out = []
    for phase, nodes in structure.phases(schema):
        for node in nodes:
            parents = structure.parents(node)
            shape = tuple(variables[p].n_states for p in parents) + (variables[node].n_states,)
            if phase == "outcome":
                rows_of = schema.root_table
            else:
                rows_of = variables[node].table
            complete_only = node in followed_up and rows_of == variables[node].table
            out.append(Family(node, parents, shape, rows_of, 0, complete_only))
    return out


def measured_families(schema, structure, rows_per_person: dict[str, int]) -> list[Family]:
    """:func:`families` with their sensitivities: the rows one person contributes to the counted table
    after bounding (``rows_per_person``), or fewer where the table declares ``fit_rows_per_person``."""
    out = families(schema, structure)
    for family in out:
        family.sensitivity = min(rows_per_person[family.rows_of], schema.fit_rows_per_person(family.rows_of))
    return out


def aligned_codes(name: str, rows_of: str, encoded, schema) -> np.ndarray:
    """The codes of ``name`` aligned on the rows of table ``rows_of``.

    A variable of an ancestor table reaches the rows through the foreign keys; a child-table
    variable reaches the root table's rows through each person's index row.
    """
    codes = encoded.codes[name]
    rows = related_rows(schema.variables[name].table, rows_of, encoded, schema)
    return codes if rows is None else codes[rows]


def family_data(family: Family, encoded, schema) -> list[np.ndarray]:
    """The code columns (parents then node) aligned on the rows ``family`` counts.

    Of a table with ``fit_rows_per_person``, only each person's first rows are counted; of a count
    variable with a follow-up rule, only the rows with a complete count
    (:meth:`bayesgen.schema.Schema.count_follow_up`).
    """
    columns = [aligned_codes(name, family.rows_of, encoded, schema) for name in (*family.parents, family.node)]
    mask = getattr(encoded, "fit_mask", {}).get(family.rows_of)
    if family.complete_counts_only:
        complete = encoded.count_complete[family.node]
        mask = complete if mask is None else mask & complete
    return columns if mask is None else [column[mask] for column in columns]


@dataclass
class FittedParameters:
    cpts: dict[str, ConditionalTable]
    fallback_rows: dict[str, int]


POSTPROCESSING = ("project", "clip")


def noise_variance(entry) -> float:
    """Variance of one noise draw of a ledger entry (discrete Laplace or discrete Gaussian)."""
    if entry.mechanism == "discrete laplace":
        q = np.exp(-1.0 / entry.scale)
        return float(2 * q / (1 - q) ** 2)
    return float(entry.scale**2)  # the discrete Gaussian's variance is at most sigma^2


def pooled_totals(measured: list[tuple[Family, np.ndarray, float]]) -> dict[str, float]:
    """Per counted row set, the inverse-variance weighted mean of the noisy table sums.

    Every family over the same rows (persons, or one child table's rows) has the same true total, so
    pooling the noisy sums of all of them estimates it far better than any one. Post-processing only.
    """
    sums: dict[str, list[tuple[float, float]]] = {}
    for family, noisy, variance in measured:
        cell_variance = variance * family.n_cells
        sums.setdefault(family.row_set, []).append((float(noisy.sum()), cell_variance))
    totals = {}
    for rows_of, pairs in sums.items():
        weights = np.array([1.0 / v if v > 0 else np.inf for _, v in pairs])
        values = np.array([s for s, _ in pairs])
        if np.isinf(weights).any():
            totals[rows_of] = float(values[np.isinf(weights)][0])
        else:
            totals[rows_of] = float((weights * values).sum() / weights.sum())
    return totals


@dataclass
class ExactCounts:
    """Exact (noise-free, private) family counts of bounded data, ready to be measured once.

    Attributes
    ----------
    counts : dict of str to ndarray
        Per node, its family's int64 count table (shape: parents' states, then the node's).
    rows_per_person : dict of str to int
        The most rows one person contributes to each table after bounding (declared bounds).
    bounding_report : dict of str to int
        Rows dropped by contribution bounding, per table (for the data holder only).
    n_rows : dict of str to int
        Rows kept per table.
    """

    counts: dict[str, np.ndarray]
    rows_per_person: dict[str, int]
    bounding_report: dict[str, int] = field(default_factory=dict)
    n_rows: dict[str, int] = field(default_factory=dict)


def exact_family_counts(encoded, schema, structure) -> ExactCounts:
    """The exact count table of every family of ``structure`` in ``encoded`` (no noise, private).

    Bounding is per person, so on data partitioned by person the counts of the partitions add up to
    the counts of the whole (see :func:`sum_exact_counts`).

    Examples
    --------
    >>> import bayesgen as bg
    >>> from bayesgen.schema.encode import encode_tables
    >>> schema = bg.Schema.load("schemas/simulacrum_v2.yaml")
    >>> structure = bg.Structure.load("structures/simulacrum_v2.yaml")
    >>> exact = exact_family_counts(encode_tables(bg.datasets.simulate_registry(200, rng=0), schema),
    ...                             schema, structure)
    >>> int(exact.counts["GENDER"].sum()), exact.rows_per_person["SIM_AV_TUMOUR"]
    (200, 3)
    """
    counts = {family.node: family_counts(family_data(family, encoded, schema), list(family.shape)).astype(np.int64)
              for family in families(schema, structure)}
    return ExactCounts(counts, dict(encoded.rows_per_person), dict(encoded.bounding_report), dict(encoded.n_rows))


def sum_exact_counts(parts: Iterable[ExactCounts]) -> ExactCounts:
    """Add up the exact counts of disjoint partitions of persons (no noise; central, before measuring).

    Count tables and dropped-row reports are summed. ``rows_per_person`` comes from declared bounds,
    the same in every partition; the largest is kept (a partition holding no rows of a table still
    carries the declared bound).

    Examples
    --------
    >>> a = ExactCounts({"X": np.array([1, 2])}, {"P": 1}, {"P": 0}, {"P": 3})
    >>> b = ExactCounts({"X": np.array([0, 5])}, {"P": 1}, {"P": 2}, {"P": 5})
    >>> total = sum_exact_counts([a, b])
    >>> total.counts["X"].tolist(), total.bounding_report, total.n_rows
    ([1, 7], {'P': 2}, {'P': 8})
    """
    total: ExactCounts | None = None
    for part in parts:
        if total is None:
            total = ExactCounts({node: np.array(table, dtype=np.int64) for node, table in part.counts.items()},
                                dict(part.rows_per_person), dict(part.bounding_report), dict(part.n_rows))
            continue
        if set(part.counts) != set(total.counts):
            raise ValueError(f"partitions counted different families: {sorted(set(part.counts) ^ set(total.counts))}")
        for node, table in part.counts.items():
            if table.shape != total.counts[node].shape:
                raise ValueError(f"counts of {node} have shape {table.shape} in one partition and "
                                 f"{total.counts[node].shape} in another")
            total.counts[node] += table
        for name, bound in part.rows_per_person.items():
            total.rows_per_person[name] = max(total.rows_per_person.get(name, 0), int(bound))
        for name, dropped in part.bounding_report.items():
            total.bounding_report[name] = total.bounding_report.get(name, 0) + int(dropped)
        for name, rows in part.n_rows.items():
            total.n_rows[name] = total.n_rows.get(name, 0) + int(rows)
    if total is None:
        raise ValueError("no partitions to add up")
    return total


def fit_parameters(encoded, schema, structure, accountant: PrivacyAccountant, budget: float | None = None,
                   allocation: str = "uniform", postprocessing: str = "project",
                   shrinkage: float = 1.0) -> FittedParameters:
    """Measure every family's counts with noise and post-process them into CPTs.

    The same as :func:`measure_parameters` of :func:`exact_family_counts` of ``encoded``.

    Parameters
    ----------
    encoded : EncodedData
        Codes after contribution bounding.
    accountant : PrivacyAccountant
        Charged once per family; ``budget`` (default: all that remains) is split by ``allocation``.
    postprocessing, shrinkage
        See :func:`measure_parameters`.

    Examples
    --------
    >>> import bayesgen as bg
    >>> from bayesgen.schema.encode import encode_tables
    >>> schema = bg.Schema.load("schemas/simulacrum_v2.yaml")
    >>> structure = bg.Structure.load("structures/simulacrum_v2.yaml")
    >>> encoded = encode_tables(bg.datasets.simulate_registry(200, rng=0), schema)
    >>> accountant = PrivacyAccountant(1.0)
    >>> fitted = fit_parameters(encoded, schema, structure, accountant)
    >>> fitted.cpts["GENDER"].probabilities.shape, round(accountant.spent, 6)
    ((4,), 1.0)
    """
    _check_settings(postprocessing, shrinkage)
    return measure_parameters(exact_family_counts(encoded, schema, structure), schema, structure, accountant,
                              budget=budget, allocation=allocation, postprocessing=postprocessing,
                              shrinkage=shrinkage)


def _check_settings(postprocessing: str, shrinkage: float) -> None:
    if postprocessing not in POSTPROCESSING:
        raise ValueError(f"postprocessing must be one of {POSTPROCESSING}, got {postprocessing!r}")
    if not shrinkage >= 0:
        raise ValueError(f"shrinkage must be a non-negative number, got {shrinkage!r}")


def measure_parameters(exact: ExactCounts, schema, structure, accountant: PrivacyAccountant,
                       budget: float | None = None, allocation: str = "uniform", postprocessing: str = "project",
                       shrinkage: float = 1.0) -> FittedParameters:
    """Add noise once to exact family counts and post-process the noisy counts into CPTs.

    This is the one place where noise is drawn (through OpenDP, charged to ``accountant``). It must
    be given the counts of *all* the data (summed over partitions with :func:`sum_exact_counts`),
    never those of one partition.

    Parameters
    ----------
    exact : ExactCounts
        From :func:`exact_family_counts` (or :func:`sum_exact_counts` over partitions of persons).
    accountant : PrivacyAccountant
        Charged once per family; ``budget`` (default: all that remains) is split by ``allocation``.
    postprocessing : {"project", "clip"}
        ``project`` (default): each noisy table, with its forbidden cells removed, is projected onto
        the non-negative tables summing to the pooled estimate of its row count (norm-sub), then
        normalised per parent configuration. ``clip``: negative counts set to zero, then normalised.
    shrinkage : float
        Strength of the hierarchical pooling of noisy rows towards their coarser (fewer-parent)
        rows, in units of the noise (see :func:`bayesgen.params.cpt.cpt_from_counts`); 0 turns the
        pooling off, leaving only the fallback for empty rows.

    Examples
    --------
    >>> import math, bayesgen as bg
    >>> from bayesgen.schema.encode import encode_tables
    >>> schema = bg.Schema.load("schemas/simulacrum_v2.yaml")
    >>> structure = bg.Structure.load("structures/simulacrum_v2.yaml")
    >>> exact = exact_family_counts(encode_tables(bg.datasets.simulate_registry(200, rng=0), schema),
    ...                             schema, structure)
    >>> fitted = measure_parameters(exact, schema, structure, PrivacyAccountant(math.inf))
    >>> sorted(fitted.cpts) == sorted(exact.counts)
    True
    """
    _check_settings(postprocessing, shrinkage)
    all_families = measured_families(schema, structure, exact.rows_per_person)
    missing = [family.node for family in all_families if family.node not in exact.counts]
    if missing:
        raise ValueError(f"no exact counts for {missing[:5]} ({len(missing)} families)")
    if accountant.is_private:
        total = accountant.remaining if budget is None else budget
        shares = allocate_budget(total, [f.n_cells for f in all_families], [f.sensitivity for f in all_families],
                                 allocation, accountant.definition,
                                 weights=[structure.budget_weights.get(f.node, 1.0) for f in all_families])
    else:
        shares = np.full(len(all_families), np.inf)
    measured = []
    for family, share in zip(all_families, shares, strict=True):
        counts = exact.counts[family.node]
        if counts.shape != family.shape:
            raise ValueError(f"exact counts of {family.node} have shape {counts.shape}, the family needs {family.shape}")
        parent_text = f" | {', '.join(family.parents)}" if family.parents else ""
        if family.complete_counts_only:
            parent_text += f" ({family.rows_of} rows followed up to their last possible row)"
        noisy = noisy_counts(counts.ravel(), sensitivity=family.sensitivity, budget=float(share),
                             accountant=accountant, what=f"counts of {family.node}{parent_text}").reshape(family.shape)
        variance = noise_variance(accountant.entries[-1]) if accountant.is_private else 0.0
        measured.append((family, noisy, variance))
    # everything below is post-processing of the noisy measurements: it costs no privacy
    totals = pooled_totals(measured) if postprocessing == "project" else {}
    cpts, fallbacks = {}, {}
    for family, noisy, variance in measured:
        mask = constraint_mask(family.node, family.parents, family.shape, schema)
        values = noisy.astype(np.float64)
        if postprocessing == "project" and variance > 0:
            values = np.where(mask, values, 0.0)
            projected = project_to_total(values[mask], totals[family.row_set])
            values = np.zeros(family.shape)
            values[mask] = projected
        cpts[family.node], fallbacks[family.node] = cpt_from_counts(
            family.node, family.parents, values, mask, noise_sd=float(np.sqrt(variance)), shrinkage=shrinkage,
            unbiased_counts=noisy)
        if variance > 0 and schema.variables[family.node].count_of is not None:
            cpts[family.node] = _count_mean_restored(cpts[family.node], noisy)
    return FittedParameters(cpts, fallbacks)


def _count_mean_restored(table: ConditionalTable, noisy: np.ndarray) -> ConditionalTable:
    """A count variable's CPT tilted so that its mean count is that of its raw noisy counts.

    The raw counts' mean (sum of k times the noisy count of k, over their sum) is unbiased; the
    post-processed CPT's is pulled towards the middle of the range (:func:`tilt_to_mean`). Rows are
    weighted by their noisy totals, the measured distribution of the parents.
    """
    raw = noisy.astype(np.float64)
    by_state = raw.reshape(-1, raw.shape[-1]).sum(axis=0)
    total = by_state.sum()
    if total <= 0:
        return table
    target = float((np.arange(raw.shape[-1]) * by_state).sum() / total)
    tilted = tilt_to_mean(table.probabilities, raw.sum(axis=-1), target)
    return ConditionalTable(table.node, table.parents, tilted)
