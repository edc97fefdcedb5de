"""Utility: train on synthetic, test on real (TSTR) against train on real, test on real (TRTR).

A logistic regression (scikit-learn) predicts a declared binary target (:class:`TargetSpec`) from
the one-hot schema codes of the unit's row and its index rows in child tables (the person view).
Both models are scored by ROC AUC on the same real test rows: the holdout when one is given (rows
no synthesizer saw), otherwise a fixed 30 % split of the real data, which the synthesizer did see,
so TSTR is then optimistic. A TSTR AUC close to TRTR means the synthetic data teaches the same
prediction rule as the real data.
"""

from __future__ import annotations

import numpy as np

from bayesgen.evaluate.persons import person_schema, person_view
from bayesgen.evaluate.rows import encode_rows, split_persons
from bayesgen.evaluate.specs import TargetSpec
from bayesgen.evaluate.survival import _as_text, survival_arrays

MAX_TRAIN_ROWS = 50_000  # training rows per side beyond which a fixed random subset is used


def target_labels(tables, schema, spec: TargetSpec) -> np.ndarray:
    """Label per row of the target's table: 1.0, 0.0, or NaN (unknown: censored before the horizon).

    Examples
    --------
    >>> from bayesgen.datasets import load_gbsg2
    >>> from bayesgen import Schema
    >>> from bayesgen.evaluate.presets import preset_for
    >>> labels = target_labels(load_gbsg2(), Schema.load("schemas/gbsg2.yaml"), preset_for("gbsg2")[1])
    >>> int(np.nansum(labels)), int(np.isnan(labels).sum())
    (165, 63)
    """
    if spec.survival is not None:
        durations, events = survival_arrays(tables, schema, spec.survival)
        labels = np.full(len(durations), np.nan)
        labels[durations > spec.horizon] = 0.0
        labels[events & (durations <= spec.horizon)] = 1.0
        return labels
    values = _as_text(tables[spec.table][spec.column].reset_index(drop=True))
    labels = values.isin(list(spec.positive_values)).to_numpy(dtype=float)
    labels[values.isna().to_numpy()] = np.nan
    return labels


def feature_codes(tables, schema, spec: TargetSpec) -> tuple[dict, dict]:
    """Codes of the feature columns (one row per unit, aligned with :func:`target_labels`) and their sizes."""
    if spec.unit_table == schema.root_table and schema.child_tables:
        flat = person_schema(schema)
        frame = person_view(tables, schema)[flat.root_table]
        table = flat.root
    else:
        table = schema.tables[spec.unit_table]
        frame = tables[spec.unit_table]
    dropped = set(spec.columns) | set(spec.exclude)
    columns = [c for c in table.modelled_columns if c.name not in dropped and c.relative_to not in dropped]
    codes = encode_rows(frame.reset_index(drop=True), columns, table.name)
    return codes, {c.name: c.n_states for c in columns if c.name in codes}


def one_hot(codes: dict, cards: dict):
    """Sparse one-hot matrix, one block of declared size per column (same layout for any data).

    Examples
    --------
    >>> one_hot({"a": np.array([0, 2])}, {"a": 3}).toarray().tolist()
    [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    """
    from scipy import sparse

    names = list(cards)
    n = len(codes[names[0]]) if names else 0
    offsets = np.cumsum([0] + [cards[c] for c in names])
    cols = np.stack([np.asarray(codes[c]) + offsets[i] for i, c in enumerate(names)], axis=1) if names \
        else np.zeros((n, 0), dtype=np.int64)
    rows = np.repeat(np.arange(n), len(names))
    return sparse.csr_matrix((np.ones(rows.size), (rows, cols.ravel())), shape=(n, int(offsets[-1])))


def _design(tables, schema, spec, rng, cap):
    codes, cards = feature_codes(tables, schema, spec)
    labels = target_labels(tables, schema, spec)
    keep = np.flatnonzero(np.isfinite(labels))
    if cap is not None and keep.size > cap:
        keep = np.sort(rng.choice(keep, cap, replace=False))
    x = one_hot({k: v[keep] for k, v in codes.items()}, cards)
    return x, labels[keep].astype(int)


def tstr(real, synthetic, schema, spec: TargetSpec, holdout=None, rng=0) -> dict:
    """TSTR and TRTR ROC AUC of a logistic regression on the declared target.

    Returns
    -------
    dict
        ``auc_trtr``, ``auc_tstr``, ``auc_gap`` (TRTR − TSTR), the number of rows and the share of
        positive labels of each training set and of the test set, and ``test_set`` (``"holdout"``
        or ``"30% of real"``).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    generator = np.random.default_rng(rng)
    if holdout is None:
        real, holdout = split_persons(real, schema, 0.3, generator)
        test_set = "30% of real (seen by the synthesizer: TSTR is optimistic)"
    else:
        test_set = "holdout"
    x_real, y_real = _design(real, schema, spec, generator, MAX_TRAIN_ROWS)
    x_synth, y_synth = _design(synthetic, schema, spec, generator, MAX_TRAIN_ROWS)
    x_test, y_test = _design(holdout, schema, spec, generator, None)
    out = {"test_set": test_set, "n_train_real": int(len(y_real)), "n_train_synthetic": int(len(y_synth)),
           "n_test": int(len(y_test)), "positive_real": float(y_real.mean()) if len(y_real) else float("nan"),
           "positive_synthetic": float(y_synth.mean()) if len(y_synth) else float("nan"),
           "positive_test": float(y_test.mean()) if len(y_test) else float("nan")}
    for name, y in (("real training", y_real), ("synthetic", y_synth), ("test", y_test)):
        if len(np.unique(y)) < 2:
            raise ValueError(f"the {name} rows have a single target class")
    for side, x, y in (("trtr", x_real, y_real), ("tstr", x_synth, y_synth)):
        model = LogisticRegression(max_iter=2000, C=1.0).fit(x, y)
        out[f"auc_{side}"] = float(roc_auc_score(y_test, model.predict_proba(x_test)[:, 1]))
    out["auc_gap"] = out["auc_trtr"] - out["auc_tstr"]
    return out
