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
    csv_separator: str = ","

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
        known = {"spec_version", "name", "description", "root_table", "tables", "constraints", "events",
                 "csv_separator"}
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
                     constraints=constraints, description=data.get("description"), events=events,
                     csv_separator=str(data.get("csv_separator", ",")))
        if len(schema.csv_separator) != 1 or schema.csv_separator in "\n\r\"":
            raise SchemaError(f"{source}: csv_separator must be one character (not a quote or line break)")
        schema._validate(source)
        return schema

    def to_dict(self) -> dict:
        out: dict = {"spec_version": SPEC_VERSION, "name": self.name}
        if self.description:
            out["description"] = self.description
        out["root_table"] = self.root_table
        if self.csv_separator != ",":
            out["csv_separator"] = self.csv_separator
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
        """Every table but the root, parents before children (declaration order among siblings)."""
        order: list[Table] = []
        placed = {self.root_table}
        pending = [t for t in self.tables.values() if t.parent is not None]
        while pending:
            ready = [t for t in pending if t.parent.table in placed]
            if not ready:  # a cycle or an unknown parent: reported by _validate
                order.extend(pending)
                break
            for table in ready:
                order.append(table)
                placed.add(table.name)
            pending = [t for t in pending if t.name not in placed]
        return order

    def ancestors(self, name: str) -> list[str]:
        """The tables above ``name``, its parent first, the root last.

        Examples
        --------
        >>> Schema.load("schemas/simulacrum_v2.yaml").ancestors("SIM_AV_TUMOUR")
        ['SIM_AV_PATIENT']
        """
        out: list[str] = []
        table = self.tables[name]
        while table.parent is not None and len(out) <= len(self.tables):
            out.append(table.parent.table)
            table = self.tables[table.parent.table]
        return out

    def parent_key_column(self, table: Table) -> str:
        """The parent's column that ``table``'s foreign key refers to."""
        return table.parent.references or self.tables[table.parent.table].primary_key

    def rows_bound_per_person(self, name: str) -> int:
        """The most rows of table ``name`` one person has after bounding: the product of the bounds
        from the root down (the root's ``privacy_unit.max_rows`` included)."""
        bound = 1
        table = self.tables[name]
        while table.parent is not None:
            bound *= table.max_rows_per_parent
            table = self.tables[table.parent.table]
        return bound * table.rows_per_person

    def fit_rows_per_person(self, name: str) -> int:
        """The most rows of ``name`` one person contributes to the counts of its conditional tables."""
        bound = self.rows_bound_per_person(name)
        declared = self.tables[name].fit_rows_per_person
        return min(bound, declared) if declared else bound

    def count_follow_up(self, table: Table) -> tuple[str, str, int] | None:
        """When a parent row's count of ``table`` rows is known to be complete, or None if always.

        A child table whose rows per parent are a model variable (``count_variable``), dated from the
        parent (its first ``order_by`` column is a date relative to the parent) and cut at the end of
        a patient's follow-up (``ends_with``) has, for parents near that end, fewer rows than were
        planned: the rows that would have come later were never recorded. The sampler cuts the
        synthetic rows at the synthetic end of follow-up in the same way, so the count variable must
        be fitted on parents whose rows could not have been cut (else the cut is applied twice).
        A parent is complete when its anchor date plus the longest span its rows can take (the
        largest declared offset, times the row bound for chained dates) is on or before the end.

        Returns
        -------
        (anchor column, end column, span in days) or None
            The anchor is a column of the parent table, the end a column of the root table.

        Examples
        --------
        >>> schema = Schema.load("schemas/simulacrum_v2.yaml")
        >>> schema.count_follow_up(schema.tables["SIM_SACT_CYCLE"])   # 8 cycles, each at most 91 days on
        ('START_DATE_OF_REGIMEN', 'VITALSTATUSDATE', 728)
        >>> schema.count_follow_up(schema.tables["SIM_AV_TUMOUR"]) is None
        True
        """
        if not (table.count_variable and table.ends_with and table.order_by and self.events is not None):
            return None
        process = next((p for p in self.events.processes if p.name == table.ends_with), None)
        if process is None or process.unit != self.root_table or not process.terminal or not process.date:
            return None
        column = table.column(table.order_by[0])
        if column.type != "date" or not column.relative_to:
            return None
        anchor_table, anchor_column = self.anchor_of(table, column)
        if anchor_table != table.parent.table:
            return None
        longest_offset = int(column.bins[-1]) - 1
        span = longest_offset * (table.max_rows_per_parent if column.chained else 1)
        return anchor_column, process.date, span

    def event_driven(self, name: str) -> bool:
        """Whether ``name`` or one of its ancestors gets its rows from the time-to-event module."""
        return any(self.tables[t].rows_from_event for t in (name, *self.ancestors(name)))

    @property
    def variables(self) -> dict[str, Variable]:
        """Every model variable by name: modelled columns, then each child table's count variable
        (a variable of the child's parent table)."""
        out: dict[str, Variable] = {}
        for table in self.tables.values():
            for column in table.modelled_columns:
                out[column.name] = Variable(column.name, table.name, column.n_states, column=column)
        for table in self.child_tables:
            if not table.count_variable:
                continue
            n = table.max_rows_per_parent - table.min_rows_per_parent + 1
            out[table.count_variable] = Variable(table.count_variable, table.parent.table, n,
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
            if table.parent.table not in self.tables:
                raise SchemaError(f"{source}: table {table.name}: parent {table.parent.table} is not a declared table")
            if len(self.ancestors(table.name)) > len(self.tables) or self.root_table not in self.ancestors(table.name):
                raise SchemaError(f"{source}: table {table.name}: its parents do not lead to the root table "
                                  f"{self.root_table} (a cycle?)")
            parent = self.tables[table.parent.table]
            referenced = self.parent_key_column(table)
            if referenced is None or referenced not in parent.column_names or parent.column(referenced).type != "id":
                raise SchemaError(f"{source}: table {table.name}: its foreign key must refer to an id column of "
                                  f"{parent.name}, got {referenced!r}")
            if table.rows_from_event and (self.events is None or table.rows_from_event not in
                                          {e.name for p in self.events.processes for e in p.events}):
                raise SchemaError(f"{source}: table {table.name}: rows_from_event {table.rows_from_event} is not "
                                  f"an event of the schema's events section")
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
        for table in self.tables.values():
            if table.primary_key is None and any(t.parent is not None and t.parent.table == table.name
                                                 for t in self.tables.values()):
                raise SchemaError(f"{source}: table {table.name} has child tables, so it needs a primary_key")
        for table in self.child_tables:
            if not table.count_variable:
                continue
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

    def anchor_of(self, table: Table, column: Column) -> tuple[str, str]:
        """``(table, column)`` of the absolute date a relative date column is measured from.

        ``relative_to`` names a column of the same table, of an ancestor table (the nearest one
        holding it; ``TABLE.COLUMN`` to be explicit) or, for the root table only, of a child table
        (read on the person's index row).
        """
        anchor_table, _, anchor_column = column.relative_to.rpartition(".")
        if anchor_table:
            if anchor_table != table.name and anchor_table not in self.ancestors(table.name):
                raise SchemaError(f"{table.name}.{column.name}: relative_to {column.relative_to}: "
                                  f"{anchor_table} is not this table or one of its ancestors")
            if anchor_column not in self.tables[anchor_table].column_names:
                raise SchemaError(f"{table.name}.{column.name}: relative_to {column.relative_to} is not a column")
            return anchor_table, anchor_column
        for name in (table.name, *self.ancestors(table.name)):
            if anchor_column in self.tables[name].column_names:
                return name, anchor_column
        if table.name == self.root_table:
            children = [t for t in self.child_tables if t.parent.table == self.root_table
                        and anchor_column in t.column_names]
            if children:
                return children[0].name, anchor_column
        raise SchemaError(f"{table.name}.{column.name}: relative_to {column.relative_to} is not a column of "
                          f"{table.name}, of an ancestor table or (for the root table) of a child table")

    def _validate_column_links(self, source: str, table: Table, column: Column) -> None:
        where = f"{source}: {table.name}.{column.name}"
        if column.relative_to:
            try:
                anchor_table, anchor_column = self.anchor_of(table, column)
            except SchemaError as exc:
                raise SchemaError(f"{source}: {exc}") from None
            anchor = self.tables[anchor_table].column(anchor_column)
            if anchor.type != "date" or (anchor.relative_to and anchor_table == table.name):
                raise SchemaError(f"{where}: relative_to {column.relative_to} must be a date column "
                                  f"(an absolute one, or one of an ancestor table)")
            if column.chained and table.parent is None:
                raise SchemaError(f"{where}: a chained date needs a parent table (its rows follow each other)")
        rule = column.derived
        if rule is None:
            return
        if rule.kind == "row_number":
            if table.parent is None or column.type not in ("integer",):
                raise SchemaError(f"{where}: row_number needs an integer column of a child table")
            return
        if rule.kind == "last_child":
            child = self.tables.get(rule.source_table)
            if table.parent is None or child is None or child.parent is None \
                    or child.parent.table != table.parent.table or rule.source_column not in child.column_names:
                raise SchemaError(f"{where}: last_child {rule.source_table}.{rule.source_column} must be a column "
                                  f"of a child table of this table's parent")
            if child.column(rule.source_column).type != column.type:
                raise SchemaError(f"{where}: last_child must have the type of its source")
            return
        if rule.source_table is not None:
            if rule.source_table not in self.tables:
                raise SchemaError(f"{where}: derived from unknown table {rule.source_table}")
            if rule.source_table not in self.ancestors(table.name):
                raise SchemaError(f"{where}: can copy only from an ancestor table ({self.ancestors(table.name)})")
            source_table = self.tables[rule.source_table]
        else:
            source_table = table
        if rule.source_column not in source_table.column_names:
            raise SchemaError(f"{where}: derived from unknown column {source_table.name}.{rule.source_column}")
        origin = source_table.column(rule.source_column)
        if origin.derived is not None and rule.source_table is None:
            raise SchemaError(f"{where}: derived from another derived column ({origin.name}); derive from its source")
        if rule.kind in ("prefix", "map"):
            if origin.type not in ("categorical", "ordinal") or column.type not in ("categorical", "ordinal"):
                raise SchemaError(f"{where}: a {rule.kind} rule needs categorical source and target")
            if rule.kind == "prefix":
                produced = {c[: rule.length] for c in origin.categories}
            else:
                mapping = dict(rule.values)
                unmapped = sorted(set(origin.categories) - set(mapping))
                if unmapped:
                    raise SchemaError(f"{where}: map has no value for {origin.name} categories {unmapped[:10]}")
                produced = set(mapping.values())
        else:
            if origin.type == "id" or column.type == "id":
                if origin.type != column.type:
                    raise SchemaError(f"{where}: a copy must have the type of its source ({origin.type})")
                return
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
