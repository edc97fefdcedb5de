"""Sample event histories from a fitted :class:`~bayesgen.events.model.EventModel` and turn them into dates.

Dates are consistent by construction: every event lies in ``[entry, end)`` of its unit, where ``entry``
is on or after the origin (the diagnosis) and ``end`` is the end of the cut-off day or, for a tumour's
process, the end of its patient's survival process; continuous times are floored to whole days, so
an event can share its day with the death but never follow it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bayesgen.events import kernels
from bayesgen.events.histories import observation_limit, origin_table, unit_origins
from bayesgen.events.layout import EventLayout
from bayesgen.events.model import EventModel
from bayesgen.params.fit import aligned_codes
from bayesgen.schema.columns import days_to_dates
from bayesgen.schema.decode import day_numbers

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
    """Uniforms one unit may use: two per event, one per interval crossed, with room to spare."""
    return int(2 * (layout.n_intervals + int(layout.max_count.sum()) + 2))


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


def terminal_outputs(sampled: SampledEvents, process, status_column, cutoff_day: int) -> tuple[np.ndarray, np.ndarray]:
    """``(status codes, dates)``: the terminal event's status and date, or the censored status and cut-off."""
    categories = list(status_column.categories)
    status_of_event = np.array([categories.index(e.status) if e.kind == "terminal" else -1
                                for e in process.events], dtype=np.int16)
    censored = np.int16(categories.index(process.censored_status))
    has_terminal = sampled.terminal >= 0
    codes = np.where(has_terminal, status_of_event[np.maximum(sampled.terminal, 0)], censored).astype(np.int16)
    days = np.where(has_terminal, sampled.origin_day + np.floor(sampled.end), float(cutoff_day))
    return codes, days_to_dates(days)


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
        Status codes by column name (aligned on the unit's rows), dates by ``(table, column)``, and,
        per table whose rows are an event's occurrences, ``(rows per unit, date column, day numbers)``.
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
        origin_days = day_numbers(values[table][process.origin])
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
        if process.terminal:
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
    return codes_out, dates_out, rows_out
