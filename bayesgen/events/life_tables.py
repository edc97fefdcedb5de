"""Life tables: the time at risk of single-spell event types rebuilt from counts of exits and entries.

An event type that ends its unit's time at risk (a ``terminal`` event such as death, or a ``once``
event such as first surgery) and has no history (``after``) accrues exposure from the unit's entry
until the event or the end of follow-up, whichever comes first. That exposure is a function of two
times per unit, so instead of measuring it cell by cell (one person then adds up to one whole
interval to every interval's cell: an L1 sensitivity of ``n_intervals`` person-intervals), the
fit measures a *life table*: per cell of the given groups and per hazard interval, how many units
left the risk set by each event type, how many left otherwise (censoring, or another terminal
event), and, when units can enter late (``entry: latest``), how many entered. One unit adds 1 to
one exit count and at most 1 to one entry count, so one person (``U`` units) changes the table by
at most ``U`` (``2 U`` with late entries) in L1: the events and the exposure of every member
event type come from one release, at a fraction of the noise of measuring exposure directly.

Reconstruction (the actuarial life table). Counts are kept in bins: the hazard intervals, those
longer than ``LONGEST_BIN_DAYS`` split evenly. The number at risk at the start of bin ``b`` is
everyone who leaves at or after it minus those who enter at or after it,
``A_b = sum_{b' >= b} (X_b' - N_b')``, and the exposure in days is
``L_b * (A_b - X_b / 2 + N_b / 2)``: units leaving or entering during a bin count half of it.
Summing backwards keeps late bins, where few units remain, least noisy. The half-bin rule is exact
when exits and entries are spread evenly within a bin; its error shrinks with the square of the bin's
length. This path is used only under a finite ε: without noise the exact exposure is used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from bayesgen.events.layout import EventLayout

TERMINAL, ONCE = 0, 1
# Bins of the life table are at most this long. On the simulated registry (50,000 patients), one
# bin per hazard interval put the exposure of the 5-year-plus interval 7 % (death) and 15 % (first
# surgery) off, since its at-risk set does not shrink evenly; with bins of at most a year the
# largest error is 1 %. Each extra bin adds the noise of one more set of counts to earlier bins'
# exposure (about 1.5 times the noise SD of the first interval for the default intervals).
LONGEST_BIN_DAYS = 365.0


def life_table_edges(edges: np.ndarray) -> np.ndarray:
    """Bin edges: each hazard interval split evenly into pieces of at most ``LONGEST_BIN_DAYS``.

    Examples
    --------
    >>> life_table_edges(np.array([0.0, 30.0, 1000.0])).tolist()
    [0.0, 30.0, 353.3333333333333, 676.6666666666666, 1000.0]
    """
    pieces = [np.linspace(a, b, int(np.ceil((b - a) / LONGEST_BIN_DAYS)) + 1)[:-1]
              for a, b in zip(edges[:-1], edges[1:], strict=True)]
    return np.concatenate([*pieces, edges[-1:]]).astype(np.float64)


def _interval_of_bin(edges: np.ndarray, bins: np.ndarray) -> np.ndarray:
    return np.searchsorted(edges, bins[:-1], side="right") - 1


def _by_interval(by_bin: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Values per life-table bin (last axis) summed into the hazard intervals."""
    starts = np.flatnonzero(np.diff(np.r_[-1, _interval_of_bin(edges, life_table_edges(edges))]))
    return np.add.reduceat(by_bin, starts, axis=-1)


@dataclass(frozen=True)
class LifeTablePlan:
    """Which event types of a process share one life table, and over which cells.

    Attributes
    ----------
    name : str
        Label of the table in the ledger and in :class:`~bayesgen.events.fit.ExactEventStatistics`.
    members : tuple of int
        Process-local indices of the event types whose exits are counted by kind.
    cell_event : int
        The member whose given groups index the table's cells (every other member's given groups
        are a subset of them).
    delayed_entry : bool
        Units may enter after their origin (``entry: latest``): entries are counted too.
    """

    name: str
    members: tuple[int, ...]
    cell_event: int
    delayed_entry: bool

    @property
    def n_kinds(self) -> int:
        """Counts per (cell, interval): one per member, one for other exits, one for entries."""
        return len(self.members) + 1 + int(self.delayed_entry)

    def shape(self, layout: EventLayout) -> tuple[int, ...]:
        return (*layout.shapes[self.cell_event][:-2], len(life_table_edges(layout.edges)) - 1, self.n_kinds)

    def sensitivity(self, units_per_person: int, pure: bool) -> int:
        """How much one person changes the table: L1 for pure DP, L2 for zCDP.

        Each unit adds one exit and at most one entry, so ``U`` units add ``U`` (plus ``U``
        entries): in the worst case all exits in one cell and all entries in another.
        """
        if not self.delayed_entry:
            return units_per_person
        return 2 * units_per_person if pure else int(math.ceil(units_per_person * math.sqrt(2)))


