"""Multi-table sampling of codes: persons, then each person's child rows, then person-level outcomes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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
    """Codes of one chunk: per variable, aligned on its table's rows (outcomes on root rows)."""

    codes: dict[str, np.ndarray]
    n_rows: dict[str, int]
    parent_row: dict[str, np.ndarray]
    index_row: dict[str, np.ndarray]


def sample_before_outcomes(plan: RegistryPlan, schema, n_persons: int, keys: np.ndarray, person_offset: int,
                           child_offsets: dict[str, int], block: int) -> SampledCodes:
    """Sample one chunk of persons and their child rows (every phase but the outcomes).

    Row positions, and so the random streams, are global: ``child_offsets`` gives, per child table,
    how many child rows all earlier chunks produced. Each person's child rows are contiguous.
    """
    codes: dict[str, np.ndarray] = {}
    n_rows = {schema.root_table: n_persons}
    parent_row: dict[str, np.ndarray] = {}
    index_row: dict[str, np.ndarray] = {}
    for (name, phase), key in zip(plan.phases, keys, strict=True):
        if name == "outcome":
            continue
        if name == "root":
            out = run_phase(phase, n_persons, key, person_offset, block=block)
        else:
            table = schema.tables[name]
            counts = codes[table.count_variable].astype(np.int64) + table.min_rows_per_parent
            rows = np.repeat(np.arange(n_persons, dtype=np.int64), counts)
            starts = np.cumsum(counts) - counts
            parent_row[name] = rows
            index_row[name] = np.where(counts > 0, starts, -1)
            n_rows[name] = len(rows)
            external = [codes[node][rows] for node in phase.external_nodes]
            out = run_phase(phase, len(rows), key, child_offsets.get(name, 0),
                            np.vstack(external) if external else None, block=block)
        codes.update(zip(phase.nodes, out, strict=True))
    return SampledCodes(codes, n_rows, parent_row, index_row)


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
