"""OMOP CDM v5.4 export on a hand-made three-patient registry whose every output value is known."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import bayesgen as bg
from bayesgen.errors import BayesgenError, DataValidationError
from bayesgen.export.omop import OMOP_COLUMNS, export_omop
from bayesgen.tables import read_tables, write_tables

D = pd.Timestamp

# -- the registry ------------------------------------------------------------------------------------
# Patient 101: male, two tumours (breast 2015 with surgery, prostate 2017), two SACT regimens, died 2018.
# Patient 102: female, one lung tumour 2016, one SACT regimen, alive. Patient 103: sex unknown, one
# tumour of unknown primary 2019, one radiotherapy episode (one prescription, three exposures), died.


def _patients() -> pd.DataFrame:
    return pd.DataFrame({
        "PATIENTID": [101, 102, 103], "GENDER": ["1", "2", "9"], "ETHNICITY": ["A", "M", None],
        "DEATHCAUSECODE_UNDERLYING": ["C509", None, "C809"], "VITALSTATUS": ["D", "A", "D"],
        "VITALSTATUSDATE": [D("2018-06-30"), D("2021-12-31"), D("2019-02-01")], "LINKNUMBER": [9001, 9002, 9003]})


def _tumours() -> pd.DataFrame:
    return pd.DataFrame({
        "TUMOURID": [11, 12, 21, 31], "PATIENTID": [101, 101, 102, 103],
        "DIAGNOSISDATEBEST": [D("2015-03-01"), D("2017-01-10"), D("2016-05-05"), D("2019-01-01")],
        "SITE_ICDO3REV2011": ["C509", "C61X", "C341", "C809"], "MORPH_ICDO3REV2011": ["8500", "8140", "8046", "8000"],
        "BEHAVIOUR_ICDO3REV2011": ["3", "3", "3", "9"], "T_BEST": ["2", "X", "IS", None],
        "N_BEST": ["1A", None, "0", None], "M_BEST": ["0", None, "1", None], "STAGE_BEST": ["2B", None, "4", None],
        "GRADE": ["G2", "GX", None, None], "ER_STATUS": ["P", None, None, None], "PR_STATUS": ["N", None, None, None],
        "HER2_STATUS": ["X", None, None, None], "AGE": [70, 72, 50, 85],
        "DATE_FIRST_SURGERY": [D("2015-04-01"), pd.NaT, pd.NaT, pd.NaT]})


def _treatments() -> dict[str, pd.DataFrame]:
    regimen = pd.DataFrame({
        "MERGED_REGIMEN_ID": [1, 2, 3], "ENCORE_PATIENT_ID": [None, None, None], "LINK_NUMBER": [9001, 9002, 9001],
        "INTENT_OF_TREATMENT": ["C", "C", "P"], "DATE_DECISION_TO_TREAT": [D("2015-04-20"), D("2016-05-20"), pd.NaT],
        "START_DATE_OF_REGIMEN": [D("2015-05-01"), D("2016-06-01"), D("2017-02-01")],
        "MAPPED_REGIMEN": ["AC", "CARBOPLATIN + PEMETREXED", "DOCETAXEL"]})
    cycle = pd.DataFrame({"MERGED_CYCLE_ID": [10, 11, 20, 30], "MERGED_REGIMEN_ID": [1, 1, 2, 3],
                          "CYCLE_NUMBER": [1, 2, 1, 1],
                          "START_DATE_OF_CYCLE": [D("2015-05-01"), D("2015-05-22"), D("2016-06-01"), D("2017-02-01")]})
    drug = pd.DataFrame({"MERGED_DRUG_DETAIL_ID": [100, 101, 102, 200, 300], "MERGED_CYCLE_ID": [10, 10, 11, 20, 30],
                         "ACTUAL_DOSE_PER_ADMINISTRATION": [60.0, 600.0, 60.0, 500.0, 75.0],
                         "ADMINISTRATION_ROUTE": ["1", "2", "1", "1", "99"],
                         "ADMINISTRATION_DATE": [D("2015-05-01"), D("2015-05-01"), D("2015-05-22"), pd.NaT,
                                                 D("2017-02-01")],
                         "DRUG_GROUP": ["DOXORUBICIN", "CYCLOPHOSPHAMIDE", "DOXORUBICIN", "PEMETREXED", "DOCETAXEL"]})
    outcome = pd.DataFrame({"MERGED_REGIMEN_ID": [1, 2], "DATE_OF_FINAL_TREATMENT": [D("2015-06-15"), D("2016-06-01")]})
    episode = pd.DataFrame({"RADIOTHERAPYEPISODEID": [500], "PATIENTID": [103], "APPTDATE": [D("2019-01-10")],
                            "DECISIONTOTREATDATE": [D("2019-01-05")], "RADIOTHERAPYINTENT": ["02"]})
    prescription = pd.DataFrame({"PRESCRIPTIONID": [600], "PATIENTID": [103], "RADIOTHERAPYEPISODEID": [500],
                                 "RTTREATMENTMODALITY": ["05"], "RTPRESCRIBEDFRACTIONS": [5], "RTACTUALFRACTIONS": [5],
                                 "RTTREATMENTREGION": ["P"], "APPTDATE": [D("2019-01-12")]})
    exposure = pd.DataFrame({"PRESCRIPTIONID": [600, 600, 600], "PATIENTID": [103, 103, 103],
                             "APPTDATE": [D("2019-01-12"), D("2019-01-14"), D("2019-01-16")]})
    return {"SIM_SACT_REGIMEN": regimen, "SIM_SACT_CYCLE": cycle, "SIM_SACT_DRUG_DETAIL": drug,
            "SIM_SACT_OUTCOME": outcome, "SIM_RTDS_EPISODE": episode, "SIM_RTDS_PRESCRIPTION": prescription,
            "SIM_RTDS_EXPOSURE": exposure}


def _registry(treatments: bool = True) -> dict[str, pd.DataFrame]:
    tables = {"SIM_AV_PATIENT": _patients(), "SIM_AV_TUMOUR": _tumours()}
    if treatments:
        tables.update(_treatments())
    return tables


# a stand-in schema that only labels the SACT routes (1: intravenous, 2: oral; 99 unlabelled)
_ROUTE = SimpleNamespace(type="categorical", labels={"1": "Intravenous", "2": "Oral", "99": "not known"})
_DRUG_TABLE = SimpleNamespace(parent=None, column=lambda name: _ROUTE if name == "ADMINISTRATION_ROUTE" else
                              (_ for _ in ()).throw(KeyError(name)))
ROUTE_SCHEMA = SimpleNamespace(tables={"SIM_SACT_DRUG_DETAIL": _DRUG_TABLE})


@pytest.fixture(scope="module")
def omop() -> dict[str, pd.DataFrame]:
    return export_omop(_registry(), ROUTE_SCHEMA)


def _dates(frame: pd.DataFrame, column: str) -> list:
    return [None if pd.isna(v) else str(pd.Timestamp(v).date()) for v in frame[column]]


# -- structure ---------------------------------------------------------------------------------------
def test_every_table_has_the_cdm_columns_in_ddl_order(omop):
    assert list(omop) == list(OMOP_COLUMNS)
    for name, frame in omop.items():
        assert list(frame.columns) == [c for c, _ in OMOP_COLUMNS[name]], name
    # spot-check against the CDM v5.4 DDL text itself (OMOPCDM_duckdb_5.4_ddl.sql)
    assert list(omop["PERSON"].columns) == [
        "person_id", "gender_concept_id", "year_of_birth", "month_of_birth", "day_of_birth", "birth_datetime",
        "race_concept_id", "ethnicity_concept_id", "location_id", "provider_id", "care_site_id",
        "person_source_value", "gender_source_value", "gender_source_concept_id", "race_source_value",
        "race_source_concept_id", "ethnicity_source_value", "ethnicity_source_concept_id"]
    assert list(omop["EPISODE_EVENT"].columns) == ["episode_id", "event_id", "episode_event_field_concept_id"]
    assert list(omop["MEASUREMENT"].columns)[-2:] == ["measurement_event_id", "meas_event_field_concept_id"]


def test_required_columns_are_filled(omop):
    required = {"PERSON": ["person_id", "gender_concept_id", "year_of_birth", "race_concept_id", "ethnicity_concept_id"],
                "OBSERVATION_PERIOD": ["observation_period_id", "person_id", "observation_period_start_date",
                                       "observation_period_end_date", "period_type_concept_id"],
                "CONDITION_OCCURRENCE": ["condition_occurrence_id", "person_id", "condition_concept_id",
                                         "condition_start_date", "condition_type_concept_id"],
                "DRUG_EXPOSURE": ["drug_exposure_id", "person_id", "drug_concept_id", "drug_exposure_start_date",
                                  "drug_exposure_end_date", "drug_type_concept_id"],
                "PROCEDURE_OCCURRENCE": ["procedure_occurrence_id", "person_id", "procedure_concept_id",
                                         "procedure_date", "procedure_type_concept_id"],
                "MEASUREMENT": ["measurement_id", "person_id", "measurement_concept_id", "measurement_date",
                                "measurement_type_concept_id"],
                "DEATH": ["person_id", "death_date"],
                "EPISODE": ["episode_id", "person_id", "episode_concept_id", "episode_start_date",
                            "episode_object_concept_id", "episode_type_concept_id"],
                "EPISODE_EVENT": ["episode_id", "event_id", "episode_event_field_concept_id"]}
    for name, columns in required.items():
        assert omop[name][columns].notna().all().all(), name


# -- persons, deaths, periods ------------------------------------------------------------------------
def test_person_rows(omop):
    person = omop["PERSON"]
    assert person["person_id"].tolist() == [101, 102, 103]
    assert person["gender_concept_id"].tolist() == [8507, 8532, 0]    # 9 (indeterminate): no standard concept
    assert person["year_of_birth"].tolist() == [2015 - 70, 2016 - 50, 2019 - 85]   # index tumour's year - AGE
    assert person["person_source_value"].tolist() == ["101", "102", "103"]
    assert person["gender_source_value"].tolist() == ["1", "2", "9"]
    assert person["race_source_value"].tolist() == ["A", "M", None]
    assert (person["race_concept_id"] == 0).all() and person["month_of_birth"].isna().all()


def test_death_rows_only_for_the_dead(omop):
    death = omop["DEATH"]
    assert death["person_id"].tolist() == [101, 103]
    assert _dates(death, "death_date") == ["2018-06-30", "2019-02-01"]
    assert death["cause_source_value"].tolist() == ["C509", "C809"]
    assert death["death_type_concept_id"].tolist() == [32879, 32879]
    assert death["cause_concept_id"].tolist() == [0, 0]


def test_observation_period_covers_every_event_date(omop):
    period = omop["OBSERVATION_PERIOD"].set_index("person_id")
    assert _dates(period.reset_index(), "observation_period_start_date") == ["2015-03-01", "2016-05-05", "2019-01-01"]
    assert _dates(period.reset_index(), "observation_period_end_date") == ["2018-06-30", "2021-12-31", "2019-02-01"]
    checked = 0
    for name, frame in omop.items():
        if name in ("OBSERVATION_PERIOD", "EPISODE_EVENT", "PERSON"):
            continue
        for column, kind in OMOP_COLUMNS[name]:
            if kind != "date":
                continue
            dated = frame[frame[column].notna()]
            start = dated["person_id"].map(period["observation_period_start_date"])
            end = dated["person_id"].map(period["observation_period_end_date"])
            assert ((dated[column] >= start) & (dated[column] <= end)).all(), f"{name}.{column}"
            checked += len(dated)
    assert checked > 30


# -- tumours: conditions, measurements, disease episodes ---------------------------------------------
def test_one_condition_per_tumour_with_icdo3_source_value(omop):
    condition = omop["CONDITION_OCCURRENCE"]
    assert condition["condition_occurrence_id"].tolist() == [11, 12, 21, 31]
    assert condition["person_id"].tolist() == [101, 101, 102, 103]
    assert condition["condition_source_value"].tolist() == ["8500/3-C50.9", "8140/3-C61.9", "8046/3-C34.1",
                                                            "8000/9-C80.9"]
    assert _dates(condition, "condition_start_date") == ["2015-03-01", "2017-01-10", "2016-05-05", "2019-01-01"]
    assert (condition["condition_concept_id"] == 0).all() and (condition["condition_type_concept_id"] == 32879).all()


def test_measurements_point_at_their_condition(omop):
    m = omop["MEASUREMENT"]
    first = m[m["measurement_event_id"] == 11].set_index("measurement_source_value")
    assert first["measurement_concept_id"].to_dict() == {
        "ER_STATUS": 0, "GRADE": 36770626, "HER2_STATUS": 0, "M_BEST": 1635624, "N_BEST": 1633735,
        "PR_STATUS": 0, "STAGE_BEST": 0, "T_BEST": 1635562}
    assert first["value_source_value"].to_dict()["N_BEST"] == "1A"
    assert (m["meas_event_field_concept_id"] == 1147127).all()
    lung = m[m["measurement_event_id"] == 21].set_index("measurement_source_value")["measurement_concept_id"]
    assert lung.to_dict() == {"M_BEST": 1635142, "N_BEST": 1633440, "STAGE_BEST": 0, "T_BEST": 0}  # Tis: fallback
    assert len(m) == 8 + 2 + 4 + 0
    assert m["measurement_id"].is_unique


def test_disease_episodes_end_at_death(omop):
    episode = omop["EPISODE"]
    disease = episode[episode["episode_concept_id"] == 32533]
    assert disease["person_id"].tolist() == [101, 101, 102, 103]
    assert _dates(disease, "episode_end_date") == ["2018-06-30", "2018-06-30", None, "2019-02-01"]
    assert disease["episode_source_value"].tolist() == omop["CONDITION_OCCURRENCE"]["condition_source_value"].tolist()


# -- treatments --------------------------------------------------------------------------------------
def test_procedures_surgery_and_radiotherapy(omop):
    proc = omop["PROCEDURE_OCCURRENCE"]
    assert proc["person_id"].tolist() == [101, 103]
    assert proc["procedure_concept_id"].tolist() == [4301351, 0]
    assert _dates(proc, "procedure_date") == ["2015-04-01", "2019-01-12"]
    assert _dates(proc, "procedure_end_date") == [None, "2019-01-16"]      # the last exposure
    assert proc["quantity"].tolist()[1] == 5
    assert proc["procedure_source_value"].tolist() == ["DATE_FIRST_SURGERY", "05"]


def test_drug_exposures_one_per_administration(omop):
    drug = omop["DRUG_EXPOSURE"]
    assert drug["person_id"].tolist() == [101, 101, 101, 102, 101]
    # the PEMETREXED administration has no date: its cycle's start date is used
    assert _dates(drug, "drug_exposure_start_date") == ["2015-05-01", "2015-05-01", "2015-05-22", "2016-06-01",
                                                        "2017-02-01"]
    assert drug["drug_exposure_end_date"].equals(drug["drug_exposure_start_date"])
    assert drug["route_concept_id"].tolist() == [4171047, 4132161, 4171047, 4171047, 0]   # by schema label
    assert drug["route_source_value"].tolist() == ["1", "2", "1", "1", "99"]
    assert drug["drug_source_value"].tolist()[0] == "DOXORUBICIN"
    assert drug["quantity"].tolist()[1] == 600.0
    assert (drug["drug_concept_id"] == 0).all()


def test_treatment_episodes(omop):
    episode = omop["EPISODE"]
    disease = dict(zip(omop["CONDITION_OCCURRENCE"]["condition_occurrence_id"],
                       episode.loc[episode["episode_concept_id"] == 32533, "episode_id"], strict=True))
    regimens = episode[(episode["episode_concept_id"] == 32531) & episode["episode_source_value"].ne("radiotherapy")]
    assert regimens["person_id"].tolist() == [101, 102, 101]
    assert regimens["episode_number"].tolist() == [1, 1, 2]
    assert _dates(regimens, "episode_end_date") == ["2015-06-15", "2016-06-01", "2017-02-01"]
    # parent: the latest tumour diagnosed by the regimen's start
    assert regimens["episode_parent_id"].tolist() == [disease[11], disease[21], disease[12]]
    radio = episode[episode["episode_source_value"] == "radiotherapy"]
    assert radio["person_id"].tolist() == [103] and radio["episode_parent_id"].tolist() == [disease[31]]
    assert _dates(radio, "episode_start_date") == ["2019-01-10"] and _dates(radio, "episode_end_date") == ["2019-01-16"]
    assert episode["episode_id"].is_unique


def test_episode_events_point_at_existing_rows(omop):
    events = omop["EPISODE_EVENT"]
    targets = {1147127: ("CONDITION_OCCURRENCE", "condition_occurrence_id"),
               1147082: ("PROCEDURE_OCCURRENCE", "procedure_occurrence_id"),
               1147094: ("DRUG_EXPOSURE", "drug_exposure_id"), 1147138: ("MEASUREMENT", "measurement_id")}
    assert set(events["episode_event_field_concept_id"]) == set(targets)
    episodes = omop["EPISODE"].set_index("episode_id")
    assert events["episode_id"].isin(episodes.index).all()
    for field, (table, key) in targets.items():
        linked = events[events["episode_event_field_concept_id"] == field]
        rows = omop[table].set_index(key)
        assert linked["event_id"].isin(rows.index).all(), table
        # the event belongs to the episode's person
        assert (rows.loc[linked["event_id"], "person_id"].to_numpy()
                == episodes.loc[linked["episode_id"], "person_id"].to_numpy()).all(), table
        assert len(linked) == len(omop[table]), table   # every row of these tables is in one episode
    regimen_of_drug = events[events["episode_event_field_concept_id"] == 1147094]["episode_id"]
    assert episodes.loc[regimen_of_drug, "episode_source_value"].tolist() == [
        "AC", "AC", "AC", "CARBOPLATIN + PEMETREXED", "DOCETAXEL"]


# -- table sets, inputs and files ------------------------------------------------------------------
def test_patient_and_tumour_tables_alone():
    omop = export_omop(_registry(treatments=False))
    assert list(omop) == list(OMOP_COLUMNS)
    assert len(omop["DRUG_EXPOSURE"]) == 0 and list(omop["DRUG_EXPOSURE"].columns)[0] == "drug_exposure_id"
    assert len(omop["PROCEDURE_OCCURRENCE"]) == 1 and len(omop["EPISODE"]) == 4
    assert set(omop["EPISODE_EVENT"]["episode_event_field_concept_id"]) == {1147127, 1147082, 1147138}


def test_text_input_as_read_from_csv_gives_the_same_tables(tmp_path, omop):
    write_tables(_registry(), tmp_path / "in", "csv")
    schema = bg.Schema.load("schemas/simulacrum_v2_core.yaml")
    files = [tmp_path / "in" / f"{name}.csv" for name in _registry()]
    text = read_tables(files, schema)
    assert text["SIM_AV_PATIENT"]["PATIENTID"].dtype == object
    again = export_omop(text, ROUTE_SCHEMA)
    for name in omop:
        pd.testing.assert_frame_equal(again[name], omop[name], check_dtype=True, obj=name)


def test_non_integer_ids_are_hashed_stably():
    tables = _registry(treatments=False)
    tables["SIM_AV_PATIENT"]["PATIENTID"] = ["P-1", "P-2", "P-3"]
    tables["SIM_AV_TUMOUR"]["PATIENTID"] = ["P-1", "P-1", "P-2", "P-3"]
    first, second = export_omop(tables), export_omop(tables)
    ids = first["PERSON"]["person_id"]
    assert ids.is_unique and (ids > 0).all() and ids.equals(second["PERSON"]["person_id"])
    assert first["CONDITION_OCCURRENCE"]["person_id"].tolist() == [ids[0], ids[0], ids[1], ids[2]]


def test_a_broken_key_is_an_error_naming_it():
    tables = _registry()
    tables["SIM_AV_TUMOUR"].loc[2, "PATIENTID"] = 999
    with pytest.raises(DataValidationError, match=r"SIM_AV_TUMOUR\.PATIENTID.*'999'.*1 row"):
        export_omop(tables)
    tables = _registry()
    tables["SIM_SACT_REGIMEN"].loc[0, "LINK_NUMBER"] = 1234
    with pytest.raises(DataValidationError, match=r"SIM_SACT_REGIMEN\.LINK_NUMBER"):
        export_omop(tables)
    with pytest.raises(BayesgenError, match="SIM_AV_TUMOUR"):
        export_omop({"SIM_AV_PATIENT": _patients()})


def test_files_are_written_atomically(tmp_path, omop):
    out = tmp_path / "omop"
    export_omop(_registry(), ROUTE_SCHEMA, out, "parquet")
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{name}.parquet" for name in OMOP_COLUMNS)
    person = pd.read_parquet(out / "PERSON.parquet")
    assert person["year_of_birth"].tolist() == [1945, 1966, 1934]
    import pyarrow.parquet as pq

    assert str(pq.read_schema(out / "EPISODE.parquet").field("episode_start_date").type) == "date32[day]"
    with pytest.raises(BayesgenError, match="not empty"):
        export_omop(_registry(), ROUTE_SCHEMA, out, "csv")
    assert sorted(p.suffix for p in out.iterdir()) == [".parquet"] * len(OMOP_COLUMNS)   # left as it was
    export_omop(_registry(), ROUTE_SCHEMA, out, "csv", overwrite=True)
    death = pd.read_csv(out / "DEATH.csv", dtype=str)
    assert death["death_date"].tolist() == ["2018-06-30", "2019-02-01"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]    # no staging folder left


def test_generated_registry_exports(tmp_path):
    registry = bg.datasets.simulate_registry(300, rng=5, full=False)
    omop = export_omop(registry, bg.Schema.load("schemas/simulacrum_v2_core.yaml"))
    assert len(omop["PERSON"]) == 300
    assert len(omop["CONDITION_OCCURRENCE"]) == len(registry["SIM_AV_TUMOUR"])
    assert omop["PERSON"]["person_id"].tolist() == registry["SIM_AV_PATIENT"]["PATIENTID"].tolist()
    surgeries = int(registry["SIM_AV_TUMOUR"]["DATE_FIRST_SURGERY"].notna().sum())
    assert (omop["PROCEDURE_OCCURRENCE"]["procedure_concept_id"] == 4301351).sum() == surgeries
    assert np.all(omop["PERSON"]["year_of_birth"].between(1900, 2019))
