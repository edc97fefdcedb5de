"""The default path with the time-to-event module: every generated date is consistent, in every row.

Shipped Simulacrum schema and structure (whose ``events`` section hands VITALSTATUS,
VITALSTATUSDATE and DATE_FIRST_SURGERY to the events module), a simulated registry, ε = 1.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

import bayesgen as bg
from bayesgen.schema.check import check_tables

CUTOFF = pd.Timestamp("2021-12-31")
N = 20_000


@pytest.fixture(scope="module")
def fitted():
    schema = bg.Schema.load("schemas/simulacrum_v2_core.yaml")
    structure = bg.Structure.load("structures/simulacrum_v2_core.yaml")
    real = bg.datasets.simulate_registry(N, rng=0, full=False)
    model = bg.Synthesizer(schema, structure, epsilon=1.0).fit(real)
    return schema, structure, real, model


@pytest.fixture(scope="module")
def synthetic(fitted):
    return fitted[3].sample(N, rng=1)


def joined(tables):
    """Tumour rows with their patient's status, status date and latest diagnosis."""
    patients, tumours = tables["SIM_AV_PATIENT"], tables["SIM_AV_TUMOUR"]
    diagnosis = tumours.groupby("PATIENTID")["DIAGNOSISDATEBEST"]
    patients = patients.join(diagnosis.max().rename("LATEST"), on="PATIENTID").join(
        diagnosis.min().rename("FIRST"), on="PATIENTID")
    rows = tumours.merge(patients[["PATIENTID", "VITALSTATUS", "VITALSTATUSDATE"]], on="PATIENTID",
                         how="left", validate="many_to_one")
    return patients, rows


def test_the_events_module_wrote_the_event_columns(fitted, synthetic):
    _, _, real, model = fitted
    assert model.events_ is not None and set(model.events_.rates) == {"DEATH", "EXIT", "SURGERY"}
    patients, tumours = synthetic["SIM_AV_PATIENT"], synthetic["SIM_AV_TUMOUR"]
    assert len(patients) == N
    status = patients["VITALSTATUS"].value_counts()
    assert status["A"] > 0.2 * N and status["D"] > 0.2 * N and status["X"] > 0
    assert 0.1 < tumours["DATE_FIRST_SURGERY"].notna().mean() < 0.9


def test_surgery_is_between_its_diagnosis_and_the_patients_end(synthetic):
    _, rows = joined(synthetic)
    operated = rows[rows["DATE_FIRST_SURGERY"].notna()]
    assert len(operated) > 1000
    before_diagnosis = operated["DATE_FIRST_SURGERY"] < operated["DIAGNOSISDATEBEST"]
    assert not before_diagnosis.any(), operated[before_diagnosis].head()
    ended = operated["VITALSTATUS"].isin(["D", "X"])
    after_death = ended & (operated["DATE_FIRST_SURGERY"] > operated["VITALSTATUSDATE"])
    assert not after_death.any(), operated[after_death].head()
    assert not (operated["DATE_FIRST_SURGERY"] > CUTOFF).any()


def test_no_surgery_without_an_active_treatment_plan(synthetic):
    tumours = synthetic["SIM_AV_TUMOUR"]
    no_treatment = tumours["CANCERCAREPLANINTENT"] == "X"
    assert no_treatment.sum() > 100
    assert tumours.loc[no_treatment, "DATE_FIRST_SURGERY"].isna().all()


def test_status_date_between_the_latest_diagnosis_and_the_cutoff(synthetic):
    patients, _ = joined(synthetic)
    assert patients["VITALSTATUSDATE"].notna().all()
    before_latest = patients["VITALSTATUSDATE"] < patients["LATEST"]
    assert not before_latest.any(), patients[before_latest].head()
    assert not (patients["VITALSTATUSDATE"] > CUTOFF).any()
    # some patients with several tumours die: the latest-diagnosis rule is exercised
    several = patients["LATEST"] > patients["FIRST"]
    assert (several & patients["VITALSTATUS"].isin(["D", "X"])).sum() > 100


