"""Table declarations: keys, the link to the parent table and contribution bounds."""

from __future__ import annotations

from dataclasses import dataclass

from bayesgen.errors import SchemaError
from bayesgen.schema.columns import Column


@dataclass(frozen=True)
class ParentLink:
    """A child table's foreign key ``key`` to its parent ``table``.

    ``references`` is the parent's id column the key points at: the parent's primary key unless
    declared (SACT regimens point at ``SIM_AV_PATIENT.LINKNUMBER``). None means the primary key.
    """

    table: str
    key: str
    references: str | None = None


@dataclass(frozen=True)
class PrivacyUnit:
    """For a root table with several rows per person: the column naming the person and the bound."""

    key: str
    max_rows: int


@dataclass(frozen=True)
class Table:
    """One declared table.

    ``max_rows_per_parent`` bounds how many rows of a child table one parent row has; rows beyond it
    (in ``order_by`` order) are not used for fitting. How many rows each parent row has is either the
    model variable ``count_variable`` (on the parent table's rows), or, with ``rows_from_event``, the
    number of occurrences of that recurrent event of the time-to-event module; a table with
    ``min_rows_per_parent == max_rows_per_parent`` (one-to-one) needs neither. ``fit_rows_per_person``
    optionally bounds how many of one person's rows enter the counts of the table's conditional
    tables (the first ones in order), which bounds their sensitivity. ``ends_with`` names a
    time-to-event process: rows dated after the person's end of it are not generated.
    """

    name: str
    primary_key: str | None
    columns: tuple[Column, ...]
    parent: ParentLink | None = None
    max_rows_per_parent: int | None = None
    min_rows_per_parent: int = 0
    count_variable: str | None = None
    order_by: tuple[str, ...] = ()
    privacy_unit: PrivacyUnit | None = None
    description: str | None = None
    rows_from_event: str | None = None
    fit_rows_per_person: int | None = None
    ends_with: str | None = None

    @classmethod
    def from_dict(cls, name: str, data: dict) -> Table:
        if not isinstance(data, dict):
            raise SchemaError(f"table {name}: expected a mapping")
        known = {"primary_key", "columns", "parent", "max_rows_per_parent", "min_rows_per_parent",
                 "count_variable", "order_by", "privacy_unit", "description", "rows_from_event",
                 "fit_rows_per_person", "ends_with"}
        unknown = set(data) - known
        if unknown:
            raise SchemaError(f"table {name}: unknown keys {sorted(unknown)}")
        raw_columns = data.get("columns")
        if not raw_columns or not isinstance(raw_columns, list):
            raise SchemaError(f"table {name}: needs a non-empty 'columns' list")
        columns = tuple(Column.from_dict(c, name) for c in raw_columns)
        names = [c.name for c in columns]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise SchemaError(f"table {name}: duplicated columns {dupes}")
        primary_key = data.get("primary_key")
        if primary_key is not None and primary_key not in names:
            raise SchemaError(f"table {name}: primary_key {primary_key!r} is not one of its columns")
        parent = None
        max_rows = data.get("max_rows_per_parent")
        min_rows = int(data.get("min_rows_per_parent", 0))
        if max_rows is not None and (not isinstance(max_rows, int) or max_rows < 1 or max_rows < min_rows):
            raise SchemaError(f"table {name}: max_rows_per_parent must be an integer >= max(1, min_rows_per_parent)")
        if data.get("parent"):
            link = data["parent"]
            if not isinstance(link, dict) or "table" not in link or "key" not in link \
                    or set(link) - {"table", "key", "references"}:
                raise SchemaError(f"table {name}: parent needs 'table' and 'key' (and optionally 'references')")
            parent = ParentLink(str(link["table"]), str(link["key"]),
                                None if link.get("references") is None else str(link["references"]))
            if parent.key not in names:
                raise SchemaError(f"table {name}: parent key {parent.key!r} is not one of its columns")
            if not max_rows:
                raise SchemaError(f"table {name}: a child table must declare 'max_rows_per_parent'")
            fixed = min_rows == max_rows
            sources = [k for k in ("count_variable", "rows_from_event") if data.get(k)]
            if len(sources) > 1:
                raise SchemaError(f"table {name}: declare either 'count_variable' or 'rows_from_event', not both")
            if not sources and not fixed:
                raise SchemaError(f"table {name}: a child table must declare 'count_variable' (or "
                                  f"'rows_from_event', or min_rows_per_parent = max_rows_per_parent)")
        elif primary_key is None:
            raise SchemaError(f"table {name}: the root table needs a primary_key")
        fit_rows = data.get("fit_rows_per_person")
        if fit_rows is not None and (not isinstance(fit_rows, int) or isinstance(fit_rows, bool) or fit_rows < 1):
            raise SchemaError(f"table {name}: fit_rows_per_person must be a positive integer")
        order_by = tuple(data.get("order_by") or ())
        for column in order_by:
            if column not in names:
                raise SchemaError(f"table {name}: order_by column {column!r} is not one of its columns")
        unit = None
        if data.get("privacy_unit"):
            raw = data["privacy_unit"]
            if not isinstance(raw, dict) or raw.get("key") not in names or not isinstance(raw.get("max_rows"), int) \
                    or raw["max_rows"] < 1:
                raise SchemaError(f"table {name}: privacy_unit needs 'key' (one of its columns) and 'max_rows' >= 1")
            unit = PrivacyUnit(str(raw["key"]), int(raw["max_rows"]))
        return cls(name=name, primary_key=None if primary_key is None else str(primary_key), columns=columns, parent=parent,
                   max_rows_per_parent=max_rows, min_rows_per_parent=min_rows,
                   count_variable=data.get("count_variable"), order_by=order_by, privacy_unit=unit,
                   description=data.get("description"), rows_from_event=data.get("rows_from_event"),
                   fit_rows_per_person=fit_rows, ends_with=data.get("ends_with"))

    def to_dict(self) -> dict:
        out: dict = {}
        if self.description:
            out["description"] = self.description
        if self.primary_key is not None:
            out["primary_key"] = self.primary_key
        if self.parent:
            out["parent"] = {"table": self.parent.table, "key": self.parent.key}
            if self.parent.references:
                out["parent"]["references"] = self.parent.references
            out["max_rows_per_parent"] = self.max_rows_per_parent
            out["min_rows_per_parent"] = self.min_rows_per_parent
            if self.count_variable:
                out["count_variable"] = self.count_variable
            if self.rows_from_event:
                out["rows_from_event"] = self.rows_from_event
        if self.fit_rows_per_person:
            out["fit_rows_per_person"] = self.fit_rows_per_person
        if self.ends_with:
            out["ends_with"] = self.ends_with
        if self.order_by:
            out["order_by"] = list(self.order_by)
        if self.privacy_unit:
            out["privacy_unit"] = {"key": self.privacy_unit.key, "max_rows": self.privacy_unit.max_rows}
        out["columns"] = [c.to_dict() for c in self.columns]
        return out

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    @property
    def modelled_columns(self) -> list[Column]:
        return [c for c in self.columns if c.is_modelled]

    @property
    def rows_per_person(self) -> int:
        """How many rows of this table one person can contribute after bounding (root tables)."""
        return self.privacy_unit.max_rows if self.privacy_unit else 1

    @property
    def fixed_rows(self) -> bool:
        """Whether every parent row has exactly ``max_rows_per_parent`` rows (no count is modelled)."""
        return self.parent is not None and not self.count_variable and not self.rows_from_event
