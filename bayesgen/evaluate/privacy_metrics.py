"""Empirical privacy metrics on mixed-type rows: exact matches, distances, a membership attack.

These are *measurements* on one synthetic sample, not guarantees (the guarantee is the model's
differential privacy). They catch gross failures, such as copied records, and show how close the
synthetic rows are to real ones compared with new people from the same population (the holdout).

Encoding (declared domains only): each modelled column contributes one block, scaled so that a
column contributes at most 1 to the squared distance between two rows: a categorical or ordinal
column is one-hot over its declared codes (missing is a code) times 1/√2; a number is scaled by
its declared minimum and maximum to [0, 1]; a date by its declared range; a missing number is
(0.5, 1/√2) against (x, 0) when present. The row vector is divided by √(number of columns), so
the Euclidean distance of two rows lies in [0, 1] (0: identical; 1: every column as different as
it can be). Nearest neighbours come from scikit-learn's ``NearestNeighbors``.

Metrics, per table:

* ``exact_match_rate``: share of synthetic rows equal to some training row in every modelled
  column (all synthetic rows); ``exact_match_rate_holdout``: the same for holdout rows, the rate
  expected from the population itself (for coarse tables many real people share a row).
* ``dcr_*``: distance to the closest training row, for synthetic rows and for holdout rows
  (median and 5th percentile), and ``dcr_share_below_holdout_p5``: share of synthetic rows closer
  to the training data than the holdout's 5th percentile (about 0.05 when the synthesizer does
  not copy).
* ``nndr_*``: nearest-neighbour distance ratio (closest / second closest training row; 1 where both
  are 0), median for synthetic and holdout rows; small values mean a row sits next to one
  particular training row.
* ``mia_auc``: a distance-based membership-inference attack. The attacker scores a candidate row
  by minus its distance to the closest synthetic row; the AUC of telling training rows
  (members) from holdout rows (non-members) with that score is reported. 0.5: no signal; 1:
  perfect inference.

For speed, at most ``query_rows`` (default 2,000) synthetic, holdout and member rows are queried
against at most ``reference_rows`` (default 10,000) training or synthetic rows, drawn with a fixed
seed. With a subsampled reference the distances are upper bounds, equally for synthetic and
holdout rows, so their comparison stays fair.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from bayesgen.evaluate.rows import day_numbers

QUERY_ROWS = 2_000
REFERENCE_ROWS = 10_000
_HALF = 1 / math.sqrt(2)


def row_matrix(frame: pd.DataFrame, table) -> np.ndarray:
    """The scaled mixed-type encoding of ``frame``'s modelled columns (see the module docstring).

    Examples
    --------
    >>> from bayesgen.schema.tables import Table
    >>> table = Table.from_dict("T", {"primary_key": "id", "columns": [
    ...     {"name": "id", "type": "id"},
    ...     {"name": "sex", "type": "categorical", "categories": ["1", "2"]},
    ...     {"name": "age", "type": "integer", "min": 0, "max": 100, "bins": [0, 50, 101]}]})
    >>> x = row_matrix(pd.DataFrame({"id": [1, 2], "sex": ["1", "2"], "age": [0, 100]}), table)
    >>> float(np.linalg.norm(x[0] - x[1]))
    1.0
    """
    blocks = []
    columns = table.modelled_columns
    frame = frame.reset_index(drop=True)
    for column in columns:
        values = frame[column.name]
        if column.type in ("categorical", "ordinal"):
            codes = column.encode(values, table.name).astype(np.int64)
            block = np.zeros((len(frame), column.n_states), dtype=np.float32)
            block[np.arange(len(frame)), codes] = _HALF
            blocks.append(block)
            continue
        if column.type == "date":
            numbers = day_numbers(values)
        else:
            numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        low, high = float(column.minimum), float(column.maximum)
        scaled = np.clip((numbers - low) / (high - low if high > low else 1.0), 0.0, 1.0)
        missing = np.isnan(numbers)
        if column.missing:
            block = np.stack([np.where(missing, 0.5, scaled), np.where(missing, _HALF, 0.0)], axis=1)
        else:
            block = np.where(missing, 0.5, scaled)[:, None]
        blocks.append(block.astype(np.float32))
    matrix = np.hstack(blocks) if blocks else np.zeros((len(frame), 0), dtype=np.float32)
    return matrix / np.float32(math.sqrt(max(len(columns), 1)))


def _subset(n: int, cap: int | None, rng: np.random.Generator) -> np.ndarray:
    if cap is None or n <= cap:
        return np.arange(n)
    return np.sort(rng.choice(n, cap, replace=False))


def _hashes(matrix: np.ndarray) -> np.ndarray:
    return pd.util.hash_pandas_object(pd.DataFrame(matrix), index=False).to_numpy()


def _neighbours(reference: np.ndarray, queries: np.ndarray, k: int = 2) -> np.ndarray:
    from sklearn.neighbors import NearestNeighbors

    k = min(k, len(reference))
    distances, _ = NearestNeighbors(n_neighbors=k).fit(reference).kneighbors(queries)
    return distances


def _nndr(distances: np.ndarray) -> np.ndarray:
    if distances.shape[1] < 2:
        return np.ones(len(distances))
    first, second = distances[:, 0], distances[:, 1]
    return np.where(second > 0, first / np.where(second > 0, second, 1.0), 1.0)


def distance_to_closest(reference: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Euclidean distance from each query row to its closest reference row.

    Examples
    --------
    >>> rows = np.array([[0.0, 0.0], [1.0, 0.0]])
    >>> distance_to_closest(rows, rows).tolist()
    [0.0, 0.0]
    """
    return _neighbours(reference, queries, k=1)[:, 0]


