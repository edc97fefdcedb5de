"""Marginal fidelity: total variation distance between real and synthetic 1- and 2-way marginals.

Both datasets are encoded with the schema (so bins and code sets are the declared ones, never the
data's), and distances are computed per table over its modelled columns.
"""

from __future__ import annotations

import itertools

import numpy as np

from bayesgen.params.counts import family_counts
from bayesgen.schema.encode import encode_tables


def total_variation(p_counts: np.ndarray, q_counts: np.ndarray) -> float:
    """Total variation distance between two count tables of the same shape.

    Examples
    --------
    >>> total_variation(np.array([1, 1]), np.array([2, 0]))
    0.5
    """
    p = p_counts.ravel() / max(p_counts.sum(), 1)
    q = q_counts.ravel() / max(q_counts.sum(), 1)
    return float(0.5 * np.abs(p - q).sum())


def marginal_distances(real, synthetic, schema, way: int) -> dict[str, list[float]]:
    """Per table, the TVD of every ``way``-way marginal of its modelled columns."""
    real_codes = encode_tables(real, schema)
    synth_codes = encode_tables(synthetic, schema)
    variables = schema.variables
    out: dict[str, list[float]] = {}
    for table in schema.tables.values():
        names = [c.name for c in table.modelled_columns]
        distances = []
        for combo in itertools.combinations(names, way):
            cards = [variables[n].n_states for n in combo]
            a = family_counts([real_codes.codes[n] for n in combo], cards)
            b = family_counts([synth_codes.codes[n] for n in combo], cards)
            distances.append(total_variation(a, b))
        out[table.name] = distances
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
