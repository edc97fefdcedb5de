"""Hazards of event types whose occurrences are table rows are calibrated to a measured total."""

from __future__ import annotations

import math

import numpy as np
import pytest

import bayesgen as bg
from bayesgen.events.calibrate import CALIBRATION_SEED, calibrated_events
from bayesgen.params.cpt import tilt_to_mean


@pytest.fixture(scope="module")
def fitted():
    schema = bg.Schema.load("schemas/simulacrum_v2.yaml")
    truth = bg.datasets.simulate_registry(20_000, rng=3)
    return truth, bg.Synthesizer(schema, epsilon=1.0).fit(truth)


def test_the_events_that_are_rows_are_calibrated_and_others_are_not():
    names = [e.name for e in calibrated_events(bg.Schema.load("schemas/simulacrum_v2.yaml"))]
    assert names == ["REGIMEN", "RADIOTHERAPY"]  # not DEATH (terminal), not SURGERY (a date, no table)
    assert calibrated_events(bg.Schema.load("schemas/gbsg2.yaml")) == []


def test_the_totals_are_one_ledger_line_with_the_summed_sensitivity(fitted):
    _, model = fitted
    lines = [e for e in model.ledger_["entries"] if e["what"].startswith("totals of REGIMEN, RADIOTHERAPY")]
    assert len(lines) == 1
    # one patient: one row of SIM_AV_PATIENT, at most 4 regimens and 3 radiotherapy episodes
    assert lines[0]["sensitivity"] == 1 + 4 + 3 and lines[0]["n_values"] == 3
    assert model.ledger_["spent"] == pytest.approx(1.0)


def test_calibration_brings_rows_per_patient_to_the_targets():
    """Asked for 30 % more regimens and 20 % fewer radiotherapy episodes than the reference model
    (the simulator's ground truth) makes, the calibrated model makes them: on 100,000 fresh synthetic
    patients (another seed than the calibration's) each ratio is within 2.5 % of its target.

    Why sound: about 43,000 regimens and 20,000 episodes, so the Monte Carlo error of each ratio is
    under 1 % (a little over-dispersed Poisson), the calibration's own run adds as much again and
    stops within 0.5 %: 2.5 % is about three standard errors. Without calibration the ratios are
    30 % and 20 % off.
    """
    from bayesgen.datasets.simulate import reference_model
    from bayesgen.events.calibrate import calibrate_event_rates

    model = reference_model()
    before = model.sample(100_000, rng=CALIBRATION_SEED)
    made = {"REGIMEN": len(before["SIM_SACT_REGIMEN"]) / 100_000, "RADIOTHERAPY": len(before["SIM_RTDS_EPISODE"]) / 100_000}
    targets = {"REGIMEN": 1.3 * made["REGIMEN"], "RADIOTHERAPY": 0.8 * made["RADIOTHERAPY"]}
    factors = calibrate_event_rates(model, targets)
    assert factors["REGIMEN"] > 1.25 and factors["RADIOTHERAPY"] < 0.85
    after = model.sample(100_000, rng=CALIBRATION_SEED + 1)
    assert len(after["SIM_SACT_REGIMEN"]) / 100_000 == pytest.approx(targets["REGIMEN"], rel=0.025)
    assert len(after["SIM_RTDS_EPISODE"]) / 100_000 == pytest.approx(targets["RADIOTHERAPY"], rel=0.025)


def test_a_private_fit_records_its_targets_and_factors(fitted):
    _, model = fitted
    assert set(model.event_targets_) <= {"REGIMEN", "RADIOTHERAPY"}
    assert set(model.event_calibration_) == set(model.event_targets_)
    assert all(f > 0 for f in model.event_calibration_.values())


def test_calibration_can_be_turned_off_and_costs_nothing_then():
    schema = bg.Schema.load("schemas/simulacrum_v2.yaml")
    model = bg.Synthesizer(schema, epsilon=1.0, calibrate_events=False).fit(bg.datasets.simulate_registry(2_000, rng=1))
    assert model.event_calibration_ == {} and model.event_targets_ == {}
    assert not any(e["what"].startswith("totals of") for e in model.ledger_["entries"])
    assert model.ledger_["spent"] == pytest.approx(1.0)


def test_noiseless_targets_are_the_real_rows_per_patient():
    schema = bg.Schema.load("schemas/simulacrum_v2.yaml")
    truth = bg.datasets.simulate_registry(5_000, rng=4)
    model = bg.Synthesizer(schema, epsilon=math.inf).fit(truth)
    patients = len(truth["SIM_AV_PATIENT"])
    assert model.event_targets_["REGIMEN"] == pytest.approx(len(truth["SIM_SACT_REGIMEN"]) / patients)
    assert model.event_targets_["RADIOTHERAPY"] == pytest.approx(len(truth["SIM_RTDS_EPISODE"]) / patients)


def test_tilt_keeps_zeros_and_meets_the_weighted_mean():
    p = np.array([[0.7, 0.2, 0.1, 0.0], [0.1, 0.2, 0.3, 0.4]])
    weights = np.array([3.0, 1.0])
    tilted = tilt_to_mean(p, weights, 1.0)
    assert tilted[0, 3] == 0.0 and np.allclose(tilted.sum(axis=1), 1.0)
    assert (weights * (tilted * np.arange(4)).sum(axis=1)).sum() / weights.sum() == pytest.approx(1.0, abs=1e-9)
    # out of reach: as far as the tilt goes (all mass on the highest allowed state)
    assert tilt_to_mean(p, weights, 5.0)[0].argmax() == 2


def test_a_count_table_has_the_mean_of_its_raw_noisy_counts():
    """A count variable's CPT, weighted by its measured parent totals, has the mean count of its raw
    noisy counts (the tilt is exact up to the bisection's precision)."""
    from bayesgen.params.cpt import ConditionalTable
    from bayesgen.params.fit import _count_mean_restored

    rng = np.random.default_rng(0)
    noisy = rng.integers(-20, 200, size=(6, 5)).astype(np.int64)
    table = ConditionalTable("N", ("A",), np.full((6, 5), 0.2))
    restored = _count_mean_restored(table, noisy)
    raw_mean = (noisy.sum(axis=0) * np.arange(5)).sum() / noisy.sum()
    weights = np.maximum(noisy.sum(axis=1), 0)
    mean = (weights * (restored.probabilities * np.arange(5)).sum(axis=1)).sum() / weights.sum()
    assert mean == pytest.approx(raw_mean, abs=1e-9)
