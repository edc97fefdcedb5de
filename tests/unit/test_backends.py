"""Execution backends, id shifting, part files and partitioned counting (no cluster needed here)."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bayesgen as bg
from bayesgen.backends import Executor, get_executor, read_partition_file
from bayesgen.backends.local import LocalExecutor
from bayesgen.errors import BayesgenError, DataValidationError, SchemaError
from bayesgen.params.fit import (
    ExactCounts,
    exact_family_counts,
    measure_parameters,
    sum_exact_counts,
)
from bayesgen.privacy.accountant import PrivacyAccountant
from bayesgen.schema.columns import Column
from bayesgen.schema.encode import encode_tables
from bayesgen.tables.ids import id_offsets, rows_bound, shift_ids
from bayesgen.tables.parts import (
    chunk_seed,
    count_partition,
    part_name,
    partition_files,
    root_seed,
    write_frame,
)

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"


@pytest.fixture(scope="module")
def toy_model(toy_schema, toy_structure):
    from conftest import make_toy_tables

    return bg.Synthesizer(toy_schema, toy_structure, epsilon=math.inf).fit(make_toy_tables(400, seed=3))


def write_partitions(tables: dict, root: Path, n_parts: int, suffix: str = "parquet", key: str = "PID") -> Path:
    """Split ``tables`` by person (``key`` modulo ``n_parts``) into ``root/<TABLE>/p<i>.<suffix>``."""
    for name, frame in tables.items():
        (root / name).mkdir(parents=True)
        person = pd.to_numeric(frame[key])
        for i in range(n_parts):
            piece = frame[(person % n_parts) == i]
            if suffix == "parquet":
                piece.to_parquet(root / name / f"p{i}.parquet", index=False)
            else:
                piece.to_csv(root / name / f"p{i}.csv", index=False)
    return root


# -- executors ---------------------------------------------------------------------------------------
def test_local_executor_is_lazy_and_ordered():
    calls = []

    def record(item, scale):
        calls.append(item)
        return item * scale

    results = LocalExecutor().map(record, [3, 1, 2], scale=10)
    assert calls == []  # nothing runs before a result is asked for: one chunk in memory at a time
    assert next(results) == 30 and calls == [3]
    assert list(results) == [10, 20]


def test_get_executor_names_and_errors():
    assert isinstance(get_executor("local"), LocalExecutor)
    executor = LocalExecutor()
    assert get_executor(executor) is executor
    with pytest.raises(ValueError, match="backend must be one of"):
        get_executor("spark")
    with pytest.raises(ValueError, match="need backend='dask'"):
        get_executor("local", workers=2)
    with pytest.raises(ValueError, match="not both"):
        get_executor("dask", workers=2, scheduler="tcp://127.0.0.1:1")
    with pytest.raises(ValueError, match="positive integer"):
        get_executor("dask", workers=0)


def test_default_map_partitions_reads_with_pandas(tmp_path):
    (tmp_path / "a.csv").write_text("ID,CODE\n1,01\n2,\n")
    [frames] = list(LocalExecutor().map_partitions(lambda f: f, [{"T": tmp_path / "a.csv"}]))
    assert frames["T"]["CODE"].tolist()[0] == "01" and pd.isna(frames["T"]["CODE"].tolist()[1])
    with pytest.raises(DataValidationError, match="cannot read"):
        read_partition_file(tmp_path / "missing.csv", "T")


# -- id shifting ---------------------------------------------------------------------------------------
def test_shift_ids_ranges_are_disjoint_and_joins_hold(toy_model, toy_schema):
    chunk_rows = 50
    seen = {"P": [], "T": []}
    for index in range(4):
        chunk = toy_model.sample(chunk_rows if index < 3 else 17, rng=index)
        shifted = shift_ids(chunk, toy_schema, index, chunk_rows)
        assert shifted["P"]["PID"].tolist() == list(range(index * chunk_rows + 1, index * chunk_rows + len(chunk["P"]) + 1))
        assert shifted["T"]["PID"].isin(shifted["P"]["PID"]).all()
        # every tumour keeps its own patient: the join is the same before and after shifting
        before = chunk["T"]["PID"].to_numpy()
        assert (shifted["T"]["PID"].to_numpy() - before == index * chunk_rows).all()
        low, high = index * chunk_rows * 2, (index + 1) * chunk_rows * 2  # T: at most 2 rows per patient
        assert shifted["T"]["TID"].between(low + 1, high).all()
        seen["P"] += shifted["P"]["PID"].tolist()
        seen["T"] += shifted["T"]["TID"].tolist()
        assert chunk["P"]["PID"].tolist()[0] == 1  # the input is not modified
    assert len(set(seen["P"])) == len(seen["P"]) and len(set(seen["T"])) == len(seen["T"])


def test_shift_ids_moves_every_id_column_of_a_table():
    schema = bg.Schema.load("schemas/simulacrum_v2_core.yaml")
    patients = pd.DataFrame({"PATIENTID": np.array([1, 2, 3]), "LINKNUMBER": np.array([1, 2, 3])})
    tumours = pd.DataFrame({"TUMOURID": np.array([1, 2, 3, 4]), "PATIENTID": np.array([1, 1, 2, 3])})
    shifted = shift_ids({"SIM_AV_PATIENT": patients, "SIM_AV_TUMOUR": tumours}, schema, 5, 3)
    assert shifted["SIM_AV_PATIENT"]["LINKNUMBER"].tolist() == shifted["SIM_AV_PATIENT"]["PATIENTID"].tolist() \
        == [16, 17, 18]
    assert shifted["SIM_AV_TUMOUR"]["PATIENTID"].tolist() == [16, 16, 17, 18]
    assert shifted["SIM_AV_TUMOUR"]["TUMOURID"].tolist() == [46, 47, 48, 49]  # 5 * 3 * 3 + 1..
    assert shifted["SIM_AV_TUMOUR"]["TUMOURID"].dtype == np.int64


def test_shift_ids_reformats_string_ids(toy_schema, toy_structure):
    def formatted(table, column, fmt):
        columns = tuple(replace(c, id_format=fmt) if c.name == column else c for c in table.columns)
        return replace(table, columns=columns)

    tables = dict(toy_schema.tables)
    tables["P"] = formatted(tables["P"], "PID", "P-{:05d}")
    tables["T"] = formatted(tables["T"], "TID", "{:x}t")
    schema = replace(toy_schema, tables=tables)
    model = bg.Synthesizer.from_cpts(schema, toy_structure, _uniform_cpts(schema, toy_structure))
    chunk = model.sample(30, rng=1)
    assert chunk["P"]["PID"].iloc[0] == "P-00001"
    shifted = shift_ids(chunk, schema, 2, 30)
    assert shifted["P"]["PID"].iloc[0] == "P-00061"
    assert shifted["T"]["PID"].isin(shifted["P"]["PID"]).all()
    numbers = shifted["T"]["TID"].str.slice(0, -1).map(lambda t: int(t, 16))
    assert numbers.min() > 2 * 30 * 2 and numbers.max() <= 3 * 30 * 2
    bad = {**chunk, "P": chunk["P"].assign(PID=pd.array(["Q-00001"] * len(chunk["P"]), dtype="string"))}
    with pytest.raises(SchemaError, match="does not match its format"):
        shift_ids(bad, schema, 0, 30)


def _uniform_cpts(schema, structure):
    from bayesgen.params.cpt import ConditionalTable

    variables = schema.variables
    cpts = {}
    for node in structure.nodes:
        parents = structure.parents(node)
        shape = tuple(variables[p].n_states for p in parents) + (variables[node].n_states,)
        probabilities = np.ones(shape) / shape[-1]
        if node == "DEAD":  # keep the declared cause/death constraints satisfiable: nobody dies
            probabilities = np.zeros(shape)
            probabilities[..., 0] = 1.0
        if node == "CAUSE":
            probabilities = np.zeros(shape)
            probabilities[..., -1] = 1.0
        cpts[node] = ConditionalTable(node, parents, probabilities)
    return cpts


def test_shift_ids_refuses_chunks_that_overflow_their_range(toy_schema):
    chunk = {"P": pd.DataFrame({"PID": np.arange(1, 4)}), "T": pd.DataFrame({"TID": np.arange(1, 8),
                                                                              "PID": np.ones(7, dtype=int)})}
    with pytest.raises(ValueError, match="keys would collide"):
        shift_ids(chunk, toy_schema, 0, 3)  # 7 tumours > 3 persons x 2 tumours each


def test_rows_bound_can_be_supplied_per_table(toy_schema):
    assert rows_bound(toy_schema.tables["T"], toy_schema) == 2
    assert rows_bound(toy_schema.tables["T"], toy_schema, {"T": 5}) == 5
    unbounded = replace(toy_schema.tables["T"], max_rows_per_parent=None)
    with pytest.raises(SchemaError, match="T: cannot give its rows globally unique keys"):
        rows_bound(unbounded, toy_schema)
    assert id_offsets(toy_schema, 3, 10, {"T": 4}) == {"P": 30, "T": 120}


# -- seeds and part files ------------------------------------------------------------------------------
def test_chunk_seeds_are_the_spawned_children_of_the_root():
    seed = root_seed(2024)
    children = np.random.SeedSequence(2024).spawn(5)
    for index, child in enumerate(children):
        assert (chunk_seed(seed, index).generate_state(4) == child.generate_state(4)).all()
    nested = np.random.SeedSequence(9).spawn(2)[1]
    assert (chunk_seed(root_seed(nested), 3).generate_state(2) == nested.spawn(4)[3].generate_state(2)).all()
    drawn = root_seed(np.random.default_rng(1))
    assert drawn == root_seed(np.random.default_rng(1)) and int(drawn["entropy"]) > 0
    for bad in (-1, 1.5, "7", True):
        with pytest.raises(ValueError, match="rng must be"):
            root_seed(bad)


def test_part_names_sort_in_chunk_order():
    names = [part_name(i, 123_456, "csv") for i in (0, 9, 10, 123_455)]
    assert names == sorted(names) and names[0] == "part-000000.csv"


def test_same_table_writes_identical_bytes(toy_model, tmp_path):
    for fmt in ("parquet", "csv"):
        a = toy_model.sample(200, rng=4)["T"]
        b = toy_model.sample(200, rng=4)["T"]
        write_frame(a, tmp_path / f"a.{fmt}", fmt)
        write_frame(b, tmp_path / f"b.{fmt}", fmt)
        assert (tmp_path / f"a.{fmt}").read_bytes() == (tmp_path / f"b.{fmt}").read_bytes()
    back = pd.read_parquet(tmp_path / "a.parquet")
    assert list(back.columns) == list(a.columns) and len(back) == len(a)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary files left


# -- partitioned counting ----------------------------------------------------------------------------
def test_counts_of_person_partitions_add_up_to_the_whole(toy_schema, toy_structure, tmp_path):
    from conftest import make_toy_tables

    tables = make_toy_tables(900, seed=5)
    whole = exact_family_counts(encode_tables(tables, toy_schema), toy_schema, toy_structure)
    root = write_partitions(tables, tmp_path / "parts", 3, suffix="csv")
    partitions = partition_files(root, toy_schema)
    counted = [count_partition({n: read_partition_file(p, n) for n, p in part.items()}, toy_schema, toy_structure)
               for part in partitions]
    total = sum_exact_counts(c["counts"] for c in counted)
    assert set(total.counts) == set(whole.counts)
    for node, table in whole.counts.items():
        assert np.array_equal(total.counts[node], table), node
    assert total.rows_per_person == whole.rows_per_person
    assert total.bounding_report == whole.bounding_report and total.n_rows == whole.n_rows
    assert sum(len(c["persons"]) for c in counted) == 900


def test_measure_needs_the_counts_of_every_family(toy_schema, toy_structure):
    exact = ExactCounts({"SEX": np.array([3, 4])}, {"P": 1, "T": 2})
    with pytest.raises(ValueError, match="no exact counts"):
        measure_parameters(exact, toy_schema, toy_structure, PrivacyAccountant(1.0))
    with pytest.raises(ValueError, match="no partitions"):
        sum_exact_counts([])


def test_partition_layout_errors(toy_schema, tmp_path):
    with pytest.raises(BayesgenError, match="is not a folder"):
        partition_files(tmp_path / "nothing", toy_schema)
    (tmp_path / "P").mkdir()
    (tmp_path / "P" / "a.csv").write_text("")
    with pytest.raises(DataValidationError, match="T: no folder"):
        partition_files(tmp_path, toy_schema)
    (tmp_path / "T").mkdir()
    (tmp_path / "T" / "b.csv").write_text("")
    with pytest.raises(DataValidationError, match="do not match those of P"):
        partition_files(tmp_path, toy_schema)
    (tmp_path / "T" / "b.csv").rename(tmp_path / "T" / "a.parquet")
    with pytest.raises(BayesgenError, match="mixes file types"):
        partition_files(tmp_path, toy_schema)


def test_fit_partitioned_refuses_a_person_in_two_partitions(toy_schema, toy_structure, tmp_path):
    from conftest import make_toy_tables

    tables = make_toy_tables(200, seed=2)
    root = write_partitions(tables, tmp_path / "parts", 2)
    # patient 2 is in p0; copy it (with its tumours, new tumour ids) into p1 as well
    p1 = pd.read_parquet(root / "P" / "p1.parquet")
    t1 = pd.read_parquet(root / "T" / "p1.parquet")
    extra = tables["T"][tables["T"]["PID"] == 2].assign(TID=lambda f: f["TID"] + 10_000)
    pd.concat([p1, tables["P"][tables["P"]["PID"] == 2]]).to_parquet(root / "P" / "p1.parquet", index=False)
    pd.concat([t1, extra]).to_parquet(root / "T" / "p1.parquet", index=False)
    model = bg.Synthesizer(toy_schema, toy_structure, epsilon=1.0)
    with pytest.raises(DataValidationError, match=r"P\.PID: 1 persons appear in more than one partition.*value 2"):
        model.fit_partitioned(root)
    assert not hasattr(model, "ledger_")  # refused before any budget was spent


def test_fit_partitioned_refuses_a_child_row_away_from_its_person(toy_schema, toy_structure, tmp_path):
    from conftest import make_toy_tables

    tables = make_toy_tables(200, seed=2)
    root = write_partitions(tables, tmp_path / "parts", 2)
    t0 = pd.read_parquet(root / "T" / "p0.parquet")
    moved = tables["T"][tables["T"]["PID"] == 1]  # patient 1 lives in p1
    pd.concat([t0, moved]).to_parquet(root / "T" / "p0.parquet", index=False)
    with pytest.raises(DataValidationError, match="T.PID: refers to a P.PID that does not exist"):
        bg.Synthesizer(toy_schema, toy_structure, epsilon=1.0).fit_partitioned(root)


def test_fit_partitioned_matches_fit(toy_schema, toy_structure, tmp_path):
    from conftest import make_toy_tables

    tables = make_toy_tables(800, seed=8)
    root = write_partitions(tables, tmp_path / "parts", 4)
    exact = bg.Synthesizer(toy_schema, toy_structure, epsilon=math.inf)
    local = exact.fit(tables)
    parted = bg.Synthesizer(toy_schema, toy_structure, epsilon=math.inf).fit_partitioned(root)
    for node, table in local.cpts_.items():
        assert np.array_equal(table.probabilities, parted.cpts_[node].probabilities), node
    # the same measurements (the ledgers compare equal only without pruning, whose choice of edges
    # depends on noisy row counts)
    noisy = bg.Synthesizer(toy_schema, toy_structure, epsilon=1.0, prune=None).fit_partitioned(root)
    assert noisy.ledger_ == bg.Synthesizer(toy_schema, toy_structure, epsilon=1.0, prune=None).fit(tables).ledger_
    assert noisy.bounding_report_ == local.bounding_report_
    assert noisy.sample(20, rng=1)["P"].shape[0] == 20
    with pytest.raises(ValueError, match="learning a structure from partitions is not supported"):
        bg.Synthesizer(toy_schema, "learn", epsilon=1.0).fit_partitioned(root)


def test_custom_executors_plug_in(toy_model, tmp_path):
    class Reversed(Executor):
        """Runs tasks in reverse order (as a cluster might finish them), yields in order."""

        def map(self, function, items, **shared):
            items = list(items)
            results = [function(item, **shared) for item in reversed(items)]
            return iter(reversed(results))

    a = toy_model.sample_to(tmp_path / "a", 130, rng=3, chunk_rows=40)
    b = toy_model.sample_to(tmp_path / "b", 130, rng=3, chunk_rows=40, backend=Reversed())
    assert a.manifest == b.manifest
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_column_type_is_id_for_every_key():  # guards the assumption shift_ids relies on
    for name in ("simulacrum_v2", "simulacrum_v2_core", "ncr_breast", "gbsg2"):
        schema = bg.Schema.load(f"schemas/{name}.yaml")
        for table in schema.tables.values():
            if table.primary_key is not None:  # a leaf table may have none (SIM_RTDS_EXPOSURE)
                assert isinstance(table.column(table.primary_key), Column)
                assert table.column(table.primary_key).type == "id"
            if table.parent is not None:
                assert table.column(table.parent.key).type == "id"
