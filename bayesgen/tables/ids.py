"""Globally unique keys for tables generated chunk by chunk, from the schema alone.

Chunk ``i`` of a partitioned run is an ordinary :meth:`~bayesgen.Synthesizer.sample` of its own
persons, so its keys are numbered from 1 like any sample (see :mod:`bayesgen.schema.decode`: every id
column of a table holds the row number of that table, a foreign key the row number of the parent).
:func:`shift_ids` moves them into a range of their own, which depends only on the chunk number, the
chunk size and the schema, never on which worker made the chunk or in which order:

- a table's ids are shifted by ``chunk_index * chunk_rows * bound``, where ``bound`` is the most rows
  of that table one generated person can have (1 for the root table, the product of the
  ``max_rows_per_parent`` from the root down for a table below it), so chunk ``i`` numbers its rows
  within ``(offset, offset + chunk_rows * bound]``;
- a foreign key is shifted by its parent table's offset, so it still points at its parent row, and a
  copy of an ancestor's key by that ancestor's offset.

Keys stay unique across all parts and every join stays valid. Root ids are dense (1..N); child ids
have gaps where persons have fewer than the most rows.
"""

from __future__ import annotations

import string
from collections.abc import Mapping

import numpy as np
import pandas as pd

from bayesgen.errors import SchemaError
from bayesgen.schema.columns import Column
from bayesgen.schema.schema import Schema
from bayesgen.schema.tables import Table

_BASES = {None: 10, "": 10, "d": 10, "n": 10, "x": 16, "X": 16, "o": 8, "b": 2}


def rows_bound(table: Table, schema: Schema, bounds: Mapping[str, int] | None = None) -> int:
    """The most rows of ``table`` that one generated person can have.

    ``bounds`` overrides or supplies it per table name (for tables without a declared bound). A
    table may also declare its own as a ``max_rows_per_person`` attribute.

    Examples
    --------
    >>> schema = Schema.load("schemas/simulacrum_v2.yaml")
    >>> rows_bound(schema.root, schema), rows_bound(schema.tables["SIM_AV_TUMOUR"], schema)
    (1, 3)
    """
    if bounds and table.name in bounds:
        bound = bounds[table.name]
    elif table.name == schema.root_table:
        bound = 1  # one generated root row per generated person
    else:
        bound = getattr(table, "max_rows_per_person", None) or (
            schema.rows_bound_per_person(table.name) if table.max_rows_per_parent else None)
    if not isinstance(bound, int | np.integer) or isinstance(bound, bool) or bound < 1:
        raise SchemaError(f"table {table.name}: cannot give its rows globally unique keys without a bound on its "
                          f"rows per person (max_rows_per_parent); got {bound!r}. Pass bounds={{{table.name!r}: n}}")
    return int(bound)


def id_offsets(schema: Schema, chunk_index: int, chunk_rows: int,
               bounds: Mapping[str, int] | None = None) -> dict[str, int]:
    """Per table, how much chunk ``chunk_index``'s row numbers are shifted by.

    Examples
    --------
    >>> schema = Schema.load("schemas/simulacrum_v2.yaml")
    >>> id_offsets(schema, 2, 1000)["SIM_AV_PATIENT"], id_offsets(schema, 2, 1000)["SIM_AV_TUMOUR"]
    (2000, 6000)
    """
    if chunk_index < 0 or chunk_rows < 1:
        raise ValueError(f"chunk_index must be >= 0 and chunk_rows >= 1, got {chunk_index} and {chunk_rows}")
    return {name: int(chunk_index) * int(chunk_rows) * rows_bound(table, schema, bounds)
            for name, table in schema.tables.items()}


