"""Declared event processes: what can happen to a unit (patient or tumour) after its origin date.

This is the public half of the time-to-event module (see :mod:`bayesgen.events`): the event types, the
time axis (piecewise-constant hazard intervals), the data cut-off and which columns each event writes.
All of it is declared in the schema's ``events`` section, never taken from data. Which model
variables condition each hazard is part of the structure (:mod:`bayesgen.structure.event_conditioning`).

A schema's ``events`` section::

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

Event kinds: ``terminal`` ends the process (at most one per unit); ``once`` happens at most once;
``recurrent`` at most ``max`` times, each occurrence with its own hazard (the first regimen, the
second ...).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bayesgen.errors import SchemaError

EVENT_KINDS = ("terminal", "once", "recurrent")
ENTRY_RULES = ("origin", "latest")
DEFAULT_RESOLUTION = 1000  # exposure units per hazard interval (see bayesgen.events.statistics)


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
        For a non-terminal event: the column of the unit's table that receives the first occurrence's
        date (missing when it did not happen).
    """

    name: str
    kind: str
    max_count: int = 1
    status: str | None = None
    date: str | None = None

    @classmethod
    def from_dict(cls, data: dict, where: str) -> EventType:
        if not isinstance(data, dict) or "name" not in data or "kind" not in data:
            raise SchemaError(f"{where}: an event needs 'name' and 'kind'")
        unknown = set(data) - {"name", "kind", "max", "status", "date"}
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
        status = None if data.get("status") is None else str(data["status"])
        if (kind == "terminal") != (status is not None):
            raise SchemaError(f"{where}: a terminal event needs 'status' (and only a terminal event has one)")
        date = None if data.get("date") is None else str(data["date"])
        return cls(str(data["name"]), kind, max_count, status, date)

    def to_dict(self) -> dict:
        out: dict = {"name": self.name, "kind": self.kind}
        if self.kind == "recurrent":
            out["max"] = self.max_count
        if self.status is not None:
            out["status"] = self.status
        if self.date is not None:
            out["date"] = self.date
        return out


@dataclass(frozen=True)
class EventProcess:
    """A multi-state process over the rows of ``unit``, timed in days from ``origin``."""

    name: str
    unit: str
    origin: str
    events: tuple[EventType, ...]
    entry: str = "origin"
    status: str | None = None
    censored_status: str | None = None
    date: str | None = None
    ends_with: str | None = None

    @classmethod
    def from_dict(cls, data: dict, where: str) -> EventProcess:
        if not isinstance(data, dict):
            raise SchemaError(f"{where}: a process must be a mapping")
        for key in ("name", "unit", "origin", "events"):
            if key not in data:
                raise SchemaError(f"{where}: a process needs '{key}'")
        unknown = set(data) - {"name", "unit", "origin", "events", "entry", "status", "censored_status",
                               "date", "ends_with"}
        if unknown:
            raise SchemaError(f"{where}: unknown keys {sorted(unknown)}")
        name = str(data["name"])
        if not isinstance(data["events"], list) or not data["events"]:
            raise SchemaError(f"{where} ({name}): 'events' must be a non-empty list")
        events = tuple(EventType.from_dict(e, f"{where} ({name}), event {i + 1}")
                       for i, e in enumerate(data["events"]))
        entry = str(data.get("entry", "origin"))
        if entry not in ENTRY_RULES:
            raise SchemaError(f"{where} ({name}): entry must be one of {ENTRY_RULES}")
        optional = {k: (None if data.get(k) is None else str(data[k]))
                    for k in ("status", "censored_status", "date", "ends_with")}
        return cls(name, str(data["unit"]), str(data["origin"]), events, entry, **optional)

    def to_dict(self) -> dict:
        out: dict = {"name": self.name, "unit": self.unit, "origin": self.origin}
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


