"""Referential integrity in DuckDB, keys declared: the Simulacrum set of 20,000 patients and its OMOP
export have no violation, and a broken key is reported (the check can fail)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import bayesgen as bg
from bayesgen.errors import DataValidationError
from bayesgen.export.omop import OMOP_KEYS, check_omop_integrity, export_omop
from bayesgen.tables.integrity import check_integrity, count_violations, keys_from_schema

pytest.importorskip("duckdb")

N_PATIENTS = 20_000
TREATMENT_TABLES = ("SIM_SACT_REGIMEN", "SIM_SACT_CYCLE", "SIM_SACT_DRUG_DETAIL", "SIM_SACT_OUTCOME",
                    "SIM_RTDS_EPISODE", "SIM_RTDS_PRESCRIPTION", "SIM_RTDS_EXPOSURE")


@pytest.fixture(scope="module")
def schema() -> bg.Schema:
    return bg.Schema.load("schemas/simulacrum_v2_core.yaml")


@pytest.fixture(scope="module")
def registry() -> dict[str, pd.DataFrame]:
    return bg.datasets.simulate_registry(N_PATIENTS, rng=2024, full=False)


def _stand_in_treatments(registry: dict[str, pd.DataFrame], seed: int = 0) -> dict[str, pd.DataFrame]:
    """SACT and RTDS tables with the Simulacrum columns and keys, hung off the simulated patients.

    Only a stand-in for the engine's treatment tables while they are not generated: the values are
    arbitrary, the keys (the subject of these tests) are consistent.
    """
    rng = np.random.default_rng(seed)
    patients, tumours = registry["SIM_AV_PATIENT"], registry["SIM_AV_TUMOUR"]
    first = tumours.groupby("PATIENTID")["DIAGNOSISDATEBEST"].min()
    sact = patients.sample(frac=0.35, random_state=seed)
    n_reg = rng.integers(1, 4, len(sact))
    reg_patient = np.repeat(sact["PATIENTID"].to_numpy(), n_reg)
    n = len(reg_patient)
    reg_start = first.loc[reg_patient].to_numpy() + pd.to_timedelta(rng.integers(7, 400, n), unit="D").to_numpy()
    regimen = pd.DataFrame({"MERGED_REGIMEN_ID": np.arange(1, n + 1), "ENCORE_PATIENT_ID": None,
                            "LINK_NUMBER": np.repeat(sact["LINKNUMBER"].to_numpy(), n_reg),
                            "START_DATE_OF_REGIMEN": reg_start, "MAPPED_REGIMEN": rng.choice(["AC", "FEC", "CAPOX"], n)})
    n_cyc = rng.integers(1, 7, n)
    cyc_reg = np.repeat(regimen["MERGED_REGIMEN_ID"].to_numpy(), n_cyc)
    cyc_number = np.concatenate([np.arange(1, k + 1) for k in n_cyc])
    cyc_date = np.repeat(reg_start, n_cyc) + pd.to_timedelta((cyc_number - 1) * 21, unit="D").to_numpy()
    cycle = pd.DataFrame({"MERGED_CYCLE_ID": np.arange(1, len(cyc_reg) + 1), "MERGED_REGIMEN_ID": cyc_reg,
                          "CYCLE_NUMBER": cyc_number, "START_DATE_OF_CYCLE": cyc_date})
    n_drug = rng.integers(1, 4, len(cycle))
    drug = pd.DataFrame({"MERGED_DRUG_DETAIL_ID": np.arange(1, n_drug.sum() + 1),
                         "MERGED_CYCLE_ID": np.repeat(cycle["MERGED_CYCLE_ID"].to_numpy(), n_drug),
                         "ACTUAL_DOSE_PER_ADMINISTRATION": rng.uniform(10, 900, n_drug.sum()).round(1),
                         "ADMINISTRATION_ROUTE": rng.choice(["1", "2", "99"], n_drug.sum()),
                         "ADMINISTRATION_DATE": np.repeat(cyc_date, n_drug),
                         "DRUG_GROUP": rng.choice(["DOXORUBICIN", "CAPECITABINE", "OXALIPLATIN"], n_drug.sum())})
    last = cycle.groupby("MERGED_REGIMEN_ID")["START_DATE_OF_CYCLE"].max()
    outcome = pd.DataFrame({"MERGED_REGIMEN_ID": last.index.to_numpy(), "DATE_OF_FINAL_TREATMENT": last.to_numpy()})
    rt = patients.sample(frac=0.25, random_state=seed + 1)
    ep_date = first.loc[rt["PATIENTID"]].to_numpy() + pd.to_timedelta(rng.integers(7, 200, len(rt)), unit="D").to_numpy()
    episode = pd.DataFrame({"RADIOTHERAPYEPISODEID": np.arange(1, len(rt) + 1), "PATIENTID": rt["PATIENTID"].to_numpy(),
                            "APPTDATE": ep_date})
    n_pres = rng.integers(0, 3, len(episode))
    pres_ep = np.repeat(episode["RADIOTHERAPYEPISODEID"].to_numpy(), n_pres)
    prescription = pd.DataFrame({"PRESCRIPTIONID": np.arange(1, len(pres_ep) + 1),
                                 "PATIENTID": np.repeat(episode["PATIENTID"].to_numpy(), n_pres),
                                 "RADIOTHERAPYEPISODEID": pres_ep, "RTTREATMENTMODALITY": "05",
                                 "RTACTUALFRACTIONS": rng.integers(1, 30, len(pres_ep)),
                                 "APPTDATE": np.repeat(ep_date, n_pres)})
    n_exp = rng.integers(1, 6, len(prescription))
    exp_days = np.concatenate([np.arange(k) for k in n_exp]) if len(n_exp) else np.zeros(0, int)
    exposure = pd.DataFrame({"PRESCRIPTIONID": np.repeat(prescription["PRESCRIPTIONID"].to_numpy(), n_exp),
                             "PATIENTID": np.repeat(prescription["PATIENTID"].to_numpy(), n_exp),
                             "APPTDATE": np.repeat(prescription["APPTDATE"].to_numpy(), n_exp)
                             + pd.to_timedelta(exp_days, unit="D").to_numpy()})
    return {"SIM_SACT_REGIMEN": regimen, "SIM_SACT_CYCLE": cycle, "SIM_SACT_DRUG_DETAIL": drug,
            "SIM_SACT_OUTCOME": outcome, "SIM_RTDS_EPISODE": episode, "SIM_RTDS_PRESCRIPTION": prescription,
            "SIM_RTDS_EXPOSURE": exposure}


@pytest.fixture(scope="module")
def full_registry(registry) -> dict[str, pd.DataFrame]:
    """All ten tables: the engine's own when it generates them, else stand-ins for the treatments."""
    if all(name in registry for name in TREATMENT_TABLES):
        return registry
    return {**registry, **_stand_in_treatments(registry)}


