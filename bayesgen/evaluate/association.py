"""Pairwise association: Cramér's V between all columns, Spearman's ρ between ordered columns.

Both are computed on the schema codes of a table (declared code sets and bins; missing is its own
state for Cramér's V and is left out, pairwise, for Spearman's ρ). Comparing the real and the
synthetic matrices shows which dependencies a synthesizer kept, whatever the marginals.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from bayesgen.params.counts import family_counts

ORDERED_TYPES = ("ordinal", "integer", "continuous", "date")


def cramers_v(a: np.ndarray, b: np.ndarray, card_a: int, card_b: int) -> float:
    """Cramér's V of two code arrays (no bias correction; 0 when either is constant).

    Computed with :func:`scipy.stats.contingency.association` on the contingency table without
    its empty rows and columns.

    Examples
    --------
    >>> x = np.array([0, 0, 1, 1])
    >>> cramers_v(x, x, 2, 2), cramers_v(x, np.array([0, 1, 0, 1]), 2, 2)
    (1.0, 0.0)
    """
    from scipy.stats.contingency import association

    table = family_counts([np.asarray(a), np.asarray(b)], [card_a, card_b])
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if min(table.shape) < 2:
        return 0.0
    return float(association(table, method="cramer"))


def cramers_v_matrix(codes: dict, cards: dict, names: list[str]) -> np.ndarray:
    """Symmetric matrix of Cramér's V between ``names`` (1 on the diagonal)."""
    out = np.eye(len(names))
    for (i, a), (j, b) in itertools.combinations(enumerate(names), 2):
        out[i, j] = out[j, i] = cramers_v(codes[a], codes[b], cards[a], cards[b])
    return out


def spearman_matrix(codes: dict, missing: dict, names: list[str]) -> np.ndarray:
    """Spearman's ρ between ordered columns' codes (missing codes left out pairwise; NaN if constant).

    Examples
    --------
    >>> codes = {"a": np.array([0, 1, 2, 3]), "b": np.array([3, 2, 1, 0])}
    >>> float(spearman_matrix(codes, {"a": None, "b": None}, ["a", "b"])[0, 1])
    -1.0
    """
    frame = pd.DataFrame({n: np.where(codes[n] == missing[n], np.nan, codes[n]).astype(float)
                          if missing[n] is not None else np.asarray(codes[n], dtype=float) for n in names})
    with np.errstate(invalid="ignore", divide="ignore"):
        return frame.corr(method="spearman", min_periods=3).to_numpy()


def association_summary(real_codes: dict, synthetic_codes: dict, table, cards: dict) -> dict:
    """Cramér's V and Spearman matrices of a table, real and synthetic, and their differences.

    Returns
    -------
    dict
        ``names`` and ``cramer_real``, ``cramer_synthetic`` (matrices), ``mean_abs_diff_cramer``
        and ``max_abs_diff_cramer`` (over pairs); the same with ``spearman`` over ordered columns
        (``spearman_names``), NaN where fewer than two ordered columns.
    """
    names = [c.name for c in table.modelled_columns]
    ordered = [c for c in table.modelled_columns if c.type in ORDERED_TYPES]
    real_v = cramers_v_matrix(real_codes, cards, names)
    synth_v = cramers_v_matrix(synthetic_codes, cards, names)
    upper = np.triu_indices(len(names), 1)
    diff_v = np.abs(real_v - synth_v)[upper]
    out = {"names": names, "cramer_real": real_v, "cramer_synthetic": synth_v,
           "mean_abs_diff_cramer": float(diff_v.mean()) if diff_v.size else float("nan"),
           "max_abs_diff_cramer": float(diff_v.max()) if diff_v.size else float("nan"),
           "spearman_names": [c.name for c in ordered]}
    if len(ordered) >= 2:
        missing = {c.name: c.missing_code for c in ordered}
        real_s = spearman_matrix(real_codes, missing, out["spearman_names"])
        synth_s = spearman_matrix(synthetic_codes, missing, out["spearman_names"])
        diff_s = np.abs(real_s - synth_s)[np.triu_indices(len(ordered), 1)]
        diff_s = diff_s[np.isfinite(diff_s)]
        out.update(spearman_real=real_s, spearman_synthetic=synth_s,
                   mean_abs_diff_spearman=float(diff_s.mean()) if diff_s.size else float("nan"),
                   max_abs_diff_spearman=float(diff_s.max()) if diff_s.size else float("nan"))
    else:
        out.update(mean_abs_diff_spearman=float("nan"), max_abs_diff_spearman=float("nan"))
    return out
