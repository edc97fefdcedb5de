"""Marginal fidelity: total variation distance between real and synthetic 1-, 2- and 3-way marginals.

Both datasets are encoded with the schema (so bins and code sets are the declared ones, never the
data's), and distances are computed per table over its modelled columns.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from bayesgen.params.counts import family_counts
from bayesgen.schema.encode import encode_tables

MAX_COMBINATIONS = 2_000  # k-way marginals per table beyond which a fixed random subset is used


def total_variation(p_counts: np.ndarray, q_counts: np.ndarray) -> float:
    """Total variation distance between two count tables of the same shape.

    Examples
    --------
    >>> total_variation(np.array([1, 1]), np.array([2, 0]))
    0.5
    >>> total_variation(np.array([3, 1, 0]), np.array([0, 1, 3]))
    0.75

    A table with rows on one side only (a synthetic table with no rows) is as far as can be, 1; two
    empty tables are identical, 0:

    >>> total_variation(np.array([3, 1]), np.array([0, 0])), total_variation(np.array([0, 0]), np.array([0, 0]))
    (1.0, 0.0)
    """
    p_total, q_total = p_counts.sum(), q_counts.sum()
    if p_total == 0 or q_total == 0:
        return 0.0 if p_total == q_total else 1.0
    p = p_counts.ravel() / p_total
    q = q_counts.ravel() / q_total
    return float(0.5 * np.abs(p - q).sum())


def combinations(names: list[str], way: int, max_combinations: int | None = MAX_COMBINATIONS,
                 seed: int = 0) -> list[tuple[str, ...]]:
    """All ``way``-subsets of ``names``, or a fixed random subset of ``max_combinations`` of them.

    The subset depends only on the names, ``way`` and ``seed`` (never on the data), so real and
    synthetic data, and different synthesizers, are compared on the same marginals.

    Examples
    --------
    >>> combinations(["a", "b", "c"], 2)
    [('a', 'b'), ('a', 'c'), ('b', 'c')]
    >>> len(combinations([str(i) for i in range(30)], 3, max_combinations=100))
    100
    """
    total = math.comb(len(names), way)
    if max_combinations is None or total <= max_combinations:
        return list(itertools.combinations(names, way))
    rng = np.random.default_rng(seed)
    chosen = set()
    while len(chosen) < max_combinations:
        chosen.add(tuple(sorted(rng.choice(len(names), way, replace=False).tolist())))
    return [tuple(names[i] for i in combo) for combo in sorted(chosen)]


def code_distances(real_codes: dict, synthetic_codes: dict, cards: dict, names: list[str], way: int,
                   max_combinations: int | None = MAX_COMBINATIONS) -> dict[tuple[str, ...], float]:
    """TVD of each ``way``-way marginal of ``names``, from code arrays and their cardinalities.

    Examples
    --------
    >>> real = {"a": np.array([0, 0, 1, 1]), "b": np.array([0, 1, 0, 1])}
    >>> synthetic = {"a": np.array([0, 0, 0, 0]), "b": np.array([0, 1, 0, 1])}
    >>> code_distances(real, synthetic, {"a": 2, "b": 2}, ["a", "b"], 1)
    {('a',): 0.5, ('b',): 0.0}
    """
    out = {}
    for combo in combinations(names, way, max_combinations):
        shape = [cards[n] for n in combo]
        a = family_counts([np.asarray(real_codes[n]) for n in combo], shape)
        b = family_counts([np.asarray(synthetic_codes[n]) for n in combo], shape)
        out[combo] = total_variation(a, b)
    return out


def marginal_distances(real, synthetic, schema, way: int,
                       max_combinations: int | None = None) -> dict[str, list[float]]:
    """Per table, the TVD of every ``way``-way marginal of its modelled columns.

    ``max_combinations`` (default: all) caps the number of marginals per table with a fixed,
    data-independent random subset (see :func:`combinations`).

    Examples
    --------
    >>> from bayesgen.datasets import load_gbsg2
    >>> from bayesgen import Schema
    >>> data = load_gbsg2()
    >>> marginal_distances(data, data, Schema.load("schemas/gbsg2.yaml"), 3)["GBSG2"][:2]
    [0.0, 0.0]
    """
    real_codes = encode_tables(real, schema)
    synth_codes = encode_tables(synthetic, schema)
    cards = {name: variable.n_states for name, variable in schema.variables.items()}
    out: dict[str, list[float]] = {}
    for table in schema.tables.values():
        names = [c.name for c in table.modelled_columns]
        out[table.name] = list(code_distances(real_codes.codes, synth_codes.codes, cards, names, way,
                                              max_combinations).values())
    return out


def fidelity_summary(real, synthetic, schema) -> dict[str, dict[str, float]]:
    """Mean and worst 1-way and 2-way TVD per table.

    Examples
    --------
    >>> from bayesgen.datasets import simulate_registry
    >>> from bayesgen import Schema
    >>> schema = Schema.load("schemas/simulacrum_v2.yaml")
    >>> summary = fidelity_summary(simulate_registry(500, rng=1), simulate_registry(500, rng=2), schema)
    >>> 0 <= summary["SIM_AV_TUMOUR"]["mean_tvd_2way"] <= 1
    True
    """
    one, two = marginal_distances(real, synthetic, schema, 1), marginal_distances(real, synthetic, schema, 2)
    return {table: {"mean_tvd_1way": float(np.mean(one[table])) if one[table] else float("nan"),
                    "max_tvd_1way": float(np.max(one[table])) if one[table] else float("nan"),
                    "mean_tvd_2way": float(np.mean(two[table])) if two[table] else float("nan"),
                    "max_tvd_2way": float(np.max(two[table])) if two[table] else float("nan")}
            for table in one}
