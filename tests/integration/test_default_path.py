"""The default path of the contract: shipped Simulacrum schema and structure, simulated registry, ε = 1."""

import numpy as np
import pandas as pd
import pytest

import bayesgen as bg
from bayesgen.cli.main import main
from bayesgen.schema.check import check_tables


@pytest.fixture(scope="module")
def fitted():
    schema = bg.Schema.load("schemas/simulacrum_v2_core.yaml")
    structure = bg.Structure.load("structures/simulacrum_v2_core.yaml")
    real = bg.datasets.simulate_registry(20_000, rng=0, full=False)
    model = bg.Synthesizer(schema, structure=structure, epsilon=1.0).fit(real)
    return schema, structure, real, model


def test_simulated_registry_satisfies_its_own_schema(fitted):
    schema, structure, real, _ = fitted
    assert check_tables(real, schema, structure) == []
    assert len(real["SIM_AV_PATIENT"]) == 20_000
    per_patient = real["SIM_AV_TUMOUR"].groupby("PATIENTID").size()
    assert per_patient.min() == 1 and per_patient.max() > 1  # some patients have several tumours


def test_sample_has_the_input_tables_columns_and_order(fitted):
    schema, _, real, model = fitted
    synthetic = model.sample(20_000, rng=7)
    assert list(synthetic) == list(real)
    for name, frame in synthetic.items():
        assert list(frame.columns) == list(real[name].columns) == schema.tables[name].column_names
        for column in schema.tables[name].columns:
            assert frame[column.name].dtype == column.output_dtype, (name, column.name)


def test_every_derived_column_and_constraint_holds_in_every_generated_row(fitted):
    schema, structure, _, model = fitted
    synthetic = model.sample(50_000, rng=11)
    assert check_tables(synthetic, schema, structure) == []


def test_categories_are_exactly_the_schema_code_sets(fitted):
    schema, _, _, model = fitted
    synthetic = model.sample(5_000, rng=3)
    for name, table in schema.tables.items():
        for column in table.columns:
            if column.type in ("categorical", "ordinal"):
                values = synthetic[name][column.name]
                assert list(values.cat.categories) == list(column.categories)
                if not column.missing:
                    assert values.notna().all(), (name, column.name)


def test_keys_join(fitted):
    _, _, _, model = fitted
    synthetic = model.sample(10_000, rng=5)
    patients, tumours = synthetic["SIM_AV_PATIENT"], synthetic["SIM_AV_TUMOUR"]
    assert patients["PATIENTID"].is_unique and tumours["TUMOURID"].is_unique
    assert tumours["PATIENTID"].isin(patients["PATIENTID"]).all()
    assert patients["PATIENTID"].isin(tumours["PATIENTID"]).all()  # min_rows_per_parent = 1


def test_saved_model_samples_identically(fitted, tmp_path):
    _, _, _, model = fitted
    model.save(tmp_path / "model.json")
    again = bg.Synthesizer.load(tmp_path / "model.json")
    a, b = model.sample(3000, rng=9), again.sample(3000, rng=9)
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name])
    assert again.to_pgmpy().check_model()


def test_demo_command_writes_tables_and_reports(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["demo", "--patients", "3000", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Privacy ledger" in printed and "Fidelity" in printed and "violations: none" in printed
    schema = bg.Schema.load("simulacrum_v2")
    assert sorted(p.name for p in out.iterdir()) == sorted(["DATA_DICTIONARY.md", "model.json",
                                                            *(f"{name}.csv" for name in schema.tables)])
    written = pd.read_csv(out / "SIM_AV_TUMOUR.csv", dtype=str, keep_default_na=False)
    assert len(written) > 3000
    assert np.all(written.columns == bg.Schema.load("simulacrum_v2").tables["SIM_AV_TUMOUR"].column_names)