@dataclass(frozen=True)
class EventDeclarations:
    """The schema's ``events`` section: cut-off, hazard intervals and processes.

    Examples
    --------
    >>> from bayesgen import Schema
    >>> events = Schema.load("schemas/simulacrum_v2.yaml").events
    >>> [p.name for p in events.processes], events.intervals[:3]
    (['survival', 'surgery', 'treatment'], (0, 30, 91))
    """

    cutoff_day: int
    intervals: tuple[int, ...]
    processes: tuple[EventProcess, ...]
    resolution: int = DEFAULT_RESOLUTION

    @classmethod
    def from_dict(cls, data: dict, source: str) -> EventDeclarations:
        from bayesgen.schema.columns import _as_day_number

        where = f"{source}: events"
        if not isinstance(data, dict):
            raise SchemaError(f"{where}: must be a mapping")
        unknown = set(data) - {"cutoff", "intervals", "processes", "resolution"}
        if unknown:
            raise SchemaError(f"{where}: unknown keys {sorted(unknown)}")
        if "cutoff" not in data or "intervals" not in data or "processes" not in data:
            raise SchemaError(f"{where}: needs 'cutoff', 'intervals' and 'processes'")
        try:
            cutoff = _as_day_number(data["cutoff"])
        except (SchemaError, ValueError, TypeError):
            raise SchemaError(f"{where}: cutoff {data['cutoff']!r} is not a date (expected YYYY-MM-DD)") from None
        intervals = data["intervals"]
        if (not isinstance(intervals, list) or len(intervals) < 1 or intervals[0] != 0
                or any(not isinstance(v, int) or isinstance(v, bool) for v in intervals)
                or any(b <= a for a, b in zip(intervals, intervals[1:], strict=False))):
            raise SchemaError(f"{where}: intervals must be increasing whole days starting at 0")
        resolution = int(data.get("resolution", DEFAULT_RESOLUTION))
        if not 1 <= resolution <= 100_000:
            raise SchemaError(f"{where}: resolution must be between 1 and 100000")
        if not isinstance(data["processes"], list) or not data["processes"]:
            raise SchemaError(f"{where}: 'processes' must be a non-empty list")
        processes = tuple(EventProcess.from_dict(p, f"{where}, process {i + 1}")
                          for i, p in enumerate(data["processes"]))
        names = [p.name for p in processes]
        events = [e.name for p in processes for e in p.events]
        for label, values in (("process", names), ("event", events)):
            dupes = sorted({v for v in values if values.count(v) > 1})
            if dupes:
                raise SchemaError(f"{where}: duplicated {label} names {dupes}")
        return cls(cutoff, tuple(intervals), processes, resolution)

    def to_dict(self) -> dict:
        from bayesgen.schema.columns import _day_to_iso

        out = {"cutoff": _day_to_iso(self.cutoff_day), "intervals": list(self.intervals),
               "processes": [p.to_dict() for p in self.processes]}
        if self.resolution != DEFAULT_RESOLUTION:
            out["resolution"] = self.resolution
        return out

    # -- lookups --------------------------------------------------------------------------------
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
        """Column name -> the process that writes it (status, date and event date columns)."""
        out = {}
        for process in self.processes:
            for column in (process.status, process.date, *(e.date for e in process.events)):
                if column is not None:
                    out[column] = process.name
        return out

    def interval_edges(self, horizon: int) -> np.ndarray:
        """Interval start days with the horizon appended as the end of the last interval."""
        edges = [d for d in self.intervals if d < horizon]
        return np.asarray([*edges, horizon], dtype=np.float64)

    def validate_for(self, schema, source: str) -> None:
        """Check processes against the schema's tables and columns (called by the schema)."""
        where = f"{source}: events"
        by_name = {p.name: p for p in self.processes}
        for process in self.processes:
            label = f"{where}, process {process.name}"
            if process.unit not in schema.tables:
                raise SchemaError(f"{label}: unit {process.unit} is not a table")
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
                for key in ("status", "censored_status", "date"):
                    if getattr(process, key) is None:
                        raise SchemaError(f"{label}: a process with terminal events needs '{key}'")
                status = unit.column(process.status) if process.status in unit.column_names else None
                if status is None or status.type not in ("categorical", "ordinal"):
                    raise SchemaError(f"{label}: status {process.status} must be a categorical column of "
                                      f"{process.unit}")
                for value in (process.censored_status, *(e.status for e in process.terminal)):
                    if value not in status.categories:
                        raise SchemaError(f"{label}: {value!r} is not a category of {process.status}")
            row_tables = {t.rows_from_event: t for t in schema.tables.values() if t.rows_from_event}
            for event in process.events:
                table = row_tables.get(event.name)
                if table is None:  # a recurrent event without one writes its first occurrence's date
                    continue
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
