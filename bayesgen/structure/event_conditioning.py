"""Which model variables condition each event's hazard: the ``events`` section of a structure file.

The event types themselves are declared in the schema (:mod:`bayesgen.schema.events`); the structure
says what each hazard depends on, like the edges of the DAG, and is written by experts::

    events:
      DEATH:
        given:
          - {variable: AGE, groups: {"<65": {from: 0, to: 65}, "65-79": {from: 65, to: 80},
                                     "80+": {from: 80, to: 111}}}
          - {variable: STAGE_BEST, groups: {"1": ["1", 1A, 1B], "4": ["4", 4A, 4B], other: rest}}
      SURGERY:
        given: [CANCERCAREPLANINTENT]
        after: []          # other events of the same process whose occurrence changes this hazard

A variable may be given whole (every state its own cell) or grouped: a group of a categorical
variable lists categories (``null`` for missing); a group of a binned variable (integer or date) is
a ``{from, to}`` range holding whole bins; one group may be ``rest`` (every state not listed).
Groups keep hazard cells few, so each cell has enough events for its noisy count to be useful.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from bayesgen.errors import StructureError


@dataclass(frozen=True)
class GivenVariable:
    """A conditioning variable, whole or grouped; ``groups`` is ``((name, spec), ...)`` in file order."""

    variable: str
    groups: tuple = ()

    @classmethod
    def from_dict(cls, data, where: str) -> GivenVariable:
        if isinstance(data, str):
            return cls(data)
        if not isinstance(data, dict) or "variable" not in data or set(data) - {"variable", "groups"}:
            raise StructureError(f"{where}: a given variable is a name or {{variable, groups}}")
        groups = data.get("groups") or {}
        if not isinstance(groups, dict):
            raise StructureError(f"{where}: groups of {data['variable']} must be a mapping")
        frozen = []
        for name, spec in groups.items():
            if isinstance(spec, list):
                frozen.append((str(name), tuple(None if v is None else str(v) for v in spec)))
            elif isinstance(spec, dict) and set(spec) == {"from", "to"}:
                frozen.append((str(name), (("from", spec["from"]), ("to", spec["to"]))))
            elif spec == "rest":
                frozen.append((str(name), "rest"))
            else:
                raise StructureError(f"{where}: group {name} of {data['variable']} must be a list of "
                                     f"categories, a {{from, to}} range or 'rest'")
        return cls(str(data["variable"]), tuple(frozen))

    def to_dict(self):
        if not self.groups:
            return self.variable
        groups = {}
        for name, spec in self.groups:
            if spec == "rest":
                groups[name] = "rest"
            elif spec and isinstance(spec[0], tuple):
                groups[name] = dict(spec)
            else:
                groups[name] = list(spec)
        return {"variable": self.variable, "groups": groups}

    def resolve(self, schema) -> tuple[np.ndarray, tuple[str, ...]]:
        """``(group of each code, group labels)`` against the schema's states of the variable."""
        variable = schema.variables.get(self.variable)
        if variable is None:
            raise StructureError(f"event conditioning: {self.variable} is not a model variable")
        states = variable.states()
        if not self.groups:
            return np.arange(len(states), dtype=np.int64), tuple(str(s) for s in states)
        assignment = np.full(len(states), -1, dtype=np.int64)
        rest = None
        for index, (name, spec) in enumerate(self.groups):
            if spec == "rest":
                if rest is not None:
                    raise StructureError(f"event conditioning: {self.variable} has two 'rest' groups")
                rest = index
                continue
            if spec and isinstance(spec[0], tuple):
                bounds = dict(spec)
                members = [i for i, s in enumerate(states)
                           if isinstance(s, tuple) and _number(s[0]) >= _number(bounds["from"])
                           and _number(s[1]) <= _number(bounds["to"])]
                if not members:
                    raise StructureError(f"event conditioning: group {name} of {self.variable} holds no whole bin")
            else:
                labels = [None if s is None else str(s) for s in states]
                unknown = [v for v in spec if v not in labels]
                if unknown:
                    raise StructureError(f"event conditioning: group {name} of {self.variable}: {unknown} "
                                         f"are not states of {self.variable}")
                members = [labels.index(v) for v in spec]
            taken = [states[i] for i in members if assignment[i] >= 0]
            if taken:
                raise StructureError(f"event conditioning: states {taken} of {self.variable} are in two groups")
            assignment[members] = index
        if rest is not None:
            assignment[assignment < 0] = rest
        if (assignment < 0).any():
            left = [states[i] for i in np.flatnonzero(assignment < 0)]
            raise StructureError(f"event conditioning: states {left[:5]} of {self.variable} are in no group "
                                 f"(add them or a 'rest' group)")
        used = sorted(set(assignment.tolist()))
        remap = {g: i for i, g in enumerate(used)}
        return np.array([remap[g] for g in assignment], dtype=np.int64), tuple(self.groups[g][0] for g in used)


