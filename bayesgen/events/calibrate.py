"""Calibrate the hazards of event types whose occurrences are table rows to their measured totals.

How many regimens a patient has is a one-number summary that every user of the treatment tables
sees first (rows per parent), but the hazards spread it over thousands of noisy cells: summed back,
their noise gives the total to within about 5 % on 200,000 patients at ε = 1, and pooling sparse
cells can bias it. A single count of each such event type's occurrences (and of its units), with a
small share of the events budget, pins it to about 1 %: the sensitivity of a total is only the
number of occurrences one person can have.

The hazards are then scaled, one factor per event type, until the model's own synthetic data have
that many occurrences per unit. This is post-processing of released values, so it costs no privacy:
the synthetic units are drawn from the fitted model, never from the data. Scaling every cell of a
hazard by one factor keeps its shape over time and its contrasts between groups.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bayesgen.privacy.accountant import PrivacyAccountant
from bayesgen.privacy.mechanisms import noisy_counts, vector_sensitivity

# Of the events budget, the share spent on the totals (a vector of a few counts: cheap).
CALIBRATION_SHARE = 0.05
# Synthetic persons simulated per calibration round (the Monte Carlo error of a total per unit is
# about 1 / sqrt(occurrences): 0.5 % for a third of a regimen per patient).
CALIBRATION_PERSONS = 100_000
CALIBRATION_ROUNDS = 3
# Stop once every event type's synthetic rate is this close to its target.
CALIBRATION_TOLERANCE = 0.005
CALIBRATION_SEED = 20261123  # post-processing randomness: any fixed seed keeps a fit reproducible


@dataclass
class CalibratedEvent:
    """An event type whose occurrences are the rows of ``table``, counted per ``unit`` row."""

    name: str
    process: str
    table: str
    unit: str
    max_count: int


def calibrated_events(schema) -> list[CalibratedEvent]:
    """The event types whose occurrences are rows of a table (``rows_from_event``), without a life table.

    Examples
    --------
    >>> import bayesgen as bg
    >>> [(e.name, e.table) for e in calibrated_events(bg.Schema.load("schemas/simulacrum_v2.yaml"))]
    [('REGIMEN', 'SIM_SACT_REGIMEN'), ('RADIOTHERAPY', 'SIM_RTDS_EPISODE')]
    """
    if schema.events is None:
        return []
    out = []
    for process in schema.events.processes:
        for event in process.events:
            table = schema.events.event_table(schema, event.name)
            if table is not None and event.kind != "terminal":
                out.append(CalibratedEvent(event.name, process.name, table.name, process.unit, int(event.max_count)))
    return out


def measure_event_totals(statistics, schema, accountant: PrivacyAccountant, budget: float) -> dict[str, float]:
    """Noisy occurrences per unit of each calibrated event type (one release of a few totals).

    The vector holds each unit table's row count and each event type's total occurrences (after
    bounding). One person changes a unit count by at most its row bound and an event total by at
    most that times the event's ``max``; the vector's sensitivity is their sum (L1, pure DP) or
    the root of their squares, rounded up (L2, zCDP).

    Returns
    -------
    dict of str to float
        Per event type, its measured occurrences per unit (missing if a noisy count is not positive).
    """
    events = calibrated_events(schema)
    if not events:
        return {}
    process_of_unit = {}  # one process per unit table: its units are that table's rows
    for event in events:
        process_of_unit.setdefault(event.unit, event.process)
    units = list(process_of_unit)
    values = [statistics.n_units[process_of_unit[u]] for u in units] + \
             [int(statistics.events[e.name].sum()) for e in events]
    per_person = [statistics.units_per_person[process_of_unit[u]] for u in units] + \
                 [statistics.units_per_person[e.process] * e.max_count for e in events]
    sensitivity = vector_sensitivity(per_person, accountant.definition)
    noisy = noisy_counts(np.asarray(values, dtype=np.int64), sensitivity=sensitivity, budget=budget,
                         accountant=accountant,
                         what=f"totals of {', '.join(e.name for e in events)} and rows of {', '.join(units)} "
                              "(to calibrate the event rates)")
    n_units = dict(zip(units, noisy[: len(units)].astype(float), strict=True))
    out = {}
    for event, total in zip(events, noisy[len(units):].astype(float), strict=True):
        if total > 0 and n_units[event.unit] > 0:
            out[event.name] = total / n_units[event.unit]
    return out


def calibrate_event_rates(model, targets: dict[str, float], persons: int = CALIBRATION_PERSONS,
                          rounds: int = CALIBRATION_ROUNDS) -> dict[str, float]:
    """Scale the fitted hazards of ``model`` (a fitted Synthesizer) to the occurrences per unit in ``targets``.

    Each round samples ``persons`` synthetic persons from the model, and multiplies each event
    type's hazards by its target over its synthetic occurrences per unit (rows of its table per row
    of its unit's table). Rounds stop early once every ratio is within ``CALIBRATION_TOLERANCE``.

    Returns
    -------
    dict of str to float
        The overall factor applied to each event type's hazards.
    """
    events = {e.name: e for e in calibrated_events(model.schema) if e.name in targets}
    applied = dict.fromkeys(events, 1.0)
    for _ in range(rounds):
        tables = model.sample(persons, rng=CALIBRATION_SEED)
        worst = 0.0
        for name, event in events.items():
            made = len(tables[event.table]) / max(len(tables[event.unit]), 1)
            if made <= 0:
                continue  # no occurrence at all: nothing to scale
            factor = targets[name] / made
            model.events_.rates[name] = model.events_.rates[name] * factor
            applied[name] *= factor
            worst = max(worst, abs(factor - 1))
        if worst < CALIBRATION_TOLERANCE:
            break
    return applied
