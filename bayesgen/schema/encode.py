"""Validate typed tables against a schema and encode them to integer codes.

Checks, in order, each failing with a :class:`~bayesgen.errors.DataValidationError` that names the
table, column, an offending value and the number of rows: unknown or missing tables, empty tables,
missing or unknown columns, null or duplicated primary keys, foreign keys pointing at no parent,
parents with too few child rows, then every column's values (type, code set, bounds, dates,
missingness).

Contribution bounding happens here too: of each person's rows in a child table only the first
``max_rows_per_parent`` (in ``order_by`` order, then primary key) are kept. How many rows bounding
dropped is reported in :attr:`EncodedData.bounding_report` for the data holder; it is data-dependent
and is never written into a released model.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from types import SimpleNamespace

import numpy as np
import pandas as pd

from bayesgen.errors import DataValidationError
from bayesgen.sampling import kernels
from bayesgen.schema.schema import Schema
from bayesgen.schema.tables import Table


@dataclass
class EncodedData:
    """Codes of the rows kept after bounding.

    Attributes
    ----------
    codes : dict of str to ndarray
        Per model variable, int16 codes of its table's kept rows (count variables: one per root row).
    n_rows : dict of str to int
        Kept rows per table.
    parent_row : dict of str to ndarray
        Per child table, the parent-table row of each kept row.
    index_row : dict of str to ndarray
        Per child table, each parent row's first kept child row (its index row; -1 if none).
    person_row : dict of str to ndarray
        Per table, the root row (person) of each kept row.
    fit_mask : dict of str to ndarray
        Per table with a ``fit_rows_per_person`` below its row bound: which kept rows enter the
        counts of its conditional tables (a person's first rows). Other tables: all rows.
    count_complete : dict of str to ndarray
        Per count variable with a follow-up rule (:meth:`Schema.count_follow_up`): which parent rows
        have a complete count (followed up long enough that no child row can have been cut). Only
        these enter the count variable's own conditional table.
    rows_per_person : dict of str to int
        The most rows one person contributes to each table after bounding.
    bounding_report : dict of str to int
        Rows dropped by bounding, per table (for the data holder only; not private).
    frames : dict of str to DataFrame
        The kept rows of each table, aligned with the codes (the time-to-event module reads exact
        dates from them). Private data: never written anywhere.
    """

    codes: dict[str, np.ndarray]
    n_rows: dict[str, int]
    parent_row: dict[str, np.ndarray] = field(default_factory=dict)
    index_row: dict[str, np.ndarray] = field(default_factory=dict)
    rows_per_person: dict[str, int] = field(default_factory=dict)
    bounding_report: dict[str, int] = field(default_factory=dict)
    frames: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)
    person_row: dict[str, np.ndarray] = field(default_factory=dict)
    fit_mask: dict[str, np.ndarray] = field(default_factory=dict)
    count_complete: dict[str, np.ndarray] = field(default_factory=dict)


def _may_be_empty(tables, schema: Schema, table) -> bool:
    """A child table may have no rows if its parents may have none (no patient had radiotherapy, so no
    prescriptions either); the root table, and a table whose parents have rows that need one, may not."""
    if table.parent is None:
        return False
    parent = tables.get(table.parent.table)
    if table.min_rows_per_parent == 0:
        return True
    return isinstance(parent, pd.DataFrame) and len(parent) == 0


def check_table_set(tables, schema: Schema) -> dict[str, pd.DataFrame]:
    """Check that ``tables`` holds exactly the schema's tables, each a DataFrame with its columns.

    Every table must have rows, except a child table whose ``min_rows_per_parent`` is 0.
    """
    if isinstance(tables, pd.DataFrame):
        if len(schema.tables) != 1:
            raise DataValidationError(schema.root_table, None,
                                      f"a single DataFrame was given but schema {schema.name} has "
                                      f"{len(schema.tables)} tables; pass a dict of DataFrames")
        tables = {schema.root_table: tables}
    if not isinstance(tables, dict):
        raise DataValidationError(schema.root_table, None,
                                  f"expected a dict of DataFrames keyed by table name, got {type(tables).__name__}")
    unknown = sorted(set(tables) - set(schema.tables))
    if unknown:
        raise DataValidationError(str(unknown[0]), None, f"unknown table (schema {schema.name} declares "
                                  f"{sorted(schema.tables)})")
    for name, table in schema.tables.items():
        if name not in tables:
            raise DataValidationError(name, None, "table missing from the input")
        frame = tables[name]
        if not isinstance(frame, pd.DataFrame):
            raise DataValidationError(name, None, f"expected a DataFrame, got {type(frame).__name__}")
        if len(frame) == 0 and not _may_be_empty(tables, schema, table):
            raise DataValidationError(name, None, "empty table", n_rows=0)
        columns = [str(c) for c in frame.columns]
        if len(set(columns)) != len(columns):
            dupes = sorted({c for c in columns if columns.count(c) > 1})
            raise DataValidationError(name, dupes[0], "duplicated column name", n_rows=len(frame))
        missing = [c for c in table.column_names if c not in columns]
        if missing:
            raise DataValidationError(name, missing[0], f"column missing from the input "
                                      f"({len(missing)} missing: {missing[:5]})", n_rows=len(frame))
        extra = [c for c in columns if c not in table.column_names]
        if extra:
            raise DataValidationError(name, extra[0], f"unknown column (not in the schema; "
                                      f"{len(extra)} unknown: {extra[:5]})", n_rows=len(frame))
    return {name: tables[name] for name in schema.tables}


def check_key_values(key: pd.Series, table: str, column: str) -> None:
    """Keys must be single whole numbers or text: refuse lists, bytes, booleans, fractions, inf."""
    if key.dtype != object and not isinstance(key.dtype, pd.StringDtype):
        if pd.api.types.is_bool_dtype(key.dtype):
            raise DataValidationError(table, column, "boolean key (wrong type)", n_rows=len(key))
        if pd.api.types.is_float_dtype(key.dtype):
            values = key.to_numpy(dtype=np.float64)
            bad = np.isfinite(values) & (values != np.floor(values)) | np.isinf(values)
            if bad.any():
                raise DataValidationError(table, column, "key is not a whole number or text",
                                          value=float(values[bad][0]), n_rows=int(bad.sum()))
        return
    if key.dtype != object:
        return

    def wrong(value) -> bool:
        if value is None or value is pd.NA or isinstance(value, str | int | np.integer) and not isinstance(
                value, bool | np.bool_):
            return False
        if isinstance(value, float | np.floating):
            return not (np.isnan(value) or float(value).is_integer())
        return value is not pd.NaT

    bad = key.map(wrong).to_numpy(dtype=bool)
    if bad.any():
        raise DataValidationError(table, column, "key is not a whole number or text (wrong type)",
                                  value=_short_repr(key[bad].iloc[0]), n_rows=int(bad.sum()))


def _short_repr(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _check_primary_key(frame: pd.DataFrame, table: Table) -> None:
    key = frame[table.primary_key]
    check_key_values(key, table.name, table.primary_key)
    null = key.isna().to_numpy()
    if null.any():
        raise DataValidationError(table.name, table.primary_key, "missing primary key", n_rows=int(null.sum()))
    if pd.Index(key).is_unique:
        return
    duplicated = key.duplicated(keep=False).to_numpy()
    if duplicated.any():
        first = key[duplicated].iloc[0]
        raise DataValidationError(table.name, table.primary_key, "duplicated primary key",
                                  value=_plain(first), n_rows=int(duplicated.sum()))


def _first_rows(group: np.ndarray, order_keys: list[np.ndarray], limit: int):
    """Stable rank of each row within its group under ``order_keys``; returns (kept mask, order)."""
    order = np.lexsort([*reversed(order_keys), group]) if order_keys else np.argsort(group, kind="stable")
    sorted_group = group[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_group)) + 1]
    run_start = np.repeat(starts, np.diff(np.r_[starts, len(group)]))
    rank = np.empty(len(group), dtype=np.int64)
    rank[order] = np.arange(len(group)) - run_start
    return rank < limit, rank


def _order_values(frame: pd.DataFrame, table: Table) -> list[np.ndarray]:
    keys = []
    for name in (*table.order_by, *([table.primary_key] if table.primary_key else [])):
        column = table.column(name)
        values = frame[name]
        if column.type == "date":
            parsed = pd.to_datetime(values.astype("string"), errors="coerce", format="ISO8601") \
                if not pd.api.types.is_datetime64_any_dtype(values.dtype) else values
            keys.append(parsed.to_numpy().astype("datetime64[D]").astype(np.int64))
        else:
            keys.append(pd.factorize(values, sort=True)[0])
    return keys


def _day_numbers(series: pd.Series) -> np.ndarray:
    """Day numbers of an already-validated date column (NaN where missing)."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        parsed = series
    else:
        text = series.astype("string").str.strip().replace("", pd.NA)
        parsed = pd.to_datetime(text, errors="coerce", format="ISO8601")
    days = parsed.to_numpy().astype("datetime64[D]")
    out = days.astype(np.int64).astype(np.float64)
    out[np.isnat(days)] = np.nan
    return out


def encode_tables(tables, schema: Schema) -> EncodedData:
    """Validate ``tables`` against ``schema`` and return their codes after contribution bounding.

    Examples
    --------
    >>> from bayesgen.datasets import simulate_registry
    >>> schema = Schema.load("schemas/simulacrum_v2.yaml")
    >>> data = encode_tables(simulate_registry(200, rng=0), schema)
    >>> data.n_rows["SIM_AV_PATIENT"]
    200
    """
    frames = check_table_set(tables, schema)
    root = schema.root
    root_frame = frames[root.name]
    _check_primary_key(root_frame, root)
    report: dict[str, int] = {}
    rows_per_person: dict[str, int] = {root.name: root.rows_per_person}
    # bound the root table by privacy unit (several rows per person)
    keep_root = np.ones(len(root_frame), dtype=bool)
    if root.privacy_unit:
        unit = root_frame[root.privacy_unit.key]
        if unit.isna().any():
            raise DataValidationError(root.name, root.privacy_unit.key, "missing person key",
                                      n_rows=int(unit.isna().sum()))
        keep_root, _ = _first_rows(pd.factorize(unit)[0], _order_values(root_frame, root),
                                   root.privacy_unit.max_rows)
    report[root.name] = int((~keep_root).sum())
    root_kept = root_frame.loc[keep_root].reset_index(drop=True) if not keep_root.all() else root_frame
    codes: dict[str, np.ndarray] = {}
    n_rows = {root.name: len(root_kept)}
    parent_row: dict[str, np.ndarray] = {}
    index_row: dict[str, np.ndarray] = {}
    person_row: dict[str, np.ndarray] = {root.name: np.arange(len(root_kept), dtype=np.int64)}
    fit_mask: dict[str, np.ndarray] = {}
    kept_frames: dict[str, pd.DataFrame] = {root.name: root_kept}
    for table in schema.child_tables:
        parent = schema.tables[table.parent.table]
        frame = frames[table.name]
        if table.primary_key is not None:
            _check_primary_key(frame, table)
        foreign = frame[table.parent.key]
        check_key_values(foreign, table.name, table.parent.key)
        null = foreign.isna().to_numpy()
        if null.any():
            raise DataValidationError(table.name, table.parent.key, "missing foreign key", n_rows=int(null.sum()))
        referenced = schema.parent_key_column(table)
        parent_frame = frames[parent.name]
        all_parent_keys = pd.Index(parent_frame[referenced])
        if referenced != parent.primary_key and not all_parent_keys.is_unique:
            duplicated = parent_frame[referenced].duplicated(keep=False).to_numpy()
            raise DataValidationError(parent.name, referenced, f"duplicated key (referred to by {table.name})",
                                      value=_plain(parent_frame[referenced][duplicated].iloc[0]),
                                      n_rows=int(duplicated.sum()))
        position = all_parent_keys.get_indexer(foreign)
        orphan = position < 0
        if orphan.any():
            raise DataValidationError(table.name, table.parent.key,
                                      f"refers to a {parent.name}.{referenced} that does not exist",
                                      value=_plain(foreign[orphan].iloc[0]), n_rows=int(orphan.sum()))
        # rows under parents dropped by bounding go too
        parent_kept = kept_frames[parent.name]
        position_kept = pd.Index(parent_kept[referenced]).get_indexer(foreign)
        in_kept_parent = position_kept >= 0
        per_parent = np.bincount(position, minlength=len(parent_frame))
        too_few = per_parent < table.min_rows_per_parent
        if too_few.any():
            first = parent_frame[referenced].to_numpy()[np.flatnonzero(too_few)[0]]
            raise DataValidationError(parent.name, referenced,
                                      f"has fewer than {table.min_rows_per_parent} rows in {table.name}",
                                      value=_plain(first), n_rows=int(too_few.sum()))
        keep, _ = _first_rows(position_kept, _order_values(frame, table), table.max_rows_per_parent)
        keep &= in_kept_parent
        report[table.name] = int((~keep).sum())
        if report[table.name]:
            _validate_columns(frame, table)  # dropped rows must be valid too
        kept = frame.loc[keep].reset_index(drop=True)
        kept_parent = position_kept[keep]
        order = np.lexsort([*reversed(_order_values(kept, table)), kept_parent])
        kept = kept.iloc[order].reset_index(drop=True)
        kept_parent = kept_parent[order]
        kept_frames[table.name] = kept
        parent_row[table.name] = kept_parent
        n_rows[table.name] = len(kept)
        n_parent = len(parent_kept)
        counts = np.bincount(kept_parent, minlength=n_parent)
        if table.count_variable:
            codes[table.count_variable] = (counts - table.min_rows_per_parent).astype(np.int16)
        index_row[table.name] = index_rows(kept_parent, n_parent)
        person = person_row[parent.name][kept_parent]
        person_row[table.name] = person
        rows_per_person[table.name] = schema.rows_bound_per_person(table.name)
        limit = schema.fit_rows_per_person(table.name)
        if limit < rows_per_person[table.name]:
            # rows are ordered by person, then along the tree: the person's first rows come first
            person_start = np.r_[0, np.flatnonzero(np.diff(person)) + 1] if len(person) else np.array([], np.int64)
            run_start = np.repeat(person_start, np.diff(np.r_[person_start, len(person)]))
            fit_mask[table.name] = (np.arange(len(person)) - run_start) < limit
    if report[root.name]:
        _validate_columns(root_frame, root)
    links = SimpleNamespace(parent_row=parent_row, index_row=index_row)
    for table in schema.child_tables:
        _encode_columns(kept_frames[table.name], table, codes, kept_frames, links, schema)
    _encode_columns(root_kept, root, codes, kept_frames, links, schema)
    return EncodedData(codes=codes, n_rows=n_rows, parent_row=parent_row, index_row=index_row,
                       rows_per_person=rows_per_person, bounding_report=report, frames=kept_frames,
                       person_row=person_row, fit_mask=fit_mask,
                       count_complete=_complete_counts(schema, kept_frames, person_row))


def _complete_counts(schema: Schema, frames: dict, person_row: dict) -> dict[str, np.ndarray]:
    """Per count variable with a follow-up rule, whether each parent row's count is complete (its
    anchor date plus the longest span of its rows is on or before its person's end of follow-up; a
    missing date counts as incomplete). See :meth:`Schema.count_follow_up`."""
    out, ends = {}, {}
    for table in schema.child_tables:
        rule = schema.count_follow_up(table)
        if rule is None:
            continue
        anchor_column, end_column, span = rule
        if end_column not in ends:
            ends[end_column] = _day_numbers(frames[schema.root_table][end_column])
        parent = table.parent.table
        anchor = _day_numbers(frames[parent][anchor_column])
        end = ends[end_column][person_row[parent]]
        with np.errstate(invalid="ignore"):
            out[table.count_variable] = anchor + span <= end
    return out


def index_rows(parent: np.ndarray, n_parent: int) -> np.ndarray:
    """Per parent row, its first row in ``parent`` (each parent's rows contiguous); -1 for none.

    Examples
    --------
    >>> index_rows(np.array([0, 0, 2]), 4).tolist()
    [0, -1, 2, -1]
    """
    first = np.empty(n_parent, dtype=np.int64)
    kernels.first_rows(np.asarray(parent), first)
    return first


def related_rows(source: str, target: str, encoded, schema) -> np.ndarray | None:
    """For each row of table ``target``, the row of table ``source`` its values come from.

    ``source`` is ``target`` itself (None is returned), one of its ancestors (through the foreign
    keys), or a child table of the root, read on each person's index row (for the root's outcomes
    and for the tables sampled after the events).
    """
    if source == target:
        return None
    if source in schema.ancestors(target):
        rows = None
        name = target
        while name != source:
            step = encoded.parent_row[name]
            rows = step if rows is None else step[rows]
            name = schema.tables[name].parent.table
        return rows
    if target == schema.root_table:  # child-table parent of a root outcome: the index row
        return encoded.index_row[source]
    # a table below the root reads a child table of the root on its person's index row (a regimen's
    # patient's index tumour)
    return encoded.index_row[source][encoded.person_row[target]]


def previous_sibling_days(days: np.ndarray, parent: np.ndarray, first_anchor: np.ndarray) -> np.ndarray:
    """For rows grouped by ``parent`` (in order): the previous row's day, or ``first_anchor`` for a first row."""
    out = np.empty(len(days))
    if not len(days):
        return out
    out[1:] = days[:-1]
    is_first = np.r_[True, parent[1:] != parent[:-1]]
    out[is_first] = first_anchor[is_first]
    return out


def _anchor_days(frame: pd.DataFrame, table: Table, column, frames: dict, links, schema: Schema) -> np.ndarray | None:
    if not column.relative_to:
        return None
    anchor_table, anchor_column = schema.anchor_of(table, column)
    days = _day_numbers(frames[anchor_table][anchor_column])
    rows = related_rows(anchor_table, table.name, links, schema)
    if rows is not None:
        out = np.full(len(rows), np.nan)
        has = rows >= 0
        out[has] = days[rows[has]]
        days = out
    if column.chained:
        own = _day_numbers(frame[column.name])
        days = previous_sibling_days(own, links.parent_row[table.name], days)
    return days


def _validate_columns(frame: pd.DataFrame, table: Table) -> None:
    """Check every modelled column's values (relative dates for type and range only)."""
    for column in table.columns:
        if column.type == "id":
            continue
        if column.derived is not None and column.type in ("categorical", "ordinal"):
            replace(column, derived=None).encode(frame[column.name], table.name)  # code set only
        elif column.is_modelled:
            if column.relative_to:
                values = frame[column.name]
                # range and type only here; offsets are checked against the anchor in _encode_columns
                absolute = replace(column, relative_to=None,
                                   bins=(column.minimum, column.maximum + 1))
                absolute.encode(values, table.name)
            else:
                column.encode(frame[column.name], table.name)


def _encode_columns(frame: pd.DataFrame, table: Table, codes: dict, frames: dict, links, schema: Schema) -> None:
    for column in table.columns:
        if column.derived is not None and column.type in ("categorical", "ordinal"):
            replace(column, derived=None).encode(frame[column.name], table.name)  # code set only
    for column in table.modelled_columns:
        anchor = _anchor_days(frame, table, column, frames, links, schema)
        codes[column.name] = column.encode(frame[column.name], table.name, anchor_days=anchor)


def _plain(value):
    return value.item() if hasattr(value, "item") else value
