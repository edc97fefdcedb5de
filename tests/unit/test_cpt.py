"""Post-processing of noisy counts into CPTs: projection, hierarchical pooling, fallbacks, masks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from bayesgen.params.cpt import cpt_from_counts, project_to_total

finite = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(values=arrays(np.float64, st.integers(1, 40), elements=finite), total=st.floats(0.5, 1e5))
def test_projection_is_feasible_and_closest(values, total):
    projected = project_to_total(values, total)
    assert (projected >= 0).all()
    assert projected.sum() == pytest.approx(total, rel=1e-9, abs=1e-6)
    # Euclidean projection onto a convex set: no other feasible point is closer. Random feasible
    # points (scaled Dirichlet draws) and the point nearest to values along each axis are checked.
    distance = np.linalg.norm(projected - values)
    rng = np.random.default_rng(0)
    others = rng.dirichlet(np.ones(values.size), size=200) * total
    assert (np.linalg.norm(others - values, axis=1) >= distance - 1e-6 * max(1.0, total)).all()


def test_projection_removes_positive_noise_from_empty_cells():
    # a sparse histogram (one true cell of 1,000) with noise: clipping keeps every positive draw,
    # projection onto the known total puts (almost) all mass back on the true cell
    rng = np.random.default_rng(1)
    true = np.zeros(500)
    true[3] = 1000
    noisy = true + rng.laplace(0, 10, size=500)
    clipped_share = np.clip(noisy, 0, None)[3] / np.clip(noisy, 0, None).sum()
    projected_share = project_to_total(noisy, 1000.0)[3] / 1000.0
    assert clipped_share < 0.5 < 0.9 < projected_share


def test_no_noise_gives_the_maximum_likelihood_table():
    counts = np.array([[[8, 2], [1, 3]], [[0, 5], [6, 6]]], dtype=float)
    table, fallbacks = cpt_from_counts("X", ("A", "B"), counts)
    np.testing.assert_allclose(table.probabilities, counts / counts.sum(axis=-1, keepdims=True))
    assert fallbacks == 0


def test_an_empty_row_falls_back_to_its_row_without_the_last_parent():
    # P(X | A=1, B=1) has no counts: it must become P(X | A=1) = (6 + 0, 2 + 0) / 8, not the
    # marginal P(X) = (20, 12) / 32
    counts = np.array([[[10, 0], [4, 10]], [[6, 2], [0, 0]]], dtype=float)
    table, fallbacks = cpt_from_counts("X", ("A", "B"), counts)
    np.testing.assert_allclose(table.probabilities[1, 1], [0.75, 0.25])
    assert fallbacks == 1


def test_all_empty_falls_back_to_uniform_over_allowed_values():
    mask = np.array([[True, True, False], [True, True, True]])
    table, fallbacks = cpt_from_counts("X", ("A",), np.zeros((2, 3)), mask)
    np.testing.assert_allclose(table.probabilities, [[0.5, 0.5, 0.0], [1 / 3, 1 / 3, 1 / 3]])
    assert fallbacks == 2


def test_forbidden_cells_get_no_probability_even_when_the_pooled_row_has_mass_there():
    counts = np.array([[50.0, 50.0], [0.0, 3.0]])
    mask = np.array([[True, True], [True, False]])  # A=1 forbids X=1
    table, _ = cpt_from_counts("X", ("A",), counts, mask, noise_sd=5.0)
    assert table.probabilities[1, 1] == 0.0
    assert table.probabilities[1, 0] == 1.0


def test_pooling_weight_follows_the_noise():
    # row A=1 has 20 counts on X=0; the pooled row is dominated by A=0 (mostly X=1)
    counts = np.array([[100.0, 900.0], [20.0, 0.0]])
    own = [cpt_from_counts("X", ("A",), counts, noise_sd=sd)[0].probabilities[1, 0]
           for sd in (0.0, 1.0, 10.0, 100.0)]
    assert own[0] == 1.0
    assert all(a > b for a, b in zip(own, own[1:], strict=False))  # more noise, more pooling
    # 20 counts against noise sd 100 (pseudo-count 141): mostly the pooled marginal, itself
    # (120 + 200 * 0.5) / 1220 after its own pooling towards uniform
    pooled_marginal = (120 + 200 * 0.5) / 1220
    pseudo = 100 * np.sqrt(2)
    assert own[-1] == pytest.approx((20 + pseudo * pooled_marginal) / (20 + pseudo))
    # when everything is noise, every level pools towards uniform
    everything_noise = cpt_from_counts("X", ("A",), counts, noise_sd=1e9)[0]
    assert everything_noise.probabilities[1, 0] == pytest.approx(0.5)
    # shrinkage = 0 turns pooling off whatever the noise
    unpooled = cpt_from_counts("X", ("A",), counts, noise_sd=100.0, shrinkage=0.0)[0]
    assert unpooled.probabilities[1, 0] == 1.0


def test_coarser_rows_are_sums_of_the_unbiased_counts():
    # the fine table was projected (negatives gone); the empty row's pooled row must come from the
    # raw sums (30 - 0, -20 + 10) -> clipped (30, 0), not from the projected sums (10, 10)
    raw = np.array([[30.0, -20.0], [0.0, 10.0], [0.0, 0.0]])
    projected = np.array([[10.0, 0.0], [0.0, 10.0], [0.0, 0.0]])
    from_raw, _ = cpt_from_counts("X", ("A",), projected, unbiased_counts=raw)
    from_projected, _ = cpt_from_counts("X", ("A",), projected)
    np.testing.assert_allclose(from_raw.probabilities[2], [1.0, 0.0])
    np.testing.assert_allclose(from_projected.probabilities[2], [0.5, 0.5])


@settings(max_examples=100, deadline=None)
@given(counts=arrays(np.float64, (3, 2, 4), elements=finite), noise_sd=st.floats(0, 1e3))
def test_every_row_is_a_distribution(counts, noise_sd):
    table, _ = cpt_from_counts("X", ("A", "B"), counts, noise_sd=noise_sd, unbiased_counts=counts)
    assert (table.probabilities >= 0).all()
    np.testing.assert_allclose(table.probabilities.sum(axis=-1), 1.0)
