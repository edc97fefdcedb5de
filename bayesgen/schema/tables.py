"""Table declarations: keys, the link to the parent table and contribution bounds."""

from __future__ import annotations

from dataclasses import dataclass

from bayesgen.errors import SchemaError
from bayesgen.schema.columns import Column


@dataclass(frozen=True)
class ParentLink:
    """A child table's foreign key to the root table."""

    table: str
    key: str


@dataclass(frozen=True)
class PrivacyUnit:
    """For a root table with several rows per person: the column naming the person and the bound."""

    key: str
    max_rows: int


@dataclass(frozen=True)
class Table:
    """One declared table.

    ``max_rows_per_parent`` bounds how many rows of a child table one person contributes; rows beyond
    it (in ``order_by`` order) are not used for fitting. ``count_variable`` is the name of the model
    variable holding how many rows each parent has.
    """

    name: str
    primary_key: str
    columns: tuple[Column, ...]
    parent: ParentLink | None = None
    max_rows_per_parent: int | None = None
    min_rows_per_parent: int = 0
    count_variable: str | None = None
    order_by: tuple[str, ...] = ()
    privacy_unit: PrivacyUnit | None = None
    description: str | None = None

    @classmethod
    def from_dict(cls, name: str, data: dict) -> Table:
        if not isinstance(data, dict):
            raise SchemaError(f"table {name}: expected a mapping")
        known = {"primary_key", "columns", "parent", "max_rows_per_parent", "min_rows_per_parent",
                 "count_variable", "order_by", "privacy_unit", "description"}
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
        if primary_key not in names:
            raise SchemaError(f"table {name}: primary_key {primary_key!r} is not one of its columns")
        parent = None
        if data.get("parent"):
            link = data["parent"]
            if not isinstance(link, dict) or "table" not in link or "key" not in link:
                raise SchemaError(f"table {name}: parent needs 'table' and 'key'")
            parent = ParentLink(str(link["table"]), str(link["key"]))
            if parent.key not in names:
                raise SchemaError(f"table {name}: parent key {parent.key!r} is not one of its columns")
            for required in ("max_rows_per_parent", "count_variable"):
                if not data.get(required):
                    raise SchemaError(f"table {name}: a child table must declare {required!r}")
        max_rows = data.get("max_rows_per_parent")
        min_rows = int(data.get("min_rows_per_parent", 0))
        if max_rows is not None and (not isinstance(max_rows, int) or max_rows < 1 or max_rows < min_rows):
            raise SchemaError(f"table {name}: max_rows_per_parent must be an integer >= max(1, min_rows_per_parent)")
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
        return cls(name=name, primary_key=str(primary_key), columns=columns, parent=parent,
                   max_rows_per_parent=max_rows, min_rows_per_parent=min_rows,
                   count_variable=data.get("count_variable"), order_by=order_by, privacy_unit=unit,
                   description=data.get("description"))

    def to_dict(self) -> dict:
        out: dict = {}
        if self.description:
            out["description"] = self.description
        out["primary_key"] = self.primary_key
        if self.parent:
            out["parent"] = {"table": self.parent.table, "key": self.parent.key}
            out["max_rows_per_parent"] = self.max_rows_per_parent
            out["min_rows_per_parent"] = self.min_rows_per_parent
            out["count_variable"] = self.count_variable
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
