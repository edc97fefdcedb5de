"""Ancestral sampling over compiled CPTs: one phase (a set of nodes over the same rows) at a time."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bayesgen.rng import RandomState, stream_keys
from bayesgen.sampling import kernels

DEFAULT_BLOCK = 2048


@dataclass(frozen=True, eq=False)
class CompiledPhase:
    """Flattened CPT arrays of one phase, ready for the numba kernel.

    ``external_nodes`` are parents sampled in earlier phases; their codes are supplied row-aligned.
    """

    nodes: tuple[str, ...]
    external_nodes: tuple[str, ...]
    card: np.ndarray
    parent_from_external: np.ndarray
    parent_row: np.ndarray
    parent_stride: np.ndarray
    parent_start: np.ndarray
    cdf: np.ndarray
    cdf_start: np.ndarray


def cumulative_rows(probabilities: np.ndarray) -> np.ndarray:
    """Row-wise cumulative sums, with every entry from a row's last positive state on set to exactly 1.

    That makes a uniform in [0, 1) never select a zero-probability state, whatever the rounding.
    """
    card = probabilities.shape[-1]
    rows = probabilities.reshape(-1, card)
    cdf = np.cumsum(rows, axis=1)
    last_positive = card - 1 - np.argmax(rows[:, ::-1] > 0, axis=1)
    cdf[np.arange(card)[None, :] >= last_positive[:, None]] = 1.0
    return cdf.ravel()


def compile_phase(nodes, cpts: dict) -> CompiledPhase:
    """Compile the CPTs of ``nodes`` (in sampling order); parents outside ``nodes`` become external."""
    position = {n: i for i, n in enumerate(nodes)}
    external: list[str] = []
    card, parent_from_external, parent_row, parent_stride, parent_start = [], [], [], [], [0]
    cdf_parts, cdf_start, offset = [], [], 0
    for node in nodes:
        table = cpts[node]
        strides = np.cumprod((1,) + tuple(reversed(table.parent_cards)))[:-1][::-1]
        for parent, stride in zip(table.parents, strides, strict=True):
            if parent in position and position[parent] < position[node]:
                parent_from_external.append(False)
                parent_row.append(position[parent])
            elif parent in position:
                raise ValueError(f"{parent} must be sampled before its child {node}")
            else:
                if parent not in external:
                    external.append(parent)
                parent_from_external.append(True)
                parent_row.append(external.index(parent))
            parent_stride.append(int(stride))
        parent_start.append(len(parent_row))
        card.append(table.card)
        cdf_parts.append(cumulative_rows(table.probabilities))
        cdf_start.append(offset)
        offset += table.n_cells
    return CompiledPhase(
        nodes=tuple(nodes), external_nodes=tuple(external), card=np.asarray(card, dtype=np.int64),
        parent_from_external=np.asarray(parent_from_external, dtype=np.bool_),
        parent_row=np.asarray(parent_row, dtype=np.int64), parent_stride=np.asarray(parent_stride, dtype=np.int64),
        parent_start=np.asarray(parent_start, dtype=np.int64),
        cdf=np.concatenate(cdf_parts) if cdf_parts else np.zeros(0),
        cdf_start=np.asarray(cdf_start, dtype=np.int64))


def run_phase(phase: CompiledPhase, n_rows: int, key: np.uint64, row_offset: int = 0,
              external: np.ndarray | None = None, block: int = DEFAULT_BLOCK) -> np.ndarray:
    """Sample ``n_rows`` rows of a compiled phase; returns int16 codes of shape (n_nodes, n_rows)."""
    out = np.empty((len(phase.nodes), n_rows), dtype=np.int16)
    if external is None:
        external = np.zeros((max(len(phase.external_nodes), 1), n_rows), dtype=np.int16)
    if len(phase.nodes) and n_rows:
        kernels.sample_codes(out, np.ascontiguousarray(external, dtype=np.int16), phase.card,
                             phase.parent_from_external, phase.parent_row, phase.parent_stride,
                             phase.parent_start, phase.cdf, phase.cdf_start, np.uint64(key),
                             np.int64(row_offset), np.int64(block))
    return out


def sample_ancestral(cpts: dict, order, n_rows: int, rng: RandomState = None, row_offset: int = 0,
                     block: int = DEFAULT_BLOCK) -> dict[str, np.ndarray]:
    """Sample codes of a single-table Bayesian network.

    Parameters
    ----------
    cpts : dict of str to ConditionalTable
    order : sequence of str
        A topological order of the nodes.
    n_rows : int
    rng : int, Generator or None
        Seeds the stream key; the same seed gives the same codes for any ``row_offset`` split.

    Examples
    --------
    >>> from bayesgen.params import ConditionalTable
    >>> cpts = {"A": ConditionalTable("A", (), np.array([0.3, 0.7])),
    ...         "B": ConditionalTable("B", ("A",), np.array([[1.0, 0.0], [0.0, 1.0]]))}
    >>> codes = sample_ancestral(cpts, ["A", "B"], 1000, rng=0)
    >>> bool((codes["A"] == codes["B"]).all())
    True
    """
    phase = compile_phase(tuple(order), cpts)
    if phase.external_nodes:
        raise ValueError(f"parents missing from the order: {phase.external_nodes}")
    key = stream_keys(rng, 1)[0]
    out = run_phase(phase, n_rows, key, row_offset, block=block)
    return dict(zip(phase.nodes, out, strict=True))