def shift_ids(tables: dict[str, pd.DataFrame], schema: Schema, chunk_index: int, chunk_rows: int,
              bounds: Mapping[str, int] | None = None) -> dict[str, pd.DataFrame]:
    """Shift the keys of one generated chunk into the chunk's own ranges (see the module docstring).

    Parameters
    ----------
    tables : dict of str to DataFrame
        One chunk as :meth:`~bayesgen.Synthesizer.sample` returns it (keys numbered from 1), at most
        ``chunk_rows`` persons.
    schema : Schema
    chunk_index : int
        The chunk's number, from 0.
    chunk_rows : int
        The number of persons of a full chunk (the last chunk may have fewer).
    bounds : mapping of str to int, optional
        Rows per person for tables that declare no bound (see :func:`rows_bound`).

    Returns
    -------
    dict of str to DataFrame
        New frames (the input is not modified); integer ids stay int64, formatted ids (a column
        ``format``) are formatted again from the shifted numbers.

    Examples
    --------
    >>> import bayesgen as bg
    >>> schema = bg.Schema.load("schemas/simulacrum_v2.yaml")
    >>> chunk = {"SIM_AV_PATIENT": pd.DataFrame({"PATIENTID": [1, 2], "LINKNUMBER": [1, 2]}),
    ...          "SIM_AV_TUMOUR": pd.DataFrame({"TUMOURID": [1, 2, 3], "PATIENTID": [1, 1, 2]})}
    >>> shifted = shift_ids(chunk, schema, chunk_index=1, chunk_rows=2)
    >>> shifted["SIM_AV_PATIENT"]["PATIENTID"].tolist(), shifted["SIM_AV_TUMOUR"]["PATIENTID"].tolist()
    ([3, 4], [3, 3, 4])
    >>> shifted["SIM_AV_TUMOUR"]["TUMOURID"].tolist()
    [7, 8, 9]
    """
    offsets = id_offsets(schema, chunk_index, chunk_rows, bounds)
    out = {}
    for name, frame in tables.items():
        table = schema.tables.get(name)
        if table is None:
            raise SchemaError(f"table {name} is not in schema {schema.name}")
        capacity = int(chunk_rows) * rows_bound(table, schema, bounds)
        if len(frame) > capacity:
            raise ValueError(f"table {name}: chunk {chunk_index} has {len(frame)} rows, more than its key range "
                             f"holds ({capacity} = chunk_rows x rows per person); its keys would collide")
        shifted = frame.copy(deep=False)
        for column in table.columns:
            if column.type != "id" or column.name not in frame.columns:
                continue
            if table.parent is not None and column.name == table.parent.key:
                parent = schema.tables[table.parent.table]
                # foreign keys carry the parent's key values, formatted as the parent's key
                source = parent.column(schema.parent_key_column(table))
                shifted[column.name] = _shift(frame[column.name], source, offsets[parent.name], name, column.name)
            elif column.derived is not None and column.derived.source_table is not None:
                # a copy of an ancestor's key carries that table's numbers
                ancestor = column.derived.source_table
                source = schema.tables[ancestor].column(column.derived.source_column)
                shifted[column.name] = _shift(frame[column.name], source, offsets[ancestor], name, column.name)
            else:
                shifted[column.name] = _shift(frame[column.name], column, offsets[name], name, column.name)
        out[name] = shifted
    return out


def _shift(values: pd.Series, column: Column, offset: int, table: str, name: str):
    if not column.id_format:
        numbers = values.to_numpy()
        if not np.issubdtype(numbers.dtype, np.integer):
            raise SchemaError(f"{table}.{name}: expected integer ids (the column has no format), got {values.dtype}")
        return numbers.astype(np.int64) + np.int64(offset)
    numbers = _parse_formatted(values, column.id_format, table, name)
    return pd.array([column.id_format.format(int(n)) for n in numbers + offset], dtype="string")


def _parse_formatted(values: pd.Series, id_format: str, table: str, name: str) -> np.ndarray:
    """The numbers ``id_format.format(n)`` made ``values`` from (one field, literal text around it)."""
    pieces = list(string.Formatter().parse(id_format))
    fields = [(i, spec) for i, (_, field, spec, _) in enumerate(pieces) if field is not None]
    if len(fields) != 1:
        raise SchemaError(f"{table}.{name}: id format {id_format!r} must have exactly one field to be renumbered")
    where, spec = fields[0]
    kind = spec[-1] if spec and spec[-1].isalpha() else None
    if kind not in _BASES:
        raise SchemaError(f"{table}.{name}: id format {id_format!r}: field type {kind!r} cannot be renumbered")
    prefix = "".join(p[0] for p in pieces[: where + 1])
    suffix = "".join(p[0] for p in pieces[where + 1:])
    text = pd.Series(values, dtype="string")
    starts, ends = text.str.startswith(prefix), text.str.endswith(suffix) if suffix else text.notna()
    if not (starts.fillna(False) & ends.fillna(False)).all():
        bad = text[~(starts.fillna(False) & ends.fillna(False))].iloc[0]
        raise SchemaError(f"{table}.{name}: id {bad!r} does not match its format {id_format!r}")
    middle = text.str.slice(len(prefix))
    if suffix:
        middle = middle.str.slice(0, -len(suffix))
    base = _BASES[kind]
    try:
        return np.array([int(m, base) for m in middle], dtype=np.int64)
    except (TypeError, ValueError):
        raise SchemaError(f"{table}.{name}: ids do not match their format {id_format!r}") from None
