"""Fuzzing: malformed tables, schemas and files give a bayesgen error naming where, never anything else.

Hypothesis mutates valid toy tables (wrong types, NaN/inf, huge strings, negative ages, dates in year
1 or 9999, duplicated keys, orphaned children, empty frames, missing/extra columns and tables),
malformed schema documents, and CSV files with non-UTF-8 bytes. Every input must either be accepted
or raise a :class:`bayesgen.BayesgenError` whose message names the table (or the file); any other
exception, a hang (deadline) or a partial output file fails the test. Examples per run in CI:
1,600 table mutations on encoding, 150 on a whole fit and sample, 600 schema documents and 60 damaged
CSV files through the CLI: 2,410 in all (derandomized, so CI runs the same examples every time).
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bayesgen as bg
from bayesgen.cli.main import main
from bayesgen.schema.encode import encode_tables
from tests.conftest import make_toy_tables

FIXTURES = Path(__file__).parent.parent / "fixtures"
SCHEMA = bg.Schema.load(FIXTURES / "toy_schema.yaml")
STRUCTURE = bg.Structure.load(FIXTURES / "toy_structure.yaml")
BASE = make_toy_tables(n=25, seed=1)
FUZZ = settings(max_examples=1600, deadline=2000, suppress_health_check=list(HealthCheck), derandomize=True)

bad_values = st.one_of(
    st.none(), st.just(np.nan), st.just(np.inf), st.just(-np.inf), st.just(""), st.just("   "),
    st.text(max_size=20), st.just("x" * 20_000), st.integers(-(2**70), 2**70), st.floats(allow_nan=True),
    st.booleans(), st.just(-5), st.just("0001-01-01"), st.just("9999-12-31"), st.just("2012-02-30"),
    st.just(pd.NaT), st.just(pd.Timestamp("1677-09-22")), st.binary(max_size=8), st.just([1, 2]),
    st.just({"a": 1}), st.just("C61X"), st.just("D"), st.just(b"\xff\xfe"),
)


def _set_cell(frame: pd.DataFrame, column: str, row: int, value) -> None:
    values = np.empty(len(frame), dtype=object)
    values[:] = list(frame[column].astype(object))  # element by element: lists stay single cells
    values[row] = value
    frame[column] = pd.Series(values, index=frame.index, dtype=object)


@st.composite
def mutated_tables(draw):
    tables = {name: frame.copy() for name, frame in BASE.items()}
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["cell", "cell", "cell", "column_dtype", "duplicate_key", "orphan",
                                     "empty", "drop_column", "extra_column", "drop_table", "reorder"]))
        name = draw(st.sampled_from(sorted(tables)))
        frame = tables[name]
        if frame.empty or not len(frame.columns):
            continue
        column = draw(st.sampled_from(list(frame.columns)))
        if kind == "cell":
            _set_cell(frame, column, draw(st.integers(0, len(frame) - 1)), draw(bad_values))
        elif kind == "column_dtype":
            dtype = draw(st.sampled_from(["object", "string", "category"]))
            try:
                frame[column] = frame[column].astype(dtype)
            except (TypeError, ValueError):  # a value pandas itself cannot convert: keep the column
                pass
        elif kind == "duplicate_key":
            tables[name] = pd.concat([frame, frame.iloc[[0]]], ignore_index=True)
        elif kind == "orphan" and "PID" in frame.columns and name == "T":
            _set_cell(frame, "PID", draw(st.integers(0, len(frame) - 1)), 10_000)
        elif kind == "empty":
            tables[name] = frame.iloc[0:0]
        elif kind == "drop_column":
            tables[name] = frame.drop(columns=[column])
        elif kind == "extra_column":
            frame["EXTRA"] = 1
        elif kind == "drop_table" and len(tables) > 1:
            del tables[name]
        elif kind == "reorder":
            tables[name] = frame[list(reversed(frame.columns))]
    return tables


def _names_where(error: bg.BayesgenError) -> bool:
    text = str(error)
    return any(name in text for name in ("P", "T")) or "table" in text


@FUZZ
@given(tables=mutated_tables())
def test_malformed_tables_give_a_bayesgen_error_naming_where(tables):
    try:
        encode_tables(tables, SCHEMA)
    except bg.BayesgenError as error:
        assert _names_where(error), str(error)


@settings(max_examples=150, deadline=5000, suppress_health_check=list(HealthCheck), derandomize=True)
@given(tables=mutated_tables())
def test_malformed_tables_never_break_a_whole_fit(tables):
    try:
        model = bg.Synthesizer(SCHEMA, STRUCTURE, epsilon=1.0).fit(tables)
    except bg.BayesgenError as error:
        assert _names_where(error), str(error)
    else:
        assert set(model.sample(20, rng=0)) == {"P", "T"}


SCHEMA_DOCUMENT = yaml.safe_load((FIXTURES / "toy_schema.yaml").read_text())


@st.composite
def mutated_schema(draw):
    document = copy.deepcopy(SCHEMA_DOCUMENT)
    for _ in range(draw(st.integers(1, 3))):
        table = document["tables"][draw(st.sampled_from(sorted(document["tables"])))]
        columns = table.get("columns")
        if not isinstance(columns, list) or not columns:
            continue
        column = columns[draw(st.integers(0, len(columns) - 1))]
        kind = draw(st.sampled_from(["drop_key", "bad_value", "drop_table_key", "duplicate", "spec", "root"]))
        if kind == "drop_key" and len(column) > 1:
            column.pop(draw(st.sampled_from(sorted(column))))
        elif kind == "bad_value":
            key = draw(st.sampled_from(["type", "categories", "min", "max", "bins", "missing", "derived",
                                        "relative_to", "name"]))
            column[key] = draw(st.one_of(bad_values, st.lists(st.integers(-5, 5), max_size=4),
                                         st.just([3, 2, 1]), st.just([]), st.just("date")))
        elif kind == "drop_table_key":
            table.pop(draw(st.sampled_from(sorted(table))))
        elif kind == "duplicate":
            columns.append(dict(column))
        elif kind == "spec":
            document["spec_version"] = draw(st.one_of(st.integers(-2, 5), st.text(max_size=3), st.none()))
        elif kind == "root":
            document["root_table"] = draw(st.text(max_size=3))
    return document


@settings(max_examples=600, deadline=2000, suppress_health_check=list(HealthCheck), derandomize=True)
@given(document=mutated_schema())
def test_malformed_schemas_give_a_schema_error(document):
    try:
        schema = bg.Schema.from_dict(document, source="fuzzed.yaml")
    except bg.BayesgenError as error:
        assert str(error)
    else:  # accepted: it must then be usable on matching data, or refuse the data cleanly
        try:
            encode_tables(BASE, schema)
        except bg.BayesgenError:
            pass


@settings(max_examples=60, deadline=10_000, suppress_health_check=list(HealthCheck), derandomize=True)
@given(junk=st.binary(min_size=1, max_size=64), at=st.integers(0, 2000))
def test_non_utf8_csv_fails_cleanly_with_no_partial_output(tmp_path_factory, junk, at):
    folder = tmp_path_factory.mktemp("data")
    for name, frame in BASE.items():
        frame.to_csv(folder / f"{name}.csv", index=False)
    target = folder / "T.csv"
    raw = target.read_bytes()
    at = min(at, len(raw))
    target.write_bytes(raw[:at] + b"\xff\xfe" + junk + raw[at:])
    out = tmp_path_factory.mktemp("out")
    code = main(["fit", str(folder), "--schema", str(FIXTURES / "toy_schema.yaml"),
                 "--structure", str(FIXTURES / "toy_structure.yaml"), "-o", str(out / "model.json")])
    assert code in (0, 2)
    if code == 2:
        assert list(out.iterdir()) == []  # nothing half-written
