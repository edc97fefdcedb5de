"""Sample event histories from a fitted :class:`~bayesgen.events.model.EventModel` and turn them into dates
(or, for a duration process, into whole days from the origin).

Dates are consistent by construction: every event lies in ``[entry, end)`` of its unit, where ``entry``
is on or after the origin (the diagnosis) and ``end`` is the end of the cut-off day or, for a tumour's
process, the end of its patient's survival process; continuous times are floored to whole days, so
an event can share its day with the death but never follow it. A duration process's units run from
0 to the end of day ``horizon``: durations are floored the same way, so each lies in ``[0, horizon]``,
and a unit has the censored status exactly when its duration is the horizon and no terminal event
happened (a terminal event on the last day keeps its own status).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bayesgen.events import kernels
from bayesgen.events.histories import observation_limit, origin_table, unit_origins
from bayesgen.events.layout import EventLayout
from bayesgen.events.model import EventModel
from bayesgen.params.fit import aligned_codes
from bayesgen.schema.columns import days_to_dates
from bayesgen.schema.decode import day_numbers
from bayesgen.schema.events import status_code

DEFAULT_BLOCK = 4096


@dataclass
class SampledEvents:
    """The sampled events of one process's units (times in days after each unit's origin)."""

    layout: EventLayout
    origin_day: np.ndarray
    entry: np.ndarray
    end: np.ndarray  # when the unit's process ended: its terminal event, or the end of its time at risk
    n_events: np.ndarray
    event_type: np.ndarray
    event_time: np.ndarray
    terminal: np.ndarray

    def first_time(self, event: int) -> np.ndarray:
        """Time of each unit's first ``event`` (NaN if none)."""
        hit = (self.event_type == event) & (np.arange(self.event_type.shape[1])[None, :] < self.n_events[:, None])
        times = np.where(hit, self.event_time, np.inf).min(axis=1)
        return np.where(np.isinf(times), np.nan, times)


def draws_per_unit(layout: EventLayout) -> int:
    """Uniforms one unit may use: one exponential variate to start, then two per event (its type and
    the next variate)."""
    return int(2 * int(layout.max_count.sum()) + 1)


def sample_units(model: EventModel, process: str, codes: dict[str, np.ndarray], origin_day: np.ndarray,
                 entry: np.ndarray, end: np.ndarray, key: np.uint64, row_offset: int,
                 block: int = DEFAULT_BLOCK) -> SampledEvents:
    """Simulate the events of ``len(origin_day)`` units of ``process``.

    Parameters
    ----------
    codes : dict of str to ndarray
        Codes of the conditioning variables, aligned on the units.
    origin_day, entry, end : ndarray
        Origin date (day number) and the time at risk, ``[entry, end)`` in days after the origin.
    key : numpy.uint64
        Stream key; unit ``i`` uses positions from ``(row_offset + i) * draws_per_unit``.
    """
    layout = model.layouts[process]
    n = len(origin_day)
    rate_start, after_flat, after_start = layout.flat_arrays()
    cells = np.vstack([layout.cell_index(e, codes, n) for e in range(layout.n_events)]) if n else \
        np.zeros((layout.n_events, 0), dtype=np.int64)
    width = int(layout.max_count.sum())
    out_type = np.full((n, width), -1, dtype=np.int64)
    out_time = np.full((n, width), np.nan)
    out_n = np.zeros(n, dtype=np.int64)
    out_end = np.zeros(n)
    out_terminal = np.full(n, -1, dtype=np.int64)
    if n:
        kernels.sample_events(np.ascontiguousarray(entry, dtype=np.float64), np.ascontiguousarray(end, dtype=np.float64),
                              np.ascontiguousarray(cells), model.flat_rates(process), layout.kinds, layout.max_count,
                              layout.history_cards(), after_flat, after_start, rate_start, layout.edges,
                              np.uint64(key), np.int64(row_offset), np.int64(draws_per_unit(layout)),
                              out_type, out_time, out_n, out_end, out_terminal, np.int64(block))
    return SampledEvents(layout, np.asarray(origin_day, dtype=np.float64), np.asarray(entry, dtype=np.float64),
                         out_end, out_n, out_type, out_time, out_terminal)


def event_dates(sampled: SampledEvents, event: int) -> np.ndarray:
    """Date of each unit's first ``event`` (NaT if it did not happen)."""
    return days_to_dates(sampled.origin_day + np.floor(sampled.first_time(event)))


def terminal_status(sampled: SampledEvents, process, status_column) -> np.ndarray:
    """Status code of each unit: its terminal event's status, or the censored status (int16).

    Codes are those of ``status_column`` (:func:`bayesgen.schema.events.status_code`): a category's
    position, or the bin of an integer status value.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from bayesgen import Schema
    >>> schema = Schema.load("schemas/gbsg2.yaml")
    >>> process = schema.events.processes[0]            # RECURRENCE (cens 1), LOSS_TO_FOLLOW_UP (cens 0)
    >>> units = SimpleNamespace(terminal=np.array([0, 1, -1]))
    >>> terminal_status(units, process, schema.column("cens")).tolist()
    [1, 0, 0]
    """
    status_of_event = np.array([status_code(status_column, e.status) if e.kind == "terminal" else -1
                                for e in process.events], dtype=np.int16)
    censored = np.int16(status_code(status_column, process.censored_status))
    has_terminal = sampled.terminal >= 0
    return np.where(has_terminal, status_of_event[np.maximum(sampled.terminal, 0)], censored).astype(np.int16)