def _link(table, key, references=None):
    return SimpleNamespace(table=table, key=key, references=references)


def _declared(primary_key, parent=None, columns=()):
    names = tuple(c for c in (primary_key, *columns) if c)
    return SimpleNamespace(primary_key=primary_key, parent=parent, column_names=list(names))


# the treatment tables' keys as the relational design note declares them (parent links, `references`)
TREATMENT_SCHEMA = SimpleNamespace(tables={
    "SIM_AV_PATIENT": _declared("PATIENTID", None, ["LINKNUMBER"]),
    "SIM_AV_TUMOUR": _declared("TUMOURID", _link("SIM_AV_PATIENT", "PATIENTID"), ["PATIENTID"]),
    "SIM_SACT_REGIMEN": _declared("MERGED_REGIMEN_ID", _link("SIM_AV_PATIENT", "LINK_NUMBER", "LINKNUMBER"),
                                  ["LINK_NUMBER"]),
    "SIM_SACT_CYCLE": _declared("MERGED_CYCLE_ID", _link("SIM_SACT_REGIMEN", "MERGED_REGIMEN_ID"), ["MERGED_REGIMEN_ID"]),
    "SIM_SACT_DRUG_DETAIL": _declared("MERGED_DRUG_DETAIL_ID", _link("SIM_SACT_CYCLE", "MERGED_CYCLE_ID"),
                                      ["MERGED_CYCLE_ID"]),
    "SIM_SACT_OUTCOME": _declared("MERGED_REGIMEN_ID", _link("SIM_SACT_REGIMEN", "MERGED_REGIMEN_ID")),
    "SIM_RTDS_EPISODE": _declared("RADIOTHERAPYEPISODEID", _link("SIM_AV_PATIENT", "PATIENTID"), ["PATIENTID"]),
    "SIM_RTDS_PRESCRIPTION": _declared("PRESCRIPTIONID", _link("SIM_RTDS_EPISODE", "RADIOTHERAPYEPISODEID"),
                                       ["RADIOTHERAPYEPISODEID"]),
    "SIM_RTDS_EXPOSURE": _declared(None, _link("SIM_RTDS_PRESCRIPTION", "PRESCRIPTIONID"), ["PRESCRIPTIONID"]),
})


