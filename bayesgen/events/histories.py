"""Event histories of the units of a process: from registry tables (fitting) and for sampling.

Times are days after the unit's origin date, on a continuous clock. A date recorded as day ``d`` is
an event somewhere in ``[d, d + 1)``; it is placed at ``d + 0.5``, and the sampler's continuous times
are floored back to dates, so fitting and sampling use the same clock. A unit observed alive on day
``d`` (censored) is at risk until ``d + 1``; the data cut-off censors every unit at the end of the
cut-off day.

A duration process (events ``horizon``) has no dates: each unit's origin is day 0 and its recorded
duration ``d`` (whole days) plays the part of the date offset, on the same clock: a terminal event
at ``d + 0.5``, a censored unit at risk until ``d + 1``, and every unit censored at the end of day
``horizon``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bayesgen.params.fit import aligned_codes
from bayesgen.schema.columns import _missing_mask, _to_day_numbers
from bayesgen.schema.events import status_code


@dataclass
class ProcessData:
    """The units of one process, their covariate codes and their events.

    Attributes
    ----------
    origin_day : ndarray
        Day number of each unit's origin date.
    entry, end : ndarray
        When each unit starts and stops being at risk (days after its origin).
    unit_start : ndarray
        Unit ``i``'s events are ``event_type/event_time[unit_start[i]:unit_start[i+1]]``, in time order.
    event_type, event_time : ndarray
        Process-local event index and time of each event; a terminal event, if any, is a unit's last.
    codes : dict of str to ndarray
        The conditioning variables' codes, aligned on the units.
    dropped : dict of str to int
        Recorded events outside the unit's time at risk, left out (for the data holder only).
    """

    origin_day: np.ndarray
    entry: np.ndarray
    end: np.ndarray
    unit_start: np.ndarray
    event_type: np.ndarray
    event_time: np.ndarray
    codes: dict = field(default_factory=dict)
    dropped: dict = field(default_factory=dict)

    @property
    def n_units(self) -> int:
        return len(self.entry)


def origin_table(schema, process) -> str:
    """The table holding the process's origin column (a child table for a root-table unit).

    A duration process has no origin column: its unit's own table.
    """
    unit = schema.tables[process.unit]
    if process.origin is None:
        return unit.name
    if process.origin in unit.column_names:
        return unit.name
    return next(t.name for t in schema.child_tables if process.origin in t.column_names)


def horizon_days(schema) -> int:
    """The longest possible follow-up, in days after the origin: the end of the last hazard interval.

    Dated processes: from the earliest declared origin date to the end of the cut-off day. Duration
    processes: to the end of day ``horizon``. Both come from the schema, never from the data.

    Examples
    --------
    >>> from bayesgen import Schema
    >>> horizon_days(Schema.load("schemas/gbsg2.yaml"))               # horizon: 3000
    3001
    >>> horizon_days(Schema.load("schemas/simulacrum_v2_core.yaml"))  # 2013-01-01 to 2021-12-31
    3287
    """
    events = schema.events
    if events.uses_durations:
        return int(events.horizon + 1)
    earliest = min(schema.tables[origin_table(schema, p)].column(p.origin).minimum for p in events.processes)
    return int(events.cutoff_day - earliest + 1)


def unit_origins(schema, process, unit_rows: int, origin_days: np.ndarray, index_row: np.ndarray | None,
                 parent_row: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """``(origin day, entry)`` of each unit from the origin table's day numbers.

    For a root-table unit the origin is its index row's date; with ``entry: latest`` the unit is at
    risk only from its latest origin-table date (a later diagnosis proves the person was alive). A
    duration process's units all start at day 0 (``origin_days`` is not read).
    """
    if process.origin is None:
        return np.zeros(unit_rows), np.zeros(unit_rows)
    table = origin_table(schema, process)
    if table == process.unit:
        return origin_days.astype(np.float64), np.zeros(unit_rows)
    origin = origin_days[np.maximum(index_row, 0)].astype(np.float64)
    entry = np.zeros(unit_rows)
    if process.entry == "latest" and len(origin_days):
        latest = np.full(unit_rows, -np.inf)
        np.maximum.at(latest, parent_row, origin_days)
        entry = np.maximum(latest - origin, 0.0)
    return origin, entry


def table_days(frame, table: str, column: str) -> np.ndarray:
    """Day numbers of a date column of an input table (NaN where missing); encoding has checked it."""
    values = frame[column]
    missing = _missing_mask(values)
    out = np.full(len(values), np.nan)
    if (~missing).any():
        out[~missing] = _to_day_numbers(values[~missing], table, column)
    return out


def table_numbers(frame, column: str) -> np.ndarray:
    """Values of an integer column of an input table as floats (NaN where missing); encoding has checked them.

    Examples
    --------
    >>> table_numbers(pd.DataFrame({"time": pd.array([12, None, 3000], dtype="Int64")}), "time").tolist()
    [12.0, nan, 3000.0]
    """
    values = frame[column]
    missing = _missing_mask(values)
    out = np.full(len(values), np.nan)
    if (~missing).any():
        out[~missing] = pd.to_numeric(values[~missing]).to_numpy(dtype=np.float64)
    return out


def _pack(n_units: int, unit: np.ndarray, kind_order: np.ndarray, event: np.ndarray, time: np.ndarray):
    order = np.lexsort([kind_order, time, unit])
    unit, event, time = unit[order], event[order], time[order]
    unit_start = np.searchsorted(unit, np.arange(n_units + 1)).astype(np.int64)
    return unit_start, event.astype(np.int64), time.astype(np.float64)


def observation_limit(schema, process, origin: np.ndarray, parent_row: np.ndarray | None, ended: dict) -> np.ndarray:
    """The latest end of each unit's time at risk, in days after its origin.

    The end of the cut-off day (of day ``horizon`` for a duration process) or, for a process that
    ``ends_with`` another, that process's end for the unit's person, moved onto the unit's clock.
    ``ended`` maps a root-table process name to the ``(origin day, end)`` of its units.
    """
    if schema.events.uses_durations:
        return np.full(len(origin), float(schema.events.horizon + 1))
    limit = schema.events.cutoff_day - origin + 1
    if process.ends_with is not None:
        parent_origin, parent_end = ended[process.ends_with]
        if process.unit != schema.root_table:
            parent_origin, parent_end = parent_origin[parent_row], parent_end[parent_row]
        limit = np.minimum(limit, parent_origin + parent_end - origin)
    return limit


def process_data_from_tables(encoded, schema, process, given: set[str], survival_end: dict) -> ProcessData:
    """The :class:`ProcessData` of ``process`` read from the encoded (bounded) registry tables.

    ``survival_end`` maps a root-table process name to ``(origin day, end)`` of its units, for a
    child-table process that ``ends_with`` it.
    """
    frames = encoded.frames
    table = origin_table(schema, process)
    n_units = encoded.n_rows[process.unit]
    origin_days = table_days(frames[table], table, process.origin) if process.origin is not None else None
    origin, entry = unit_origins(schema, process, n_units, origin_days, encoded.index_row.get(table),
                                 encoded.parent_row.get(table))
    limit = observation_limit(schema, process, origin, encoded.parent_row.get(process.unit), survival_end)
    unit_frame = frames[process.unit]
    units, types, times, last = [], [], [], []
    dropped: dict[str, int] = {}
    if process.terminal:
        status = np.asarray(encoded.codes[process.status])
        status_column = schema.tables[process.unit].column(process.status)
        if process.origin is None:
            recorded = table_numbers(unit_frame, process.duration)
        else:
            recorded = table_days(unit_frame, process.unit, process.date) - origin
        end = np.where(np.isnan(recorded), limit, recorded + 1.0)
        for index, event in enumerate(process.events):
            if event.kind != "terminal":
                continue
            hit = status == status_code(status_column, event.status)
            if event.status == process.censored_status:
                # censoring before the last day of follow-up is this event; on the last day, the end
                # of follow-up censored the unit
                hit &= recorded + 1.0 < limit
            late = hit & (recorded + 0.5 > limit)
            if late.any():  # recorded after the end of follow-up (a duration beyond the horizon): censored there
                dropped[f"{event.name} after the end of follow-up"] = int(late.sum())
            end = np.where(hit, recorded + 0.5, end)
            rows = np.flatnonzero(hit)
            units.append(rows)
            types.append(np.full(len(rows), index))
            times.append(recorded[rows] + 0.5)
            last.append(np.ones(len(rows)))
        end = np.minimum(end, limit)
    else:
        end = limit
    before_entry = end < entry
    if before_entry.any():  # recorded end before the unit's entry: no time at risk
        dropped["units ending before entry"] = int(before_entry.sum())
        end = np.maximum(end, entry)
    for index, event in enumerate(process.events):
        if event.kind == "terminal":
            continue
        if event.date is None and event.duration is None:
            continue
        event_table = schema.events.event_table(schema, event.name)
        if event_table is not None:  # one row per occurrence, under its unit's row
            owner = encoded.parent_row[event_table.name]
            days = table_days(frames[event_table.name], event_table.name, event.date)
            offset_rows = days - origin[owner]
            present = ~np.isnan(offset_rows)
            time = offset_rows + 0.5
            inside = present & (time >= entry[owner]) & (time <= end[owner])
            # occurrences beyond the event's most are not counted (rows are in date order per unit)
            rank = np.arange(len(owner)) - np.searchsorted(owner, owner)
            inside &= rank < event.max_count
            if (present & ~inside).any():
                dropped[event.name] = int((present & ~inside).sum())
            units.append(owner[inside])
            types.append(np.full(int(inside.sum()), index))
            times.append(time[inside])
            last.append(np.zeros(int(inside.sum())))
            continue
        offset = table_days(unit_frame, process.unit, event.date) - origin if process.origin is not None \
            else table_numbers(unit_frame, event.duration)
        present = ~np.isnan(offset)
        time = offset + 0.5
        inside = present & (time >= entry) & (time <= end)
        if (present & ~inside).any():
            dropped[event.name] = int((present & ~inside).sum())
        rows = np.flatnonzero(inside)
        units.append(rows)
        types.append(np.full(len(rows), index))
        times.append(time[rows])
        last.append(np.zeros(len(rows)))
    # a terminal event recorded before the unit's entry is dropped with the unit's time at risk
    if units:
        unit = np.concatenate(units)
        event = np.concatenate(types)
        time = np.concatenate(times)
        is_last = np.concatenate(last)
        keep = time <= end[unit] + 1e-9
        keep &= (time >= entry[unit]) | (is_last == 0)
        unit, event, time, is_last = unit[keep], event[keep], time[keep], is_last[keep]
        time = np.where(is_last == 1, end[unit], time)
    else:
        unit = event = np.zeros(0, dtype=np.int64)
        time = is_last = np.zeros(0)
    unit_start, event, time = _pack(n_units, unit.astype(np.int64), is_last, event, time)
    codes = {name: aligned_codes(name, process.unit, encoded, schema) for name in given}
    return ProcessData(origin, entry, end, unit_start, event, time, codes, dropped)
