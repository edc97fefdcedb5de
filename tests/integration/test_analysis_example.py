"""docs/examples/survival_by_stage_and_regimen.py runs unchanged on the ground truth and on synthetic tables.

The truth is written as CSV (``write_tables``), the synthetic tables as Parquet and as folders of
parts (``sample_to``, the layout of ``bayesgen sample --parts``), so every reader path of the
script is used. The model is fitted without noise (epsilon = inf): the DP noise of ``fit`` is never
seeded, and at a small size and a finite budget the regimens could vanish by chance; this test is
about the script, not about fidelity (docs/analysis-example.md shows epsilon = 1).
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pandas as pd
import pytest

import bayesgen as bg
from bayesgen.tables.io import write_tables

pytest.importorskip("lifelines")

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "docs" / "examples" / "survival_by_stage_and_regimen.py"
N_PATIENTS = 3_000
COLUMNS = ["stage", "first_regimen", "patients", "deaths_1y", "censored_1y", "median_cycles", "surv_1y", "ci_low",
           "ci_high"]


def _load_script():
    spec = importlib.util.spec_from_file_location("survival_by_stage_and_regimen", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("analysis")
    truth = bg.datasets.simulate_registry(N_PATIENTS, rng=3)
    write_tables(truth, root / "truth", "csv")
    model = bg.Synthesizer(bg.Schema.load("schemas/simulacrum_v2.yaml"), epsilon=math.inf).fit(truth)
    write_tables(model.sample(N_PATIENTS, rng=4), root / "synthetic", "parquet")
    model.sample_to(root / "parts", N_PATIENTS, format="parquet", rng=5, chunk_rows=1_000, n_threads=1)
    return {"truth": root / "truth", "synthetic": root / "synthetic", "parts": root / "parts"}


@pytest.mark.parametrize("which", ["truth", "synthetic", "parts"])
def test_script_runs_unchanged(folders, which, capsys):
    script = _load_script()
    table = script.main([str(folders[which]), "--min-patients", "20"])
    out = capsys.readouterr().out
    assert list(table.columns) == COLUMNS
    assert len(table) > 0
    assert "(all regimens)" in set(table["first_regimen"])
    assert set(table["stage"]) <= set(script.STAGE_GROUPS)
    assert (table["patients"] >= 20).all()
    assert table[["surv_1y", "ci_low", "ci_high"]].apply(lambda c: c.between(0, 1)).all().all()
    assert (table["ci_low"] <= table["surv_1y"]).all() and (table["surv_1y"] <= table["ci_high"]).all()
    assert (table["median_cycles"] >= 1).all()   # every regimen has a cycle
    # every stage group's regimen rows are a subset of its patients
    for _, rows in table.groupby("stage"):
        total = rows.loc[rows["first_regimen"] == "(all regimens)", "patients"].item()
        assert rows["patients"].max() == total
    assert "1y_surv_%" in out and str(folders[which]) in out


def test_first_regimen_and_censoring_are_taken_as_documented(folders):
    """Cross-check the cohort against a direct computation on the truth."""
    script = _load_script()
    first = script.first_regimens(folders["truth"])
    assert first["PATIENTID"].is_unique
    assert (first["START_DATE_OF_REGIMEN"] >= first["DIAGNOSISDATEBEST"]).all()
    patients = pd.read_csv(folders["truth"] / "SIM_AV_PATIENT.csv", dtype=str)
    regimens = pd.read_csv(folders["truth"] / "SIM_SACT_REGIMEN.csv", dtype=str)
    earliest = pd.to_datetime(regimens["START_DATE_OF_REGIMEN"]).groupby(regimens["LINK_NUMBER"]).min()
    # regimens in the truth start after the diagnosis, so the first one is the earliest of the patient's
    assert (earliest.loc[first["LINKNUMBER"].to_numpy()].to_numpy() == first["START_DATE_OF_REGIMEN"].to_numpy()).all()
    status = patients.set_index("PATIENTID")["VITALSTATUS"]
    assert (first["DIED"] == (status.loc[first["PATIENTID"]].to_numpy() == "D")).all()
    cycles = pd.read_csv(folders["truth"] / "SIM_SACT_CYCLE.csv", dtype=str)
    counts = cycles.groupby("MERGED_REGIMEN_ID").size()
    assert (first["N_CYCLES"].to_numpy() == counts.loc[first["MERGED_REGIMEN_ID"]].to_numpy()).all()
