"""Declared schemas: tables, columns, code sets, bins and constraints, and encode/decode."""

from bayesgen.schema.columns import Column, DerivedRule
from bayesgen.schema.constraints import Condition, Constraint
from bayesgen.schema.schema import Schema, Variable
from bayesgen.schema.tables import ParentLink, PrivacyUnit, Table

__all__ = ["Column", "Condition", "Constraint", "DerivedRule", "ParentLink", "PrivacyUnit", "Schema",
           "Table", "Variable"]