def _clean(report: dict) -> None:
    assert count_violations(report) == 0, report
    for name, entry in report.items():
        assert entry["constraint_error"] is None, (name, entry["constraint_error"])
        assert not entry["fk_skipped"], (name, entry["fk_skipped"])


# -- zero violations ---------------------------------------------------------------------------------
def test_simulacrum_tables_have_no_key_violation(registry, schema):
    report = check_integrity(registry, schema)
    assert set(report) == {name for name in registry if name in schema.tables}
    assert report["SIM_AV_TUMOUR"]["rows"] == len(registry["SIM_AV_TUMOUR"]) > N_PATIENTS
    assert report["SIM_AV_TUMOUR"]["fk_detail"] == {"PATIENTID -> SIM_AV_PATIENT.PATIENTID": 0}
    _clean(report)


def test_treatment_tables_have_no_key_violation(full_registry, schema):
    """Parent links with `references` (LINK_NUMBER -> LINKNUMBER, declared UNIQUE), a table without a
    primary key (SIM_RTDS_EXPOSURE) and a one-to-one child (SIM_SACT_OUTCOME)."""
    keys = keys_from_schema(TREATMENT_SCHEMA)
    assert keys["SIM_AV_PATIENT"].unique == ("LINKNUMBER",)
    assert keys["SIM_SACT_REGIMEN"].foreign_keys[0].label == "LINK_NUMBER -> SIM_AV_PATIENT.LINKNUMBER"
    report = check_integrity(full_registry, keys)
    assert report["SIM_AV_PATIENT"]["unique_duplicates"] == {"LINKNUMBER": 0}
    assert report["SIM_RTDS_EXPOSURE"]["pk_duplicates"] is None
    _clean(report)
    if all(name in schema.tables for name in TREATMENT_TABLES):   # once the schema declares them
        _clean(check_integrity(full_registry, schema))


def test_omop_export_has_no_key_violation(registry, schema):
    omop = export_omop(registry, schema)
    report = check_omop_integrity(omop)
    assert report["EPISODE_EVENT"]["rows"] == len(omop["EPISODE_EVENT"]) > 0
    _clean({name: entry for name, entry in report.items()})
    assert len(omop["PERSON"]) == N_PATIENTS


def test_omop_export_of_all_ten_tables_has_no_key_violation(full_registry, schema, tmp_path):
    omop = export_omop(full_registry, schema, tmp_path / "omop", "parquet")
    for name in ("DRUG_EXPOSURE", "EPISODE", "EPISODE_EVENT"):
        assert len(omop[name]) > 0
    fields = set(omop["EPISODE_EVENT"]["episode_event_field_concept_id"])
    assert fields == {1147127, 1147082, 1147094, 1147138}
    assert omop["EPISODE"]["episode_parent_id"].notna().sum() > 0      # the self-reference is exercised
    _clean(check_omop_integrity(omop))
    again = {name: pd.read_parquet(tmp_path / "omop" / f"{name}.parquet") for name in omop}
    _clean(check_integrity(again, "omop"))


