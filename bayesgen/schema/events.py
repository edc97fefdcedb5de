"""Declared event processes: what can happen to a unit (patient or tumour) after its origin.

This is the public half of the time-to-event module (see :mod:`bayesgen.events`): the event types, the
time axis (piecewise-constant hazard intervals), the end of follow-up and which columns each event
writes. All of it is declared in the schema's ``events`` section, never taken from data. Which model
variables condition each hazard is part of the structure (:mod:`bayesgen.structure.event_conditioning`).

A section has one of two forms. **Dated** processes (``cutoff:``) are timed from an absolute origin
date column and write dates; every unit is censored at the end of the cut-off day::

    events:
      cutoff: 2021-12-31                         # end of follow-up: every unit is censored here
      intervals: [0, 30, 91, 182, 365, 730, 1826]  # days after the origin; the last runs to the horizon
      processes:
        - name: survival
          unit: SIM_AV_PATIENT                   # one process per patient ...
          origin: DIAGNOSISDATEBEST              # ... timed from the index tumour's diagnosis
          entry: latest                          # at risk from the person's latest origin date
          status: VITALSTATUS                    # written: the terminal event's status, or censored_status
          censored_status: A
          date: VITALSTATUSDATE                  # written: the terminal event's date, or the cut-off
          events:
            - {name: DEATH, kind: terminal, status: D}
            - {name: EXIT, kind: terminal, status: X}
        - name: surgery
          unit: SIM_AV_TUMOUR                    # one process per tumour, timed from its diagnosis
          origin: DIAGNOSISDATEBEST
          ends_with: survival                    # no event after the person's survival process ends
          events:
            - {name: SURGERY, kind: once, date: DATE_FIRST_SURGERY}

**Duration** processes (``horizon:``) are for data without dates, such as a trial's survival time
and event indicator: each unit's clock starts at 0 at its (unrecorded) origin, and an integer
``duration`` column holds the days to its terminal event or censoring. Every unit is censored at
the end of day ``horizon`` (the most days of follow-up)::

    events:
      horizon: 3000                              # days: follow-up ends at the end of day 3000
      intervals: [0, 182, 365, 730, 1096, 1461, 1826]
      processes:
        - name: recurrence_free_survival
          unit: GBSG2
          duration: time                         # written: days to the terminal event, or the horizon
          status: cens                           # written: the terminal event's status, or censored_status
          censored_status: 0
          events:
            - {name: RECURRENCE, kind: terminal, status: 1}
            - {name: LOSS_TO_FOLLOW_UP, kind: terminal, status: 0}

A duration process has no ``origin``, ``date``, ``entry`` or ``ends_with``, needs at least one
terminal event, and its ``once`` and ``recurrent`` events may write the days to their first
occurrence to an integer column (``duration:``, missing when it did not happen) instead of a date.
The duration column is an integer column of the unit's table with ``min: 0``, no missing values and
``max`` at least the horizon (longer durations in the data are censored at the horizon).

Event kinds: ``terminal`` ends the process (at most one per unit); ``once`` happens at most once;
``recurrent`` at most ``max`` times, each occurrence with its own hazard (the first regimen, the
second ...).

Status columns. The status column is categorical (status values are its categories) or integer,
for event indicators such as lifelines' ``cens``, with each status value a whole number whose bin
holds that value only (``bins: [0, 1, 2]`` for 0/1), so that it decodes to integers. Terminal events
have distinct statuses. One terminal event may have the censored status: it is censoring *before*
the end of follow-up (loss to follow-up, a competing event of its own): a unit recorded with the
censored status before the last day of follow-up had that event then; on the last day it was
censored by the end of follow-up. Without such an event, a unit recorded with the censored status
earlier is censored then (independent censoring), and synthetic units are all followed to the end.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bayesgen.errors import SchemaError

EVENT_KINDS = ("terminal", "once", "recurrent")
ENTRY_RULES = ("origin", "latest")
DEFAULT_RESOLUTION = 1000  # exposure units per hazard interval (see bayesgen.events.statistics)
DATED_ONLY = ("origin", "date", "entry", "ends_with")  # process keys of the dated form only


@dataclass(frozen=True)
class EventType:
    """One event type of a process.

    Parameters
    ----------
    name : str
    kind : {"terminal", "once", "recurrent"}
    max_count : int
        Most occurrences per unit (1 unless recurrent).
    status : str or None
        For a terminal event: the value written to the process's status column.
    date : str or None
        For a non-terminal event of a dated process: the column of the unit's table that receives
        the first occurrence's date (missing when it did not happen).
    duration : str or None
        For a non-terminal event of a duration process: the integer column of the unit's table that
        receives the days from the origin to the first occurrence (missing when it did not happen).
    """

    name: str
    kind: str
    max_count: int = 1
    status: str | None = None
    date: str | None = None
    duration: str | None = None

    @classmethod
    def from_dict(cls, data: dict, where: str) -> EventType:
        if not isinstance(data, dict) or "name" not in data or "kind" not in data:
            raise SchemaError(f"{where}: an event needs 'name' and 'kind'")
        unknown = set(data) - {"name", "kind", "max", "status", "date", "duration"}
        if unknown:
            raise SchemaError(f"{where}: unknown keys {sorted(unknown)}")
        kind = str(data["kind"])
        if kind not in EVENT_KINDS:
            raise SchemaError(f"{where}: kind must be one of {EVENT_KINDS}, got {kind!r}")
        max_count = int(data.get("max", 1))
        if kind != "recurrent" and max_count != 1:
            raise SchemaError(f"{where}: only a recurrent event can have max > 1")
        if not 1 <= max_count <= 50:
            raise SchemaError(f"{where}: max must be between 1 and 50")
        status = None if data.get("status") is None else _status_text(data["status"], where)
        if (kind == "terminal") != (status is not None):
            raise SchemaError(f"{where}: a terminal event needs 'status' (and only a terminal event has one)")
        date = None if data.get("date") is None else str(data["date"])
        duration = None if data.get("duration") is None else str(data["duration"])
        if kind == "terminal" and duration is not None:
            raise SchemaError(f"{where}: a terminal event has no 'duration' of its own: it ends the process, "
                              f"whose 'duration' and 'status' columns it writes")
        if date is not None and duration is not None:
            raise SchemaError(f"{where}: an event writes a 'date' or a 'duration', not both")
        return cls(str(data["name"]), kind, max_count, status, date, duration)

    def to_dict(self) -> dict:
        out: dict = {"name": self.name, "kind": self.kind}
        if self.kind == "recurrent":
            out["max"] = self.max_count
        for key in ("status", "date", "duration"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


def _status_text(value, where: str) -> str:
    if isinstance(value, bool):
        raise SchemaError(f"{where}: status {value!r} is a boolean; write the status column's value (quote it, "
                          f"or use 1/0 for an integer column)")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


@dataclass(frozen=True)
class EventProcess:
    """A multi-state process over the rows of ``unit``.

    Timed in days from the ``origin`` date column (a dated process), or from 0 with the days to
    its end in the ``duration`` column (a duration process; ``origin`` is None).
    """

    name: str
    unit: str
    origin: str | None
    events: tuple[EventType, ...]
    entry: str = "origin"
    status: str | None = None
    censored_status: str | None = None
    date: str | None = None
    ends_with: str | None = None
    duration: str | None = None

    @classmethod
    def from_dict(cls, data: dict, where: str, dated: bool = True) -> EventProcess:
        """Read one process; ``dated`` is the section's form (``cutoff``: True, ``horizon``: False)."""
        if not isinstance(data, dict):
            raise SchemaError(f"{where}: a process must be a mapping")
        for key in ("name", "unit", "events"):
            if key not in data:
                raise SchemaError(f"{where}: a process needs '{key}'")
        unknown = set(data) - {"name", "unit", "origin", "duration", "events", "entry", "status",
                               "censored_status", "date", "ends_with"}
        if unknown:
            raise SchemaError(f"{where}: unknown keys {sorted(unknown)}")
        name = str(data["name"])
        label = f"{where} ({name})"
        if dated:
            if "origin" not in data:
                raise SchemaError(f"{label}: a process needs 'origin' (the date column its days count from)")
            if "duration" in data:
                raise SchemaError(f"{label}: 'duration' belongs to a duration process (events 'horizon'); a "
                                  f"process timed from its 'origin' date writes a 'date' (events 'cutoff')")
        else:
            present = [key for key in DATED_ONLY if key in data]
            if present:
                raise SchemaError(f"{label}: {present} apply to processes timed from an origin date (events "
                                  f"'cutoff'); a duration process (events 'horizon') has none: its times are "
                                  f"days from 0 in its 'duration' column")
            if data.get("duration") is None:
                raise SchemaError(f"{label}: a duration process (events 'horizon') needs 'duration', the integer "
                                  f"column of days from the origin to the terminal event or censoring")
        if not isinstance(data["events"], list) or not data["events"]:
            raise SchemaError(f"{label}: 'events' must be a non-empty list")
        events = tuple(EventType.from_dict(e, f"{label}, event {i + 1}") for i, e in enumerate(data["events"]))
        for event in events:
            if dated and event.duration is not None:
                raise SchemaError(f"{label}, event {event.name}: 'duration' belongs to events of a duration "
                                  f"process (events 'horizon'); this process is dated: write a 'date'")
            if not dated and event.date is not None:
                raise SchemaError(f"{label}, event {event.name}: a duration process has no dates; write the "
                                  f"days to the first occurrence to an integer column with 'duration'")
        if not dated and not any(e.kind == "terminal" for e in events):
            raise SchemaError(f"{label}: a duration process needs a terminal event (the end its 'duration' "
                              f"measures)")
        entry = str(data.get("entry", "origin"))
        if entry not in ENTRY_RULES:
            raise SchemaError(f"{label}: entry must be one of {ENTRY_RULES}")
        optional = {k: (None if data.get(k) is None else str(data[k])) for k in ("date", "ends_with", "duration")}
        for key in ("status", "censored_status"):
            optional[key] = None if data.get(key) is None else _status_text(data[key], f"{label}: {key}")
        origin = None if data.get("origin") is None else str(data["origin"])
        return cls(name, str(data["unit"]), origin, events, entry, **optional)

    def to_dict(self) -> dict:
        out: dict = {"name": self.name, "unit": self.unit}
        if self.origin is not None:
            out["origin"] = self.origin
        if self.duration is not None:
            out["duration"] = self.duration
        if self.entry != "origin":
            out["entry"] = self.entry
        for key in ("status", "censored_status", "date", "ends_with"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        out["events"] = [e.to_dict() for e in self.events]
        return out

    @property
    def terminal(self) -> tuple[EventType, ...]:
        return tuple(e for e in self.events if e.kind == "terminal")

    @property
    def written_columns(self) -> tuple[str, ...]:
        """Columns the process writes: status, date or duration, and its events' date or duration columns."""
        return tuple(c for c in (self.status, self.date, self.duration, *(e.date for e in self.events),
                                 *(e.duration for e in self.events)) if c is not None)


def status_code(column, value: str) -> int | None:
    """The code of status ``value`` in the status column ``column`` (None if it has no code of its own).

    A categorical column's code is the category's position; an integer column's is the bin that
    holds ``value`` and nothing else (``[value, value + 1)``).

    Examples
    --------
    >>> from bayesgen.schema.columns import Column
    >>> cens = Column.from_dict({"name": "cens", "type": "integer", "min": 0, "max": 1, "bins": [0, 1, 2]}, "T")
    >>> status_code(cens, "1"), status_code(cens, "2"), status_code(cens, "yes")
    (1, None, None)
    >>> status_code(Column.from_dict({"name": "S", "type": "categorical", "categories": ["A", "D"]}, "T"), "D")
    1
    """
    if column.type in ("categorical", "ordinal"):
        return column.categories.index(value) if value in column.categories else None
    if column.type != "integer":
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    if not np.isfinite(number) or number != int(number):
        return None
    edges = np.asarray(column.bins, dtype=np.float64)
    found = int(np.searchsorted(edges, number, side="right")) - 1
    if not 0 <= found < len(edges) - 1 or edges[found] != number or edges[found + 1] != number + 1:
        return None
    return found


@dataclass(frozen=True)
class EventDeclarations:
    """The schema's ``events`` section: end of follow-up, hazard intervals and processes.

    ``cutoff_day`` (dated processes) or ``horizon`` (duration processes) is set, never both.

    Examples
    --------
    >>> from bayesgen import Schema
    >>> events = Schema.load("schemas/simulacrum_v2.yaml").events
    >>> [p.name for p in events.processes], events.intervals[:3], events.uses_durations
    (['survival', 'surgery', 'treatment'], (0, 30, 91), False)
    >>> rfs = Schema.load("schemas/gbsg2.yaml").events
    >>> rfs.horizon, rfs.uses_durations, rfs.processes[0].duration
    (3000, True, 'time')
    """

    cutoff_day: int | None
    intervals: tuple[int, ...]
    processes: tuple[EventProcess, ...]
    resolution: int = DEFAULT_RESOLUTION
    horizon: int | None = None

    @classmethod
    def from_dict(cls, data: dict, source: str) -> EventDeclarations:
        from bayesgen.schema.columns import _as_day_number

        where = f"{source}: events"
        if not isinstance(data, dict):
            raise SchemaError(f"{where}: must be a mapping")
        unknown = set(data) - {"cutoff", "horizon", "intervals", "processes", "resolution"}
        if unknown:
            raise SchemaError(f"{where}: unknown keys {sorted(unknown)}")
        if "cutoff" in data and "horizon" in data:
            raise SchemaError(f"{where}: declare 'cutoff' (the last day of follow-up, a date: processes timed "
                              f"from an origin date) or 'horizon' (the most days of follow-up: processes with "
                              f"a duration column), not both")
        if ("cutoff" not in data and "horizon" not in data) or "intervals" not in data or "processes" not in data:
            raise SchemaError(f"{where}: needs 'cutoff' (a date) or 'horizon' (days), 'intervals' and 'processes'")
        cutoff = horizon = None
        if "cutoff" in data:
            try:
                cutoff = _as_day_number(data["cutoff"])
            except (SchemaError, ValueError, TypeError):
                raise SchemaError(f"{where}: cutoff {data['cutoff']!r} is not a date (expected YYYY-MM-DD)") from None
        else:
            horizon = data["horizon"]
            if not isinstance(horizon, int) or isinstance(horizon, bool) or horizon < 1:
                raise SchemaError(f"{where}: horizon {horizon!r} must be a positive whole number of days")
        intervals = data["intervals"]
        if (not isinstance(intervals, list) or len(intervals) < 1 or intervals[0] != 0
                or any(not isinstance(v, int) or isinstance(v, bool) for v in intervals)
                or any(b <= a for a, b in zip(intervals, intervals[1:], strict=False))):
            raise SchemaError(f"{where}: intervals must be increasing whole days starting at 0")
        if horizon is not None and intervals[-1] >= horizon:
            raise SchemaError(f"{where}: intervals must start before the horizon ({horizon} days); "
                              f"{intervals[-1]} does not")
        resolution = int(data.get("resolution", DEFAULT_RESOLUTION))
        if not 1 <= resolution <= 100_000:
            raise SchemaError(f"{where}: resolution must be between 1 and 100000")
        if not isinstance(data["processes"], list) or not data["processes"]:
            raise SchemaError(f"{where}: 'processes' must be a non-empty list")
        processes = tuple(EventProcess.from_dict(p, f"{where}, process {i + 1}", dated=cutoff is not None)
                          for i, p in enumerate(data["processes"]))
        names = [p.name for p in processes]
        events = [e.name for p in processes for e in p.events]
        for label, values in (("process", names), ("event", events)):
            dupes = sorted({v for v in values if values.count(v) > 1})
            if dupes:
                raise SchemaError(f"{where}: duplicated {label} names {dupes}")
        return cls(cutoff, tuple(intervals), processes, resolution, horizon)

    def to_dict(self) -> dict:
        from bayesgen.schema.columns import _day_to_iso

        out: dict = {"cutoff": _day_to_iso(self.cutoff_day)} if self.horizon is None else {"horizon": self.horizon}
        out.update({"intervals": list(self.intervals), "processes": [p.to_dict() for p in self.processes]})
        if self.resolution != DEFAULT_RESOLUTION:
            out["resolution"] = self.resolution
        return out

    # -- lookups --------------------------------------------------------------------------------
    @property
    def uses_durations(self) -> bool:
        """True for duration processes (``horizon``), False for dated ones (``cutoff``)."""
        return self.horizon is not None

    def process(self, name: str) -> EventProcess:
        for process in self.processes:
            if process.name == name:
                return process
        raise KeyError(name)

    @property
    def event_types(self) -> dict[str, tuple[EventProcess, EventType]]:
        return {e.name: (p, e) for p in self.processes for e in p.events}

    def event_table(self, schema, event: str):
        """The table whose rows are the occurrences of ``event`` (``rows_from_event``), or None."""
        return next((t for t in schema.tables.values() if t.rows_from_event == event), None)

    @property
    def written_columns(self) -> dict[str, str]:
        """Column name -> the process that writes it (status, date, duration and event date or duration columns)."""
        return {column: process.name for process in self.processes for column in process.written_columns}

    def interval_edges(self, horizon: int) -> np.ndarray:
        """Interval start days with the horizon appended as the end of the last interval."""
        edges = [d for d in self.intervals if d < horizon]
        return np.asarray([*edges, horizon], dtype=np.float64)

    def validate_for(self, schema, source: str) -> None:
        """Check processes against the schema's tables and columns (called by the schema)."""
        where = f"{source}: events"
        by_name = {p.name: p for p in self.processes}
        row_tables = {t.rows_from_event: t for t in schema.tables.values() if t.rows_from_event}
        written = [c for p in self.processes for c in p.written_columns]
        twice = sorted({c for c in written if written.count(c) > 1})
        if twice:
            raise SchemaError(f"{where}: {twice} written twice (a column holds one status, date or duration)")
        for process in self.processes:
            label = f"{where}, process {process.name}"
            if process.unit not in schema.tables:
                raise SchemaError(f"{label}: unit {process.unit} is not a table")
            unit = schema.tables[process.unit]
            if self.uses_durations:
                self._validate_durations(schema, process, label)
            else:
                self._validate_origin(schema, process, label)
            if process.entry == "latest" and process.unit != schema.root_table:
                raise SchemaError(f"{label}: entry 'latest' applies to a root-table unit only")
            if process.ends_with is not None:
                if process.ends_with not in by_name or by_name[process.ends_with].unit != schema.root_table \
                        or process.ends_with == process.name:
                    raise SchemaError(f"{label}: ends_with must name another process over {schema.root_table}")
                earlier = [p.name for p in self.processes[: self.processes.index(process)]]
                if process.ends_with not in earlier:
                    raise SchemaError(f"{label}: ends_with {process.ends_with} must be declared before it")
            if process.terminal:
                self._validate_status(process, unit, label)
            for event in process.events:
                table = row_tables.get(event.name)
                if table is None:  # a recurrent event without one writes its first occurrence's date
                    continue
                if self.uses_durations:
                    raise SchemaError(f"{label}: table {table.name} takes its rows from event {event.name} "
                                      f"(rows_from_event), but a duration process has no dates for them")
                if event.kind == "terminal" or table.parent.table != process.unit:
                    raise SchemaError(f"{label}: table {table.name} (rows_from_event {event.name}) must be a child "
                                      f"of {process.unit} and the event not terminal")
                if event.date is None or event.date not in table.column_names \
                        or table.column(event.date).type != "date":
                    raise SchemaError(f"{label}: event {event.name} must write its date to a date column of "
                                      f"{table.name}")
                if event.max_count > table.max_rows_per_parent:
                    raise SchemaError(f"{label}: event {event.name} can happen {event.max_count} times but "
                                      f"{table.name} keeps max_rows_per_parent={table.max_rows_per_parent}")
            for column_name in (process.date, *(e.date for e in process.events if e.name not in row_tables)):
                if column_name is None:
                    continue
                if column_name not in unit.column_names:
                    raise SchemaError(f"{label}: {column_name} is not a column of {process.unit}")
                column = unit.column(column_name)
                if column.type != "date":
                    raise SchemaError(f"{label}: {column_name} must be a date column")
            for event in process.events:
                if event.kind != "terminal" and event.date is not None and event.name not in row_tables \
                        and not unit.column(event.date).missing:
                    raise SchemaError(f"{label}: {event.date} must allow missing values (the event may "
                                      f"not happen)")

    @staticmethod
    def _validate_origin(schema, process: EventProcess, label: str) -> None:
        unit = schema.tables[process.unit]
        origin_table = unit if process.origin in unit.column_names else None
        if origin_table is None and process.unit == schema.root_table:
            origin_table = next((t for t in schema.child_tables if process.origin in t.column_names), None)
        if origin_table is None:
            raise SchemaError(f"{label}: origin {process.origin} is not a column of {process.unit} "
                              f"(or, for the root table, of a child table)")
        origin = origin_table.column(process.origin)
        if origin.type != "date" or origin.relative_to:
            raise SchemaError(f"{label}: origin {process.origin} must be an absolute date column")
        if origin.missing:
            raise SchemaError(f"{label}: origin {process.origin} cannot allow missing values")

    def _validate_durations(self, schema, process: EventProcess, label: str) -> None:
        """The duration column and the event duration columns: integer days from 0 up to the horizon."""
        unit = schema.tables[process.unit]
        columns = [(process.duration, "duration", False)]
        columns += [(e.duration, f"duration of {e.name}", True) for e in process.events if e.duration is not None]
        for name, role, may_be_missing in columns:
            if name not in unit.column_names:
                raise SchemaError(f"{label}: {role} {name} is not a column of {process.unit}")
            column = unit.column(name)
            if column.type != "integer" or not column.is_modelled:
                raise SchemaError(f"{label}: {role} {name} must be a modelled integer column (whole days), "
                                  f"not {'derived' if column.derived else column.type}")
            if column.minimum != 0:
                raise SchemaError(f"{label}: {role} {name} must have min 0 (days from the origin), "
                                  f"got {column.minimum:g}")
            if column.maximum < self.horizon:
                raise SchemaError(f"{label}: {role} {name} has max {column.maximum:g}, below the horizon "
                                  f"({self.horizon} days) it may reach")
            if column.missing != may_be_missing:
                raise SchemaError(f"{label}: {role} {name} " + (
                    "must allow missing values (the event may not happen)" if may_be_missing
                    else "cannot allow missing values (every unit has a duration)"))

    @staticmethod
    def _validate_status(process: EventProcess, unit, label: str) -> None:
        keys = ("status", "censored_status") if process.origin is None else ("status", "censored_status", "date")
        for key in keys:
            if getattr(process, key) is None:
                raise SchemaError(f"{label}: a process with terminal events needs '{key}'")
        status = unit.column(process.status) if process.status in unit.column_names else None
        if status is None or status.type not in ("categorical", "ordinal", "integer") or not status.is_modelled:
            raise SchemaError(f"{label}: status {process.status} must be a categorical column of "
                              f"{process.unit} (or an integer one with a bin of its own for each status value)")
        for value in (process.censored_status, *(e.status for e in process.terminal)):
            if status_code(status, value) is None:
                if status.type == "integer":
                    raise SchemaError(f"{label}: {value!r} is not a value of {process.status} with a bin of its "
                                      f"own (an integer status value v needs the bin [v, v + 1), so that it "
                                      f"decodes to v)")
                raise SchemaError(f"{label}: {value!r} is not a category of {process.status}")
        statuses = [e.status for e in process.terminal]
        shared = sorted({s for s in statuses if statuses.count(s) > 1})
        if shared:
            raise SchemaError(f"{label}: terminal events share status {shared}: each needs its own, or the data "
                              f"cannot tell which one happened")