def test_alive_exactly_when_followed_to_the_cutoff(synthetic):
    patients = synthetic["SIM_AV_PATIENT"]
    status, date = patients["VITALSTATUS"], patients["VITALSTATUSDATE"]
    assert set(status.dropna().unique()) <= {"A", "D", "X"}  # nothing writes I
    alive = status == "A"
    assert (date[alive] == CUTOFF).all()
    # a death or exit on the cut-off day itself is a real date, as in registry data (and in the
    # simulator): allow those at the daily rate of the last two months, but no pile-up of deaths
    # clamped to the cut-off
    ended = ~alive
    on_cutoff = int((ended & (date == CUTOFF)).sum())
    last_days = ended & (date < CUTOFF) & (date >= CUTOFF - pd.Timedelta(days=60))
    per_day = last_days.sum() / 60
    assert per_day > 0.2
    # Poisson: 6 SD above the daily mean (plus 3 for small means) is never reached by chance
    assert on_cutoff <= per_day + 6 * np.sqrt(per_day) + 3, (on_cutoff, per_day)


def test_a_cause_of_death_exactly_for_the_dead(synthetic):
    patients = synthetic["SIM_AV_PATIENT"]
    dead = patients["VITALSTATUS"] == "D"
    has_cause = patients["DEATHCAUSECODE_UNDERLYING"].notna()
    assert (dead == has_cause).all(), int((dead != has_cause).sum())
    assert patients.loc[~dead, "DEATHLOCATIONCODE"].isna().all()


def test_the_sample_satisfies_the_schema(fitted, synthetic):
    schema, structure, _, _ = fitted
    assert check_tables(synthetic, schema) == []
    assert check_tables(synthetic, schema, structure) == []


def test_chunk_size_and_threads_do_not_change_the_tables(fitted, synthetic):
    model = fitted[3]
    for chunk_size, n_threads in [(3_000, None), (20_000, 1), (20_000, 2)]:
        other = model.sample(N, rng=1, chunk_size=chunk_size, n_threads=n_threads)
        for name in synthetic:
            pd.testing.assert_frame_equal(synthetic[name], other[name], obj=f"{name} {chunk_size} {n_threads}")


def test_different_seeds_give_different_event_dates(fitted, synthetic):
    other = fitted[3].sample(N, rng=2)
    assert not synthetic["SIM_AV_PATIENT"]["VITALSTATUSDATE"].equals(other["SIM_AV_PATIENT"]["VITALSTATUSDATE"])


def test_saved_model_keeps_the_hazards_and_samples_identically(fitted, tmp_path):
    model = fitted[3]
    model.save(tmp_path / "model.json")
    again = bg.Synthesizer.load(tmp_path / "model.json")
    assert again.events_ is not None and again.events_.horizon == model.events_.horizon
    for name, rate in model.events_.rates.items():
        assert np.array_equal(again.events_.rates[name], rate), name
    a, b = model.sample(5_000, rng=9), again.sample(5_000, rng=9)
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name])


def test_without_an_events_section_the_static_network_writes_the_columns(fitted):
    schema, structure, real, _ = fitted
    document = copy.deepcopy(structure.to_dict())
    del document["events"]
    for parent, child in [("AGE", "VITALSTATUS"), ("STAGE_BEST", "VITALSTATUS"),
                          ("VITALSTATUS", "VITALSTATUSDATE"), ("CANCERCAREPLANINTENT", "DATE_FIRST_SURGERY")]:
        document["edges"].append({"from": parent, "to": child})
    static = bg.Structure.from_dict(document, source="static")
    assert static.events is None
    static.validate_for(schema)
    model = bg.Synthesizer(schema, static, epsilon=1.0).fit(real)
    assert model.events_ is None
    assert not any(e["what"].startswith(("event counts", "exposure")) for e in model.ledger_["entries"])
    assert abs(model.ledger_["spent"] - 1.0) < 1e-9
    for node in ("VITALSTATUS", "VITALSTATUSDATE", "DATE_FIRST_SURGERY"):
        assert node in model.cpts_
    tables = model.sample(5_000, rng=3)
    assert len(tables["SIM_AV_PATIENT"]) == 5_000
    assert check_tables(tables, schema, static) == []
    assert tables["SIM_AV_PATIENT"]["VITALSTATUS"].isin(["A", "D", "X", "I"]).all()
    assert tables["SIM_AV_TUMOUR"]["DATE_FIRST_SURGERY"].notna().any()
