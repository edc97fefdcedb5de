"""Fit piecewise-constant hazards under differential privacy: noisy event counts and noisy exposure.

For each event type the exact statistics are, per (cell of its conditioning variables, history state,
time interval): the number of events ``D`` and the time at risk ``E``. Both are released once with
OpenDP's discrete noise, charged to the model's accountant; the hazard ``D / E`` and everything after
it is post-processing.

Sensitivity. One person is ``U`` units (1 patient, or up to ``max_rows_per_parent`` tumours).
*Events*: a unit has at most ``max`` events of a type, so one person changes the count vector by at
most ``U * max`` (L1, and L2 in the worst case of one cell). *Exposure* is clipped per interval: time
in interval ``j`` is measured in units of ``L_j / resolution`` days and floored per piece, so one unit
adds at most ``resolution`` to the cells of each interval, and one person at most
``U * n_intervals * resolution`` in L1 (``U * resolution * sqrt(n_intervals)`` in L2). Measuring
each interval in its own units makes the relative noise of short early intervals (where events
concentrate) no worse than that of long late ones.

Pooling. Hazards of sparse cells are noisy, so each cell is shrunk towards a prior built from its
parent cells (the same history with the last conditioning variable summed out), recursively from
the coarsest level: ``rate = (D + m * prior) / (E + m)``, a gamma-prior posterior mean whose prior
exposure ``m = shrinkage * (sd(E) + sd(D) / prior)`` equals the noise level of the cell's
measurements. The prior is proportional hazards: the cell's own rate over all intervals (far less
noisy than any one interval's) times its parent's shape over time (:func:`pooled_rates`). Sums
over cells use the raw noisy values, which are unbiased; rates are clipped at zero only at the
end. A cell whose noisy exposure is not positive takes its prior.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bayesgen.errors import StructureError
from bayesgen.events import kernels
from bayesgen.events.histories import ProcessData, horizon_days, process_data_from_tables
from bayesgen.events.layout import EventLayout, build_layout
from bayesgen.events.model import EventModel
from bayesgen.params.fit import noise_variance
from bayesgen.privacy.accountant import PrivacyAccountant
from bayesgen.privacy.mechanisms import noisy_counts


def exact_statistics(layout: EventLayout, data: ProcessData, resolution: int) -> tuple[list, list]:
    """Exact event counts and exposure units per event type, each of shape ``layout.shapes[e]``."""
    rate_start, after_flat, after_start = layout.flat_arrays()
    cells = np.vstack([layout.cell_index(e, data.codes, data.n_units) for e in range(layout.n_events)]) \
        if data.n_units else np.zeros((layout.n_events, 0), dtype=np.int64)
    events = np.zeros(rate_start[-1], dtype=np.int64)
    exposure = np.zeros(rate_start[-1], dtype=np.int64)
    kernels.event_statistics(data.entry.astype(np.float64), data.end.astype(np.float64), cells, data.unit_start,
                             data.event_type, data.event_time, layout.kinds, layout.max_count,
                             layout.history_cards(), after_flat, after_start, rate_start, layout.edges,
                             float(resolution), events, exposure)
    split = [(rate_start[e], rate_start[e + 1]) for e in range(layout.n_events)]
    return ([events[a:b].reshape(layout.shapes[e]) for e, (a, b) in enumerate(split)],
            [exposure[a:b].reshape(layout.shapes[e]) for e, (a, b) in enumerate(split)])


def _shrink(d, e, prior_rate, sd_d, sd_e, shrinkage):
    """Posterior-mean rate ``(D + m * prior) / (E + m)`` with ``m`` the noise level (see module docs)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        m = shrinkage * (sd_e + np.where(prior_rate > 0, sd_d / prior_rate, np.inf))
        pooled = np.where(np.isinf(m), prior_rate, (d + m * prior_rate) / (e + m))
    usable = (e > 0) & (np.isinf(m) | (e + m > 0))
    return np.where(usable, np.maximum(np.nan_to_num(pooled, nan=0.0, posinf=0.0), 0.0), prior_rate)