def privacy_summary(train: np.ndarray, synthetic: np.ndarray, holdout: np.ndarray | None = None,
                    query_rows: int | None = QUERY_ROWS, reference_rows: int | None = REFERENCE_ROWS,
                    rng=0, distances: bool = False) -> dict:
    """The privacy metrics of the module docstring for encoded rows (see :func:`row_matrix`).

    With ``distances=True`` the result also holds the distance arrays ``dcr_synthetic`` and
    ``dcr_holdout`` (for plots).

    Examples
    --------
    >>> rows = np.eye(4)[[0, 1, 2, 3, 0, 1]] / 2
    >>> summary = privacy_summary(rows, rows.copy())
    >>> summary["exact_match_rate"], summary["dcr_synthetic_median"]
    (1.0, 0.0)
    """
    generator = np.random.default_rng(rng)
    train_hashes = set(_hashes(train).tolist())
    out = {"exact_match_rate": float(np.isin(_hashes(synthetic), list(train_hashes)).mean())}
    reference = train[_subset(len(train), reference_rows, generator)]
    queries = synthetic[_subset(len(synthetic), query_rows, generator)]
    synth_d = _neighbours(reference, queries)
    out["dcr_synthetic_median"] = float(np.median(synth_d[:, 0]))
    out["dcr_synthetic_p5"] = float(np.percentile(synth_d[:, 0], 5))
    out["nndr_synthetic_median"] = float(np.median(_nndr(synth_d)))
    out["n_query"] = int(len(queries))
    out["n_reference"] = int(len(reference))
    if distances:
        out["dcr_synthetic"] = synth_d[:, 0]
    if holdout is None or len(holdout) == 0:
        return out
    out["exact_match_rate_holdout"] = float(np.isin(_hashes(holdout), list(train_hashes)).mean())
    hold_d = _neighbours(reference, holdout[_subset(len(holdout), query_rows, generator)])
    out["dcr_holdout_median"] = float(np.median(hold_d[:, 0]))
    out["dcr_holdout_p5"] = float(np.percentile(hold_d[:, 0], 5))
    out["dcr_share_below_holdout_p5"] = float((synth_d[:, 0] < out["dcr_holdout_p5"]).mean())
    out["nndr_holdout_median"] = float(np.median(_nndr(hold_d)))
    if distances:
        out["dcr_holdout"] = hold_d[:, 0]
    out["mia_auc"] = membership_auc(train, holdout, synthetic, query_rows, reference_rows, generator)
    return out


def membership_auc(train: np.ndarray, holdout: np.ndarray, synthetic: np.ndarray,
                   query_rows: int | None = QUERY_ROWS, reference_rows: int | None = REFERENCE_ROWS,
                   rng=0) -> float:
    """AUC of the distance-to-closest-synthetic-row membership attack (0.5: no signal).

    Equal numbers of members (training rows) and non-members (holdout rows) are scored.

    Examples
    --------
    >>> train, holdout = np.eye(6)[:3], np.eye(6)[3:]
    >>> membership_auc(train, holdout, synthetic=train.copy())
    1.0
    """
    from sklearn.metrics import roc_auc_score

    generator = np.random.default_rng(rng)
    m = min(len(train), len(holdout), query_rows or len(holdout))
    members = train[generator.choice(len(train), m, replace=False)]
    others = holdout[generator.choice(len(holdout), m, replace=False)]
    reference = synthetic[_subset(len(synthetic), reference_rows, generator)]
    scores = -distance_to_closest(reference, np.vstack([members, others]))
    labels = np.r_[np.ones(m), np.zeros(m)]
    return float(roc_auc_score(labels, scores))
