"""Every evaluation metric on hand-computed cases."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

import bayesgen as bg
from bayesgen.evaluate.association import cramers_v, spearman_matrix
from bayesgen.evaluate.marginals import code_distances, combinations, total_variation
from bayesgen.evaluate.persons import person_schema, person_view
from bayesgen.evaluate.privacy_metrics import (
    distance_to_closest,
    membership_auc,
    privacy_summary,
    row_matrix,
)
from bayesgen.evaluate.rows import split_persons
from bayesgen.evaluate.specs import SurvivalSpec, TargetSpec
from bayesgen.evaluate.survival import km_distance, survival_times
from bayesgen.evaluate.utility import one_hot, target_labels, tstr
from bayesgen.schema.tables import Table

pytest.importorskip("sklearn")
pytest.importorskip("lifelines")


# -- marginals -----------------------------------------------------------------------------------
def test_tvd_of_known_distributions():
    assert total_variation(np.array([1, 1]), np.array([1, 0])) == 0.5
    assert total_variation(np.array([5, 0, 0]), np.array([0, 0, 7])) == 1.0
    assert total_variation(np.array([2, 2, 4]), np.array([1, 1, 2])) == 0.0  # shares, not counts
    # (0.2, 0.3, 0.5) against (0.5, 0.3, 0.2): 0.5 * (0.3 + 0 + 0.3)
    assert total_variation(np.array([2, 3, 5]), np.array([5, 3, 2])) == pytest.approx(0.3)


def test_two_way_tvd_hand_computed():
    real = {"a": np.array([0, 0, 1, 1]), "b": np.array([0, 1, 0, 1])}
    synthetic = {"a": np.array([0, 0, 1, 1]), "b": np.array([0, 0, 1, 1])}
    distances = code_distances(real, synthetic, {"a": 2, "b": 2}, ["a", "b"], 2)
    # real joint: 1/4 each; synthetic: (0,0) 1/2, (1,1) 1/2 -> 0.5 * (1/4 + 1/4 + 1/4 + 1/4)
    assert distances == {("a", "b"): 0.5}
    assert code_distances(real, synthetic, {"a": 2, "b": 2}, ["a", "b"], 1) == {("a",): 0.0, ("b",): 0.0}


def test_three_way_subset_is_fixed_and_data_independent():
    names = [f"c{i}" for i in range(20)]
    first = combinations(names, 3, max_combinations=50, seed=0)
    assert first == combinations(names, 3, max_combinations=50, seed=0)
    assert len(set(first)) == 50 and all(len(c) == 3 for c in first)
    assert len(combinations(names, 3, max_combinations=None)) == math.comb(20, 3)


# -- associations --------------------------------------------------------------------------------
def test_cramers_v_hand_computed():
    a = np.repeat([0, 0, 1, 1], [8, 2, 2, 8])
    b = np.repeat([0, 1, 0, 1], [8, 2, 2, 8])
    # 2x2 table [[8, 2], [2, 8]]: chi2 = 20 (64 - 4)^2 / 10^4 = 7.2, V = sqrt(7.2 / 20) = 0.6
    assert cramers_v(a, b, 2, 2) == pytest.approx(0.6)
    assert cramers_v(a, a, 2, 2) == pytest.approx(1.0)
    assert cramers_v(a, np.zeros_like(a), 2, 2) == 0.0  # constant column
    assert cramers_v(np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1]), 2, 2) == 0.0


def test_spearman_leaves_missing_out_pairwise():
    codes = {"x": np.array([0, 1, 2, 3, 9]), "y": np.array([1, 2, 3, 4, 0])}
    matrix = spearman_matrix(codes, {"x": 9, "y": None}, ["x", "y"])
    assert matrix[0, 1] == pytest.approx(1.0)  # the row with x missing is left out


# -- survival ------------------------------------------------------------------------------------
def test_km_distance_hand_computed():
    events = np.ones(4, dtype=bool)
    real = (np.array([1.0, 2.0, 3.0, 4.0]), events)
    shifted = (np.array([2.0, 3.0, 4.0, 5.0]), events)
    assert km_distance(real, real)["km_sup"] == 0.0
    result = km_distance(real, shifted)
    # horizon: the smaller 95th percentile of follow-up, 3.85; the curves differ by 1/4 from t = 1 on
    assert result["horizon_days"] == pytest.approx(3.85)
    assert result["km_sup"] == pytest.approx(0.25)
    assert result["km_mean_abs"] == pytest.approx(0.25 * (3.85 - 1.0) / 3.85)


def test_survival_from_dates_uses_the_index_tumour():
    schema = bg.Schema.load("schemas/simulacrum_v2_core.yaml")
    tables = bg.datasets.simulate_registry(200, rng=3, full=False)
    spec = bg.evaluate.preset_for("simulacrum_v2")[0]
    times, events = survival_times(tables, schema, spec)
    patients, tumours = tables["SIM_AV_PATIENT"], tables["SIM_AV_TUMOUR"]
    first = pd.to_datetime(tumours.groupby("PATIENTID")["DIAGNOSISDATEBEST"].min())
    expected = (pd.to_datetime(patients["VITALSTATUSDATE"]) - first.reindex(patients["PATIENTID"]).to_numpy()).dt.days
    assert np.array_equal(times, expected.to_numpy(dtype=float)[expected.to_numpy() >= 0])
    assert events.sum() == (patients["VITALSTATUS"].astype(str) == "D").sum()


def test_target_labels_leave_early_censoring_out():
    frame = pd.DataFrame({"T": [100, 100, 500, 500], "E": [1, 0, 1, 0]})
    spec = TargetSpec("dead in 1y", survival=SurvivalSpec("X", event="E", event_values=(1,), duration="T"),
                      horizon=365)
    labels = target_labels({"X": frame}, None, spec)
    assert labels[0] == 1.0 and np.isnan(labels[1]) and labels[2] == 0.0 and labels[3] == 0.0


def test_specs_need_a_definition():
    with pytest.raises(ValueError):
        SurvivalSpec("X", event="E", event_values=("1",))
    with pytest.raises(ValueError):
        TargetSpec("t")


# -- utility -------------------------------------------------------------------------------------
def test_tstr_equals_trtr_when_synthetic_is_the_training_data():
    schema = bg.Schema.load("schemas/gbsg2.yaml")
    train, holdout = split_persons(bg.datasets.load_gbsg2(), schema, 0.3, rng=0)
    result = tstr(train, train, schema, bg.evaluate.preset_for("gbsg2")[1], holdout=holdout)
    assert result["auc_tstr"] == pytest.approx(result["auc_trtr"])
    assert 0.5 < result["auc_trtr"] < 1.0 and result["test_set"] == "holdout"


def test_one_hot_uses_declared_sizes():
    matrix = one_hot({"a": np.array([1]), "b": np.array([0])}, {"a": 3, "b": 2}).toarray()
    assert matrix.tolist() == [[0.0, 1.0, 0.0, 1.0, 0.0]]


# -- privacy -------------------------------------------------------------------------------------
TABLE = Table.from_dict("T", {"primary_key": "id", "columns": [
    {"name": "id", "type": "id"},
    {"name": "sex", "type": "categorical", "categories": ["1", "2"]},
    {"name": "age", "type": "integer", "min": 0, "max": 100, "bins": [0, 50, 101], "missing": True}]})


def test_row_encoding_distances():
    frame = pd.DataFrame({"id": [1, 2, 3, 4], "sex": ["1", "2", "1", "1"],
                          "age": pd.array([0, 100, 50, None], dtype="Int64")})
    x = row_matrix(frame, TABLE)
    # two columns, each at most 1 in squared distance; divided by sqrt(2)
    assert np.linalg.norm(x[0] - x[1]) == pytest.approx(1.0)
    assert np.linalg.norm(x[0] - x[2]) == pytest.approx(math.sqrt(0.25 / 2))  # age 0 vs 50: 0.5
    # missing age against age 0: (0.5 - 0)^2 + 0.5 = 0.75
    assert np.linalg.norm(x[0] - x[3]) == pytest.approx(math.sqrt(0.75 / 2))


def test_dcr_of_copied_rows_is_zero_and_exact_matches_are_counted():
    rng = np.random.default_rng(0)
    train = rng.random((300, 5))
    holdout = rng.random((100, 5))
    summary = privacy_summary(train, train[:150].copy(), holdout)
    assert summary["exact_match_rate"] == 1.0
    assert summary["dcr_synthetic_median"] == 0.0 and summary["dcr_synthetic_p5"] == 0.0
    assert summary["nndr_synthetic_median"] == 0.0
    assert summary["exact_match_rate_holdout"] == 0.0 and summary["dcr_holdout_median"] > 0
    assert summary["dcr_share_below_holdout_p5"] == 1.0
    assert distance_to_closest(train, train[:3] + np.array([0.3, 0.4, 0, 0, 0])).tolist() == pytest.approx(
        [0.5, 0.5, 0.5], abs=0.5)


def test_membership_attack_on_copies_and_on_fresh_data():
    rng = np.random.default_rng(1)
    train, holdout = rng.random((400, 4)), rng.random((400, 4))
    assert membership_auc(train, holdout, synthetic=train.copy()) == 1.0
    fresh = membership_auc(train, holdout, synthetic=rng.random((400, 4)))
    assert 0.4 < fresh < 0.6


def test_nndr_of_a_row_between_two_real_rows():
    train = np.array([[0.0], [1.0], [10.0]])
    summary = privacy_summary(train, np.array([[0.25]]))
    assert summary["dcr_synthetic_median"] == 0.25
    assert summary["nndr_synthetic_median"] == pytest.approx(0.25 / 0.75)


# -- person view ---------------------------------------------------------------------------------
def test_person_view_takes_the_first_tumour_and_counts_rows():
    schema = bg.Schema.load("schemas/simulacrum_v2_core.yaml")
    tables = bg.datasets.simulate_registry(300, rng=1, full=False)
    view = person_view(tables, schema)["PERSONS"]
    tumours = tables["SIM_AV_TUMOUR"]
    first = tumours.sort_values(["PATIENTID", "DIAGNOSISDATEBEST", "TUMOURID"]).drop_duplicates("PATIENTID")
    assert np.array_equal(pd.to_datetime(view["DIAGNOSISDATEBEST"]).to_numpy(),
                          pd.to_datetime(first.set_index("PATIENTID").loc[view["PATIENTID"], "DIAGNOSISDATEBEST"]
                                         ).to_numpy())
    assert view["N_TUMOURS"].tolist() == tumours.groupby("PATIENTID").size().loc[view["PATIENTID"]].tolist()
    assert set(person_schema(schema).variables) == set(schema.variables)


# -- the report ----------------------------------------------------------------------------------
def test_evaluate_of_identical_data_and_json():
    schema = bg.Schema.load("schemas/gbsg2.yaml")
    data = bg.datasets.load_gbsg2()
    train, holdout = split_persons(data, schema, 0.2, rng=0)
    report = bg.evaluate(train, train, schema, holdout=holdout)
    fidelity = report.tables["GBSG2"]["fidelity"]
    assert fidelity["mean_tvd_1way"] == fidelity["mean_tvd_2way"] == fidelity["mean_tvd_3way"] == 0.0
    assert report.survival["km_sup"] == 0.0
    assert report.tables["GBSG2"]["association"]["max_abs_diff_cramer"] == 0.0
    assert report.tables["GBSG2"]["privacy"]["exact_match_rate"] == 1.0
    assert report.utility["auc_tstr"] == pytest.approx(report.utility["auc_trtr"])
    assert not report.not_applicable
    body = json.loads(json.dumps(report.to_dict()))
    assert body["tables"]["GBSG2"]["fidelity"]["mean_tvd_2way"] == 0.0
    assert "| GBSG2 |" in report.to_markdown()


def test_metrics_without_a_spec_are_recorded_as_not_applicable(toy_schema, toy_tables):
    report = bg.evaluate(toy_tables, toy_tables, toy_schema, ways=(1, 2))
    assert report.survival is None and report.utility is None
    assert "no survival outcome declared" in report.not_applicable["survival (Kaplan–Meier)"]
    assert "no target declared" in report.not_applicable["TSTR"]
    assert "no holdout" in report.not_applicable["holdout baselines and membership inference"]
    assert set(report.tables) == {"P", "T", "PERSONS"}


def test_explicit_specs_override_the_preset(toy_schema, toy_tables):
    survival = SurvivalSpec("P", event="DEAD", event_values=("D",), start="DIAG", end="VSDATE")
    report = bg.evaluate(toy_tables, toy_tables, toy_schema, survival=survival, target=None, ways=(1,))
    assert report.survival["km_sup"] == 0.0 and report.survival["n_real"] == len(toy_tables["P"])


def test_package_is_callable_and_keeps_its_functions():
    assert callable(bg.evaluate) and bg.evaluate.fidelity_summary is bg.evaluate.marginals.fidelity_summary
    assert bg.Report is bg.evaluate.Report


def test_one_way_tvd_matches_sdmetrics():
    sdmetrics = pytest.importorskip("sdmetrics.single_column")
    schema = bg.Schema.load("schemas/gbsg2.yaml")
    data = bg.datasets.load_gbsg2()["GBSG2"]
    other = data.sample(frac=1.0, replace=True, random_state=3).reset_index(drop=True)
    other["patient_id"] = range(1, len(other) + 1)
    report = bg.evaluate({"GBSG2": data}, {"GBSG2": other}, schema, ways=(1,), privacy=False, survival=None,
                         target=None)
    panel = {p["column"]: p["tvd"] for p in report.plots["tables"]["GBSG2"]["marginals"]}
    for column in ("horTh", "menostat", "tgrade"):
        assert panel[column] == pytest.approx(1 - sdmetrics.TVComplement.compute(data[column], other[column]))
