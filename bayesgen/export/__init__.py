"""Export of generated registry tables to other data models (OMOP CDM v5.4)."""

from bayesgen.export.omop import OMOP_COLUMNS, OMOP_KEYS, check_omop_integrity, export_omop

__all__ = ["OMOP_COLUMNS", "OMOP_KEYS", "check_omop_integrity", "export_omop"]
