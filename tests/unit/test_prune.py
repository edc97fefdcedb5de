"""Sizing the conditional tables to their noise (bayesgen.params.prune): what is dropped, what is
kept, what it costs, and that the pruned counts are exactly the counts of the pruned structure."""

from __future__ import annotations

import math

import numpy as np
import pytest

import bayesgen as bg
from bayesgen.params.fit import exact_family_counts, families
from bayesgen.params.prune import noise_scale, prune_to_noise, required_edges
from bayesgen.privacy.accountant import PrivacyAccountant
from bayesgen.schema.encode import encode_tables

SCHEMA = bg.Schema.load("schemas/simulacrum_v2_core.yaml")
STRUCTURE = bg.Structure.load("structures/simulacrum_v2_core.yaml")


@pytest.fixture(scope="module")
def exact():
    encoded = encode_tables(bg.datasets.simulate_registry(3_000, rng=0, full=False), SCHEMA)
    return encoded, exact_family_counts(encoded, SCHEMA, STRUCTURE)


def test_noise_scale_by_hand():
    assert noise_scale(3, 0.5, "pure") == 6.0  # discrete Laplace scale = sensitivity / epsilon
    assert noise_scale(2, 2.0, "zcdp") == 1.0  # discrete Gaussian sigma = sensitivity / sqrt(2 rho)


def test_every_family_left_is_theta_useful_or_has_only_constraint_parents(exact):
    _, counts = exact
    theta = 4.0
    pruned = prune_to_noise(STRUCTURE, SCHEMA, counts, PrivacyAccountant(1.0), 0.01, 0.99, theta=theta)
    required = required_edges(SCHEMA)
    variables = SCHEMA.variables
    assert pruned.dropped and set(pruned.dropped) <= set(STRUCTURE.edges)
    assert not set(pruned.dropped) & required  # constraint edges are never dropped
    assert set(pruned.structure.edges) == set(STRUCTURE.edges) - set(pruned.dropped)
    for family in families(SCHEMA, pruned.structure):
        cells = family.n_cells
        optional = [p for p in family.parents if (p, family.node) not in required]
        assert cells <= pruned.cell_limits[family.node] or not optional, family.node
        # and it was not pruned further than needed: putting back the first dropped parent breaks the limit
        gone = [p for p, node in pruned.dropped if node == family.node]
        if gone:
            back = cells * variables[gone[-1]].n_states
            assert back > pruned.cell_limits[family.node], family.node


def test_last_listed_parents_go_first(exact):
    _, counts = exact
    pruned = prune_to_noise(STRUCTURE, SCHEMA, counts, PrivacyAccountant(1.0), 0.01, 0.99)
    required = required_edges(SCHEMA)
    for node in {node for _, node in pruned.dropped}:
        optional = [p for p in STRUCTURE.parents(node) if (p, node) not in required]
        gone = [p for p, n in pruned.dropped if n == node]
        assert optional[len(optional) - len(gone):] == sorted(gone, key=optional.index), node


def test_pruned_counts_are_exactly_the_counts_of_the_pruned_structure(exact):
    encoded, counts = exact
    pruned = prune_to_noise(STRUCTURE, SCHEMA, counts, PrivacyAccountant(1.0), 0.01, 0.99)
    direct = exact_family_counts(encoded, SCHEMA, pruned.structure)
    assert sorted(pruned.counts.counts) == sorted(direct.counts)
    for node, table in direct.counts.items():
        np.testing.assert_array_equal(pruned.counts.counts[node], table, err_msg=node)


def test_a_large_budget_prunes_nothing_and_a_tiny_one_keeps_only_constraint_edges(exact):
    _, counts = exact
    generous = prune_to_noise(STRUCTURE, SCHEMA, counts, PrivacyAccountant(1e6), 1e4, 1e6 - 1e4)
    assert generous.dropped == []
    stingy = prune_to_noise(STRUCTURE, SCHEMA, counts, PrivacyAccountant(1e-3), 1e-5, 1e-3 - 1e-5)
    assert set(stingy.structure.edges) <= required_edges(SCHEMA)


def test_the_row_counts_are_charged_with_the_sensitivity_of_all_tables(exact):
    _, counts = exact
    accountant = PrivacyAccountant(1.0)
    prune_to_noise(STRUCTURE, SCHEMA, counts, accountant, 0.01, 0.99)
    (entry,) = accountant.entries
    # one person changes the patient count by 1 and the tumour count by up to 3 (max_rows_per_parent)
    assert entry.sensitivity == 1 + 3 and entry.n_values == 2
    assert entry.cost == pytest.approx(0.01)
    zcdp = PrivacyAccountant(1.0, 1e-6, "zcdp")
    prune_to_noise(STRUCTURE, SCHEMA, counts, zcdp, 0.001, 0.01)
    assert zcdp.entries[0].sensitivity == math.ceil(math.sqrt(1 + 3**2))


def test_synthesizer_prunes_by_default_spends_exactly_epsilon_and_saves_the_pruned_structure(tmp_path):
    data = bg.datasets.simulate_registry(2_000, rng=0, full=False)
    model = bg.Synthesizer(SCHEMA, STRUCTURE, epsilon=1.0).fit(data)
    assert model.pruned_edges_
    assert model.ledger_["spent"] == pytest.approx(1.0)
    assert model.ledger_["entries"][0]["what"].startswith("rows per table")
    assert set(model.structure_.edges) == set(STRUCTURE.edges) - set(model.pruned_edges_)
    model.save(tmp_path / "model.json")
    loaded = bg.Synthesizer.load(tmp_path / "model.json")
    assert loaded.structure_.edges == model.structure_.edges
    assert len(loaded.sample(100, rng=0)["SIM_AV_PATIENT"]) == 100


def test_no_pruning_when_asked_or_without_noise():
    data = bg.datasets.simulate_registry(1_000, rng=0, full=False)
    given = bg.Synthesizer(SCHEMA, STRUCTURE, epsilon=1.0, prune=None).fit(data)
    assert given.pruned_edges_ == [] and given.structure_.edges == STRUCTURE.edges
    assert not any(e["what"].startswith("rows per table") for e in given.ledger_["entries"])
    exact_fit = bg.Synthesizer(SCHEMA, STRUCTURE, epsilon=math.inf).fit(data)
    assert exact_fit.pruned_edges_ == [] and exact_fit.structure_.edges == STRUCTURE.edges
    with pytest.raises(ValueError, match="prune"):
        bg.Synthesizer(SCHEMA, STRUCTURE, epsilon=1.0, prune=0).fit(data)
