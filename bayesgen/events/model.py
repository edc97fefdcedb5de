"""A fitted event model: per event type, hazards per day by cell, history state and interval."""

from __future__ import annotations

import numpy as np

from bayesgen.events.layout import EventLayout, build_layouts


class EventModel:
    """Piecewise-constant hazards of every declared event type; the layout comes from schema and structure.

    Parameters
    ----------
    schema, structure
        Declare the processes and each hazard's conditioning.
    horizon : int
        Days from the earliest origin to the end of follow-up (the end of the last interval): to
        the end of the cut-off day, or of day ``horizon`` for duration processes
        (:func:`bayesgen.events.histories.horizon_days`).
    rates : dict of str to ndarray
        Per event type, hazards per day of shape ``(*group_cards, n_history, n_intervals)``.
    """

    def __init__(self, schema, structure, horizon: int, rates: dict[str, np.ndarray]):
        self.schema = schema
        self.structure = structure
        self.horizon = int(horizon)
        self.layouts: dict[str, EventLayout] = build_layouts(schema, structure, self.horizon)
        self.rates = {}
        for process in schema.events.processes:
            layout = self.layouts[process.name]
            for e, name in enumerate(layout.names):
                table = np.asarray(rates[name], dtype=np.float64)
                if table.shape != tuple(layout.shapes[e]):
                    raise ValueError(f"hazards of {name} have shape {table.shape}, expected {layout.shapes[e]}")
                if not np.isfinite(table).all() or (table < 0).any():
                    raise ValueError(f"hazards of {name} must be finite and non-negative")
                self.rates[name] = table

    def flat_rates(self, process: str) -> np.ndarray:
        layout = self.layouts[process]
        return np.concatenate([self.rates[name].ravel() for name in layout.names])

    def to_dict(self) -> dict:
        return {"horizon": self.horizon, "rates": {name: table.tolist() for name, table in self.rates.items()}}

    @classmethod
    def from_dict(cls, data: dict, schema, structure) -> EventModel:
        return cls(schema, structure, int(data["horizon"]),
                   {name: np.asarray(values, dtype=np.float64) for name, values in data["rates"].items()})
