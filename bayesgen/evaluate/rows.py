"""Row-level helpers shared by the metrics: index rows of child tables, and codes without bounding.

:func:`bayesgen.schema.encode.encode_tables` bounds each person's rows (as the model sees them)
and reorders child rows; metrics that compare individual rows need every row, in table order, so
they encode column by column here, with the same declared code sets and bins.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bayesgen.schema.schema import Schema


def day_numbers(values) -> np.ndarray:
    """Days since 1970-01-01 (float; NaN where missing) of date-like values.

    Examples
    --------
    >>> day_numbers(pd.Series(["1970-01-11", None])).tolist()
    [10.0, nan]
    """
    series = pd.Series(values)
    if not pd.api.types.is_datetime64_any_dtype(series.dtype):
        series = pd.to_datetime(series.astype("string").str.strip().replace("", pd.NA), errors="coerce",
                                format="ISO8601")
    days = series.to_numpy().astype("datetime64[D]")
    out = days.astype(np.int64).astype(np.float64)
    out[np.isnat(days)] = np.nan
    return out


def index_rows(tables, schema: Schema, child: str) -> pd.DataFrame:
    """For each root-table row (in order), its index row of table ``child`` (all NaN if it has none).

    The index row is the first in the child table's ``order_by`` order, then its primary key, as
    in contribution bounding.

    Examples
    --------
    >>> from bayesgen.datasets import simulate_registry
    >>> schema = Schema.load("schemas/simulacrum_v2.yaml")
    >>> tables = simulate_registry(50, rng=0)
    >>> len(index_rows(tables, schema, "SIM_AV_TUMOUR"))
    50
    """
    root = schema.root
    table = schema.tables[child]
    frame = tables[child].copy()
    sort = []
    for name in (*table.order_by, table.primary_key):
        if table.column(name).type == "date":
            frame[f"__sort_{name}"] = day_numbers(frame[name])
            sort.append(f"__sort_{name}")
        else:
            sort.append(name)
    key = table.parent.key
    first = frame.sort_values([key, *sort], kind="stable").drop_duplicates(key, keep="first").set_index(key)
    first = first.drop(columns=[c for c in first.columns if c.startswith("__sort_")])
    return first.reindex(tables[root.name][root.primary_key].to_numpy()).reset_index(drop=True)


def encode_rows(frame: pd.DataFrame, columns, table: str) -> dict[str, np.ndarray]:
    """Codes of every row of ``frame`` for the given modelled columns (declared bins, no bounding).

    A relative date is encoded against its anchor column in ``frame``; if ``frame`` lacks the
    anchor, the column is left out.
    """
    out = {}
    for column in columns:
        if column.name not in frame.columns:
            continue
        anchor = None
        if column.relative_to:
            if column.relative_to not in frame.columns:
                continue
            anchor = day_numbers(frame[column.relative_to])
        out[column.name] = column.encode(frame[column.name].reset_index(drop=True), table,
                                         anchor_days=anchor).astype(np.int64)
    return out


def split_persons(tables, schema: Schema, fraction: float, rng=0) -> tuple[dict, dict]:
    """Split persons, with all their rows in every table, into two sets of tables.

    A person is a root-table row (or, with a ``privacy_unit``, all root rows of one unit);
    ``fraction`` of them (rounded) go to the second set.

    Examples
    --------
    >>> from bayesgen.datasets import simulate_registry
    >>> schema = Schema.load("schemas/simulacrum_v2.yaml")
    >>> train, holdout = split_persons(simulate_registry(100, rng=0), schema, 0.2, rng=1)
    >>> len(train["SIM_AV_PATIENT"]), len(holdout["SIM_AV_PATIENT"])
    (80, 20)
    """
    generator = np.random.default_rng(rng)
    root = schema.root
    frame = tables[root.name]
    unit = frame[root.privacy_unit.key] if root.privacy_unit else frame[root.primary_key]
    persons = pd.unique(unit)
    chosen = generator.choice(len(persons), int(round(fraction * len(persons))), replace=False)
    in_second = unit.isin(persons[chosen]).to_numpy()
    parts = []
    for side in (False, True):
        part = {root.name: frame[in_second == side].reset_index(drop=True)}
        for child in schema.child_tables:  # parents first: a row goes where its parent row went
            rows = tables[child.name]
            keys = part[child.parent.table][schema.parent_key_column(child)]
            part[child.name] = rows[rows[child.parent.key].isin(keys)].reset_index(drop=True)
        parts.append(part)
    return parts[0], parts[1]