def _contains(layout: EventLayout, outer: int, inner: int) -> bool:
    """Whether event ``inner``'s given groups are among ``outer``'s, grouped the same way."""
    for name, mapping in zip(layout.given[inner], layout.group_of_code[inner], strict=True):
        if name not in layout.given[outer]:
            return False
        if not np.array_equal(mapping, layout.group_of_code[outer][layout.given[outer].index(name)]):
            return False
    return True


def life_table_plans(layout: EventLayout, process) -> list[LifeTablePlan]:
    """The life tables of ``process``: event types with one spell at risk and no history.

    All such terminal events share one table when one of them has every other's given groups (death
    and loss to follow-up in a survival process): they end the same spell. Each ``once`` event has
    its own table (its spell ends at its own occurrence). Other event types (recurrent ones, or
    those with an ``after`` history) keep measuring exposure directly.

    Examples
    --------
    >>> from bayesgen import Schema, Structure
    >>> from bayesgen.events.histories import horizon_days
    >>> from bayesgen.events.layout import build_layout
    >>> schema = Schema.load("schemas/simulacrum_v2_core.yaml")
    >>> structure = Structure.load("structures/simulacrum_v2_core.yaml")
    >>> survival = schema.events.processes[0]
    >>> layout = build_layout(schema, survival, structure.events, horizon_days(schema))
    >>> [(p.name, p.members, p.delayed_entry) for p in life_table_plans(layout, survival)]
    [('survival: DEATH+EXIT', (0, 1), True)]
    """
    single = [e for e in range(layout.n_events)
              if layout.kinds[e] in (TERMINAL, ONCE) and layout.shapes[e][-2] == 1]
    delayed = getattr(process, "entry", "origin") != "origin"
    plans = []
    terminal = [e for e in single if layout.kinds[e] == TERMINAL]
    finest = next((e for e in terminal if all(_contains(layout, e, other) for other in terminal)), None)
    all_terminal_single = len(terminal) == int(np.sum(layout.kinds == TERMINAL))
    if terminal and finest is not None and all_terminal_single:
        names = "+".join(layout.names[e] for e in terminal)
        plans.append(LifeTablePlan(f"{process.name}: {names}", tuple(terminal), finest, delayed))
    for e in single:
        if layout.kinds[e] == ONCE:
            plans.append(LifeTablePlan(f"{process.name}: {layout.names[e]}", (e,), e, delayed))
    return plans


def count_life_table(plan: LifeTablePlan, layout: EventLayout, data) -> np.ndarray:
    """The exact life table of ``plan`` over the units of ``data`` (a :class:`ProcessData`).

    A unit leaves at its first event of a member type (``once``) or at its end, counted under the
    member whose event ended it or under "other exit"; a unit entering after its origin is counted
    in the bin of its entry. Axes: ``(*groups, bin, kind)``.
    """
    table = np.zeros(plan.shape(layout), dtype=np.int64)
    n = data.n_units
    if n == 0:
        return table
    n_members = len(plan.members)
    exit_time = np.asarray(data.end, dtype=np.float64).copy()
    kind = np.full(n, n_members, dtype=np.int64)  # "other exit" unless a member's event ends the spell
    unit_of_event = np.repeat(np.arange(n), np.diff(data.unit_start))
    for slot, e in enumerate(plan.members):
        hits = np.flatnonzero(data.event_type == e)
        if not hits.size:
            continue
        units, first = np.unique(unit_of_event[hits], return_index=True)  # events are in time order
        if layout.kinds[e] == ONCE:
            exit_time[units] = data.event_time[hits[first]]
        kind[units] = slot
    cells = layout.cell_index(plan.cell_event, data.codes, n)
    bins = life_table_edges(layout.edges)
    n_bins = len(bins) - 1
    exit_bin = np.clip(np.searchsorted(bins, exit_time, side="right") - 1, 0, n_bins - 1)
    np.add.at(table, (*_group_index(cells, table.shape[:-2]), exit_bin, kind), 1)
    if plan.delayed_entry:
        late = np.flatnonzero(np.asarray(data.entry) > 0)
        entry_bin = np.clip(np.searchsorted(bins, data.entry[late], side="right") - 1, 0, n_bins - 1)
        np.add.at(table, (*_group_index(cells[late], table.shape[:-2]), entry_bin, n_members + 1), 1)
    return table


