"""Check generated (or any) tables against every declaration of a schema, row by row.

Used by tests and by ``bayesgen demo`` to show that the output has exactly the schema's columns and
code sets, that every derived column equals its rule, every constraint holds, and every relative
date lies on or after its anchor and within the declared range.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bayesgen.schema.encode import _day_numbers, encode_tables, related_rows


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
    frames = encoded.frames  # kept rows, each table sorted by parent row then order_by: aligned with the codes
    for table in schema.tables.values():
        violations += _derived_violations(frames, table, schema, encoded)
        violations += _date_violations(frames, table, schema, encoded)
    if structure is None or structure.events is not None:  # a static network does not keep dates in follow-up
        violations += _follow_up_violations(frames, schema, encoded)
    outcome = set(dict(structure.phases(schema))["outcome"]) if structure is not None else set()
    variables = schema.variables
    root = schema.root_table
    for constraint in schema.constraints:
        a, b = constraint.antecedent, constraint.consequent
        table_a, table_b = variables[a.column].table, variables[b.column].table
        code_a, code_b = encoded.codes[a.column], encoded.codes[b.column]
        if table_a != table_b:
            root_column = a.column if table_a == root else b.column if table_b == root else None
            if root_column in outcome:  # a person-level outcome: checked on the index row
                rows_of = root
            else:  # the lower table's rows, each with its ancestor's value
                rows_of = table_b if table_a in schema.ancestors(table_b) else table_a
            code_a = aligned(code_a, table_a, rows_of, encoded, schema)
            code_b = aligned(code_b, table_b, rows_of, encoded, schema)
        holds_a = variables[a.column].column.codes_matching(a)[code_a]
        holds_b = variables[b.column].column.codes_matching(b)[code_b]
        broken = holds_a & ~holds_b
        if broken.any():
            violations.append(Violation(table_b, b.column, f"constraint '{constraint.name}'", int(broken.sum())))
    return violations


def aligned(values: np.ndarray, table: str, rows_of: str, encoded, schema) -> np.ndarray:
    """``values`` of ``table``'s rows moved onto the rows of ``rows_of`` (ancestor or index row)."""
    rows = related_rows(table, rows_of, encoded, schema)
    return values if rows is None else values[rows]


def _derived_violations(frames: dict, table, schema, encoded) -> list[Violation]:
    out = []
    frame = frames[table.name]
    for column in table.columns:
        rule = column.derived
        if rule is None:
            continue
        if rule.kind == "row_number":
            parent = encoded.parent_row[table.name]
            expected = _text(np.arange(len(parent)) - encoded.index_row[table.name][parent] + 1)
        elif rule.kind == "last_child":
            child = encoded.parent_row[rule.source_table]
            last = np.full(encoded.n_rows[table.parent.table], -1, dtype=np.int64)
            last[child] = np.arange(len(child))
            picked = last[encoded.parent_row[table.name]]
            source = frames[rule.source_table][rule.source_column].to_numpy()
            expected = _text(np.where(picked >= 0, source[np.maximum(picked, 0)], None)
                             if len(source) else np.full(len(picked), None))
        elif rule.source_table:
            source = frames[rule.source_table][rule.source_column].to_numpy()
            expected = _text(aligned(source, rule.source_table, table.name, encoded, schema))
        else:
            expected = _text(frame[rule.source_column].to_numpy())
            if rule.kind == "prefix":
                expected = expected.str[: rule.length]
            elif rule.kind == "map":
                expected = expected.map(dict(rule.values)).astype("string")
        actual = _text(frame[column.name].to_numpy())
        differs = ~((expected == actual).fillna(False) | (expected.isna() & actual.isna()))
        if differs.any():
            out.append(Violation(table.name, column.name, f"differs from its rule {rule.to_dict()}",
                                 int(differs.sum())))
    return out


def _date_violations(frames: dict, table, schema, encoded) -> list[Violation]:
    """Relative dates at or after their anchor's earliest offset; chained dates in order."""
    out = []
    for column in table.modelled_columns:
        if not column.relative_to:
            continue
        anchor_table, anchor_column = schema.anchor_of(table, column)
        value = _day_numbers(frames[table.name][column.name])
        anchor = aligned(_day_numbers(frames[anchor_table][anchor_column]), anchor_table, table.name, encoded, schema)
        if anchor_table != table.name and table.name == schema.root_table:
            anchor = np.where(encoded.index_row[anchor_table] >= 0, anchor, np.nan)
        if column.chained:
            parent = encoded.parent_row[table.name]
            previous = np.r_[np.nan, value[:-1]] if len(value) else value
            anchor = np.where(np.r_[True, parent[1:] != parent[:-1]] if len(parent) else [], anchor, previous)
        where = f"before {column.relative_to}" if column.bins[0] == 0 else \
            f"more than {-int(column.bins[0])} days before {column.relative_to}"
        if column.chained:
            where = "before the previous row's date (or its anchor)"
        before = value < anchor + column.bins[0]
        if before.any():
            out.append(Violation(table.name, column.name, where, int(before.sum())))
    return out


def _follow_up_violations(frames: dict, schema, encoded) -> list[Violation]:
    """No date of a row below the person after the person's end of follow-up (death or last seen)."""
    if schema.events is None:
        return []
    root = schema.root_table
    process = next((p for p in schema.events.processes if p.unit == root and p.terminal and p.date is not None),
                   None)
    if process is None:
        return []
    end = _day_numbers(frames[root][process.date])
    out = []
    for table in schema.child_tables:
        person_end = end[encoded.person_row[table.name]]
        for column in table.modelled_columns:
            if column.type != "date":
                continue
            late = _day_numbers(frames[table.name][column.name]) > person_end
            if late.any():
                out.append(Violation(table.name, column.name, f"after the person's {process.date}", int(late.sum())))
    return out
