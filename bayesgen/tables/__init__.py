"""Reading and writing registry tables (CSV, Parquet), atomically."""

from bayesgen.tables.io import read_tables, write_tables

__all__ = ["read_tables", "write_tables"]
