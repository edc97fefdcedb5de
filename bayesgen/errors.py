"""Exceptions raised by bayesgen.

Every error a user can cause is a :class:`BayesgenError`, so callers can catch one type. Errors about
data say where: table, column, an offending value and how many rows carry it.
"""

from __future__ import annotations


class BayesgenError(Exception):
    """Base class of every error bayesgen raises on purpose."""


class SchemaError(BayesgenError):
    """A schema file or schema object is invalid."""


class StructureError(BayesgenError):
    """A structure (DAG) is invalid: a cycle, an unknown node, a broken tier or constraint."""


class PrivacyBudgetError(BayesgenError):
    """A charge would exceed the declared privacy budget."""


class NotFittedError(BayesgenError):
    """A method that needs a fitted model was called before ``fit``."""


class ModelFileError(BayesgenError):
    """A model file is missing, truncated, tampered with or of an unknown format version."""


class DataValidationError(BayesgenError):
    """Input data do not match the declared schema.

    Parameters
    ----------
    table, column : str or None
        Where the problem is.
    problem : str
        What is wrong, in words.
    value : object, optional
        One offending value (the first seen).
    n_rows : int, optional
        How many rows have the problem.

    Examples
    --------
    >>> err = DataValidationError("SIM_AV_TUMOUR", "GRADE", "unknown category", value="G7", n_rows=3)
    >>> str(err)
    "SIM_AV_TUMOUR.GRADE: unknown category (value 'G7', 3 rows)"
    """

    def __init__(self, table, column, problem, value=None, n_rows=None):
        self.table = table
        self.column = column
        self.problem = problem
        self.value = value
        self.n_rows = n_rows
        where = table if column is None else f"{table}.{column}"
        details = []
        if value is not None:
            details.append(f"value {value!r}")
        if n_rows is not None:
            details.append(f"{n_rows} row{'s' if n_rows != 1 else ''}")
        suffix = f" ({', '.join(details)})" if details else ""
        super().__init__(f"{where}: {problem}{suffix}")