# -- the check can fail ------------------------------------------------------------------------------
def test_a_broken_foreign_key_and_a_duplicated_key_are_reported(registry, schema):
    broken = {name: frame.copy() for name, frame in registry.items()}
    broken["SIM_AV_TUMOUR"].loc[[0, 5, 9], "PATIENTID"] = 10**9
    broken["SIM_AV_PATIENT"] = pd.concat([broken["SIM_AV_PATIENT"], broken["SIM_AV_PATIENT"].iloc[[3]]],
                                         ignore_index=True)
    report = check_integrity(broken, schema)
    assert report["SIM_AV_TUMOUR"]["fk_orphans"] == 3
    assert report["SIM_AV_PATIENT"]["pk_duplicates"] == 1
    assert count_violations(report) == 4
    # DuckDB itself rejected the inserts against the declared keys
    assert "PRIMARY KEY" in report["SIM_AV_PATIENT"]["constraint_error"]
    assert "foreign key" in report["SIM_AV_TUMOUR"]["constraint_error"].lower()
    with pytest.raises(DataValidationError, match="SIM_AV_PATIENT: referential integrity violated"):
        check_integrity(broken, schema, strict=True)


def test_broken_links_in_the_omop_tables_are_reported(full_registry, schema):
    omop = export_omop(full_registry, schema)
    broken = {name: frame.copy() for name, frame in omop.items()}
    episode = broken["EPISODE"]
    treatment = episode.index[episode["episode_parent_id"].notna()][:2]
    broken["EPISODE"].loc[treatment, "episode_parent_id"] = 10**12           # a parent that does not exist
    events = broken["EPISODE_EVENT"]
    drug_events = events.index[events["episode_event_field_concept_id"] == 1147094][:4]
    broken["EPISODE_EVENT"].loc[drug_events, "event_id"] = 10**12           # drug rows that do not exist
    broken["DEATH"] = broken["DEATH"].iloc[1:]
    broken["PERSON"] = broken["PERSON"][broken["PERSON"]["person_id"] != omop["DEATH"]["person_id"].iloc[0]]
    report = check_integrity(broken, OMOP_KEYS)
    assert report["EPISODE"]["fk_detail"]["episode_parent_id -> EPISODE.episode_id"] == 2
    label = "event_id -> DRUG_EXPOSURE.drug_exposure_id where episode_event_field_concept_id = 1147094"
    assert report["EPISODE_EVENT"]["fk_detail"][label] == 4
    person_fk = "person_id -> PERSON.person_id"
    assert report["OBSERVATION_PERIOD"]["fk_detail"][person_fk] == 1
    assert report["EPISODE"]["constraint_error"] is not None
    assert count_violations(report) >= 7


# -- the command line ---------------------------------------------------------------------------------
def test_cli_export_omop_with_key_check(tmp_path, capsys):
    from bayesgen.cli.main import main
    from bayesgen.tables import write_tables

    small = bg.datasets.simulate_registry(500, rng=3, full=False)
    stand_ins = {name: frame for name, frame in _stand_in_treatments(small, seed=3).items() if name not in small}
    small.update(stand_ins)
    write_tables(small, tmp_path / "synthetic", "csv")
    code = main(["export", "omop", str(tmp_path / "synthetic"), "--schema", "schemas/simulacrum_v2_core.yaml",
                 "-o", str(tmp_path / "omop"), "--format", "parquet", "--check"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "SIM_SACT_DRUG_DETAIL" in out and "0 violations" in out
    drugs = pd.read_parquet(tmp_path / "omop" / "DRUG_EXPOSURE.parquet")
    assert 0 < len(drugs) <= len(small["SIM_SACT_DRUG_DETAIL"])
    if "SIM_SACT_DRUG_DETAIL" in stand_ins:     # every stand-in administration is dated
        assert len(drugs) == len(small["SIM_SACT_DRUG_DETAIL"])
    again = main(["export", "omop", str(tmp_path / "synthetic"), "--schema", "schemas/simulacrum_v2_core.yaml",
                  "-o", str(tmp_path / "omop")])
    assert again == 2 and "not empty" in capsys.readouterr().err
