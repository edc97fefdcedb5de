"""Multi-table sampling of codes: persons, their rows down the table tree, then person-level outcomes,
then the tables whose rows the time-to-event module creates (and the tables below them)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bayesgen.params.fit import aligned_codes
from bayesgen.sampling.ancestral import CompiledPhase, compile_phase, run_phase


@dataclass(frozen=True, eq=False)
class RegistryPlan:
    """The compiled phases of a fitted model, in sampling order."""

    phases: tuple[tuple[str, CompiledPhase], ...]

    @classmethod
    def compile(cls, schema, structure, cpts) -> RegistryPlan:
        return cls(tuple((name, compile_phase(nodes, cpts)) for name, nodes in structure.phases(schema)))

    @property
    def n_streams(self) -> int:
        return len(self.phases)


@dataclass
class SampledCodes:
    """Codes of one chunk: per variable, aligned on its table's rows (outcomes on root rows).

    ``parent_row[t]`` gives each row of table ``t`` its parent table's row, ``index_row[t]`` each
    parent row its first row of ``t`` (-1: none) and ``person_row[t]`` each row its person.
    ``blocks[t]`` is ``(array, nodes)``: the codes of child table ``t``'s phase, one row per node, of
    which ``codes`` holds views (so that its rows can be moved in one pass).
    """

    codes: dict[str, np.ndarray]
    n_rows: dict[str, int]
    parent_row: dict[str, np.ndarray]
    index_row: dict[str, np.ndarray]
    person_row: dict[str, np.ndarray] = field(default_factory=dict)
    blocks: dict[str, tuple[np.ndarray, tuple[str, ...]]] = field(default_factory=dict)


def _rows_per_parent(table, sampled: SampledCodes, event_counts: dict | None) -> np.ndarray:
    n_parent = sampled.n_rows[table.parent.table]
    if table.count_variable:
        return sampled.codes[table.count_variable].astype(np.int64) + table.min_rows_per_parent
    if table.rows_from_event:
        return np.asarray(event_counts[table.name], dtype=np.int64)
    return np.full(n_parent, table.max_rows_per_parent, dtype=np.int64)


def _sample_table(name: str, phase: CompiledPhase, key, schema, sampled: SampledCodes, offsets: dict[str, int],
                  block: int, event_counts: dict | None = None) -> None:
    """Lay out the rows of child table ``name`` under its parent rows and sample its phase (in place)."""
    table = schema.tables[name]
    counts = _rows_per_parent(table, sampled, event_counts)
    rows = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    starts = np.cumsum(counts) - counts
    sampled.parent_row[name] = rows
    sampled.index_row[name] = np.where(counts > 0, starts, -1)
    sampled.person_row[name] = sampled.person_row[table.parent.table][rows]
    sampled.n_rows[name] = len(rows)
    external = [aligned_codes(node, name, sampled, schema) for node in phase.external_nodes]
    out = run_phase(phase, len(rows), key, offsets.get(name, 0), np.vstack(external) if external else None,
                    block=block)
    sampled.codes.update(zip(phase.nodes, out, strict=True))
    sampled.blocks[name] = (out, phase.nodes)


def sample_before_outcomes(plan: RegistryPlan, schema, n_persons: int, keys: np.ndarray, person_offset: int,
                           child_offsets: dict[str, int], block: int) -> SampledCodes:
    """Sample one chunk of persons and the rows of every table that does not wait for the events.

    Row positions, and so the random streams, are global: ``child_offsets`` gives, per child table,
    how many rows all earlier chunks produced. Each parent's child rows are contiguous.
    """
    sampled = SampledCodes({}, {schema.root_table: n_persons}, {}, {},
                           {schema.root_table: np.arange(n_persons, dtype=np.int64)})
    for (name, phase), key in zip(plan.phases, keys, strict=True):
        if name == "outcome" or (name != "root" and schema.event_driven(name)):
            continue
        if name == "root":
            out = run_phase(phase, n_persons, key, person_offset, block=block)
            sampled.codes.update(zip(phase.nodes, out, strict=True))
        else:
            _sample_table(name, phase, key, schema, sampled, child_offsets, block)
    return sampled


def sample_outcomes(plan: RegistryPlan, schema, sampled: SampledCodes, keys: np.ndarray, person_offset: int,
                    block: int) -> None:
    """Sample the person-level outcome nodes, conditioned on each person's index child row (in place).

    ``sampled.index_row`` must already point at each person's first row in ``order_by`` order.
    """
    variables = schema.variables
    n_persons = sampled.n_rows[schema.root_table]
    for (name, phase), key in zip(plan.phases, keys, strict=True):
        if name != "outcome":
            continue
        external = []
        for node in phase.external_nodes:
            table = variables[node].table
            codes = sampled.codes[node]
            external.append(codes if table == schema.root_table else codes[sampled.index_row[table]])
        out = run_phase(phase, n_persons, key, person_offset, np.vstack(external) if external else None,
                        block=block)
        sampled.codes.update(zip(phase.nodes, out, strict=True))


def sample_after_events(plan: RegistryPlan, schema, sampled: SampledCodes, keys: np.ndarray,
                        child_offsets: dict[str, int], event_counts: dict[str, np.ndarray], block: int) -> None:
    """Sample the tables whose rows are event occurrences (``event_counts``: rows per parent row), and
    the tables below them, in place."""
    for (name, phase), key in zip(plan.phases, keys, strict=True):
        if name in ("root", "outcome") or not schema.event_driven(name):
            continue
        _sample_table(name, phase, key, schema, sampled, child_offsets, block, event_counts)
