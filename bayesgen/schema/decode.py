"""Decode sampled codes into typed tables in the schema's exact column order.

Numeric and date values are drawn uniformly within their bin from counter-based uniforms (see
:mod:`bayesgen.rng`), so a row's decoded values depend only on the seed and the row's global index,
never on how the rows were chunked. Derived columns are computed from their sources; keys are
generated as global row numbers starting at 1 (or formatted with the column's ``format``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bayesgen.rng import uniforms_at
from bayesgen.sampling import kernels
from bayesgen.schema.columns import Column
from bayesgen.schema.schema import Schema
from bayesgen.schema.tables import Table


def _day_numbers(values: np.ndarray) -> np.ndarray:
    if values.dtype == np.dtype("datetime64[s]") and values.ndim == 1:  # what decoding gives: one pass
        out = np.empty(len(values), dtype=np.float64)
        kernels.seconds_to_days(np.ascontiguousarray(values).view(np.int64), out)
        return out
    days = values.astype("datetime64[D]")
    out = days.astype(np.int64).astype(np.float64)
    out[np.isnat(days)] = np.nan
    return out


def _ids(column: Column, numbers: np.ndarray):
    if column.id_format:
        return pd.array([column.id_format.format(int(n)) for n in numbers], dtype="string")
    return numbers.astype(np.int64)


def _derive(column: Column, source_values) -> pd.Categorical | np.ndarray:
    """Apply a derived rule to already decoded source values (aligned to this table's rows)."""
    rule = column.derived
    if isinstance(source_values, pd.Categorical):
        categories = np.asarray(source_values.categories, dtype=object)
        if rule.kind == "prefix":
            categories = np.array([c[: rule.length] for c in categories], dtype=object)
        mapping = pd.Index(list(column.categories)).get_indexer(categories)
        table = np.r_[-1, mapping].astype(column.category_code_dtype)  # source code c at c + 1 (-1: missing)
        codes = np.asarray(source_values.codes)
        out = np.empty(len(codes), dtype=table.dtype)
        if not kernels.lookup(table, codes, out, 1):
            raise ValueError(f"{column.name}: category codes of its source out of range")
        return pd.Categorical.from_codes(out, dtype=column.output_dtype, validate=False)
    return np.asarray(source_values)


class TableDecoder:
    """Decode one table's codes; one instance per table per sampling run.

    Parameters
    ----------
    schema : Schema
    table : Table
    key : numpy.uint64
        The stream key for this table's within-bin uniforms.
    """

    def __init__(self, schema: Schema, table: Table, key: np.uint64):
        self.schema = schema
        self.table = table
        self.key = key
        self.width = len(table.columns)

    def uniforms(self, column_index: int, row_offset: int, n_rows: int, rows: np.ndarray | None = None) -> np.ndarray:
        """The uniforms of a column for rows ``row_offset + rows`` (default ``rows``: ``0 .. n_rows - 1``)."""
        rows = np.arange(n_rows, dtype=np.uint64) if rows is None else np.asarray(rows).astype(np.uint64)
        positions = (rows + np.uint64(row_offset)) * np.uint64(self.width) + np.uint64(column_index)
        return uniforms_at(positions, self.key)

    def decode_column(self, name: str, codes: np.ndarray, row_offset: int,
                      anchor_days: np.ndarray | None = None, rows: np.ndarray | None = None):
        """Decode one column's codes; row ``i`` was sampled at ``row_offset + rows[i]`` (default: ``+ i``),
        the position its random numbers come from."""
        index = self.table.column_names.index(name)
        column = self.table.columns[index]
        codes = np.asarray(codes)
        if column.type in ("categorical", "ordinal"):
            table = column._category_codes
            out = np.empty(len(codes), dtype=table.dtype)
            if kernels.lookup(table, codes, out, 0):  # sampler codes: pandas' codes in one pass
                return pd.Categorical.from_codes(out, dtype=column.output_dtype, validate=False)
        elif column.type in ("integer", "date") and not column.relative_to:
            decoded = self._decode_binned(column, index, codes, row_offset, rows)
            if decoded is not None:
                return decoded
        needs_uniforms = column.type in ("integer", "continuous", "date")
        uniforms = self.uniforms(index, row_offset, len(codes), rows) if needs_uniforms else None
        return column.decode(codes, uniforms, anchor_days)

    def _decode_binned(self, column: Column, index: int, codes: np.ndarray, row_offset: int,
                       rows: np.ndarray | None = None):
        """``column.decode(codes, self.uniforms(index, row_offset, len(codes), rows))`` for an integer or a
        (non-relative) date column, bit for bit, in one pass (the uniforms computed on the way); None
        if a code is out of range (the caller then takes the general path)."""
        starts, widths = column._bin_starts_widths
        date = column.type == "date"
        values = np.empty(len(codes), dtype=np.int64)
        missing = np.empty(len(codes), dtype=np.bool_)
        rows = np.zeros(0, dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
        if not kernels.decode_binned(codes, rows, np.uint64(self.key), np.int64(row_offset), np.int64(self.width),
                                     np.int64(index), starts, widths,
                                     np.int64(column.missing_code if column.missing else -1),
                                     np.int64(86_400 if date else 1), np.int64(kernels.NAT if date else 0), values,
                                     missing):
            return None
        if date:
            return values.view("datetime64[s]")
        return pd.arrays.IntegerArray(values, missing)

    def assemble(self, values: dict, n_rows: int, row_offset: int, parent_ids=None) -> pd.DataFrame:
        """Build the DataFrame: modelled values given, ids generated, derived columns computed.

        ``values`` maps column name to decoded values for every modelled column and, for copies from
        the parent table, ``"<PARENT>.<COLUMN>"`` to parent values aligned to this table's rows.
        """
        out: dict = {}
        numbers = np.arange(row_offset + 1, row_offset + n_rows + 1, dtype=np.int64)
        for column in self.table.columns:
            if column.type == "id":
                if self.table.parent is not None and column.name == self.table.parent.key:
                    out[column.name] = parent_ids
                else:
                    out[column.name] = _ids(column, numbers)
            elif column.derived is None:
                out[column.name] = values[column.name]
        for column in self.table.columns:
            if column.derived is not None and column.name in values:  # computed by the caller
                out[column.name] = values[column.name]
            elif column.derived is not None:
                rule = column.derived
                source = values[f"{rule.source_table}.{rule.source_column}"] if rule.source_table \
                    else out[rule.source_column]
                out[column.name] = _derive(column, source)
        return _frame({name: out[name] for name in self.table.column_names})


def _frame(columns: dict) -> pd.DataFrame:
    """A DataFrame holding the given arrays as they are (no copy, no consolidation into 2-D blocks).

    A column that is, or may share memory with, an earlier one (a derived copy of a column, say)
    is copied, so that no two columns of the frame share their values.
    """
    seen_ids: set[int] = set()
    arrays: list[np.ndarray] = []
    for name, value in columns.items():
        if id(value) in seen_ids or (isinstance(value, np.ndarray)
                                     and any(np.may_share_memory(value, other) for other in arrays)):
            value = columns[name] = value.copy()
        seen_ids.add(id(value))
        if isinstance(value, np.ndarray):
            arrays.append(value)
    return pd.DataFrame(columns, copy=False)


def decode_offsets(column: Column, codes: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """Whole-day offsets of a relative date column, drawn within their bins (NaN where missing)."""
    codes = np.asarray(codes)
    is_missing = codes == column.missing_code if column.missing else np.zeros(len(codes), dtype=bool)
    edges = np.asarray(column.bins)
    bin_index = np.where(is_missing, 0, codes).astype(np.intp)
    lo, hi = edges[bin_index], edges[bin_index + 1]
    out = lo + np.floor(uniforms * (hi - lo))
    out[is_missing] = np.nan
    return out


def day_numbers(values) -> np.ndarray:
    """Day numbers (float, NaN when missing) of decoded date values."""
    return _day_numbers(np.asarray(values))
