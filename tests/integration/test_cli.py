"""The command line, in process through ``main(argv)`` (plus one real ``bayesgen --help``)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import bayesgen as bg
from bayesgen.cli.main import main
from bayesgen.schema.check import check_tables
from bayesgen.tables.io import read_tables, write_tables

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
TABLES = ["SIM_AV_PATIENT", "SIM_AV_TUMOUR"]


@pytest.fixture(scope="module")
def schema() -> bg.Schema:
    return bg.Schema.load("schemas/simulacrum_v2_core.yaml")


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """CSV inputs from the simulated registry, and the model file ``bayesgen fit`` makes of them."""
    root = tmp_path_factory.mktemp("cli")
    real = bg.datasets.simulate_registry(1000, rng=0, full=False)
    for name, frame in real.items():
        frame.to_csv(root / f"{name}.csv", index=False, date_format="%Y-%m-%d")
    model = root / "model.json"
    code = main(["fit", str(root / "SIM_AV_PATIENT.csv"), str(root / "SIM_AV_TUMOUR.csv"),
                 "--schema", "schemas/simulacrum_v2_core.yaml", "--epsilon", "1", "-o", str(model)])
    assert code == 0
    return root, model, real


def run(argv, capsys) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_help_runs_as_a_real_command():
    executable = Path(sys.executable).with_name("bayesgen")
    done = subprocess.run([str(executable), "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    for command in ("fit", "sample", "ledger", "demo"):
        assert re.search(rf"^\s+{command}\s", done.stdout, re.MULTILINE), command


def test_fit_writes_a_loadable_model_file(fitted, schema):
    root, model, _ = fitted
    assert model.exists()
    assert sorted(p.name for p in root.iterdir()) == ["SIM_AV_PATIENT.csv", "SIM_AV_TUMOUR.csv", "model.json"]
    body = json.loads(model.read_text(encoding="utf-8"))
    assert body["schema"] == schema.to_dict()
    default = bg.Structure.load("structures/simulacrum_v2_core.yaml")  # the shipped one, sized to the noise
    saved = bg.Structure.from_dict(body["structure"])
    assert set(saved.edges) <= set(default.edges) and saved.nodes == default.nodes
    assert body["settings"]["epsilon"] == 1.0
    bg.Synthesizer.load(model)


def test_fit_reads_a_folder_and_takes_structure_and_budget_options(tmp_path, capsys, toy_tables):
    data = tmp_path / "data"
    write_tables(toy_tables, data, "csv")
    out = tmp_path / "toy.json"
    code, printed, err = run(["fit", data, "--schema", FIXTURES / "toy_schema.yaml",
                              "--structure", FIXTURES / "toy_structure.yaml", "--epsilon", "0.5",
                              "--privacy", "zcdp", "--delta", "1e-6", "--allocation", "uniform", "-o", out], capsys)
    assert code == 0, err
    assert f"model written to {out}" in printed
    # the toy data hold up to 3 tumours per patient, bounded to 2: the holder is told, the file is not
    assert re.search(r"bounding dropped rows .*\{'T': \d+\}", printed)
    model = bg.Synthesizer.load(out)
    assert (model.epsilon, model.delta, model.privacy, model.allocation) == (0.5, 1e-6, "zcdp", "uniform")
    assert model.ledger_["epsilon_spent"] == pytest.approx(0.5, rel=1e-6)


def test_ledger_prints_every_entry_and_a_total_equal_to_epsilon(fitted, capsys):
    _, model, _ = fitted
    code, printed, _ = run(["ledger", model], capsys)
    assert code == 0
    ledger = json.loads(model.read_text(encoding="utf-8"))["privacy"]
    lines = printed.splitlines()
    assert lines[0] == "Privacy ledger (pure DP; budget 1 epsilon)"
    rows = [line for line in lines
            if line.strip().startswith(("rows per table", "counts of ", "event counts of ", "exposure of ",
                                        "life table of "))]
    schema, structure = bg.Schema.load("simulacrum_v2_core"), bg.Structure.load("simulacrum_v2_core")
    families = sum(len(nodes) for _, nodes in structure.phases(schema))  # one CPT per non-event node
    # the core schema's hazards (death, loss to follow-up; first surgery) are measured through one life
    # table per process
    assert len(rows) == len(ledger["entries"]) == 1 + families + len(schema.events.processes)  # 1: rows per table
    for row, entry in zip(rows, ledger["entries"], strict=True):
        assert row.strip().startswith(entry["what"])
        assert float(row.split()[-1]) == pytest.approx(entry["cost"], abs=5e-6)
    costs = [float(row.split()[-1]) for row in rows]
    assert sum(costs) == pytest.approx(1.0, abs=5e-6 * len(costs))
    total = lines[-1].split()
    assert total[0] == "total" and float(total[1]) == pytest.approx(1.0, abs=1e-9)
    assert lines[-1].endswith("(epsilon spent: 1.0000)")


def test_ledger_of_a_noiseless_model_says_it_is_not_private(tmp_path, capsys, toy_tables):
    data = tmp_path / "data"
    write_tables(toy_tables, data, "csv")
    out = tmp_path / "exact.json"
    assert run(["fit", data, "--schema", FIXTURES / "toy_schema.yaml", "--structure",
                FIXTURES / "toy_structure.yaml", "--epsilon", "inf", "-o", out], capsys)[0] == 0
    code, printed, _ = run(["ledger", out], capsys)
    assert code == 0 and "NOT differentially private" in printed


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_sample_writes_one_file_per_table_with_the_schema_columns_in_order(fitted, schema, tmp_path, capsys,
                                                                          fmt):
    _, model, _ = fitted
    out = tmp_path / "out"
    code, printed, err = run(["sample", model, "-n", 500, "-o", out, "--format", fmt, "--seed", 3], capsys)
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == sorted([*(f"{name}.{fmt}" for name in TABLES),
                                                            "DATA_DICTIONARY.md"])
    for name in TABLES:
        path = out / f"{name}.{fmt}"
        frame = pd.read_csv(path, dtype=str) if fmt == "csv" else pd.read_parquet(path)
        assert list(frame.columns) == schema.tables[name].column_names
    patients = pd.read_csv(out / f"SIM_AV_PATIENT.{fmt}") if fmt == "csv" else \
        pd.read_parquet(out / "SIM_AV_PATIENT.parquet")
    assert len(patients) == 500 and patients["PATIENTID"].tolist() == list(range(1, 501))
    assert "SIM_AV_PATIENT: 500" in printed
    # what was written reads back as valid registry tables
    assert check_tables(read_tables([out], schema), schema) == []


def test_csv_output_matches_the_in_process_sample(fitted, tmp_path, capsys):
    _, model, _ = fitted
    out = tmp_path / "out"
    assert run(["sample", model, "-n", 300, "-o", out, "--seed", 11], capsys)[0] == 0
    expected = bg.Synthesizer.load(model).sample(300, rng=11)
    for name in TABLES:
        written = pd.read_csv(out / f"{name}.csv", dtype=str, keep_default_na=False)
        frame = expected[name]
        for column in frame.columns:
            values = frame[column]
            if pd.api.types.is_datetime64_any_dtype(values):
                text = values.dt.strftime("%Y-%m-%d").fillna("")
            else:
                text = values.astype(object).map(lambda v: "" if pd.isna(v) else str(v))
            assert written[column].tolist() == text.tolist(), (name, column)


def test_non_empty_output_folder_is_refused_without_overwrite(fitted, tmp_path, capsys):
    _, model, _ = fitted
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    code, printed, err = run(["sample", model, "-n", 50, "-o", out], capsys)
    assert code == 2
    assert err.startswith("bayesgen sample: error: ")
    assert str(out) in err and "not empty" in err and "--overwrite" in err
    assert snapshot(out) == {"keep.txt": b"precious"}
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no staging folder left behind

    code, _, err = run(["sample", model, "-n", 50, "-o", out, "--overwrite"], capsys)
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["DATA_DICTIONARY.md", *(f"{name}.csv" for name in TABLES)]


def test_demo_refuses_a_non_empty_folder_before_doing_any_work(tmp_path, capsys):
    (tmp_path / "old.csv").write_text("x")
    code, printed, err = run(["demo", "--out", tmp_path, "--patients", 100], capsys)
    assert code == 2 and "not empty" in err and "--overwrite" in err
    assert printed == "" and snapshot(tmp_path) == {"old.csv": b"x"}


def test_same_seed_gives_identical_files_and_another_seed_does_not(fitted, tmp_path, capsys):
    _, model, _ = fitted
    for folder, seed in (("a", 5), ("b", 5), ("c", 6)):
        assert run(["sample", model, "-n", 400, "-o", tmp_path / folder, "--seed", seed,
                    "--chunk-size", 150 if folder == "b" else 1_000_000], capsys)[0] == 0
    assert snapshot(tmp_path / "a") == snapshot(tmp_path / "b")  # chunking does not matter either
    assert snapshot(tmp_path / "a") != snapshot(tmp_path / "c")


@pytest.mark.parametrize("argv,message", [
    (["sample", "{model}", "-n", "0", "-o", "{out}"], "--patients must be at least 1"),
    (["sample", "{missing}", "-n", "5", "-o", "{out}"], "does not exist"),
    (["ledger", "{missing}"], "does not exist"),
])
def test_user_errors_exit_2_with_a_message(fitted, tmp_path, capsys, argv, message):
    _, model, _ = fitted
    values = {"model": model, "out": tmp_path / "out", "missing": tmp_path / "absent.json"}
    code, printed, err = run([a.format(**values) for a in argv], capsys)
    assert code == 2 and message in err and printed == ""
    assert not (tmp_path / "out").exists()


def test_bad_epsilon_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "x", "--schema", "gbsg2", "--epsilon", "0", "-o", "m.json"])
    assert exit_info.value.code == 2
    assert "epsilon must be positive" in capsys.readouterr().err
