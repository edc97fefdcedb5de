"""A data dictionary in Markdown: every table and column of a schema, with synthetic completeness.

The dictionary is built from the declared schema (public), so it can ship with a synthetic release:
per table its key, parent link, bounds and how its rows arise; per column its type, code set (with
labels), bounds or bins, whether it may be missing, how it is derived, and, given generated tables,
the share of non-missing values in them.
"""

from __future__ import annotations

import pandas as pd

from bayesgen.schema.columns import Column, _day_to_iso, _plain_number
from bayesgen.schema.schema import Schema

MAX_CODES = 40  # longer code sets are shortened in the dictionary (the schema file has them all)


def _code_set(column: Column) -> str:
    if column.type in ("categorical", "ordinal"):
        codes = [f"`{c}`" + (f" {column.labels[c]}" if c in column.labels else "") for c in column.categories]
        shown = codes[:MAX_CODES]
        more = f" … ({len(codes) - MAX_CODES} more)" if len(codes) > MAX_CODES else ""
        return ", ".join(shown) + more
    if column.type == "date":
        if column.relative_to:
            anchor = "the previous row's date (the first: " + column.relative_to + ")" if column.chained \
                else column.relative_to
            edges = ", ".join(str(int(b)) for b in column.bins)
            return f"days after {anchor}; bins {edges}" if column.bins else f"relative to {anchor}"
        return f"{_day_to_iso(column.minimum)} to {_day_to_iso(column.maximum)}"
    if column.type in ("integer", "continuous"):
        return f"{_plain_number(column.minimum)} to {_plain_number(column.maximum)}"
    if column.type == "id":
        return f"key, format `{column.id_format}`" if column.id_format else "key (whole number)"
    return ""


def _derivation(column: Column) -> str:
    rule = column.derived
    if rule is None:
        return "modelled" if column.is_modelled else ""
    if rule.kind == "copy":
        return f"copy of {rule.source_table + '.' if rule.source_table else ''}{rule.source_column}"
    if rule.kind == "prefix":
        return f"first {rule.length} characters of {rule.source_column}"
    if rule.kind == "map":
        return f"lookup from {rule.source_column}"
    if rule.kind == "row_number":
        return "row number within its parent (1, 2, …)"
    return f"last {rule.source_table}.{rule.source_column} of its parent"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def data_dictionary(schema: Schema, tables: dict[str, pd.DataFrame] | None = None) -> str:
    """The Markdown data dictionary of ``schema`` (with completeness in ``tables`` when given).

    Examples
    --------
    >>> import bayesgen as bg
    >>> schema = bg.Schema.load("schemas/simulacrum_v2.yaml")
    >>> text = data_dictionary(schema, bg.datasets.simulate_registry(100, rng=0))
    >>> text.splitlines()[0]
    '# Data dictionary: simulacrum_v2'
    >>> "| STAGE_BEST | ordinal |" in text
    True
    """
    lines = [f"# Data dictionary: {schema.name}", ""]
    if schema.description:
        lines += [" ".join(schema.description.split()), ""]
    lines += [f"Tables: {len(schema.tables)}. Files are one per table (CSV separated by "
              f"`{schema.csv_separator}`, dates as YYYY-MM-DD, or Parquet). "
              + ("Completeness is the share of non-missing values in the generated tables."
                 if tables is not None else ""), ""]
    for name, table in schema.tables.items():
        lines += [f"## {name}", ""]
        if table.description:
            lines += [" ".join(table.description.split()), ""]
        facts = [f"primary key `{table.primary_key}`" if table.primary_key else "no primary key"]
        if table.parent is not None:
            referenced = schema.parent_key_column(table)
            facts.append(f"`{table.parent.key}` → `{table.parent.table}.{referenced}`")
            if table.rows_from_event:
                facts.append(f"one row per {table.rows_from_event} event (time-to-event module)")
            elif table.fixed_rows:
                facts.append(f"exactly {table.max_rows_per_parent} row(s) per parent row")
            else:
                facts.append(f"{table.min_rows_per_parent} to {table.max_rows_per_parent} rows per parent row "
                             f"(model variable `{table.count_variable}`)")
        if table.order_by:
            facts.append("ordered by " + ", ".join(f"`{c}`" for c in table.order_by))
        if tables is not None and name in tables:
            facts.append(f"{len(tables[name]):,} generated rows")
        lines += ["; ".join(facts) + ".", ""]
        header = ["column", "type", "values", "missing allowed", "how it is made"]
        if tables is not None:
            header.append("completeness")
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        frame = tables.get(name) if tables is not None else None
        for column in table.columns:
            row = [column.name, column.type, _code_set(column), "yes" if column.missing else "no",
                   _derivation(column)]
            if tables is not None:
                if frame is not None and column.name in frame.columns and len(frame):
                    row.append(f"{frame[column.name].notna().mean():.1%}")
                else:
                    row.append("–")
            lines.append("| " + " | ".join(_cell(v) for v in row) + " |")
        lines.append("")
    if schema.constraints:
        lines += ["## Constraints (hold in every generated row)", ""]
        lines += [f"- {c.name}" for c in schema.constraints]
        lines.append("")
    return "\n".join(lines)
