"""Implication constraints between two modelled columns: ``if A in S then B in T``."""

from __future__ import annotations

from dataclasses import dataclass

from bayesgen.errors import SchemaError

CONDITION_KINDS = ("in", "not_in", "startswith", "missing")


@dataclass(frozen=True)
class Condition:
    """One side of a constraint: a column and a set of its values.

    Examples
    --------
    >>> Condition.from_dict({"column": "VITALSTATUS", "in": ["D", "D1"]}, "c").values
    ('D', 'D1')
    """

    column: str
    kind: str
    values: tuple = ()

    @classmethod
    def from_dict(cls, data: dict, where: str) -> Condition:
        if not isinstance(data, dict) or "column" not in data:
            raise SchemaError(f"{where}: a condition needs 'column'")
        kinds = [k for k in CONDITION_KINDS if k in data]
        if len(kinds) != 1 or len(data) != 2:
            raise SchemaError(f"{where}: a condition needs 'column' and exactly one of {CONDITION_KINDS}")
        kind = kinds[0]
        raw = data[kind]
        if kind == "missing":
            if not isinstance(raw, bool):
                raise SchemaError(f"{where}: 'missing' must be true or false")
            values: tuple = (raw,)
        else:
            if not isinstance(raw, list) or not raw:
                raise SchemaError(f"{where}: '{kind}' needs a non-empty list")
            values = tuple(str(v) for v in raw)
        return cls(str(data["column"]), kind, values)

    def to_dict(self) -> dict:
        value = self.values[0] if self.kind == "missing" else list(self.values)
        return {"column": self.column, self.kind: value}

    def describe(self) -> str:
        if self.kind == "missing":
            return f"{self.column} is {'missing' if self.values[0] else 'present'}"
        return f"{self.column} {self.kind.replace('_', ' ')} {list(self.values)}"


@dataclass(frozen=True)
class Constraint:
    """``if`` condition implies ``then`` condition, in every generated row."""

    name: str
    antecedent: Condition
    consequent: Condition

    @classmethod
    def from_dict(cls, data: dict, index: int) -> Constraint:
        where = f"constraint {index + 1}"
        if not isinstance(data, dict) or "if" not in data or "then" not in data:
            raise SchemaError(f"{where}: needs 'if' and 'then'")
        name = str(data.get("name", where))
        return cls(name, Condition.from_dict(data["if"], f"{where} ({name}) 'if'"),
                   Condition.from_dict(data["then"], f"{where} ({name}) 'then'"))

    def to_dict(self) -> dict:
        return {"name": self.name, "if": self.antecedent.to_dict(), "then": self.consequent.to_dict()}

    @property
    def columns(self) -> tuple[str, str]:
        return self.antecedent.column, self.consequent.column