def _group_index(cells: np.ndarray, shape: tuple[int, ...]) -> tuple:
    """Flat cell numbers as one index array per group axis (none for a hazard with no given variable)."""
    return np.unravel_index(cells, shape) if shape else ()


def _exposure_weights(bins: np.ndarray) -> np.ndarray:
    """``W[b, b']``: days of exposure in bin ``b`` per net exit (exits minus entries) in bin ``b'``."""
    lengths = np.diff(bins)
    n = len(lengths)
    later = np.triu(np.ones((n, n)), k=1)  # b' > b: at risk for the whole of bin b
    return lengths[:, None] * (later + np.eye(n) / 2)


def exposure_days(table: np.ndarray, plan: LifeTablePlan, edges: np.ndarray) -> np.ndarray:
    """Actuarial exposure in days per hazard interval, shape ``(*groups, n_intervals)``, from a
    (noisy) life table of shape ``(*groups, bin, kind)``.

    Examples
    --------
    >>> plan = LifeTablePlan("toy", (0,), 0, False)
    >>> table = np.array([[[2, 1], [0, 3]]])   # one cell, two bins; [deaths, other exits]
    >>> exposure_days(table, plan, np.array([0.0, 10.0, 30.0])).tolist()   # 6 at risk, then 3
    [[45.0, 30.0]]
    """
    n_members = len(plan.members)
    table = np.asarray(table, dtype=np.float64)
    net = table[..., : n_members + 1].sum(axis=-1)
    if plan.delayed_entry:
        net = net - table[..., n_members + 1]
    return _by_interval(net @ _exposure_weights(life_table_edges(edges)).T, edges)


def events_by_interval(table: np.ndarray, plan: LifeTablePlan, member: int, edges: np.ndarray) -> np.ndarray:
    """One member's exits summed from bins to hazard intervals, shape ``(*groups, n_intervals)``."""
    return _by_interval(np.asarray(table[..., plan.members.index(member)], dtype=np.float64), edges)


def exposure_noise_sd(plan: LifeTablePlan, edges: np.ndarray, count_variance: float) -> np.ndarray:
    """Noise SD in days of one cell's reconstructed exposure, per hazard interval.

    The exposure is linear in the counts (:func:`exposure_days`); every count that enters the net
    exits of a bin carries independent noise of variance ``count_variance``.
    """
    bins = life_table_edges(edges)
    interval = _interval_of_bin(edges, bins)
    weights = np.zeros((len(edges) - 1, len(bins) - 1))
    np.add.at(weights, interval, _exposure_weights(bins))
    return np.sqrt(count_variance * plan.n_kinds * np.square(weights).sum(axis=1))


def events_noise_sd(plan: LifeTablePlan, edges: np.ndarray, count_variance: float) -> np.ndarray:
    """Noise SD of one cell's events per hazard interval (the interval's bins summed)."""
    interval = _interval_of_bin(edges, life_table_edges(edges))
    return np.sqrt(count_variance * np.bincount(interval, minlength=len(edges) - 1))


def member_statistics(table: np.ndarray, plan: LifeTablePlan, layout: EventLayout, member: int,
                      count_variance: float) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
    """Events and exposure (days) of one member event type in its own layout shape, with noise SDs.

    A member conditioned on fewer groups than the table's cells gets sums over the others; the
    noise SDs grow with the square root of the number of cells summed.
    """
    events = events_by_interval(table, plan, member, layout.edges)
    exposure = exposure_days(table, plan, layout.edges)
    outer = layout.given[plan.cell_event]
    inner = layout.given[member]
    summed = tuple(a for a, name in enumerate(outer) if name not in inner)
    n_summed = int(np.prod([events.shape[a] for a in summed])) if summed else 1
    if summed:
        events, exposure = events.sum(axis=summed), exposure.sum(axis=summed)
    kept = [name for name in outer if name in inner]
    order = [kept.index(name) for name in inner]
    events = np.transpose(events, (*order, len(order)))[..., None, :]
    exposure = np.transpose(exposure, (*order, len(order)))[..., None, :]
    # pooled_rates takes one SD for every events cell: the largest (the interval with most bins)
    events_sd = float(events_noise_sd(plan, layout.edges, count_variance).max()) * math.sqrt(n_summed)
    exposure_sd = exposure_noise_sd(plan, layout.edges, count_variance) * math.sqrt(n_summed)
    return events, exposure, events_sd, exposure_sd