def _number(value) -> float:
    """A bin bound as a number: dates (ISO text or YAML dates) as day numbers."""
    if isinstance(value, bool):
        raise StructureError(f"event conditioning: {value!r} is not a bin bound")
    if isinstance(value, int | float):
        return float(value)
    from bayesgen.errors import SchemaError
    from bayesgen.schema.columns import _as_day_number

    try:
        return float(_as_day_number(value))
    except (SchemaError, ValueError):
        raise StructureError(f"event conditioning: {value!r} is neither a number nor a date") from None


@dataclass(frozen=True)
class EventConditioning:
    """What one event's hazard depends on: model variables (``given``) and earlier events (``after``).

    ``budget_weight`` scales the event type's share of the hazards' privacy budget (shares otherwise
    grow with the cube root of the number of hazard cells): a methodologist raises it for the hazards
    the release is used for most, such as death in a survival analysis.
    """

    event: str
    given: tuple[GivenVariable, ...] = ()
    after: tuple[str, ...] = ()
    budget_weight: float = 1.0

    def to_dict(self) -> dict:
        out: dict = {"given": [g.to_dict() for g in self.given]}
        if self.after:
            out["after"] = list(self.after)
        if self.budget_weight != 1.0:
            out["budget_weight"] = self.budget_weight
        return out


@dataclass(frozen=True)
class EventStructure:
    """The ``events`` section of a structure: one :class:`EventConditioning` per declared event type.

    Examples
    --------
    >>> from bayesgen import Structure
    >>> events = Structure.load("structures/simulacrum_v2.yaml").events
    >>> [g.variable for g in events.of("SURGERY").given]
    ['CANCERCAREPLANINTENT', 'STAGE_BEST']
    """

    conditioning: tuple[EventConditioning, ...]

    @classmethod
    def from_dict(cls, data, source: str) -> EventStructure:
        if not isinstance(data, dict) or not data:
            raise StructureError(f"{source}: 'events' must be a mapping of event name to its conditioning")
        out = []
        for name, body in data.items():
            where = f"{source}: events.{name}"
            body = body or {}
            if not isinstance(body, dict) or set(body) - {"given", "after", "budget_weight"}:
                raise StructureError(f"{where}: expected 'given' and optionally 'after' and 'budget_weight'")
            given = body.get("given") or []
            after = body.get("after") or []
            if not isinstance(given, list) or not isinstance(after, list):
                raise StructureError(f"{where}: 'given' and 'after' must be lists")
            weight = body.get("budget_weight", 1.0)
            if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 < weight < math.inf:
                raise StructureError(f"{where}: budget_weight must be a positive number, got {weight!r}")
            out.append(EventConditioning(str(name), tuple(GivenVariable.from_dict(g, where) for g in given),
                                         tuple(str(a) for a in after), float(weight)))
        return cls(tuple(out))

    def to_dict(self) -> dict:
        return {c.event: c.to_dict() for c in self.conditioning}

    def of(self, event: str) -> EventConditioning:
        for conditioning in self.conditioning:
            if conditioning.event == event:
                return conditioning
        return EventConditioning(event)

    @property
    def variables(self) -> set[str]:
        return {g.variable for c in self.conditioning for g in c.given}

    def validate_for(self, schema) -> None:
        """Check the conditioning against the schema's declared events and variables."""
        if schema.events is None:
            raise StructureError(f"the structure has an events section but schema {schema.name} declares no events")
        declared = schema.events.event_types
        written = schema.events.written_columns
        for conditioning in self.conditioning:
            if conditioning.event not in declared:
                raise StructureError(f"events.{conditioning.event}: not an event of schema {schema.name} "
                                     f"(declared: {sorted(declared)})")
            process, _ = declared[conditioning.event]
            for given in conditioning.given:
                given.resolve(schema)
                if given.variable in written:
                    raise StructureError(f"events.{conditioning.event}: {given.variable} is written by the events "
                                         f"module and cannot condition a hazard")
                table = schema.variables[given.variable].table
                if table not in (process.unit, schema.root_table) and process.unit != schema.root_table:
                    raise StructureError(f"events.{conditioning.event}: a {process.unit} hazard can depend on "
                                         f"{process.unit} or {schema.root_table} variables, not {table}")
            names = [e.name for e in process.events]
            for other in conditioning.after:
                if other not in names or other == conditioning.event:
                    raise StructureError(f"events.{conditioning.event}: after {other!r} must name another event "
                                         f"of process {process.name}")
                if declared[other][1].kind == "terminal":
                    raise StructureError(f"events.{conditioning.event}: nothing happens after the terminal "
                                         f"event {other}")
