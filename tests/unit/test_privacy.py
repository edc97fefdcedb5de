"""The accountant and the OpenDP mechanisms: budgets, ledgers, overspending, noise scale."""

import math

import numpy as np
import pytest

from bayesgen import PrivacyAccountant, PrivacyBudgetError, Synthesizer
from bayesgen.params.allocation import allocate_budget
from bayesgen.privacy import LedgerEntry, epsilon_from_rho, noisy_counts, rho_for_epsilon_delta


def test_overspend_raises_and_records_nothing():
    accountant = PrivacyAccountant(epsilon=1.0)
    accountant.charge(LedgerEntry("first", "discrete laplace", 1, 1.25, 0.8))
    with pytest.raises(PrivacyBudgetError, match="would spend"):
        noisy_counts(np.array([5, 6]), sensitivity=1, budget=0.3, accountant=accountant, what="second")
    assert [e.what for e in accountant.entries] == ["first"]


def test_noise_costs_what_opendp_says_and_is_charged_before_release():
    accountant = PrivacyAccountant(epsilon=1.0)
    noisy_counts(np.arange(10), sensitivity=3, budget=0.25, accountant=accountant, what="x")
    entry = accountant.entries[0]
    assert entry.scale == pytest.approx(12.0)
    assert entry.cost <= 0.25 and entry.cost == pytest.approx(0.25)
    assert entry.n_values == 10 and entry.sensitivity == 3


def test_discrete_laplace_noise_has_the_claimed_spread():
    accountant = PrivacyAccountant(epsilon=1.0)
    noise = noisy_counts(np.zeros(20_000, dtype=int), sensitivity=1, budget=0.5, accountant=accountant,
                         what="spread") - 0
    t = 2.0  # scale = sensitivity / budget
    q = math.exp(-1 / t)
    variance = 2 * q / (1 - q) ** 2  # variance of the discrete Laplace with scale t
    # sample variance of 20k draws: relative sd ~ sqrt((kurtosis - 1) / n) < 0.025 here; 10 % tolerance is > 4 sd
    assert abs(noise.var() / variance - 1) < 0.10
    assert abs(noise.mean()) < 6 * math.sqrt(variance / len(noise))


def test_zcdp_budget_conversion_round_trips():
    rho = rho_for_epsilon_delta(1.0, 1e-6)
    assert epsilon_from_rho(rho, 1e-6) == pytest.approx(1.0, rel=1e-6)
    assert epsilon_from_rho(rho * 1.01, 1e-6) > 1.0


def test_infinite_epsilon_adds_no_noise_and_charges_nothing():
    accountant = PrivacyAccountant(epsilon=math.inf)
    counts = np.array([3, 0, 7])
    assert np.array_equal(noisy_counts(counts, sensitivity=1, budget=math.inf, accountant=accountant,
                                       what="exact"), counts)
    assert accountant.entries == []


@pytest.mark.parametrize("privacy,delta", [("pure", 0.0), ("zcdp", 1e-6)])
@pytest.mark.parametrize("allocation", ["uniform", "size"])
def test_fit_ledger_sums_to_the_declared_budget(toy_schema, toy_structure, toy_tables, privacy, delta, allocation):
    model = Synthesizer(toy_schema, toy_structure, epsilon=0.7, delta=delta, privacy=privacy,
                        allocation=allocation).fit(toy_tables)
    ledger = model.ledger_
    # the row counts that size the tables (pruning), then one measurement per family
    assert ledger["entries"][0]["what"].startswith("rows per table")
    assert len(ledger["entries"]) == 1 + len(toy_structure.nodes)
    assert sum(e["cost"] for e in ledger["entries"]) == pytest.approx(ledger["budget"], rel=1e-9)
    assert sum(e["cost"] for e in ledger["entries"]) <= ledger["budget"] * (1 + 1e-9)
    assert ledger["epsilon_spent"] == pytest.approx(0.7, rel=1e-6)


def test_sensitivity_reflects_the_contribution_bound(toy_schema, toy_structure, toy_tables):
    model = Synthesizer(toy_schema, toy_structure, epsilon=1.0).fit(toy_tables)
    by_node = {e["what"].split()[2]: e["sensitivity"] for e in model.ledger_["entries"]}
    assert by_node["SITE"] == 2 and by_node["AGE"] == 2  # tumour table: max_rows_per_parent = 2
    assert by_node["SEX"] == 1 and by_node["DEAD"] == 1 and by_node["NT"] == 1
    assert model.bounding_report_["T"] > 0  # the toy data has up to 3 tumours per patient


def test_fits_are_noisy_at_finite_epsilon_and_exact_at_infinity(toy_schema, toy_structure, toy_tables):
    noisy = [Synthesizer(toy_schema, toy_structure, epsilon=1.0).fit(toy_tables).cpts_["AGE"].probabilities
             for _ in range(2)]
    exact = [Synthesizer(toy_schema, toy_structure, epsilon=math.inf).fit(toy_tables).cpts_["AGE"].probabilities
             for _ in range(2)]
    assert not np.array_equal(noisy[0], noisy[1])
    assert np.array_equal(exact[0], exact[1])


def test_schema_category_absent_from_data_still_gets_noise(toy_schema, toy_structure, toy_tables):
    # no tumour of the data has site C509: its cells are measured anyway (the domain is the schema's)
    tables = {k: v.copy() for k, v in toy_tables.items()}
    tables["T"].loc[tables["T"]["SITE"] == "C509", "SITE"] = "C61X"
    positive = 0
    for _ in range(20):
        model = Synthesizer(toy_schema, toy_structure, epsilon=1.0).fit(tables)
        entry = next(e for e in model.ledger_["entries"] if e["what"].startswith("counts of SITE"))
        assert entry["n_values"] == 2 * 3  # SEX states x SITE states, from the schema
        positive += model.cpts_["SITE"].probabilities[0, 1] > 0  # P(C509 | male)
    # with noise of scale ~ 10 a zero count turns positive in about half the fits; all 20 zero has p < 1e-5
    assert positive > 0


def test_allocation_never_exceeds_total():
    shares = allocate_budget(1.0, [7, 3000, 12, 45], [1, 3, 1, 3], "size", "zcdp")
    assert shares.sum() <= 1.0 and shares.min() > 0
