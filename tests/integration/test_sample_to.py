"""Partitioned, resumable output with the local backend: Synthesizer.sample_to and bayesgen sample --parts."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bayesgen as bg
from bayesgen.backends import Executor
from bayesgen.cli.main import main
from bayesgen.errors import BayesgenError
from bayesgen.schema.check import check_tables
from bayesgen.tables.ids import shift_ids
from bayesgen.tables.parts import (
    MANIFEST,
    PROGRESS,
    RUN_FILE,
    read_manifest,
    sha256_of,
    write_frame,
)

TABLES = ["SIM_AV_PATIENT", "SIM_AV_TUMOUR"]


@pytest.fixture(scope="module")
def model(saved_simulacrum_model):
    return saved_simulacrum_model


@pytest.fixture(scope="module")
def reference(model, tmp_path_factory):
    """One finished run: 2,500 patients in chunks of 1,000 (3 parts per table)."""
    out = tmp_path_factory.mktemp("reference") / "out"
    result = model.sample_to(out, 2_500, rng=11, chunk_rows=1_000)
    return out, result


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def read_all(folder: Path) -> dict[str, pd.DataFrame]:
    return {name: pd.read_parquet(folder / name) for name in TABLES}


def test_layout_and_manifest(reference):
    out, result = reference
    assert sorted(p.name for p in out.iterdir()) == sorted([*TABLES, MANIFEST])  # no run or progress files
    manifest = read_manifest(out)
    assert manifest == result.manifest == json.loads((out / MANIFEST).read_text())
    assert manifest["n_chunks"] == 3 and manifest["n_patients"] == 2_500 and manifest["chunk_rows"] == 1_000
    assert manifest["seed"]["entropy"] == "11" and manifest["seed"]["spawn_key"] == []
    assert manifest["model_sha256"] and manifest["libraries"]["bayesgen"]
    assert [c["patients"] for c in manifest["chunks"]] == [1_000, 1_000, 500]
    for chunk in manifest["chunks"]:
        for name in TABLES:
            entry = chunk["files"][name]
            path = out / entry["path"]
            assert path.parent.name == name and path.name == f"part-{chunk['index']:05d}.parquet"
            assert sha256_of(path) == entry["sha256"] and path.stat().st_size == entry["bytes"]
            assert len(pd.read_parquet(path)) == entry["rows"]
    assert manifest["rows"]["SIM_AV_PATIENT"] == 2_500
    assert result.generated == [0, 1, 2] and set(result.seconds) == {0, 1, 2}


def test_keys_unique_and_joins_valid_across_parts(model, reference):
    out, _ = reference
    tables = read_all(out)
    patients, tumours = tables["SIM_AV_PATIENT"], tables["SIM_AV_TUMOUR"]
    assert patients["PATIENTID"].tolist() == list(range(1, 2_501))
    assert tumours["TUMOURID"].is_unique
    assert tumours["PATIENTID"].isin(patients["PATIENTID"]).all()
    assert patients["PATIENTID"].isin(tumours["PATIENTID"]).all()  # everyone has at least one tumour
    assert (patients["LINKNUMBER"] == patients["PATIENTID"]).all()
    # the copied columns still agree with their patient after the join across parts
    joined = tumours.merge(patients[["PATIENTID", "GENDER"]], on="PATIENTID", suffixes=("", "_P"))
    assert (joined["GENDER"].astype(str) == joined["GENDER_P"].astype(str)).all()
    assert check_tables(tables, model.schema, model.structure_) == []


def test_chunk_is_the_documented_sample(model, reference, tmp_path):
    """Chunk i = sample(chunk_n, rng=SeedSequence(seed).spawn(n_chunks)[i]) with its keys shifted."""
    out, _ = reference
    seeds = np.random.SeedSequence(11).spawn(3)
    expected = shift_ids(model.sample(500, rng=seeds[2]), model.schema, 2, 1_000)
    for name in TABLES:
        write_frame(expected[name], tmp_path / f"{name}.parquet", "parquet")
        assert (tmp_path / f"{name}.parquet").read_bytes() == (out / name / "part-00002.parquet").read_bytes()


def test_same_run_gives_identical_files_whatever_the_threads(model, reference, tmp_path):
    out, _ = reference
    again = model.sample_to(tmp_path / "again", 2_500, rng=11, chunk_rows=1_000, n_threads=1)
    assert tree(tmp_path / "again") == tree(out)
    assert again.manifest == read_manifest(out)
    other = model.sample_to(tmp_path / "other", 2_500, rng=12, chunk_rows=1_000)
    assert other.manifest["chunks"][0]["files"] != again.manifest["chunks"][0]["files"]


def test_rerun_after_a_crash_writes_only_missing_chunks(model, reference, tmp_path):
    out, _ = reference

    class Crash(Exception):
        pass

    class CrashAfterTwo(Executor):
        def map(self, function, items, **shared):
            for count, item in enumerate(items):
                if count == 2:
                    raise Crash("the machine went down")
                yield function(item, **shared)

    target = tmp_path / "crashed"
    with pytest.raises(Crash):
        model.sample_to(target, 2_500, rng=11, chunk_rows=1_000, backend=CrashAfterTwo())
    assert not (target / MANIFEST).exists() and (target / RUN_FILE).exists()
    assert sorted(p.name for p in (target / PROGRESS).iterdir()) == ["chunk-00000.json", "chunk-00001.json"]
    (target / "SIM_AV_TUMOUR" / ".part-00002.parquet.abc.tmp").write_bytes(b"half a file")  # a crash mid-write
    finished = model.sample_to(target, 2_500, chunk_rows=1_000)  # no seed: the recorded one is reused
    assert finished.generated == [2]
    assert tree(target) == tree(out)


def test_deleting_or_damaging_a_part_and_rerunning_restores_it(model, reference, tmp_path):
    out, _ = reference
    target = tmp_path / "copy"
    model.sample_to(target, 2_500, rng=11, chunk_rows=1_000)
    (target / "SIM_AV_PATIENT" / "part-00001.parquet").unlink()
    damaged = target / "SIM_AV_TUMOUR" / "part-00002.parquet"
    data = bytearray(damaged.read_bytes())
    data[100] ^= 0xFF  # same size, other bytes: only the checksum sees it
    damaged.write_bytes(bytes(data))
    repaired = model.sample_to(target, 2_500, rng=11, chunk_rows=1_000)
    assert repaired.generated == [1, 2]
    assert tree(target) == tree(out)
    assert model.sample_to(target, 2_500, rng=11, chunk_rows=1_000).generated == []  # nothing left to do


def test_other_settings_or_foreign_folders_are_refused(model, reference, tmp_path):
    out, _ = reference
    with pytest.raises(BayesgenError, match=r"holds a finished run with other settings \(seed.entropy: \"12\" now"):
        model.sample_to(out, 2_500, rng=12, chunk_rows=1_000)
    with pytest.raises(BayesgenError, match="n_patients: 2600 now, 2500 in the folder"):
        model.sample_to(out, 2_600, rng=11, chunk_rows=1_000)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(BayesgenError, match="holds no bayesgen run"):
        model.sample_to(foreign, 100, rng=1)
    (foreign / MANIFEST).write_text("[]")
    with pytest.raises(BayesgenError, match="was not written by bayesgen sample_to"):
        model.sample_to(foreign, 100, rng=1)
    replaced = model.sample_to(foreign, 100, rng=1, chunk_rows=60, overwrite=True)
    assert replaced.manifest["n_chunks"] == 2 and not (foreign / "notes.txt").exists()
    with pytest.raises(ValueError, match="chunk_rows must be a positive integer"):
        model.sample_to(tmp_path / "x", 100, chunk_rows=0)
    with pytest.raises(BayesgenError, match="format must be one of"):
        model.sample_to(tmp_path / "x", 100, format="xlsx")
    with pytest.raises(bg.NotFittedError):
        bg.Synthesizer(model.schema).sample_to(tmp_path / "x", 10)


def test_csv_parts(model, tmp_path):
    result = model.sample_to(tmp_path / "csv", 300, format="csv", rng=2, chunk_rows=200)
    first = pd.read_csv(tmp_path / "csv" / "SIM_AV_PATIENT" / "part-00000.csv", dtype=str)
    assert len(first) == 200 and result.manifest["file_format"] == "csv"
    again = model.sample_to(tmp_path / "csv2", 300, format="csv", rng=2, chunk_rows=200)
    assert tree(tmp_path / "csv") == tree(tmp_path / "csv2") and again.manifest == result.manifest


def test_memory_is_bounded_by_the_chunk_not_by_n(model, tmp_path):
    """Peak traced memory (NumPy and Python allocations) while chunks are written: flat in n, grows with the chunk."""
    def chunk_peak(n, chunk_rows):
        peaks = []

        def note(_):
            peaks.append(tracemalloc.get_traced_memory()[1])
            tracemalloc.reset_peak()

        tracemalloc.start()
        try:
            model.sample_to(tmp_path / f"n{n}-{chunk_rows}", n, rng=1, chunk_rows=chunk_rows, progress=note)
        finally:
            tracemalloc.stop()
        return max(peaks[1:])  # the first chunk's peak also holds the model file's text

    small, large = chunk_peak(20_000, 10_000), chunk_peak(60_000, 10_000)
    assert large < 1.1 * small, (small, large)  # three times the persons, the same memory
    assert chunk_peak(60_000, 30_000) > 2 * small  # ... while a bigger chunk does take more (the measure works)


def test_cli_parts(model, reference, tmp_path, capsys):
    out, _ = reference
    target = tmp_path / "cli"
    code = main(["sample", str(model.model_path), "-n", "2500", "-o", str(target), "--format", "parquet", "--seed",
                 "11", "--chunk-rows", "1000", "--backend", "local"])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert "in 3 parts per table" in printed.out and "3 parts written" in printed.out
    assert tree(target) == tree(out)  # a loaded model file samples the same files
    (target / "SIM_AV_TUMOUR" / "part-00000.parquet").unlink()
    assert main(["sample", str(model.model_path), "-n", "2500", "-o", str(target), "--format", "parquet",
                 "--chunk-rows", "1000", "--parts"]) == 0
    assert "1 parts written, 2 already there" in capsys.readouterr().out
    assert tree(target) == tree(out)
    for args, message in ((["--workers", "2"], "need partitioned output"),
                          (["--parts", "--workers", "2"], "need --backend dask"),
                          (["--backend", "dask", "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "not both"),
                          (["--parts", "--chunk-rows", "0"], "--chunk-rows must be at least 1")):
        code = main(["sample", str(model.model_path), "-n", "10", "-o", str(tmp_path / "bad"), *args])
        assert code == 2 and message in capsys.readouterr().err, args
