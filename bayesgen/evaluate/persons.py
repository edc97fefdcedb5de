"""The person-level view of a multi-table registry: one row per person, the index rows joined.

Per-table metrics miss the associations that cross tables (a patient's vital status against the age
and stage of their tumour). The person view puts, on one row per root-table row, the root table's
modelled columns, the modelled columns of each child table's *index row* (the first row in the
table's ``order_by`` order, then its primary key, exactly the row the model treats as the index
row) and each child table's row count (its count variable, bounded as the model bounds it). Its
schema is built from the declared one (same code sets, bounds and bins), never from the data.

The child tables in the view are those directly under the root whose rows per person are a count
variable (patients' tumours in the Simulacrum): tables further down the tree, and tables whose rows
are event occurrences (SACT regimens), have no single index row per person that the model samples
as such; :mod:`bayesgen.evaluate.rows` scores them table by table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bayesgen.evaluate.rows import index_rows
from bayesgen.schema.schema import Schema

PERSONS = "PERSONS"


def person_schema(schema: Schema) -> Schema:
    """A one-table schema for :func:`person_view`: root and index-row columns and row counts.

    Examples
    --------
    >>> schema = Schema.load("schemas/simulacrum_v2.yaml")
    >>> flat = person_schema(schema)
    >>> flat.root_table, "N_TUMOURS" in flat.variables, "STAGE_BEST" in flat.variables
    ('PERSONS', True, True)
    """
    root = schema.root
    columns = [root.column(root.primary_key).to_dict()]
    columns += [c.to_dict() for c in root.modelled_columns]
    for table in person_tables(schema):
        optional = table.min_rows_per_parent == 0  # persons without rows: index columns missing
        for column in table.modelled_columns:
            body = column.to_dict()
            if optional:
                body["missing"] = True
            columns.append(body)
        low, high = table.min_rows_per_parent, table.max_rows_per_parent
        columns.append({"name": table.count_variable, "type": "integer", "min": low, "max": high,
                        "bins": list(range(low, high + 2))})
    name = PERSONS if PERSONS not in schema.tables else PERSONS + "_VIEW"
    body = {"spec_version": 1, "name": f"{schema.name}_persons", "root_table": name,
            "tables": {name: {"primary_key": root.primary_key, "columns": columns}}}
    return Schema.from_dict(body, source=f"person view of {schema.name}")


def person_tables(schema: Schema) -> list:
    """The child tables whose index rows and row counts the person view holds (see the module notes).

    Examples
    --------
    >>> [t.name for t in person_tables(Schema.load("schemas/simulacrum_v2.yaml"))]
    ['SIM_AV_TUMOUR']
    """
    return [t for t in schema.child_tables if t.parent.table == schema.root_table and t.count_variable]


def person_view(tables, schema: Schema) -> dict[str, pd.DataFrame]:
    """One row per root-table row: its modelled columns, its index rows' columns and row counts.

    Parameters
    ----------
    tables : dict of str to DataFrame
        Tables of ``schema`` (real or synthetic).
    schema : Schema

    Returns
    -------
    dict of str to DataFrame
        ``{person_schema(schema).root_table: frame}``, ready for the functions of this package with
        ``person_schema(schema)``. A one-table schema's table is returned unchanged.

    Examples
    --------
    >>> from bayesgen.datasets import simulate_registry
    >>> schema = Schema.load("schemas/simulacrum_v2.yaml")
    >>> view = person_view(simulate_registry(100, rng=0), schema)["PERSONS"]
    >>> len(view), int(view["N_TUMOURS"].min())
    (100, 1)
    """
    flat = person_schema(schema)
    root = schema.root
    name = flat.root_table
    if not schema.child_tables:
        return {name: tables[root.name]}
    base = tables[root.name]
    out = base[[root.primary_key] + [c.name for c in root.modelled_columns]].reset_index(drop=True)
    for table in person_tables(schema):
        first = index_rows(tables, schema, table.name)
        for column in table.modelled_columns:
            values = first[column.name]
            if isinstance(values.dtype, pd.CategoricalDtype):
                values = values.astype(object)
            out[column.name] = values.to_numpy()
        key = table.parent.key
        counts = tables[table.name].groupby(key).size().reindex(out[root.primary_key].to_numpy())
        out[table.count_variable] = np.clip(counts.fillna(0).to_numpy(), table.min_rows_per_parent,
                                            table.max_rows_per_parent).astype(np.int64)
    return {name: out[flat.root.column_names]}
