"""Referential integrity of a table set, checked in DuckDB: primary keys, unique keys, foreign keys.

:func:`check_integrity` works in two ways at once, so that it both *reports* and *enforces*:

1. **Explicit queries.** Every table is registered in an in-memory DuckDB database as it is. For
   each primary key it counts duplicated or missing keys (``rows - count(DISTINCT key)``); for each
   column another table points at (a ``parent: {references: ...}`` target such as
   ``SIM_AV_PATIENT.LINKNUMBER``) it counts duplicated values; for each foreign key it counts the
   orphans with an anti-join (child rows whose non-missing key has no parent row).
2. **Declared constraints.** The same keys are declared as DDL (``PRIMARY KEY``, ``UNIQUE``,
   ``FOREIGN KEY ... REFERENCES``) and the tables are inserted parents first, so DuckDB checks every
   foreign key on insert. A rejected insert is recorded in the report (``constraint_error``); the
   rows that do satisfy the constraints are then loaded, so the tables below it are still checked
   against a parent rather than failing wholesale.

The keys come from a bayesgen :class:`~bayesgen.schema.Schema` (each table's ``primary_key`` and
``parent`` link, whose optional ``references`` names the parent column the key points at, by
default the parent's primary key) or from a plain mapping in the same shape as
:data:`bayesgen.export.omop.OMOP_KEYS` (the OMOP CDM v5.4 keys; ``"omop"`` is accepted as a
shorthand for it)::

    {"EPISODE": {"primary_key": "episode_id", "unique": [],
                 "foreign_keys": [("person_id", "PERSON", "person_id"),
                                  ("episode_parent_id", "EPISODE", "episode_id")]}}

A foreign key may carry a fourth element, a SQL condition on the child row (``"field = 1147127"``):
such a *conditional* key (OMOP's ``EPISODE_EVENT.event_id``, which points at a different table
depending on ``episode_event_field_concept_id``) cannot be declared as DDL and is checked by the
explicit anti-join only.

Key columns that are integers in every table they link are compared as ``BIGINT``; otherwise as
text (so keys read from CSV as text still match). DuckDB is an optional dependency
(``pip install duckdb``, or the ``test``/``export`` extras); it is imported only when a check runs.

Examples
--------
>>> import bayesgen as bg
>>> schema = bg.Schema.load("schemas/simulacrum_v2.yaml")
>>> tables = bg.datasets.simulate_registry(200, rng=0)
>>> report = check_integrity(tables, schema)
>>> report["SIM_AV_TUMOUR"]["rows"] == len(tables["SIM_AV_TUMOUR"])
True
>>> report["SIM_AV_TUMOUR"]["fk_orphans"], report["SIM_AV_PATIENT"]["pk_duplicates"]
(0, 0)
>>> count_violations(report)
0
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bayesgen.errors import BayesgenError, DataValidationError


@dataclass(frozen=True)
class ForeignKey:
    """``column`` of a child table points at ``parent_column`` of ``parent``.

    ``where`` (SQL on the child's columns) makes the key conditional: checked by query, not DDL.
    """

    column: str
    parent: str
    parent_column: str
    where: str | None = None

    @property
    def label(self) -> str:
        text = f"{self.column} -> {self.parent}.{self.parent_column}"
        return text + (f" where {self.where}" if self.where else "")


@dataclass(frozen=True)
class TableKeys:
    """The keys of one table: a primary key (or none), unique columns and foreign keys."""

    name: str
    primary_key: str | None = None
    unique: tuple[str, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = field(default_factory=tuple)


# -- key declarations --------------------------------------------------------------------------------
def _valid_primary_key(table) -> str | None:
    key = getattr(table, "primary_key", None)
    if key is None or key not in table.column_names:  # an optional primary key may be absent
        return None
    return str(key)


def keys_from_schema(schema) -> dict[str, TableKeys]:
    """The keys a bayesgen schema declares: primary keys, parent links, referenced columns.

    Examples
    --------
    >>> import bayesgen as bg
    >>> keys = keys_from_schema(bg.Schema.load("schemas/simulacrum_v2.yaml"))
    >>> keys["SIM_AV_TUMOUR"].foreign_keys[0].label
    'PATIENTID -> SIM_AV_PATIENT.PATIENTID'
    """
    keys: dict[str, TableKeys] = {}
    referenced: dict[str, set[str]] = {name: set() for name in schema.tables}
    links: dict[str, list[ForeignKey]] = {name: [] for name in schema.tables}
    for name, table in schema.tables.items():
        link = getattr(table, "parent", None)
        if link is None:
            continue
        parent = schema.tables.get(link.table)
        target = getattr(link, "references", None) or (_valid_primary_key(parent) if parent is not None else None)
        if target is None:
            raise BayesgenError(f"table {name}: its parent {link.table} has no primary key and the link "
                                f"names no 'references' column")
        links[name].append(ForeignKey(str(link.key), str(link.table), str(target)))
        referenced.setdefault(str(link.table), set()).add(str(target))
    for name, table in schema.tables.items():
        primary = _valid_primary_key(table)
        unique = tuple(sorted(c for c in referenced.get(name, ()) if c != primary))
        keys[name] = TableKeys(name, primary, unique, tuple(links[name]))
    return keys


def keys_from_mapping(spec: Mapping) -> dict[str, TableKeys]:
    """Keys from a plain mapping ``{table: {"primary_key", "unique", "foreign_keys"}}``."""
    keys = {}
    for name, body in spec.items():
        fks = tuple(ForeignKey(*fk) for fk in body.get("foreign_keys", ()))
        keys[str(name)] = TableKeys(str(name), body.get("primary_key"), tuple(body.get("unique", ())), fks)
    return keys


def _resolve_keys(schema) -> dict[str, TableKeys]:
    if isinstance(schema, str):
        if schema.lower() != "omop":
            raise BayesgenError(f"unknown key set {schema!r}: pass a Schema, a key mapping or 'omop'")
        from bayesgen.export.omop import OMOP_KEYS  # the OMOP CDM v5.4 keys live with the exporter

        return keys_from_mapping(OMOP_KEYS)
    if isinstance(schema, Mapping):
        if all(isinstance(v, TableKeys) for v in schema.values()):
            return dict(schema)
        return keys_from_mapping(schema)
    return keys_from_schema(schema)


# -- helpers -----------------------------------------------------------------------------------------
def _quote(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _source(name: str) -> str:
    return _quote(f"__source__{name}")


def _is_integer_like(series: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(series.dtype):
        return False
    if pd.api.types.is_integer_dtype(series.dtype):
        return True
    if pd.api.types.is_float_dtype(series.dtype):
        values = series.dropna().to_numpy(dtype=float)
        return bool(np.all(np.isfinite(values)) and np.all(values == np.round(values))
                    and np.all(np.abs(values) < 2**63))
    return False


def _key_types(frames: dict[str, pd.DataFrame], keys: dict[str, TableKeys]) -> dict[tuple[str, str], str]:
    """BIGINT or VARCHAR for every key column: integer only if every column it links with is."""
    members: dict[tuple[str, str], tuple[str, str]] = {}

    def find(node):
        members.setdefault(node, node)
        while members[node] != node:
            members[node] = members[members[node]]
            node = members[node]
        return node

    def union(a, b):
        members[find(a)] = find(b)

    for name, spec in keys.items():
        if name not in frames:
            continue
        for column in ([spec.primary_key] if spec.primary_key else []) + list(spec.unique):
            find((name, column))
        for fk in spec.foreign_keys:
            if fk.parent in frames:
                union((name, fk.column), (fk.parent, fk.parent_column))
            else:
                find((name, fk.column))
    groups: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for node in list(members):
        groups.setdefault(find(node), []).append(node)
    types = {}
    for nodes in groups.values():
        integer = all(column in frames[table].columns and _is_integer_like(frames[table][column])
                      for table, column in nodes)
        for node in nodes:
            types[node] = "BIGINT" if integer else "VARCHAR"
    return types


def _check_columns(frames, keys) -> None:
    for name, spec in keys.items():
        if name not in frames:
            continue
        wanted = ([spec.primary_key] if spec.primary_key else []) + list(spec.unique) \
            + [fk.column for fk in spec.foreign_keys]
        missing = [c for c in wanted if c not in frames[name].columns]
        if missing:
            raise DataValidationError(name, missing[0], "key column missing from the table")


def _load_order(names: list[str], keys: dict[str, TableKeys]) -> list[str]:
    """Parents before children (self-references and absent parents ignored)."""
    order: list[str] = []
    pending = list(names)
    while pending:
        ready = [n for n in pending
                 if all(fk.parent == n or fk.parent not in pending or fk.parent in order
                        for fk in keys[n].foreign_keys if fk.parent in names)]
        if not ready:  # a cycle between tables: load the rest as they come
            ready = pending[:1]
        for n in ready:
            order.append(n)
            pending.remove(n)
    return order


# -- the check ---------------------------------------------------------------------------------------
def check_integrity(tables: Mapping[str, pd.DataFrame], schema, *, strict: bool = False) -> dict[str, dict]:
    """Check primary, unique and foreign keys of ``tables`` in DuckDB and report every violation.

    Parameters
    ----------
    tables : dict of str to DataFrame
        The table set (any subset of the declared tables; undeclared tables are ignored).
    schema : Schema, mapping or ``"omop"``
        Where the keys come from: a bayesgen schema, a key mapping (see the module docstring), or
        ``"omop"`` for the OMOP CDM v5.4 keys of :func:`bayesgen.export.export_omop` output.
    strict : bool, default False
        Raise :class:`~bayesgen.errors.DataValidationError` on the first table with a violation
        instead of only reporting it.

    Returns
    -------
    dict
        ``{table: {"rows", "pk_duplicates", "unique_duplicates", "fk_orphans", "fk_detail",
        "fk_skipped", "constraint_error"}}``: rows in the table; rows beyond the first per primary
        key value plus rows with no key (``None`` without a primary key); the same per referenced
        column; orphan rows over all foreign keys, and per key (``"COL -> PARENT.COL"``); foreign
        keys not checked because the parent table is absent; and DuckDB's message if the declared
        constraints rejected the insert (``None`` if it was accepted).

    Examples
    --------
    >>> import pandas as pd
    >>> keys = {"P": {"primary_key": "id"},
    ...         "C": {"primary_key": "cid", "foreign_keys": [("pid", "P", "id")]}}
    >>> frames = {"P": pd.DataFrame({"id": [1, 2]}), "C": pd.DataFrame({"cid": [1, 2, 2], "pid": [1, 3, 2]})}
    >>> report = check_integrity(frames, keys)
    >>> report["C"]["pk_duplicates"], report["C"]["fk_orphans"], report["C"]["fk_detail"]
    (1, 1, {'pid -> P.id': 1})
    >>> report["C"]["constraint_error"] is not None
    True
    """
    try:
        import duckdb
    except ImportError:  # pragma: no cover - depends on the environment
        raise BayesgenError("check_integrity needs DuckDB: pip install duckdb (or 'bayesgen[export]')") from None
    keys = _resolve_keys(schema)
    frames = {name: frame for name, frame in tables.items() if name in keys}
    _check_columns(frames, keys)
    types = _key_types(frames, keys)
    con = duckdb.connect()
    try:
        for name, frame in frames.items():
            _register(con, name, frame, types)
        report = {name: _explicit_checks(con, name, keys, frames) for name in frames}
        for name in _load_order(list(frames), keys):
            report[name]["constraint_error"] = _constrained_load(con, name, keys, frames)
    finally:
        con.close()
    if strict:
        for name, entry in report.items():
            if _table_violations(entry):
                raise DataValidationError(name, None, f"referential integrity violated: {_summary(entry)}")
    return report


def _register(con, name: str, frame: pd.DataFrame, types) -> None:
    """The frame as a view, its key columns cast to their common type."""
    plain = frame.reset_index(drop=True)
    for (table, column), kind in types.items():
        if table == name and kind == "BIGINT" and pd.api.types.is_float_dtype(plain[column].dtype):
            plain = plain.assign(**{column: plain[column].astype("Int64")})
    con.register(f"__frame__{name}", plain)
    select = []
    for column in plain.columns:
        kind = types.get((name, column))
        select.append(f"CAST({_quote(column)} AS {kind}) AS {_quote(column)}" if kind else _quote(column))
    con.execute(f"CREATE VIEW {_source(name)} AS SELECT {', '.join(select)} FROM {_quote(f'__frame__{name}')}")


def _scalar(con, sql: str) -> int:
    return int(con.execute(sql).fetchone()[0])


def _explicit_checks(con, name: str, keys: dict[str, TableKeys], frames) -> dict:
    """Duplicate and anti-join counts, by query on the tables as given."""
    spec = keys[name]
    source = _source(name)
    entry: dict = {"rows": len(frames[name]), "pk_duplicates": None, "unique_duplicates": {}, "fk_orphans": 0,
                   "fk_detail": {}, "fk_skipped": [], "constraint_error": None}
    if spec.primary_key:
        entry["pk_duplicates"] = _scalar(con, f"SELECT count(*) - count(DISTINCT {_quote(spec.primary_key)}) "
                                              f"FROM {source}")
    for column in spec.unique:
        entry["unique_duplicates"][column] = _scalar(
            con, f"SELECT count({_quote(column)}) - count(DISTINCT {_quote(column)}) FROM {source}")
    for fk in spec.foreign_keys:
        if fk.parent not in frames:
            entry["fk_skipped"].append(fk.label)
            continue
        entry["fk_detail"][fk.label] = _orphans(con, name, fk)
    entry["fk_orphans"] = sum(entry["fk_detail"].values())
    return entry


def _orphans(con, name: str, fk: ForeignKey) -> int:
    where = f" AND ({fk.where})" if fk.where else ""
    return _scalar(con, f"SELECT count(*) FROM {_source(name)} AS c WHERE c.{_quote(fk.column)} IS NOT NULL{where} "
                        f"AND NOT EXISTS (SELECT 1 FROM {_source(fk.parent)} AS p "
                        f"WHERE p.{_quote(fk.parent_column)} = c.{_quote(fk.column)})")


def _ddl_type(duck_type: str) -> str:
    return "VARCHAR" if duck_type.upper().startswith("ENUM") else duck_type


def _constrained_load(con, name: str, keys: dict[str, TableKeys], frames) -> str | None:
    """CREATE TABLE with the declared keys, INSERT the rows; DuckDB's message if it rejects them."""
    import duckdb

    spec = keys[name]
    declared = [fk for fk in spec.foreign_keys if fk.parent in frames and fk.where is None]
    described = con.execute(f"DESCRIBE SELECT * FROM {_source(name)}").fetchall()
    columns = [f"{_quote(row[0])} {_ddl_type(row[1])}" for row in described]
    constraints = []
    if spec.primary_key:
        constraints.append(f"PRIMARY KEY ({_quote(spec.primary_key)})")
    constraints += [f"UNIQUE ({_quote(column)})" for column in spec.unique]
    constraints += [f"FOREIGN KEY ({_quote(fk.column)}) REFERENCES {_quote(fk.parent)} ({_quote(fk.parent_column)})"
                    for fk in declared]
    con.execute(f"CREATE TABLE {_quote(name)} ({', '.join(columns + constraints)})")
    self_keys = [fk for fk in declared if fk.parent == name]
    try:
        if self_keys:
            _insert_by_levels(con, name, f"SELECT * FROM {_source(name)}", self_keys, drop_unresolved=False)
        else:
            con.execute(f"INSERT INTO {_quote(name)} SELECT * FROM {_source(name)}")
        return None
    except duckdb.Error as exc:
        error = str(exc).splitlines()[0]
    _insert_valid_rows(con, name, spec, declared)
    return error


def _insert_by_levels(con, name: str, rows_sql: str, self_keys: list[ForeignKey], drop_unresolved: bool) -> None:
    """Insert a self-referencing table level by level: a row once the row it points at is in.

    DuckDB checks a foreign key against the rows present before the statement, so a parent and
    its child cannot arrive in one INSERT. Rows pointing at rows that never arrive are dropped
    (``drop_unresolved``) or inserted last, for DuckDB to reject.
    """
    table, pending, batch = _quote(name), _quote(f"__pending__{name}"), _quote(f"__batch__{name}")
    con.execute(f"CREATE TEMP TABLE {pending} AS SELECT row_number() OVER () AS __row__, * FROM ({rows_sql})")
    ready = " AND ".join(f"(s.{_quote(fk.column)} IS NULL OR s.{_quote(fk.column)} IN "
                         f"(SELECT {_quote(fk.parent_column)} FROM {table}))" for fk in self_keys)
    try:
        while _scalar(con, f"SELECT count(*) FROM {pending}"):
            con.execute(f"CREATE OR REPLACE TEMP TABLE {batch} AS SELECT * FROM {pending} AS s WHERE {ready}")
            if not _scalar(con, f"SELECT count(*) FROM {batch}"):
                if not drop_unresolved:
                    con.execute(f"INSERT INTO {table} SELECT * EXCLUDE (__row__) FROM {pending}")
                break
            con.execute(f"INSERT INTO {table} SELECT * EXCLUDE (__row__) FROM {batch}")
            con.execute(f"DELETE FROM {pending} WHERE __row__ IN (SELECT __row__ FROM {batch})")
    finally:
        con.execute(f"DROP TABLE IF EXISTS {pending}")
        con.execute(f"DROP TABLE IF EXISTS {batch}")


def _insert_valid_rows(con, name: str, spec: TableKeys, declared: list[ForeignKey]) -> None:
    """After a rejected insert: load the rows that satisfy every declared key (first of duplicates),
    so that the tables below are checked against a parent rather than against an empty table."""
    conditions = [f"(s.{_quote(fk.column)} IS NULL OR s.{_quote(fk.column)} IN "
                  f"(SELECT {_quote(fk.parent_column)} FROM {_quote(fk.parent)}))"
                  for fk in declared if fk.parent != name]
    if spec.primary_key:
        conditions.append(f"s.{_quote(spec.primary_key)} IS NOT NULL")
    where = " AND ".join(conditions) or "TRUE"
    selected = f"SELECT s.* FROM {_source(name)} AS s WHERE {where}"
    for column in ([spec.primary_key] if spec.primary_key else []) + list(spec.unique):
        selected = (f"SELECT * FROM ({selected}) AS s QUALIFY s.{_quote(column)} IS NULL "
                    f"OR row_number() OVER (PARTITION BY s.{_quote(column)}) = 1")
    con.execute(f"DELETE FROM {_quote(name)}")
    self_keys = [fk for fk in declared if fk.parent == name]
    if self_keys:
        _insert_by_levels(con, name, selected, self_keys, drop_unresolved=True)
    else:
        con.execute(f"INSERT INTO {_quote(name)} {selected}")


def _table_violations(entry: dict) -> int:
    return int((entry["pk_duplicates"] or 0) + sum(entry["unique_duplicates"].values()) + entry["fk_orphans"])


def _summary(entry: dict) -> str:
    parts = []
    if entry["pk_duplicates"]:
        parts.append(f"{entry['pk_duplicates']} duplicated or missing primary keys")
    parts += [f"{n} duplicated {column}" for column, n in entry["unique_duplicates"].items() if n]
    parts += [f"{n} orphans of {label}" for label, n in entry["fk_detail"].items() if n]
    return "; ".join(parts) or "no violations"


def count_violations(report: Mapping[str, dict]) -> int:
    """Total violations in a :func:`check_integrity` report (0 for a consistent table set)."""
    return sum(_table_violations(entry) for entry in report.values())
