"""Nothing about the domain is read from the data: neighbouring datasets give models of identical shape.

Two datasets differ in one patient who carries a value seen nowhere else (a code of a patient
column that no other patient has). Fitted with the same structure, the two model files must agree on everything except the
noisy probabilities: the schema (code sets, bounds, bin edges), the structure, every CPT's parents
and shape, every ledger entry's description, mechanism, sensitivity, scale and cost, and the
categories the sampler can emit. A synthesizer that takes a domain from the data fails this test
(the patient's unique value would appear or disappear).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import bayesgen as bg


@pytest.fixture(scope="module")
def neighbours():
    schema = bg.Schema.load("simulacrum_v2_core")
    tables = bg.datasets.simulate_registry(400, rng=3, full=False)
    patients, tumours = tables["SIM_AV_PATIENT"], tables["SIM_AV_TUMOUR"]
    # a patient column, free of constraints, with a code that no patient has
    constrained = {c.antecedent.column for c in schema.constraints} | {c.consequent.column for c in schema.constraints}
    column, unseen = None, []
    for candidate in schema.tables["SIM_AV_PATIENT"].modelled_columns:
        if candidate.type != "categorical" or candidate.name in constrained:
            continue
        present = set(patients[candidate.name].dropna().astype(str))
        unseen = [c for c in candidate.categories if c not in present]
        if unseen:
            column = candidate.name
            break
    assert column, "every code of every free patient column occurs: use fewer patients"
    # the canary: the first patient, given that code
    canary = patients["PATIENTID"].iloc[0]
    with_canary = {"SIM_AV_PATIENT": patients.copy(), "SIM_AV_TUMOUR": tumours.copy()}
    with_canary["SIM_AV_PATIENT"].loc[0, column] = unseen[0]
    without = {"SIM_AV_PATIENT": patients[patients["PATIENTID"] != canary].reset_index(drop=True),
               "SIM_AV_TUMOUR": tumours[tumours["PATIENTID"] != canary].reset_index(drop=True)}
    return schema, with_canary, without, column, unseen[0]


def _model_body(schema, tables, tmp_path, name):
    structure = bg.Structure.load("structures/simulacrum_v2_compact.yaml")
    model = bg.Synthesizer(schema, structure, epsilon=1.0).fit(tables)
    path = tmp_path / f"{name}.json"
    model.save(path)
    return model, json.loads(path.read_text())


def test_neighbouring_datasets_give_models_of_identical_shape(neighbours, tmp_path):
    schema, with_canary, without, column, unseen = neighbours
    model_a, body_a = _model_body(schema, with_canary, tmp_path, "a")
    model_b, body_b = _model_body(schema, without, tmp_path, "b")
    assert body_a["schema"] == body_b["schema"]  # code sets, bounds and bin edges: declared only
    assert body_a["structure"] == body_b["structure"]
    assert body_a["settings"] == body_b["settings"]
    for node, cpt in body_a["cpts"].items():
        assert cpt["parents"] == body_b["cpts"][node]["parents"]
        assert cpt["shape"] == body_b["cpts"][node]["shape"]
    strip = ("what", "mechanism", "sensitivity", "scale", "cost", "n_values")
    entries_a = [{k: e[k] for k in strip} for e in body_a["privacy"]["entries"]]
    entries_b = [{k: e[k] for k in strip} for e in body_b["privacy"]["entries"]]
    assert entries_a == entries_b
    # only the noisy values differ
    differs = sum(not np.allclose(body_a["cpts"][n]["probabilities"], body_b["cpts"][n]["probabilities"])
                  for n in body_a["cpts"])
    assert differs > 0
    # the categories the sampler can emit are the schema's, in both models
    sample_a = model_a.sample(300, rng=1)["SIM_AV_PATIENT"][column]
    sample_b = model_b.sample(300, rng=1)["SIM_AV_PATIENT"][column]
    assert isinstance(sample_a.dtype, pd.CategoricalDtype)
    assert list(sample_a.cat.categories) == list(sample_b.cat.categories)
    assert unseen in list(sample_a.cat.categories)


def test_the_canary_value_gets_noise_in_both_models(neighbours, tmp_path):
    # the cell of the unseen code is measured (and noised) whether or not anyone has it
    schema, with_canary, without, column, unseen = neighbours
    declared = schema.tables["SIM_AV_PATIENT"].column(column)
    code = list(declared.categories).index(unseen)
    structure = bg.Structure.load("structures/simulacrum_v2_compact.yaml")
    for tables in (with_canary, without):
        ledger = bg.Synthesizer(schema, structure, epsilon=1.0).fit(tables).ledger_
        entry = next(e for e in ledger["entries"] if e["what"].split(" | ")[0] == f"counts of {column}")
        assert entry["n_values"] % declared.n_states == 0 and declared.n_states > code
