"""Without noise, the fit recovers the ground-truth CPTs of the simulated registry.

200,000 simulated patients are fitted at epsilon = infinity with the true structure. For each CPT
row (parent configuration) seen n times, every cell's estimate is compared with the true
probability. By Hoeffding's inequality P(|p_hat - p| > t) <= 2 exp(-2 n t^2) for one cell; with
t = sqrt(log(2 M / alpha) / (2 n)), where M is the number of cells tested, the union bound makes the
probability that any cell anywhere exceeds its tolerance at most alpha = 0.001. That is the test's
false-failure rate, with no asymptotic approximation. Rows with n < 50 are skipped (their
tolerance exceeds 0.2 and says little). A wrong parent order, a mis-joined parent or an index row
taken from the wrong tumour moves well-populated rows by far more than t.
"""

import math

import numpy as np
import pytest

from bayesgen import Synthesizer
from bayesgen.datasets import reference_model, simulate_registry
from bayesgen.params.counts import family_counts
from bayesgen.params.fit import families, family_data
from bayesgen.schema.encode import encode_tables

ALPHA = 1e-3
MIN_ROWS = 50


@pytest.fixture(scope="module")
def recovery():
    truth = reference_model(full=False)
    tables = simulate_registry(200_000, rng=2026, full=False)
    fitted = Synthesizer(truth.schema, truth.structure_, epsilon=math.inf).fit(tables)
    encoded = encode_tables(tables, truth.schema)
    rows_seen = {}
    for family in families(truth.schema, truth.structure_):
        counts = family_counts(family_data(family, encoded, truth.schema), list(family.shape))
        rows_seen[family.node] = counts.reshape(-1, family.shape[-1]).sum(axis=1)
    return truth, fitted, rows_seen


def test_every_cpt_is_within_sampling_error_of_the_truth(recovery):
    truth, fitted, rows_seen = recovery
    n_cells = sum(int((seen >= MIN_ROWS).sum()) * truth.cpts_[node].card for node, seen in rows_seen.items())
    failures, tested_rows = [], 0
    for node, seen in rows_seen.items():
        card = truth.cpts_[node].card
        true_rows = truth.cpts_[node].probabilities.reshape(-1, card)
        fitted_rows = fitted.cpts_[node].probabilities.reshape(-1, card)
        for index in np.flatnonzero(seen >= MIN_ROWS):
            tolerance = math.sqrt(math.log(2 * n_cells / ALPHA) / (2 * seen[index]))
            error = np.abs(fitted_rows[index] - true_rows[index]).max()
            tested_rows += 1
            if error > tolerance:
                failures.append((node, int(index), int(seen[index]), float(error), tolerance))
    assert tested_rows > 500
    assert not failures, f"{len(failures)} CPT rows outside tolerance, e.g. {failures[:5]}"


def test_impossible_cells_stay_impossible_in_observed_rows(recovery):
    truth, fitted, rows_seen = recovery
    for node, table in truth.cpts_.items():
        card = table.card
        observed = rows_seen[node] > 0
        impossible = table.probabilities.reshape(-1, card)[observed] == 0
        assert (fitted.cpts_[node].probabilities.reshape(-1, card)[observed][impossible] == 0).all(), node