def terminal_outputs(sampled: SampledEvents, process, status_column, cutoff_day: int) -> tuple[np.ndarray, np.ndarray]:
    """``(status codes, dates)``: the terminal event's status and date, or the censored status and cut-off."""
    has_terminal = sampled.terminal >= 0
    days = np.where(has_terminal, sampled.origin_day + np.floor(sampled.end), float(cutoff_day))
    return terminal_status(sampled, process, status_column), days_to_dates(days)


def terminal_durations(sampled: SampledEvents, horizon: int) -> pd.arrays.IntegerArray:
    """Each unit's duration in whole days: its terminal event's time floored, or ``horizon`` if censored.

    Floored like dates, so a terminal event in ``[d, d + 1)`` has duration ``d``; the unit's time at
    risk ends at ``horizon + 1``, so every duration lies in ``[0, horizon]``.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> units = SimpleNamespace(terminal=np.array([0, -1, 1]), end=np.array([12.7, 3001.0, 3000.4]))
    >>> terminal_durations(units, 3000).tolist()
    [12, 3000, 3000]
    """
    days = np.where(sampled.terminal >= 0, np.floor(sampled.end), float(horizon))
    return pd.arrays.IntegerArray(days.astype(np.int64), np.zeros(len(days), dtype=bool))


def event_durations(sampled: SampledEvents, event: int) -> pd.arrays.IntegerArray:
    """Whole days from the origin to each unit's first ``event`` (missing if it did not happen).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> units = SimpleNamespace(first_time=lambda event: np.array([4.5, np.nan, 0.2]))
    >>> event_durations(units, 1).tolist()
    [4, <NA>, 0]
    """
    time = sampled.first_time(event)
    missing = np.isnan(time)
    return pd.arrays.IntegerArray(np.floor(np.where(missing, 0.0, time)).astype(np.int64), missing)


def occurrence_rows(sampled: SampledEvents, event: int) -> tuple[np.ndarray, np.ndarray]:
    """``(occurrences per unit, day number of each occurrence)``, unit by unit in time order."""
    width = sampled.event_type.shape[1]
    hit = (sampled.event_type == event) & (np.arange(width)[None, :] < sampled.n_events[:, None])
    counts = hit.sum(axis=1).astype(np.int64)
    days = (sampled.origin_day[:, None] + np.floor(sampled.event_time))[hit]  # row-major: unit, then time
    return counts, days


def sample_registry_events(model: EventModel, schema, sampled, values: dict, keys: np.ndarray,
                           person_offset: int, child_offsets: dict[str, int]) -> tuple[dict, dict, dict]:
    """Simulate every process of a chunk of synthetic persons; return the values they write.

    Parameters
    ----------
    sampled : SampledCodes
        The chunk's BN codes, with ``index_row`` / ``parent_row`` of each child table (rows already in
        ``order_by`` order, so the index row is each person's first).
    values : dict
        Decoded values per table (the origin dates are read from it).
    keys : ndarray
        One stream key per process, in declaration order.

    Returns
    -------
    (codes, dated, rows) : dict, dict, dict
        Codes by column name (aligned on the unit's rows: status columns, and a duration process's
        duration columns), values by ``(table, column)`` (dates; a duration process's durations as
        integer arrays), and, per table whose rows are an event's occurrences, ``(rows per unit,
        date column, day numbers)``.
    """
    root = schema.root_table
    declarations = schema.events
    codes_out: dict[str, np.ndarray] = {}
    dates_out: dict[tuple[str, str], np.ndarray] = {}
    ended: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    rows_out: dict[str, tuple[np.ndarray, str, np.ndarray]] = {}

    for process, key in zip(declarations.processes, keys, strict=True):
        layout = model.layouts[process.name]
        table = origin_table(schema, process)
        origin_days = day_numbers(values[table][process.origin]) if process.origin is not None else None
        n_units = sampled.n_rows[process.unit]
        origin, entry = unit_origins(schema, process, n_units, origin_days, sampled.index_row.get(table),
                                     sampled.parent_row.get(table))
        end = np.maximum(observation_limit(schema, process, origin, sampled.parent_row.get(process.unit), ended),
                         entry)
        offset = person_offset if process.unit == root else child_offsets.get(process.unit, 0)
        codes = {name: aligned_codes(name, process.unit, sampled, schema) for name in layout.given_variables}
        result = sample_units(model, process.name, codes, origin, entry, end, key, offset)
        ended[process.name] = (result.origin_day, result.end)
        unit_table = schema.tables[process.unit]
        written: dict[str, pd.arrays.IntegerArray] = {}
        if process.terminal and process.origin is None:
            codes_out[process.status] = terminal_status(result, process, unit_table.column(process.status))
            written[process.duration] = terminal_durations(result, declarations.horizon)
        elif process.terminal:
            status_codes, dates = terminal_outputs(result, process, unit_table.column(process.status),
                                                   declarations.cutoff_day)
            codes_out[process.status] = status_codes
            dates_out[(process.unit, process.date)] = dates
        for e, event in enumerate(process.events):
            event_table = declarations.event_table(schema, event.name)
            if event_table is not None:
                counts, days = occurrence_rows(result, e)
                rows_out[event_table.name] = (counts, event.date, days)
            elif event.kind != "terminal" and event.date is not None:
                dates_out[(process.unit, event.date)] = event_dates(result, e)
            elif event.kind != "terminal" and event.duration is not None:
                written[event.duration] = event_durations(result, e)
        for column, durations in written.items():  # values as they are, and codes for outcome nodes
            dates_out[(process.unit, column)] = durations
            codes_out[column] = unit_table.column(column).encode(pd.Series(durations), unit_table.name)
    return codes_out, dates_out, rows_out
