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
    bits: np.ndarray
    table: np.ndarray
    table_start: np.ndarray


def alias_bits(card: int) -> int:
    """log2 of the number of alias columns of a node with ``card`` states (the next power of two)."""
    return max(int(card) - 1, 0).bit_length()


def alias_rows(probabilities: np.ndarray) -> tuple[int, np.ndarray]:
    """The alias tables of every row of a CPT: ``(bits, entries)``, ``2**bits`` packed entries per row.

    Each row is first turned into whole numbers summing to ``2**(bits + 32)``
    (:func:`bayesgen.sampling.kernels.integer_weights`: a state with probability 0 gets exactly 0, a
    positive one at least 1), and the sampler draws each state with exactly that share
    (:func:`bayesgen.sampling.kernels.alias_tables`), which differs from the CPT's probability by
    at most ``2**-32`` (a state with probability 0 is never drawn).
    """
    card = probabilities.shape[-1]
    bits = alias_bits(card)
    rows = np.ascontiguousarray(probabilities.reshape(-1, card), dtype=np.float64)
    return bits, kernels.alias_tables(kernels.integer_weights(rows, bits), bits)


def alias_probabilities(bits: int, entries: np.ndarray) -> np.ndarray:
    """What alias tables draw: per table, each column's probability as a whole number of ``2**-(bits + 32)``.

    The inverse of :func:`alias_rows` (for tests): one row per table, ``2**bits`` columns (the
    columns past the node's last state must come out 0).
    """
    columns = 1 << bits
    entries = entries.reshape(-1, columns)
    own = (entries & np.uint64(0xFFFFFFFF)).astype(np.int64)  # v < threshold: the column's own state
    alias = (entries >> np.uint64(32)).astype(np.int64)
    out = np.zeros((len(entries), columns), dtype=np.int64)
    rows = np.broadcast_to(np.arange(len(entries))[:, None], entries.shape)
    np.add.at(out, (rows, np.broadcast_to(np.arange(columns), entries.shape)), own)
    np.add.at(out, (rows, alias), (1 << 32) - own)
    return out


def compile_phase(nodes, cpts: dict) -> CompiledPhase:
    """Compile the CPTs of ``nodes`` (in sampling order); parents outside ``nodes`` become external."""
    position = {n: i for i, n in enumerate(nodes)}
    external: list[str] = []
    card, parent_from_external, parent_row, parent_stride, parent_start = [], [], [], [], [0]
    bits, table_parts, table_start, offset = [], [], [], 0
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
        node_bits, entries = alias_rows(table.probabilities)
        bits.append(node_bits)
        table_parts.append(entries)
        table_start.append(offset)
        offset += len(entries)
    return CompiledPhase(
        nodes=tuple(nodes), external_nodes=tuple(external), card=np.asarray(card, dtype=np.int64),
        parent_from_external=np.asarray(parent_from_external, dtype=np.bool_),
        parent_row=np.asarray(parent_row, dtype=np.int64), parent_stride=np.asarray(parent_stride, dtype=np.int64),
        parent_start=np.asarray(parent_start, dtype=np.int64), bits=np.asarray(bits, dtype=np.int64),
        table=np.concatenate(table_parts) if table_parts else np.zeros(0, dtype=np.uint64),
        table_start=np.asarray(table_start, dtype=np.int64))


def run_phase(phase: CompiledPhase, n_rows: int, key: np.uint64, row_offset: int = 0,
              external: np.ndarray | None = None, block: int = DEFAULT_BLOCK) -> np.ndarray:
    """Sample ``n_rows`` rows of a compiled phase; returns int16 codes of shape (n_nodes, n_rows)."""
    out = np.empty((len(phase.nodes), n_rows), dtype=np.int16)
    if external is None:
        external = np.zeros((max(len(phase.external_nodes), 1), n_rows), dtype=np.int16)
    if len(phase.nodes) and n_rows:
        kernels.sample_codes(out, np.ascontiguousarray(external, dtype=np.int16), phase.bits,
                             phase.parent_from_external, phase.parent_row, phase.parent_stride,
                             phase.parent_start, phase.table, phase.table_start, np.uint64(key),
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