def pooled_rates(events: np.ndarray, exposure_days: np.ndarray, events_sd: float, exposure_sd: np.ndarray,
                 shrinkage: float) -> np.ndarray:
    """Hazards per day from noisy counts and exposure, pooled towards coarser cells (see module docs).

    ``events`` and ``exposure_days`` have shape ``(*groups, n_history, n_intervals)``;
    ``exposure_sd`` is the noise SD of one cell's exposure in days, per interval (last axis).

    Levels run from the coarsest (every given variable summed out) to the full table, dropping the
    last given variable at each step. At each level a cell is shrunk towards a proportional-hazards
    prior: its own rate pooled over all intervals (itself shrunk towards its parent's), times its
    parent's shape over time. Sparse groups thus borrow the time shape from the coarser level but
    keep their own overall level, estimated from all their intervals at once.

    Examples
    --------
    >>> events = np.array([[[10.0]], [[0.0]]])        # two cells, one history state, one interval
    >>> exposure = np.array([[[1000.0]], [[0.0]]])    # the second cell was never at risk
    >>> pooled_rates(events, exposure, 0.0, np.zeros(1), 1.0)[:, 0, 0].tolist()
    [0.01, 0.01]
    """
    n_given = events.ndim - 2
    # sums of the raw (unbiased) noisy values: clipping small cells at zero first would bias every
    # sparse cell, and every sum of them, upwards
    d = events.astype(np.float64)
    e = exposure_days.astype(np.float64)
    exposure_sd = np.asarray(exposure_sd, dtype=np.float64)
    if n_given >= 2:
        return _shrink_to_main_effects(d, e, events_sd, exposure_sd, shrinkage)
    levels = [(d, e, 1)]
    for _ in range(n_given):
        d_prev, e_prev, n_prev = levels[-1]
        width = d_prev.shape[d_prev.ndim - 3]
        levels.append((d_prev.sum(axis=d_prev.ndim - 3), e_prev.sum(axis=e_prev.ndim - 3), n_prev * width))
    d_top, e_top, _ = levels[-1]
    rate = np.maximum(np.divide(d_top, e_top, out=np.zeros_like(d_top), where=e_top > 0), 0.0)
    overall = np.maximum(np.divide(d_top.sum(-1), e_top.sum(-1), out=np.zeros(d_top.shape[:-1]),
                                   where=e_top.sum(-1) > 0), 0.0)
    for d_level, e_level, summed in reversed(levels[:-1]):
        parent = np.broadcast_to(np.expand_dims(rate, axis=rate.ndim - 2), d_level.shape)
        parent_overall = np.broadcast_to(np.expand_dims(overall, axis=overall.ndim - 1), d_level.shape[:-1])
        rate, overall = _shrink_in_two_steps(d_level, e_level, parent, parent_overall, events_sd, exposure_sd,
                                             summed, shrinkage)
    return rate


def _shrink_in_two_steps(d, e, prior, prior_overall, events_sd, exposure_sd, summed, shrinkage):
    """Rates of cells that each sum ``summed`` measured cells, shrunk towards ``prior``: first each
    cell's rate over all intervals towards ``prior_overall``, then each interval towards that rate
    times the prior's shape over time. Returns the rates and the rates over all intervals."""
    n_intervals = d.shape[-1]
    overall = _shrink(d.sum(-1), e.sum(-1), prior_overall, events_sd * np.sqrt(summed * n_intervals),
                      np.sqrt(summed * (exposure_sd**2).sum()), shrinkage)
    with np.errstate(divide="ignore", invalid="ignore"):
        shape = np.where(prior_overall[..., None] > 0, prior / prior_overall[..., None], 1.0)
    rate = _shrink(d, e, overall[..., None] * shape, events_sd * np.sqrt(summed), exposure_sd * np.sqrt(summed),
                   shrinkage)
    return rate, overall


def main_effects_rates(events: np.ndarray, exposure_days: np.ndarray, iterations: int = 100) -> np.ndarray:
    """Poisson main-effects hazards ``base(history, interval) * f_1(g_1) * ... * f_k(g_k)`` fitted to
    (noisy) events and exposure of shape ``(*groups, n_history, n_intervals)``.

    The maximum-likelihood fit of the log-linear model with exposure offsets, by cyclic updates of
    each factor to match its margin of events (iterative proportional fitting). Every margin sums
    many cells, so the noise of the cells averages out. Noisy exposure is clipped at zero as an
    offset; margins of events below zero give a zero factor.

    Examples
    --------
    >>> base = np.array([[0.01, 0.02]])                   # one history state, two intervals
    >>> site, stage = np.array([1.0, 3.0]), np.array([0.5, 1.0, 2.0])
    >>> exposure = np.full((2, 3, 1, 2), 1000.0)
    >>> events = exposure * site[:, None, None, None] * stage[None, :, None, None] * base
    >>> bool(np.allclose(main_effects_rates(events, exposure), events / exposure))
    True
    """
    k = events.ndim - 2
    exposure = np.maximum(exposure_days, 0.0)
    factors = [np.ones(events.shape[i]) for i in range(k)]
    group_axes = tuple(range(k))

    def product(skip=None):
        out = np.ones(events.shape[:k])
        for i, factor in enumerate(factors):
            if i != skip:
                out = out * factor.reshape([-1 if a == i else 1 for a in range(k)])
        return out[..., None, None]

    def ratio(numerator, denominator):
        return np.divide(np.maximum(numerator, 0.0), denominator, out=np.zeros_like(denominator),
                         where=denominator > 0)

    base = ratio(events.sum(axis=group_axes), exposure.sum(axis=group_axes))
    for _ in range(iterations):
        previous = [f.copy() for f in factors]
        for i in range(k):
            others = tuple(a for a in range(events.ndim) if a != i)
            expected = exposure * product(skip=i) * base
            factors[i] = ratio(events.sum(axis=others), expected.sum(axis=others))
        base = ratio(events.sum(axis=group_axes), (exposure * product()).sum(axis=group_axes))
        if all(np.allclose(f, g, rtol=1e-9, atol=0) for f, g in zip(factors, previous, strict=True)):
            break
    return base * product()


