"""The numba ancestral sampler: positional determinism, zero-probability states, chunk/thread invariance."""

import numba
import numpy as np
import pandas as pd
import pytest

from bayesgen import Synthesizer
from bayesgen.params import ConditionalTable
from bayesgen.sampling import kernels, sample_ancestral
from bayesgen.sampling.ancestral import alias_probabilities, alias_rows


def chain_cpts():
    a = ConditionalTable("A", (), np.array([0.2, 0.0, 0.8]))
    # many states (64 alias columns, 24 past the last state); state 0 and the last state are impossible
    probabilities = np.zeros((3, 40))
    probabilities[:, 1:39] = np.random.default_rng(0).dirichlet(np.ones(38), size=3)
    b = ConditionalTable("B", ("A",), probabilities)
    c = ConditionalTable("C", ("A", "B"), np.broadcast_to(np.array([0.5, 0.5, 0.0]), (3, 40, 3)).copy())
    return {"A": a, "B": b, "C": c}


def test_row_offset_gives_the_same_rows():
    cpts = chain_cpts()
    whole = sample_ancestral(cpts, ["A", "B", "C"], 5000, rng=11)
    tail = sample_ancestral(cpts, ["A", "B", "C"], 3000, rng=11, row_offset=2000)
    for node in whole:
        assert np.array_equal(whole[node][2000:], tail[node])


def test_zero_probability_states_are_never_drawn():
    codes = sample_ancestral(chain_cpts(), ["A", "B", "C"], 200_000, rng=1)
    assert not (codes["A"] == 1).any()
    assert not np.isin(codes["B"], [0, 39]).any()
    assert not (codes["C"] == 2).any()


@pytest.mark.parametrize("card", [1, 2, 3, 8, 9, 40, 300, 32_000])
def test_alias_tables_draw_exactly_the_integer_weights(card):
    """The alias tables give every state exactly its whole-number weight out of 2**(bits + 32), a
    zero-probability state (or a column past the last state) nothing, and the weights are within
    2**-32 of the CPT's probabilities."""
    rng = np.random.default_rng(card)
    p = rng.dirichlet(np.full(card, 0.5), size=12)
    p[:, 1::3] = 0.0
    p[0] = 0.0
    p[0, -1] = 1.0  # one certain state
    if card > 2:
        p[1] = 0.0
        p[1, :2] = [1 - 1e-300, 1e-300]  # a tiny but positive probability is still possible
    p /= p.sum(axis=1, keepdims=True)
    bits, entries = alias_rows(p)
    assert 2**bits >= card > 2 ** (bits - 1) or card == 1
    weights = kernels.integer_weights(np.ascontiguousarray(p), bits)
    drawn = alias_probabilities(bits, entries)
    assert (weights.sum(axis=1) == 2 ** (bits + 32)).all()
    assert np.array_equal(drawn[:, :card], weights) and not drawn[:, card:].any()
    assert np.array_equal(weights > 0, p > 0)
    assert np.abs(weights / 2.0 ** (bits + 32) - p).max() <= 2.0**-32


@pytest.mark.parametrize("threads", [1, 2])
def test_block_size_and_threads_do_not_change_codes(threads):
    cpts = chain_cpts()
    reference = sample_ancestral(cpts, ["A", "B", "C"], 50_000, rng=5, block=50_000)
    previous = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        other = sample_ancestral(cpts, ["A", "B", "C"], 50_000, rng=5, block=333)
    finally:
        numba.set_num_threads(previous)
    for node in reference:
        assert np.array_equal(reference[node], other[node])


def test_multitable_output_identical_for_chunk_sizes_and_threads(toy_schema, toy_structure, toy_tables):
    model = Synthesizer(toy_schema, toy_structure, epsilon=1.0).fit(toy_tables)
    reference = model.sample(30_000, rng=42, chunk_size=1_000_000, n_threads=1)
    for chunk_size, threads in [(10_000, 1), (10_000, 2), (1_000_000, 2), (7_777, 2)]:
        other = model.sample(30_000, rng=42, chunk_size=chunk_size, n_threads=threads)
        for name in reference:
            pd.testing.assert_frame_equal(reference[name], other[name])


def test_different_seeds_differ(toy_schema, toy_structure, toy_tables):
    model = Synthesizer(toy_schema, toy_structure, epsilon=1.0).fit(toy_tables)
    a, b = model.sample(2000, rng=1), model.sample(2000, rng=2)
    assert not a["T"].equals(b["T"])
