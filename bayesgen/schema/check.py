"""Check generated (or any) tables against every declaration of a schema, row by row.

Used by tests and by ``bayesgen demo`` to show that the output has exactly the schema's columns and
code sets, that every derived column equals its rule, every constraint holds, and every relative
date lies on or after its anchor and within the declared range.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bayesgen.schema.encode import _order_values, encode_tables


@dataclass(frozen=True)
class Violation:
    table: str
    column: str
    rule: str
    n_rows: int

    def __str__(self) -> str:
        return f"{self.table}.{self.column}: {self.rule} ({self.n_rows} rows)"


def _text(values) -> pd.Series:
    return pd.Series(values, dtype="object").astype("string")


def _index_row_values(frame: pd.DataFrame, table, column: str) -> pd.Series:
    """``column`` of each person's index row (first by ``order_by``, then key), by parent key."""
    order = np.lexsort(list(reversed(_order_values(frame, table))))
    first = frame.iloc[order].drop_duplicates(table.parent.key, keep="first")
    return pd.Series(pd.to_datetime(first[column]).to_numpy(), index=first[table.parent.key].to_numpy())


def check_tables(tables: dict, schema, structure=None) -> list[Violation]:
    """Every way ``tables`` break the schema; an empty list means none.

    Code sets, types and bounds are checked by encoding the tables (which raises on the first
    violation); the rest is counted per rule. A constraint between a root-table outcome column and a
    child-table column (given ``structure``) is checked on each person's index row; any other
    cross-table constraint on every child row joined with its person.

    Examples
    --------
    >>> import bayesgen as bg
    >>> schema = bg.Schema.load("schemas/simulacrum_v2.yaml")
    >>> check_tables(bg.datasets.simulate_registry(300, rng=0), schema)
    []
    """
    violations: list[Violation] = []
    for name, table in schema.tables.items():
        if list(tables[name].columns) != table.column_names:
            violations.append(Violation(name, "*", "columns differ from the schema's (names or order)", 0))
    encoded = encode_tables(tables, schema)
    if encoded.bounding_report and any(encoded.bounding_report.values()):
        for name, dropped in encoded.bounding_report.items():
            if dropped:
                violations.append(Violation(name, "*", "more rows per person than the declared bound", dropped))
    root = schema.root
    for table in schema.tables.values():
        frame = tables[table.name]
        for column in table.columns:
            rule = column.derived
            if rule is None:
                continue
            if rule.source_table:
                parents = tables[rule.source_table].set_index(schema.tables[rule.source_table].primary_key)
                source = parents[rule.source_column].reindex(frame[table.parent.key]).to_numpy()
            else:
                source = frame[rule.source_column].to_numpy()
            expected = _text(source)
            if rule.kind == "prefix":
                expected = expected.str[: rule.length]
            actual = _text(frame[column.name].to_numpy())
            differs = ~((expected == actual).fillna(False) | (expected.isna() & actual.isna()))
            if differs.any():
                violations.append(Violation(table.name, column.name, f"differs from its rule {rule.to_dict()}",
                                            int(differs.sum())))
        for column in table.modelled_columns:
            if column.relative_to and column.relative_to in table.column_names:
                value = pd.to_datetime(frame[column.name])
                anchor = pd.to_datetime(frame[column.relative_to])
                before = (value < anchor).fillna(False).to_numpy()
                if before.any():
                    violations.append(Violation(table.name, column.name, f"before {column.relative_to}",
                                                int(before.sum())))
    outcome = set(dict(structure.phases(schema))["outcome"]) if structure is not None else set()
    variables = schema.variables
    for child in schema.child_tables:
        for column in root.modelled_columns:
            if column.relative_to and column.relative_to in child.column_names:
                # the index row is each person's first child row in order_by order (as in encoding),
                # found in the caller's table so that its row order does not matter
                anchor = _index_row_values(tables[child.name], child, column.relative_to)
                anchor = anchor.reindex(tables[root.name][root.primary_key]).to_numpy()
                value = pd.to_datetime(tables[root.name][column.name]).to_numpy()
                before = (value < anchor) & ~np.isnat(value) & ~np.isnat(anchor)
                if before.any():
                    violations.append(Violation(root.name, column.name,
                                                f"before the index {child.name}.{column.relative_to}",
                                                int(before.sum())))
    for constraint in schema.constraints:
        a, b = constraint.antecedent, constraint.consequent
        table_a, table_b = variables[a.column].table, variables[b.column].table
        code_a, code_b = encoded.codes[a.column], encoded.codes[b.column]
        if table_a != table_b:
            child = table_a if table_a != root.name else table_b
            root_column = a.column if table_a == root.name else b.column
            if root_column in outcome:
                rows = encoded.index_row[child]
                if table_a == child:
                    code_a = code_a[rows]
                else:
                    code_b = code_b[rows]
            else:
                rows = encoded.parent_row[child]
                if table_a == root.name:
                    code_a = code_a[rows]
                else:
                    code_b = code_b[rows]
        holds_a = variables[a.column].column.codes_matching(a)[code_a]
        holds_b = variables[b.column].column.codes_matching(b)[code_b]
        broken = holds_a & ~holds_b
        if broken.any():
            violations.append(Violation(table_b, b.column, f"constraint '{constraint.name}'", int(broken.sum())))
    return violations