def _shrink_to_main_effects(d, e, events_sd, exposure_sd, shrinkage):
    """Each cell's rate shrunk towards the main-effects model (:func:`main_effects_rates`) in two steps,
    as :func:`pooled_rates` does towards parent cells: the cell's level over all intervals towards the
    model's, then each interval towards that level times the model's shape over time."""
    prior = main_effects_rates(d, e)
    prior_total = (prior * np.maximum(e, 0.0)).sum(-1)
    exposure_total = np.maximum(e, 0.0).sum(-1)
    prior_overall = np.divide(prior_total, exposure_total, out=prior[..., 0].copy(), where=exposure_total > 0)
    return _shrink_in_two_steps(d, e, prior, prior_overall, events_sd, exposure_sd, 1, shrinkage)[0]


def forbidden_cells(layout: EventLayout, event: int, process, schema) -> np.ndarray:
    """Cells (over the given groups) where the schema's constraints forbid ``event`` to happen.

    A constraint between the event's date column and a conditioning variable, such as "if
    CANCERCAREPLANINTENT is X then DATE_FIRST_SURGERY is missing", sets the hazard of the matching
    groups to zero. A group mixing allowed and forbidden states cannot be masked and is an error.
    """
    shape = layout.shapes[event][:-2]
    mask = np.zeros(shape, dtype=bool)
    declared = process.events[event]
    column = declared.date
    if column is None:
        return mask
    for constraint in schema.constraints:
        pair = {constraint.antecedent.column, constraint.consequent.column}
        if column not in pair:
            continue
        other = next(iter(pair - {column}), None)
        if other not in layout.given[event]:
            continue
        axis = layout.given[event].index(other)
        variable = schema.variables[other].column
        if constraint.consequent.column == column and constraint.consequent.kind == "missing" \
                and constraint.consequent.values[0]:
            forbidden_states = variable.codes_matching(constraint.antecedent)
        elif constraint.antecedent.column == column and constraint.antecedent.kind == "missing" \
                and not constraint.antecedent.values[0]:
            forbidden_states = ~variable.codes_matching(constraint.consequent)
        else:
            raise StructureError(f"constraint '{constraint.name}' cannot be enforced by a hazard of {declared.name}")
        groups = layout.group_of_code[event][axis]
        for group in range(shape[axis]):
            members = forbidden_states[groups == group]
            if members.any() and not members.all():
                raise StructureError(f"constraint '{constraint.name}': group "
                                     f"{layout.group_labels[event][axis][group]!r} of {other} mixes states the "
                                     f"constraint forbids with others; regroup them")
            if members.all():
                index = [slice(None)] * len(shape)
                index[axis] = group
                mask[tuple(index)] = True
    return mask


@dataclass
class ExactEventStatistics:
    """Exact (not yet private) event counts and exposure units per event type, summable over partitions.

    Attributes
    ----------
    events, exposure : dict of str to ndarray
        Per event type, arrays of its layout's shape.
    units_per_person : dict of str to int
        Per process, the most units one person has (its contribution bound).
    dropped : dict of str to int
        Recorded events left out (for the data holder only).
    """

    events: dict[str, np.ndarray]
    exposure: dict[str, np.ndarray]
    units_per_person: dict[str, int]
    dropped: dict[str, int] = field(default_factory=dict)

    def __add__(self, other: ExactEventStatistics) -> ExactEventStatistics:
        dropped = dict(self.dropped)
        for key, value in other.dropped.items():
            dropped[key] = dropped.get(key, 0) + value
        return ExactEventStatistics(
            {k: v + other.events[k] for k, v in self.events.items()},
            {k: v + other.exposure[k] for k, v in self.exposure.items()},
            {k: max(v, other.units_per_person[k]) for k, v in self.units_per_person.items()}, dropped)


