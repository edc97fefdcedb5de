"""Declared survival outcomes and prediction targets for the evaluation (small value objects).

What "survival" and "the target" mean differs per registry layout, so they are declared, not
guessed: a :class:`SurvivalSpec` says which table holds one row per unit, how the follow-up time is
obtained (a numeric column, or an end date minus a start date, the start possibly on the index row
of a child table) and which values of which column mark the event; a :class:`TargetSpec` turns a
survival outcome into a binary label at a horizon (for example "dead within 365 days"), or names a
categorical column and its positive values. Shipped schemas have presets in
:mod:`bayesgen.evaluate.presets`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SurvivalSpec:
    """How to read a time-to-event outcome from a schema's tables.

    Parameters
    ----------
    table : str
        The table with one row per unit (usually the root table).
    event : str
        Column of ``table`` whose value says whether the event happened.
    event_values : tuple of str
        Values of ``event`` that mean the event happened (compared as text); any other value is
        a censored follow-up.
    duration : str, optional
        A numeric column of ``table`` holding the follow-up time in days.
    start, end : str, optional
        Instead of ``duration``: two date columns, time = ``end`` − ``start`` in days. ``end`` is a
        column of ``table``; ``start`` a column of ``table`` or of a child table, in which case the
        unit's index row (first in the child table's ``order_by`` order) is used.
    label : str
        A name for plots and tables.

    Examples
    --------
    >>> spec = SurvivalSpec("GBSG2", event="cens", event_values=("1",), duration="time")
    >>> spec.describe()
    'GBSG2: time = time (days), event = cens in (1)'
    """

    table: str
    event: str
    event_values: tuple[str, ...]
    duration: str | None = None
    start: str | None = None
    end: str | None = None
    label: str = "survival"

    def __post_init__(self):
        if (self.duration is None) == (self.start is None or self.end is None):
            raise ValueError("a SurvivalSpec needs either duration= or both start= and end=")
        object.__setattr__(self, "event_values", tuple(str(v) for v in self.event_values))

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns this outcome is read from."""
        return tuple(c for c in (self.event, self.duration, self.start, self.end) if c)

    def describe(self) -> str:
        time = self.duration if self.duration else f"{self.end} - {self.start}"
        return f"{self.table}: time = {time} (days), event = {self.event} in ({', '.join(self.event_values)})"


@dataclass(frozen=True)
class TargetSpec:
    """A binary prediction target for train-on-synthetic, test-on-real (TSTR).

    Either ``survival`` and ``horizon`` (label 1: the event happened within ``horizon`` days; units
    censored before the horizon have no label and are left out), or ``column`` and
    ``positive_values`` of ``table`` (label 1: the value is one of them).

    Features are the modelled columns of the unit's row and of its index rows in child tables
    (:func:`bayesgen.evaluate.person_view`), without the target's own columns and ``exclude``
    (outcome columns that would give the answer away, such as a cause of death).

    Examples
    --------
    >>> os = SurvivalSpec("P", event="DEAD", event_values=("D",), start="DIAG", end="VSDATE")
    >>> TargetSpec("dead within 1 year", survival=os, horizon=365).describe()
    'dead within 1 year: event of P: time = VSDATE - DIAG (days), event = DEAD in (D) within 365 days'
    """

    name: str
    survival: SurvivalSpec | None = None
    horizon: float | None = None
    table: str | None = None
    column: str | None = None
    positive_values: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def __post_init__(self):
        by_survival = self.survival is not None and self.horizon is not None
        by_column = self.column is not None and self.table is not None and bool(self.positive_values)
        if by_survival == by_column:
            raise ValueError("a TargetSpec needs either survival= and horizon=, or table=, column= and "
                             "positive_values=")
        object.__setattr__(self, "positive_values", tuple(str(v) for v in self.positive_values))
        object.__setattr__(self, "exclude", tuple(self.exclude))

    @property
    def unit_table(self) -> str:
        return self.survival.table if self.survival is not None else self.table

    @property
    def columns(self) -> tuple[str, ...]:
        """Columns that define the label (never used as features)."""
        return self.survival.columns if self.survival is not None else (self.column,)

    def describe(self) -> str:
        if self.survival is not None:
            return f"{self.name}: event of {self.survival.describe()} within {self.horizon:g} days"
        return f"{self.name}: {self.table}.{self.column} in ({', '.join(self.positive_values)})"
