"""The Dask backend on real LocalClusters (worker processes with one thread each).

- sampling to parts gives byte-identical files with the local backend, 1 worker and 2 workers;
- a fit on a 4-partition dataset gives the same counts (and ledger) as a local fit;
- deleting a part and rerunning restores an identical part.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bayesgen as bg

pytest.importorskip("distributed")

from bayesgen.backends.dask_backend import DaskExecutor  # noqa: E402
from bayesgen.cli.main import main  # noqa: E402
from bayesgen.errors import DataValidationError  # noqa: E402
from bayesgen.params.fit import exact_family_counts, sum_exact_counts  # noqa: E402
from bayesgen.schema.encode import encode_tables  # noqa: E402
from bayesgen.tables.parts import count_partition, partition_files, read_manifest  # noqa: E402

N, CHUNK = 9_000, 2_000  # 5 chunks: the two workers share them unevenly


@pytest.fixture(scope="module")
def cluster():
    with DaskExecutor(workers=2) as executor:
        yield executor


@pytest.fixture(scope="module")
def model(saved_simulacrum_model):
    return saved_simulacrum_model


@pytest.fixture(scope="module")
def local_run(model, tmp_path_factory):
    out = tmp_path_factory.mktemp("local") / "out"
    model.sample_to(out, N, rng=21, chunk_rows=CHUNK)
    return out


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_cluster_has_two_single_threaded_worker_processes(cluster):
    workers = cluster.client.scheduler_info()["workers"]
    assert len(workers) == 2 and all(w["nthreads"] == 1 for w in workers.values())
    assert len(set(cluster.client.run(os.getpid).values())) == 2  # two processes, not threads
    if "MALLOC_TRIM_THRESHOLD_" not in os.environ:  # glibc's adaptive malloc, as in the local backend
        assert set(cluster.client.run(os.environ.get, "MALLOC_TRIM_THRESHOLD_").values()) == {None}


def test_files_identical_for_local_one_worker_and_two_workers(model, local_run, cluster, tmp_path):
    two = model.sample_to(tmp_path / "two", N, rng=21, chunk_rows=CHUNK, backend=cluster)
    with DaskExecutor(workers=1) as single:
        one = model.sample_to(tmp_path / "one", N, rng=21, chunk_rows=CHUNK, backend=single)
    expected = tree(local_run)
    assert len(expected) == 2 * 5 + 1
    assert tree(tmp_path / "two") == expected
    assert tree(tmp_path / "one") == expected
    assert one.manifest == two.manifest == read_manifest(local_run)
    assert len(set(two.processes.values())) == 2 and os.getpid() not in two.processes.values()  # both workers wrote
    assert len(set(one.processes.values())) == 1
    patients = pd.read_parquet(tmp_path / "two" / "SIM_AV_PATIENT")
    tumours = pd.read_parquet(tmp_path / "two" / "SIM_AV_TUMOUR")
    assert patients["PATIENTID"].is_unique and len(patients) == N
    assert tumours["TUMOURID"].is_unique and tumours["PATIENTID"].isin(patients["PATIENTID"]).all()


def test_deleting_a_part_and_rerunning_restores_an_identical_part(model, local_run, cluster, tmp_path):
    target = tmp_path / "run"
    model.sample_to(target, N, rng=21, chunk_rows=CHUNK, backend=cluster)
    lost = target / "SIM_AV_TUMOUR" / "part-00003.parquet"
    lost.unlink()
    rerun = model.sample_to(target, N, rng=21, chunk_rows=CHUNK, backend=cluster)
    assert rerun.generated == [3]
    assert lost.read_bytes() == (local_run / "SIM_AV_TUMOUR" / "part-00003.parquet").read_bytes()
    assert tree(target) == tree(local_run)


def test_cli_on_an_existing_scheduler(model, local_run, cluster, tmp_path, capsys):
    address = cluster.client.scheduler.address
    target = tmp_path / "cli"
    code = main(["sample", str(model.model_path), "-n", str(N), "-o", str(target), "--format", "parquet",
                 "--seed", "21", "--chunk-rows", str(CHUNK), "--backend", "dask", "--scheduler", address])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert f"scheduler {address}" in printed.out
    assert tree(target) == tree(local_run)


@pytest.fixture(scope="module")
def partitioned(toy_schema, tmp_path_factory):
    """A toy registry of 2,000 patients split by person into 4 partitions, as Parquet and as CSV."""
    from conftest import make_toy_tables

    tables = make_toy_tables(2_000, seed=4)
    roots = {}
    for suffix in ("parquet", "csv"):
        root = tmp_path_factory.mktemp(suffix)
        for name, frame in tables.items():
            (root / name).mkdir()
            for i in range(4):
                piece = frame[(frame["PID"] - 1) // 500 == i]
                if suffix == "parquet":
                    piece.to_parquet(root / name / f"part-{i}.parquet", index=False)
                else:
                    piece.to_csv(root / name / f"part-{i}.csv", index=False)
        roots[suffix] = root
    return tables, roots


@pytest.mark.parametrize("suffix", ["parquet", "csv"])
def test_fit_on_four_partitions_gives_the_counts_of_a_local_fit(toy_schema, toy_structure, partitioned, cluster,
                                                                suffix):
    tables, roots = partitioned
    whole = exact_family_counts(encode_tables(tables, toy_schema), toy_schema, toy_structure)
    parts = partition_files(roots[suffix], toy_schema)
    assert len(parts) == 4
    count = lambda frames: count_partition(frames, toy_schema, toy_structure)  # noqa: E731
    results = list(cluster.map_partitions(count, parts))  # read with dask.dataframe on the workers
    assert [len(r["persons"]) for r in results] == [500] * 4
    summed = sum_exact_counts(r["counts"] for r in results)
    assert set(summed.counts) == set(whole.counts)
    for node, counts in whole.counts.items():
        assert np.array_equal(summed.counts[node], counts), node
    assert summed.rows_per_person == whole.rows_per_person and summed.bounding_report == whole.bounding_report

    local = bg.Synthesizer(toy_schema, toy_structure, epsilon=math.inf).fit(tables)
    dask_fit = bg.Synthesizer(toy_schema, toy_structure, epsilon=math.inf).fit_partitioned(roots[suffix],
                                                                                          backend=cluster)
    for node, table in local.cpts_.items():  # no noise: the CPTs are functions of the exact counts
        assert np.array_equal(dask_fit.cpts_[node].probabilities, table.probabilities), node
    # the same measurements; without pruning, whose choice of edges depends on noisy row counts
    noisy = bg.Synthesizer(toy_schema, toy_structure, epsilon=1.0, prune=None)
    assert noisy.fit_partitioned(roots[suffix], backend=cluster).ledger_ == \
        bg.Synthesizer(toy_schema, toy_structure, epsilon=1.0, prune=None).fit(tables).ledger_


def test_errors_in_workers_arrive_as_bayesgen_errors(toy_schema, toy_structure, partitioned, cluster, tmp_path):
    tables, _ = partitioned
    root = tmp_path / "broken"
    for name, frame in tables.items():
        (root / name).mkdir(parents=True)
        frame.iloc[:1000].to_parquet(root / name / "a.parquet", index=False)
        frame.iloc[1000:].to_parquet(root / name / "b.parquet", index=False)  # tumours split off their patients
    with pytest.raises(DataValidationError, match=r"P\.PID: has fewer than 1 rows in T \(value \d+, \d+ rows\)"):
        bg.Synthesizer(toy_schema, toy_structure, epsilon=1.0).fit_partitioned(root, backend=cluster)


def test_partitioned_fit_sums_the_event_statistics_before_any_noise(cluster, tmp_path):
    """The time-to-event module's counts and exposure add up over partitions of persons, exactly."""
    from bayesgen.events.fit import exact_event_statistics

    schema = bg.Schema.load("schemas/simulacrum_v2_core.yaml")
    structure = bg.Structure.load("structures/simulacrum_v2_core.yaml")
    tables = bg.datasets.simulate_registry(4_000, rng=5, full=False)
    patients, tumours = tables["SIM_AV_PATIENT"], tables["SIM_AV_TUMOUR"]
    for part, ids in enumerate(np.array_split(patients["PATIENTID"].to_numpy(), 4)):
        for name, frame in (("SIM_AV_PATIENT", patients), ("SIM_AV_TUMOUR", tumours)):
            (tmp_path / name).mkdir(exist_ok=True)
            frame[frame["PATIENTID"].isin(ids)].to_parquet(tmp_path / name / f"part-{part}.parquet", index=False)
    whole = exact_event_statistics(encode_tables(tables, schema), schema, structure)
    results = list(cluster.map_partitions(lambda frames: count_partition(frames, schema, structure),
                                          partition_files(tmp_path, schema)))
    summed = results[0]["events"] + results[1]["events"] + results[2]["events"] + results[3]["events"]
    assert set(summed.events) == set(whole.events) == {"DEATH", "EXIT", "SURGERY"}
    for name in whole.events:
        assert whole.events[name].sum() > 0 and whole.exposure[name].sum() > 0
        assert np.array_equal(summed.events[name], whole.events[name]), name
        assert np.array_equal(summed.exposure[name], whole.exposure[name]), name
    local = bg.Synthesizer(schema, structure, epsilon=math.inf).fit(tables)
    spread = bg.Synthesizer(schema, structure, epsilon=math.inf).fit_partitioned(tmp_path, backend=cluster)
    for name, rates in local.events_.rates.items():  # no noise: the hazards are functions of the statistics
        assert np.array_equal(spread.events_.rates[name], rates), name
    private = bg.Synthesizer(schema, structure, epsilon=1.0, prune=None).fit_partitioned(tmp_path, backend=cluster)
    assert private.ledger_ == bg.Synthesizer(schema, structure, epsilon=1.0, prune=None).fit(tables).ledger_
    assert {"life table of survival: DEATH+EXIT (exits and entries)",
            "life table of surgery: SURGERY (exits and entries)"} <= {e["what"] for e in private.ledger_["entries"]}
    for name, table in whole.life_tables.items():
        assert np.array_equal(sum(r["events"].life_tables[name] for r in results), table), name