def exact_event_statistics(encoded, schema, structure) -> ExactEventStatistics:
    """The exact statistics of every declared event type in the encoded (bounded) tables.

    Statistics of disjoint sets of persons add up: a partitioned registry (every person wholly in
    one partition) can be counted partition by partition and summed before any noise is added.
    """
    horizon = horizon_days(schema)
    events, exposure, units, dropped, survival_end = {}, {}, {}, {}, {}
    for process in schema.events.processes:
        layout = build_layout(schema, process, structure.events, horizon)
        data = process_data_from_tables(encoded, schema, process, layout.given_variables, survival_end)
        if process.unit == schema.root_table:
            survival_end[process.name] = (data.origin_day, data.end)
        dropped.update({f"{process.name}: {k}": v for k, v in data.dropped.items()})
        counted, exposed = exact_statistics(layout, data, schema.events.resolution)
        for e, name in enumerate(layout.names):
            events[name], exposure[name] = counted[e], exposed[e]
        units[process.name] = encoded.rows_per_person[process.unit]
    return ExactEventStatistics(events, exposure, units, dropped)


def fit_event_model(encoded, schema, structure, accountant: PrivacyAccountant, budget: float,
                    shrinkage: float = 1.0, exposure_share: float = 1 / 3) -> EventModel:
    """Fit every declared event type's hazards from the encoded tables, spending ``budget``.

    See :func:`measure_event_model`.
    """
    return measure_event_model(exact_event_statistics(encoded, schema, structure), schema, structure,
                               accountant, budget, shrinkage, exposure_share)


def measure_event_model(statistics: ExactEventStatistics, schema, structure, accountant: PrivacyAccountant,
                        budget: float, shrinkage: float = 1.0, exposure_share: float = 1 / 3) -> EventModel:
    """Add noise once to exact event statistics and post-process them into an :class:`EventModel`.

    The budget is split between event types in proportion to the cube root of their cell counts
    and, within one, ``exposure_share`` to the exposure and the rest to the event counts (events are
    rarer than time at risk, so their counts need the larger share: with ``p`` events per unit per
    interval and ``K`` intervals the variance-minimising ratio is about ``(1 / (p K)) ** (2/3)``,
    2 for ``p = 0.05``, ``K = 7``).
    """
    if not 0 < exposure_share < 1:
        raise ValueError(f"exposure_share must be between 0 and 1, got {exposure_share!r}")
    declarations = schema.events
    horizon = horizon_days(schema)
    layouts = {p.name: build_layout(schema, p, structure.events, horizon) for p in declarations.processes}
    # each event type's share grows with the cube root of its cell count: the split that minimises
    # the total squared error of Laplace-noised tables of equal weight
    weights = {name: layout.n_cells(e) ** (1 / 3) for layout in layouts.values()
               for e, name in enumerate(layout.names)}
    total_weight = sum(weights.values())
    rates = {}
    for process in declarations.processes:
        layout = layouts[process.name]
        shares = {name: budget * weights[name] / total_weight if accountant.is_private else np.inf
                  for name in layout.names}
        rates.update(measure_process(layout, statistics, process, schema, accountant, shares,
                                     declarations.resolution, statistics.units_per_person[process.name],
                                     shrinkage, exposure_share))
    model = EventModel(schema, structure, horizon, rates)
    model.dropped_ = dict(statistics.dropped)
    return model


def measure_process(layout: EventLayout, statistics: ExactEventStatistics, process, schema,
                    accountant: PrivacyAccountant, shares: dict[str, float], resolution: int,
                    units_per_person: int, shrinkage: float, exposure_share: float) -> dict[str, np.ndarray]:
    """Noisy statistics of one process's event types, post-processed into hazards per day."""
    lengths = np.diff(layout.edges)
    out = {}
    for e, name in enumerate(layout.names):
        events, exposure = statistics.events[name], statistics.exposure[name]
        share = shares[name]
        pure = accountant.definition == "pure"
        count_sensitivity = units_per_person * int(layout.max_count[e])
        exposure_sensitivity = units_per_person * resolution * (
            layout.n_intervals if pure else int(np.ceil(np.sqrt(layout.n_intervals))))
        noisy_events = noisy_counts(events.ravel(), sensitivity=count_sensitivity,
                                    budget=share * (1 - exposure_share), accountant=accountant,
                                    what=f"event counts of {name}").reshape(events.shape)
        events_sd = np.sqrt(noise_variance(accountant.entries[-1])) if accountant.is_private else 0.0
        noisy_exposure = noisy_counts(exposure.ravel(), sensitivity=exposure_sensitivity,
                                      budget=share * exposure_share, accountant=accountant,
                                      what=f"exposure of {name}").reshape(exposure.shape)
        exposure_unit_sd = np.sqrt(noise_variance(accountant.entries[-1])) if accountant.is_private else 0.0
        days_per_unit = lengths / resolution
        rate = pooled_rates(noisy_events, noisy_exposure * days_per_unit, events_sd,
                            exposure_unit_sd * days_per_unit, shrinkage)
        rate[forbidden_cells(layout, e, process, schema)] = 0.0
        out[name] = rate
    return out
