"""The hazard layout of one process: which cell, history state and interval each rate belongs to.

For every event type ``e`` of a process the hazard is a table of shape
``(*group_cards, n_history, n_intervals)``: the groups of its ``given`` variables (see
:mod:`bayesgen.structure.event_conditioning`), its history state, and the time interval.

History state: ``occurrence * 2**len(after) + sum(2**k for each after-event k that has happened)``,
where ``occurrence`` counts earlier occurrences of ``e`` itself (0 for terminal and once events; 0 ..
max-1 for recurrent ones, so each regimen line has its own hazard).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class EventLayout:
    """Flat index arrays of one process, shared by the statistics and sampling kernels.

    Attributes
    ----------
    names : tuple of str
        Event types in declaration order.
    kinds : ndarray
        0 terminal, 1 once, 2 recurrent.
    max_count : ndarray
    after_index : list of tuple of int
        Per event type, the process-local indices of its ``after`` events.
    shapes : list of tuple of int
        Per event type, ``(*group_cards, n_history, n_intervals)``.
    given : list of tuple of str
        Per event type, its conditioning variables.
    group_of_code : list of list of ndarray
        Per event type and given variable, the group of each code.
    group_labels : list of list of tuple of str
    edges : ndarray
        Interval start days and the horizon (length ``n_intervals + 1``).
    """

    names: tuple[str, ...]
    kinds: np.ndarray
    max_count: np.ndarray
    after_index: list
    shapes: list
    given: list
    group_of_code: list
    group_labels: list
    edges: np.ndarray

    @property
    def n_intervals(self) -> int:
        return len(self.edges) - 1

    @property
    def n_events(self) -> int:
        return len(self.names)

    def n_cells(self, event: int) -> int:
        return int(np.prod(self.shapes[event]))

    @property
    def given_variables(self) -> set[str]:
        """Every model variable some hazard of the process is conditioned on."""
        return {name for names in self.given for name in names}

    def history_cards(self) -> np.ndarray:
        return np.asarray([s[-2] for s in self.shapes], dtype=np.int64)

    def flat_arrays(self):
        """``(rate_start, after_flat, after_start)`` for the kernels."""
        sizes = [self.n_cells(e) for e in range(self.n_events)]
        rate_start = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        after_flat = np.asarray([a for after in self.after_index for a in after], dtype=np.int64)
        after_start = np.concatenate([[0], np.cumsum([len(a) for a in self.after_index])]).astype(np.int64)
        return rate_start, after_flat, after_start

    def cell_index(self, event: int, codes: dict[str, np.ndarray], n_units: int) -> np.ndarray:
        """The given-variable cell of each unit for ``event`` (row-major over the groups)."""
        cell = np.zeros(n_units, dtype=np.int64)
        for name, mapping, card in zip(self.given[event], self.group_of_code[event], self.shapes[event][:-2],
                                       strict=True):
            cell = cell * card + mapping[np.asarray(codes[name], dtype=np.int64)]
        return cell


KIND_CODES = {"terminal": 0, "once": 1, "recurrent": 2}


def build_layout(schema, process, event_structure, horizon: int) -> EventLayout:
    """The layout of ``process`` under the structure's conditioning (``event_structure``)."""
    edges = schema.events.interval_edges(horizon)
    names = tuple(e.name for e in process.events)
    kinds = np.asarray([KIND_CODES[e.kind] for e in process.events], dtype=np.int64)
    max_count = np.asarray([e.max_count for e in process.events], dtype=np.int64)
    after_index, shapes, given, group_of_code, group_labels = [], [], [], [], []
    for event in process.events:
        conditioning = event_structure.of(event.name)
        after_index.append(tuple(names.index(a) for a in conditioning.after))
        maps, labels = [], []
        for variable in conditioning.given:
            mapping, names_of_groups = variable.resolve(schema)
            maps.append(mapping)
            labels.append(names_of_groups)
        n_history = event.max_count * 2 ** len(conditioning.after)
        shapes.append((*(len(lab) for lab in labels), n_history, len(edges) - 1))
        given.append(tuple(v.variable for v in conditioning.given))
        group_of_code.append(maps)
        group_labels.append(labels)
    return EventLayout(names, kinds, max_count, after_index, shapes, given, group_of_code, group_labels, edges)


def build_layouts(schema, structure, horizon: int) -> dict[str, EventLayout]:
    """The layout of every declared process, by process name."""
    return {p.name: build_layout(schema, p, structure.events, horizon) for p in schema.events.processes}
