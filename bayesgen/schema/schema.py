"""The declared, public schema: tables, keys, columns, constraints; YAML on disk."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from bayesgen.errors import SchemaError
from bayesgen.files import resolve_resource, write_text_atomic
from bayesgen.schema.columns import Column
from bayesgen.schema.constraints import Constraint
from bayesgen.schema.events import EventDeclarations
from bayesgen.schema.tables import Table

SPEC_VERSION = 1


@dataclass(frozen=True)
class Variable:
    """A model variable: a modelled column, or a child table's row-count variable."""

    name: str
    table: str
    n_states: int
    column: Column | None = None
    count_of: str | None = None
    count_min: int = 0

    def states(self) -> list:
        if self.column is not None:
            return self.column.states()
        return list(range(self.count_min, self.count_min + self.n_states))


@dataclass(frozen=True)
class Schema:
    """A declared registry schema.

    Examples
    --------
    >>> schema = Schema.load("schemas/simulacrum_v2.yaml")
    >>> schema.root_table
    'SIM_AV_PATIENT'
    >>> "STAGE_BEST" in schema.variables
    True
    """

    name: str
    root_table: str
    tables: dict[str, Table]
    constraints: tuple[Constraint, ...] = ()
    description: str | None = None
    events: EventDeclarations | None = None

    # -- files ----------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | os.PathLike) -> Schema:
        """Read a schema YAML file (a shipped one may be named without its folder)."""
        resolved = resolve_resource(path, "schemas")
        try:
            text = Path(resolved).read_text(encoding="utf-8")
        except OSError as exc:
            raise SchemaError(f"cannot read schema file {path}: {exc.strerror or exc}") from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise SchemaError(f"schema file {path} is not valid YAML: {exc}") from None
        return cls.from_dict(data, source=str(path))

    def save(self, path: str | os.PathLike) -> None:
        """Write this schema as YAML, atomically."""
        write_text_atomic(path, yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True))

    @classmethod
    def from_dict(cls, data: dict, source: str = "schema") -> Schema:
        """Build and validate a schema from its document; any malformed part is a :class:`SchemaError`."""
        try:
            return cls._from_dict(data, source)
        except SchemaError:
            raise
        except (TypeError, ValueError, KeyError, AttributeError, OverflowError, IndexError) as exc:
            text = str(exc)
            text = text if len(text) <= 200 else text[:197] + "..."
            raise SchemaError(f"{source}: malformed schema ({type(exc).__name__}: {text})") from None

    @classmethod
    def _from_dict(cls, data: dict, source: str = "schema") -> Schema:
        if not isinstance(data, dict):
            raise SchemaError(f"{source}: expected a mapping at the top level")
        version = data.get("spec_version")
        if version != SPEC_VERSION:
            raise SchemaError(f"{source}: spec_version must be {SPEC_VERSION}, got {version!r}")
        known = {"spec_version", "name", "description", "root_table", "tables", "constraints", "events"}
        unknown = set(data) - known
        if unknown:
            raise SchemaError(f"{source}: unknown top-level keys {sorted(unknown)}")
        raw_tables = data.get("tables")
        if not isinstance(raw_tables, dict) or not raw_tables:
            raise SchemaError(f"{source}: needs a non-empty 'tables' mapping")
        tables = {str(name): Table.from_dict(str(name), body) for name, body in raw_tables.items()}
        root = data.get("root_table") or next(iter(tables))
        constraints = tuple(Constraint.from_dict(c, i) for i, c in enumerate(data.get("constraints") or []))
        events = EventDeclarations.from_dict(data["events"], source) if data.get("events") is not None else None
        schema = cls(name=str(data.get("name", Path(source).stem)), root_table=str(root), tables=tables,
                     constraints=constraints, description=data.get("description"), events=events)
        schema._validate(source)
        return schema

    def to_dict(self) -> dict:
        out: dict = {"spec_version": SPEC_VERSION, "name": self.name}
        if self.description:
            out["description"] = self.description
        out["root_table"] = self.root_table
        out["tables"] = {name: table.to_dict() for name, table in self.tables.items()}
        if self.constraints:
            out["constraints"] = [c.to_dict() for c in self.constraints]
        if self.events is not None:
            out["events"] = self.events.to_dict()
        return out

    # -- lookups --------------------------------------------------------------------------------
    @property
    def root(self) -> Table:
        return self.tables[self.root_table]

    @property
    def child_tables(self) -> list[Table]:
        """Tables whose parent is the root table, in declaration order."""
        return [t for t in self.tables.values() if t.parent is not None]

    @property
    def variables(self) -> dict[str, Variable]:
        """Every model variable by name: modelled columns, then each child table's count variable."""
        out: dict[str, Variable] = {}
        for table in self.tables.values():
            for column in table.modelled_columns:
                out[column.name] = Variable(column.name, table.name, column.n_states, column=column)
        for table in self.child_tables:
            n = table.max_rows_per_parent - table.min_rows_per_parent + 1
            out[table.count_variable] = Variable(table.count_variable, self.root_table, n,
                                                 count_of=table.name, count_min=table.min_rows_per_parent)
        return out

    def column(self, name: str) -> Column:
        """The modelled column called ``name`` (model variable names are unique across tables)."""
        variable = self.variables.get(name)
        if variable is None or variable.column is None:
            raise SchemaError(f"no modelled column named {name!r} in schema {self.name}")
        return variable.column

    # -- validation -----------------------------------------------------------------------------
    def _validate(self, source: str) -> None:
        if self.root_table not in self.tables:
            raise SchemaError(f"{source}: root_table {self.root_table!r} is not a declared table")
        if self.root.parent is not None:
            raise SchemaError(f"{source}: the root table {self.root_table} cannot have a parent")
        for table in self.tables.values():
            if table.name == self.root_table:
                continue
            if table.parent is None:
                raise SchemaError(f"{source}: table {table.name} needs a parent (only the root has none)")
            if table.parent.table != self.root_table:
                raise SchemaError(f"{source}: table {table.name}: parent must be the root table "
                                  f"{self.root_table} (deeper hierarchies are not supported yet)")
            if table.privacy_unit:
                raise SchemaError(f"{source}: table {table.name}: only the root table has a privacy_unit")
        seen: dict[str, str] = {}
        for table in self.tables.values():
            for column in table.modelled_columns:
                if column.name in seen:
                    raise SchemaError(f"{source}: modelled column {column.name} appears in {seen[column.name]} "
                                      f"and {table.name}; model variable names must be unique "
                                      f"(derive one from the other)")
                seen[column.name] = table.name
        for table in self.child_tables:
            if table.count_variable in seen:
                raise SchemaError(f"{source}: count_variable {table.count_variable} clashes with a column")
            seen[table.count_variable] = table.name
        for table in self.tables.values():
            for column in table.columns:
                self._validate_column_links(source, table, column)
        variables = self.variables
        for constraint in self.constraints:
            for condition in (constraint.antecedent, constraint.consequent):
                variable = variables.get(condition.column)
                if variable is None or variable.column is None:
                    raise SchemaError(f"{source}: constraint '{constraint.name}': {condition.column} "
                                      f"is not a modelled column")
                column = variable.column
                if condition.kind in ("in", "not_in"):
                    if column.type not in ("categorical", "ordinal"):
                        raise SchemaError(f"{source}: constraint '{constraint.name}': '{condition.kind}' "
                                          f"needs a categorical column, {column.name} is {column.type}")
                    unknown = sorted(set(condition.values) - set(column.categories))
                    if unknown:
                        raise SchemaError(f"{source}: constraint '{constraint.name}': values {unknown} are "
                                          f"not categories of {column.name}")
                if condition.kind == "startswith" and column.type not in ("categorical", "ordinal"):
                    raise SchemaError(f"{source}: constraint '{constraint.name}': 'startswith' needs a "
                                      f"categorical column")
                if condition.kind == "missing" and not column.missing:
                    raise SchemaError(f"{source}: constraint '{constraint.name}': {column.name} does not "
                                      f"allow missing values")
        if self.events is not None:
            self.events.validate_for(self, source)

    def _validate_column_links(self, source: str, table: Table, column: Column) -> None:
        where = f"{source}: {table.name}.{column.name}"
        if column.relative_to:
            anchor_table = table
            if column.relative_to not in table.column_names:
                children = [t for t in self.child_tables if column.relative_to in t.column_names]
                if table.name != self.root_table or not children:
                    raise SchemaError(f"{where}: relative_to {column.relative_to} is not a column of "
                                      f"{table.name} (or, for the root table, of a child table)")
                anchor_table = children[0]
            anchor = anchor_table.column(column.relative_to)
            if anchor.type != "date" or anchor.relative_to:
                raise SchemaError(f"{where}: relative_to {column.relative_to} must be an absolute date column")
        rule = column.derived
        if rule is None:
            return
        if rule.source_table is not None:
            if rule.source_table not in self.tables:
                raise SchemaError(f"{where}: derived from unknown table {rule.source_table}")
            if table.parent is None or table.parent.table != rule.source_table:
                raise SchemaError(f"{where}: can copy only from its parent table")
            source_table = self.tables[rule.source_table]
        else:
            source_table = table
        if rule.source_column not in source_table.column_names:
            raise SchemaError(f"{where}: derived from unknown column {source_table.name}.{rule.source_column}")
        origin = source_table.column(rule.source_column)
        if origin.derived is not None:
            raise SchemaError(f"{where}: derived from another derived column ({origin.name}); derive from its source")
        if rule.kind == "prefix":
            if origin.type not in ("categorical", "ordinal") or column.type not in ("categorical", "ordinal"):
                raise SchemaError(f"{where}: a prefix rule needs categorical source and target")
            produced = {c[: rule.length] for c in origin.categories}
        else:
            if (origin.type in ("categorical", "ordinal")) != (column.type in ("categorical", "ordinal")):
                raise SchemaError(f"{where}: a copy must have the type of its source ({origin.type})")
            if column.type not in ("categorical", "ordinal"):
                if column.type != origin.type:
                    raise SchemaError(f"{where}: a copy must have the type of its source ({origin.type})")
                produced = set()
            else:
                produced = set(origin.categories)
        missing_values = sorted(produced - set(column.categories))
        if missing_values:
            raise SchemaError(f"{where}: categories lack values its rule produces: {missing_values[:10]}")
        if origin.missing and not column.missing:
            raise SchemaError(f"{where}: its source {origin.name} may be missing, so it must allow missing too")
