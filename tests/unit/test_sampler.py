"""The numba ancestral sampler: positional determinism, zero-probability states, chunk/thread invariance."""

import numba
import numpy as np
import pandas as pd
import pytest

from bayesgen import Synthesizer
from bayesgen.params import ConditionalTable
from bayesgen.sampling import sample_ancestral
from bayesgen.sampling.ancestral import cumulative_rows


def chain_cpts():
    a = ConditionalTable("A", (), np.array([0.2, 0.0, 0.8]))
    # many states, to use the binary search path; state 0 and the last state are impossible
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


def test_cumulative_rows_end_exactly_at_one_from_the_last_positive_state():
    cdf = cumulative_rows(np.array([[0.1, 0.2, 0.7 - 1e-17, 0.0], [1 / 3, 1 / 3, 1 / 3, 0.0]]))
    assert cdf.reshape(2, 4)[:, 2:].tolist() == [[1.0, 1.0], [1.0, 1.0]]


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
