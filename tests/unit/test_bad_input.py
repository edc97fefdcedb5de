"""Bad input gives a bayesgen error naming table, column, value and row count; no partial output.

Every case edits otherwise valid tables in one place and checks the error's type (always a
:class:`~bayesgen.errors.BayesgenError`), its attributes and its text. Row counts are the number of
rows edited, so a wrong count, a wrong value or a wrong table fails the test. Output tests check the
whole folder (hidden temporary files included) after a failed run.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import bayesgen as bg
from bayesgen.cli.main import main
from bayesgen.schema.encode import encode_tables
from bayesgen.tables import io as table_io
from bayesgen.tables.io import read_tables, write_tables

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


# -- helpers -------------------------------------------------------------------------------------
def copy_tables(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    return {name: frame.copy() for name, frame in tables.items()}


def set_cells(tables, table: str, column: str, rows, value) -> None:
    """Put ``value`` into ``rows`` (positions) of ``table.column``, as an object column."""
    frame = tables[table]
    frame[column] = frame[column].astype(object)
    for row in rows:
        frame.at[frame.index[row], column] = value


def fit(schema, structure, tables):
    return bg.Synthesizer(schema, structure, epsilon=1.0).fit(tables)


def assert_count(text: str, n_rows: int) -> None:
    assert re.search(rf"(?<![\d.]){n_rows} rows?\b", text), f"row count {n_rows} not in {text!r}"


def assert_data_error(err, table, column, problem, value, n_rows) -> None:
    """``err`` is a DataValidationError at ``table.column`` with this value and row count."""
    assert isinstance(err, bg.DataValidationError) and isinstance(err, bg.BayesgenError)
    assert (err.table, err.column) == (table, column)
    assert err.n_rows == n_rows
    text = str(err)
    where = table if column is None else f"{table}.{column}"
    assert text.startswith(f"{where}: "), text
    assert problem in text, text
    if value is not None:
        assert err.value == value
        assert repr(value) in text, text
    if n_rows is not None:
        assert_count(text, n_rows)


def files_under(folder: Path) -> list[str]:
    """Every file and folder below ``folder``, hidden ones included, as sorted relative paths."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def load_structure_dict() -> dict:
    return yaml.safe_load((FIXTURES / "toy_structure.yaml").read_text(encoding="utf-8"))


# -- baseline: the unedited tables are accepted (so each failure below is caused by its edit) -----
def test_unedited_toy_tables_are_accepted(toy_schema, toy_tables):
    data = encode_tables(toy_tables, toy_schema)
    assert data.n_rows["P"] == len(toy_tables["P"])


# -- 1-5: bad cell values ------------------------------------------------------------------------
CELL_CASES = [
    # 1 unknown category (child and root table, plain text and pandas Categorical below)
    pytest.param("T", "SITE", [0, 5, 9], "C999", "C999", "unknown category",
                 id="unknown-category-T"),
    pytest.param("P", "SEX", [2, 4], "3", "3", "unknown category", id="unknown-category-P"),
    pytest.param("P", "SEX", [7], 1.5, "1.5", "unknown category", id="unknown-category-number"),
    pytest.param("P", "CAUSE", [0, 1, 2, 3], "C99", "C99", "unknown category",
                 id="unknown-category-nullable-column"),
    # 2 missing where the schema allows none (None, NaN, blank and whitespace-only text)
    pytest.param("P", "SEX", [1, 3], None, None, "missing value where the schema allows none",
                 id="missing-None"),
    pytest.param("P", "DEAD", [0, 4, 8], "", None, "missing value where the schema allows none",
                 id="missing-blank"),
    pytest.param("T", "SITE", [2], "   ", None, "missing value where the schema allows none",
                 id="missing-whitespace"),
    pytest.param("T", "AGE", [6, 7], np.nan, None, "missing value where the schema allows none",
                 id="missing-NaN-integer"),
    pytest.param("T", "DIAG", [3], None, None, "missing value where the schema allows none",
                 id="missing-date"),
    # 3 wrong type
    pytest.param("T", "AGE", [3, 4], "abc", "abc", "not a number (expected integer)",
                 id="text-in-integer"),
    pytest.param("T", "AGE", [11], "12abc", "12abc", "not a number (expected integer)",
                 id="text-with-digits-in-integer"),
    pytest.param("T", "AGE", [3, 4, 5], 42.5, 42.5, "not a whole number", id="fraction-in-integer"),
    pytest.param("T", "AGE", [8], math.inf, math.inf, "infinite value", id="infinity-in-integer"),
    pytest.param("T", "AGE", [3, 4], True, True, "boolean value (wrong type, expected integer)",
                 id="bool-in-integer"),
    pytest.param("T", "AGE", [3, 4, 5], np.False_, False,
                 "boolean value (wrong type, expected integer)", id="numpy-bool-in-integer"),
    pytest.param("T", "DIAG", [1], True, "True", "unparseable", id="bool-in-date"),
    pytest.param("P", "SEX", [3, 4], True, True,
                 "boolean value in a categorical column (wrong type)", id="bool-in-categorical"),
    pytest.param("P", "SEX", [3, 4, 5], math.inf, math.inf,
                 "infinite value in a categorical column", id="infinity-in-categorical"),
    pytest.param("P", "SEX", [6, 7], pd.Timestamp("2020-01-01"), "Timestamp('2020-01-01 00:00:00')",
                 "wrong type Timestamp in a categorical column", id="timestamp-in-categorical"),
    pytest.param("P", "SEX", [3, 4], ["1"], "['1']",
                 "wrong type in a categorical column (not a single value)",
                 id="list-in-categorical"),
    pytest.param("P", "SEX", [9], {"a": 1}, "{'a': 1}",
                 "wrong type in a categorical column (not a single value)",
                 id="dict-in-categorical"),
    # 4 numbers outside the declared bounds [0, 100]
    pytest.param("T", "AGE", [3, 4, 5], 150, 150, "value outside the declared bounds [0, 100]",
                 id="above-max"),
    pytest.param("T", "AGE", [0], -1, -1, "value outside the declared bounds [0, 100]",
                 id="below-min"),
    pytest.param("T", "AGE", [1, 2], 101, 101, "value outside the declared bounds [0, 100]",
                 id="just-above-max"),
    # 5 dates that do not parse
    pytest.param("T", "DIAG", [3, 4], "2012-13-45", "2012-13-45", "unparseable",
                 id="date-month-13"),
    pytest.param("T", "DIAG", [5], "2012-02-30", "2012-02-30", "unparseable", id="date-feb-30"),
    pytest.param("T", "DIAG", [0, 1, 2], "01/02/2012", "01/02/2012", "unparseable",
                 id="date-not-iso"),
    pytest.param("T", "DIAG", [9], "not a date", "not a date", "unparseable", id="date-text"),
    # 5b dates outside the declared range (T.DIAG: 2010-01-01 .. 2015-12-31)
    pytest.param("T", "DIAG", [3, 4], "2009-12-31", "2009-12-31",
                 "date outside the declared range 2010-01-01 .. 2015-12-31",
                 id="date-day-before-min"),
    pytest.param("T", "DIAG", [6], "2016-01-01", "2016-01-01",
                 "date outside the declared range 2010-01-01 .. 2015-12-31",
                 id="date-day-after-max"),
    pytest.param("T", "DIAG", [7, 8], "1600-01-01", "1600-01-01", "out-of-range date",
                 id="date-beyond-pandas-range"),
    pytest.param("P", "VSDATE", [3, 4], "2021-01-01", "2021-01-01",
                 "date outside the declared range 2010-01-01 .. 2020-12-31",
                 id="relative-date-after-max"),
]


@pytest.mark.parametrize("table,column,rows,bad,value,problem", CELL_CASES)
def test_bad_cell_value_names_table_column_value_and_rows(toy_schema, toy_structure, toy_tables,
                                                          table, column, rows, bad, value, problem):
    set_cells(toy_tables, table, column, rows, bad)
    with pytest.raises(bg.DataValidationError) as info:
        fit(toy_schema, toy_structure, toy_tables)
    assert_data_error(info.value, table, column, problem, value, len(rows))
    if value is None:
        assert "missing" in str(info.value)  # the offending "value" is the missing one


def test_unknown_category_in_a_pandas_categorical(toy_schema, toy_structure, toy_tables):
    sex = toy_tables["P"]["SEX"].astype(pd.CategoricalDtype(["1", "2", "3", "Z"]))
    sex.iloc[[3, 4, 5]] = "3"
    toy_tables["P"]["SEX"] = sex  # the unused extra category "Z" is no error; the used "3" is
    with pytest.raises(bg.DataValidationError) as info:
        fit(toy_schema, toy_structure, toy_tables)
    assert_data_error(info.value, "P", "SEX", "unknown category", "3", 3)


def test_several_unknown_categories_count_every_bad_row(toy_schema, toy_structure, toy_tables):
    set_cells(toy_tables, "T", "SITE", [0, 1], "C999")
    set_cells(toy_tables, "T", "SITE", [2, 3, 4], "C111")
    with pytest.raises(bg.DataValidationError) as info:
        fit(toy_schema, toy_structure, toy_tables)
    err = info.value
    assert (err.table, err.column, err.n_rows) == ("T", "SITE", 5)
    assert err.value in ("C999", "C111") and repr(err.value) in str(err)
    assert_count(str(err), 5)


def test_relative_date_before_its_anchor(toy_schema, toy_structure, toy_tables):
    # VSDATE is stored as days after the patient's first (index) tumour diagnosis
    patients, tumours = toy_tables["P"], toy_tables["T"]
    first_diag = pd.to_datetime(tumours.groupby("PID")["DIAG"].min())
    rows = [3, 4]
    early = pd.Timestamp("2010-01-02")
    set_cells(toy_tables, "P", "VSDATE", rows, early.strftime("%Y-%m-%d"))
    offset = (early - first_diag[patients.at[rows[0], "PID"]]).days
    assert offset < 0
    with pytest.raises(bg.DataValidationError) as info:
        fit(toy_schema, toy_structure, toy_tables)
    assert_data_error(info.value, "P", "VSDATE", "date before its anchor DIAG",
                      f"2010-01-02 ({offset} days)", len(rows))


@pytest.mark.parametrize("table,column,rows,value", [
    ("T", "AGE", [0, 1], 0), ("T", "AGE", [2, 3], 100), ("T", "AGE", [4], "  45 "),
    ("T", "DIAG", [0], "2010-01-01"), ("P", "SEX", [0], 2),
])
def test_values_on_the_bounds_are_accepted(toy_schema, toy_tables, table, column, rows, value):
    # controls for the cases above: the errors start exactly beyond the declared bounds
    set_cells(toy_tables, table, column, rows, value)
    assert encode_tables(toy_tables, toy_schema).n_rows[table] > 0


def test_whole_boolean_column_in_an_integer_column(toy_schema, toy_structure, toy_tables):
    toy_tables["T"]["AGE"] = toy_tables["T"]["AGE"] > 50
    with pytest.raises(bg.DataValidationError) as info:
        fit(toy_schema, toy_structure, toy_tables)
    assert_data_error(info.value, "T", "AGE", "boolean value (wrong type, expected integer)",
                      bool(toy_tables["T"].at[0, "AGE"]), len(toy_tables["T"]))


# -- 6, 7: keys ------------------------------------------------------------------------------------
def test_duplicate_primary_key_in_child_table(toy_schema, toy_structure, toy_tables):
    tid = int(toy_tables["T"].at[0, "TID"])
    set_cells(toy_tables, "T", "TID", [1, 2], tid)
    with pytest.raises(bg.DataValidationError) as info:
        fit(toy_schema, toy_structure, toy_tables)
    # every row carrying the duplicated key counts, the original included
    assert_data_error(info.value, "T", "TID", "duplicated primary key", tid, 3)


def test_duplicate_primary_key_in_root_table(toy_schema, toy_structure, toy_tables):
    pid = int(toy_tables["P"].at[10, "PID"])
    set_cells(toy_tables, "P", "PID", [11], pid)
    with pytest.raises(bg.DataValidationError) as info:
        fit(toy_schema, toy_structure, toy_tables)
    assert_data_error(info.value, "P", "PID", "duplicated primary key", pid, 2)


@pytest.mark.parametrize("table,key", [("P", "PID"), ("T", "TID")])
def test_missing_primary_key(toy_schema, toy_structure, toy_tables, table, key):
    set_cells(toy_tables, table, key, [4, 6], None)
    with pytest.raises(bg.DataValidationError) as info:
        fit(toy_schema, toy_structure, toy_tables)
    assert_data_error(info.value, table, key, "missing primary key", None, 2)


def test_tumour_pointing_at_a_missing_patient(toy_schema, toy_structure, toy_tables):
    assert 99_999 not in set(toy_tables["P"]["PID"])
    set_cells(toy_tables, "T", "PID", [0, 7, 20], 99_999)
    with pytest.raises(bg.DataValidationError) as info:
        fit(toy_schema, toy_structure, toy_tables)
    assert_data_error(info.value, "T", "PID", "refers to a P.PID that does not exist", 99_999, 3)


def test_tumour_with_missing_patient_key(toy_schema, toy_structure, toy_tables):
    set_cells(toy_tables, "T", "PID", [5], None)
    with pytest.raises(bg.DataValidationError) as info:
        fit(toy_schema, toy_structure, toy_tables)
    assert_data_error(info.value, "T", "PID", "missing foreign key", None, 1)


def test_patient_without_the_required_tumour(toy_schema, toy_structure, toy_tables):
    # T declares min_rows_per_parent: 1
    toy_tables["T"] = toy_tables["T"][~toy_tables["T"]["PID"].isin([5, 8])].reset_index(drop=True)
    with pytest.raises(bg.DataValidationError) as info:
        fit(toy_schema, toy_structure, toy_tables)
    assert_data_error(info.value, "P", "PID", "has fewer than 1 rows in T", 5, 2)


# -- 8-10 and missing table: the shape of the input ------------------------------------------------
@pytest.mark.parametrize("table", ["P", "T"])
def test_empty_table(toy_schema, toy_structure, toy_tables, table):
    toy_tables[table] = toy_tables[table].iloc[:0]
    with pytest.raises(bg.DataValidationError) as info:
        fit(toy_schema, toy_structure, toy_tables)
    assert_data_error(info.value, table, None, "empty table", None, 0)


@pytest.mark.parametrize("table", ["P", "T"])
def test_unknown_column(toy_schema, toy_structure, toy_tables, table):
    toy_tables[table]["EXTRA"] = 1
    with pytest.raises(bg.DataValidationError) as info:
        fit(toy_schema, toy_structure, toy_tables)
    assert_data_error(info.value, table, "EXTRA", "unknown column", None, len(toy_tables[table]))


@pytest.mark.parametrize("table,column", [("P", "DEAD"), ("T", "AGE"), ("T", "PID")])
def test_missing_column(toy_schema, toy_structure, toy_tables, table, column):
    toy_tables[table] = toy_tables[table].drop(columns=column)
    with pytest.raises(bg.DataValidationError) as info:
        fit(toy_schema, toy_structure, toy_tables)
    assert_data_error(info.value, table, column, "column missing from the input", None,
                      len(toy_tables[table]))


def test_duplicated_column_name(toy_schema, toy_structure, toy_tables):
    toy_tables["T"] = pd.concat([toy_tables["T"], toy_tables["T"][["AGE"]]], axis=1)
    with pytest.raises(bg.DataValidationError) as info:
        fit(toy_schema, toy_structure, toy_tables)
    assert_data_error(info.value, "T", "AGE", "duplicated column name", None, len(toy_tables["T"]))


@pytest.mark.parametrize("table", ["P", "T"])
def test_missing_table(toy_schema, toy_structure, toy_tables, table):
    del toy_tables[table]
    with pytest.raises(bg.DataValidationError) as info:
        fit(toy_schema, toy_structure, toy_tables)
    assert_data_error(info.value, table, None, "table missing from the input", None, None)


def test_unknown_table(toy_schema, toy_structure, toy_tables):
    toy_tables["TUMOURS"] = toy_tables["T"]
    with pytest.raises(bg.DataValidationError) as info:
        fit(toy_schema, toy_structure, toy_tables)
    err = info.value
    assert (err.table, err.column) == ("TUMOURS", None)
    assert str(err).startswith("TUMOURS: unknown table") and "['P', 'T']" in str(err)


def test_table_that_is_not_a_dataframe(toy_schema, toy_structure, toy_tables):
    toy_tables["T"] = toy_tables["T"].to_dict("records")
    with pytest.raises(bg.DataValidationError) as info:
        fit(toy_schema, toy_structure, toy_tables)
    assert str(info.value) == "T: expected a DataFrame, got list"


# -- contribution bounding: too many rows per parent is bounded, not an error ---------------------
def test_rows_beyond_the_bound_are_dropped_not_refused(toy_schema, toy_structure, toy_tables):
    tumours = toy_tables["T"]
    # patient 1 gets 10 tumours; the bound (max_rows_per_parent) is 2
    extra = pd.concat([tumours[tumours["PID"] == 1].iloc[[0]]] * 9, ignore_index=True)
    extra["TID"] = np.arange(len(tumours) + 1, len(tumours) + 10)
    toy_tables["T"] = tumours = pd.concat([tumours, extra], ignore_index=True)
    per_patient = tumours.groupby("PID").size()
    assert per_patient.max() >= 10
    expected_dropped = int((per_patient - 2).clip(lower=0).sum())
    data = encode_tables(toy_tables, toy_schema)
    assert data.bounding_report == {"P": 0, "T": expected_dropped}
    assert data.n_rows["T"] == len(tumours) - expected_dropped
    assert data.codes["NT"].max() == 2 - 1  # count variable: rows kept minus min_rows_per_parent
    model = fit(toy_schema, toy_structure, toy_tables)
    assert model.bounding_report_["T"] == expected_dropped
    assert model.ledger_["epsilon_spent"] == pytest.approx(1.0)


def test_the_earliest_rows_are_kept_and_later_ones_dropped(toy_schema):
    patients = pd.DataFrame({"PID": [1], "SEX": ["2"], "DEAD": ["A"], "CAUSE": [None],
                             "VSDATE": ["2015-06-01"]})
    tumours = pd.DataFrame({"TID": [1, 2, 3], "PID": [1, 1, 1], "SEX": ["2"] * 3,
                            "SITE": ["C500"] * 3, "SITE3": ["C50"] * 3, "AGE": [70, 30, 50],
                            "DIAG": ["2014-01-01", "2012-01-01", "2013-01-01"]})
    data = encode_tables({"P": patients, "T": tumours}, toy_schema)
    assert data.bounding_report["T"] == 1
    # kept in DIAG order: 2012 (AGE 30, bin [0, 50)) then 2013 (AGE 50, bin [50, 70))
    assert data.codes["AGE"].tolist() == [0, 1]


def test_bad_value_in_a_row_dropped_by_bounding_is_still_refused(toy_schema, toy_structure,
                                                                 toy_tables):
    dropped = _rows_beyond_bound(toy_tables["T"], bound=2)
    assert len(dropped) >= 3
    set_cells(toy_tables, "T", "SITE", dropped[:2], "C999")
    kept = [i for i in range(len(toy_tables["T"])) if i not in set(dropped)]
    set_cells(toy_tables, "T", "SITE", kept[:1], "C999")
    with pytest.raises(bg.DataValidationError) as info:
        fit(toy_schema, toy_structure, toy_tables)
    assert_data_error(info.value, "T", "SITE", "unknown category", "C999", 3)


@pytest.mark.parametrize("where", ["kept", "dropped", "mixed"])
def test_bad_derived_code_is_refused_in_kept_and_dropped_rows(toy_schema, toy_structure, toy_tables,
                                                              where):
    # SITE3 is derived (prefix of SITE): not modelled, but its code set is still checked
    dropped = _rows_beyond_bound(toy_tables["T"], bound=2)
    kept = [_first_kept_row(toy_tables["T"])]
    rows = {"kept": kept, "dropped": dropped[:2], "mixed": [*dropped[:2], *kept]}[where]
    set_cells(toy_tables, "T", "SITE3", rows, "C99")
    with pytest.raises(bg.DataValidationError) as info:
        fit(toy_schema, toy_structure, toy_tables)
    assert_data_error(info.value, "T", "SITE3", "unknown category", "C99", len(rows))


def _rows_beyond_bound(tumours: pd.DataFrame, bound: int) -> list[int]:
    """Positions of the rows bounding drops: each patient's rows after the first ``bound``."""
    rank = tumours.sort_values(["DIAG", "TID"]).groupby("PID").cumcount()
    return sorted(int(tumours.index.get_loc(i)) for i in rank[rank >= bound].index)


def _first_kept_row(tumours: pd.DataFrame) -> int:
    return int(tumours.index.get_loc(tumours.sort_values(["DIAG", "TID"]).index[0]))


# -- 11, 12: structures ------------------------------------------------------------------------
def _cycle_nodes(text: str) -> list[str]:
    match = re.search(r"the structure has a cycle: (.+)$", text)
    assert match, text
    return match.group(1).split(" -> ")


@pytest.mark.parametrize("extra_edges,cycle", [
    ([("CAUSE", "DEAD")], {"DEAD", "CAUSE"}),
    ([("AGE", "SEX")], {"SEX", "SITE", "AGE"}),
    ([("VSDATE", "CAUSE"), ("CAUSE", "DEAD")], {"DEAD", "CAUSE"}),
], ids=["two-node", "three-node-across-tiers", "two-cycles"])
def test_cyclic_structure_names_the_cycle(extra_edges, cycle):
    data = load_structure_dict()
    data["edges"] += [{"from": a, "to": b} for a, b in extra_edges]
    with pytest.raises(bg.StructureError) as info:
        bg.Structure.from_dict(data, source="cyclic.yaml")
    text = str(info.value)
    assert text.startswith("cyclic.yaml: the structure has a cycle: "), text
    path = _cycle_nodes(text)
    assert path[0] == path[-1] and set(path) == cycle
    edges = {(e["from"], e["to"]) for e in data["edges"]}
    assert all(step in edges for step in zip(path, path[1:], strict=False))  # a real cycle


def test_cyclic_edge_list_names_the_cycle():
    with pytest.raises(bg.StructureError) as info:
        bg.Structure.from_edges([("A", "B"), ("B", "C"), ("C", "D"), ("D", "B")])
    path = _cycle_nodes(str(info.value))
    assert path[0] == path[-1] and set(path) == {"B", "C", "D"}


def test_structure_node_not_in_the_schema(toy_schema, toy_tables):
    data = load_structure_dict()
    data["tiers"][1]["nodes"].append("STAGE")
    data["edges"].append({"from": "SITE", "to": "STAGE"})
    structure = bg.Structure.from_dict(data, source="extra.yaml")  # a valid DAG on its own
    with pytest.raises(bg.StructureError) as info:
        bg.Synthesizer(toy_schema, structure, epsilon=1.0).fit(toy_tables)
    text = str(info.value)
    assert text.startswith("node 'STAGE' is not a model variable of schema toy"), text
    assert "1 unknown" in text


def test_structure_edge_to_an_undeclared_node(toy_schema):
    data = load_structure_dict()
    data["edges"].append({"from": "SITE", "to": "STAGE"})  # STAGE is in no tier
    with pytest.raises(bg.StructureError) as info:
        bg.Structure.from_dict(data, source="edge.yaml")
    assert str(info.value) == "edge.yaml: edge SITE -> STAGE: unknown node 'STAGE'"


def test_schema_variable_missing_from_the_structure(toy_schema):
    data = load_structure_dict()
    data["tiers"][2]["nodes"].remove("CAUSE")
    data["edges"] = [e for e in data["edges"] if "CAUSE" not in (e["from"], e["to"])]
    structure = bg.Structure.from_dict(data, source="short.yaml")
    with pytest.raises(bg.StructureError) as info:
        structure.validate_for(toy_schema)
    assert str(info.value).startswith("model variable 'CAUSE' of schema toy is not a node")


# -- realistic cases: the Simulacrum schema and simulated registry ---------------------------------
@pytest.fixture(scope="module")
def simulacrum():
    schema = bg.Schema.load("schemas/simulacrum_v2_core.yaml")
    structure = bg.Structure.load("structures/simulacrum_v2_core.yaml")
    return schema, structure, bg.datasets.simulate_registry(200, rng=0, full=False)


def test_simulacrum_unknown_site_code(simulacrum):
    schema, structure, registry = simulacrum
    tables = copy_tables(registry)
    site = tables["SIM_AV_TUMOUR"]["SITE_ICD10_O2"].cat.add_categories(["C999"])
    site.iloc[[0, 10, 20, 30]] = "C999"
    tables["SIM_AV_TUMOUR"]["SITE_ICD10_O2"] = site
    with pytest.raises(bg.DataValidationError) as info:
        fit(schema, structure, tables)
    assert_data_error(info.value, "SIM_AV_TUMOUR", "SITE_ICD10_O2", "unknown category", "C999", 4)


def test_simulacrum_tumour_of_a_missing_patient(simulacrum):
    schema, structure, registry = simulacrum
    tables = copy_tables(registry)
    set_cells(tables, "SIM_AV_TUMOUR", "PATIENTID", [1, 2, 3], 10_000)
    with pytest.raises(bg.DataValidationError) as info:
        fit(schema, structure, tables)
    assert_data_error(info.value, "SIM_AV_TUMOUR", "PATIENTID",
                      "refers to a SIM_AV_PATIENT.PATIENTID that does not exist", 10_000, 3)


@pytest.mark.parametrize("column,bad,value,problem", [
    ("DIAGNOSISDATEBEST", pd.Timestamp("2012-12-31"), "2012-12-31",
     "date outside the declared range 2013-01-01 .. 2019-12-31"),
    ("AGE", 111, 111, "value outside the declared bounds [0, 110]"),
])
def test_simulacrum_out_of_range_values(simulacrum, column, bad, value, problem):
    schema, structure, registry = simulacrum
    tables = copy_tables(registry)
    tumours = tables["SIM_AV_TUMOUR"]
    tumours.loc[tumours.index[[5, 6]], column] = bad
    with pytest.raises(bg.DataValidationError) as info:
        fit(schema, structure, tables)
    assert_data_error(info.value, "SIM_AV_TUMOUR", column, problem, value, 2)


# -- (a) the CLI: a failed fit exits 2, says why on stderr and writes nothing ----------------------
def _toy_csv_folder(root: Path, tables) -> Path:
    folder = root / "data"
    write_tables(tables, folder, "csv")
    return folder


def _structure_file(root: Path, extra_edges=(), extra_nodes=()) -> Path:
    data = load_structure_dict()
    data["tiers"][1]["nodes"] += list(extra_nodes)
    data["edges"] += [{"from": a, "to": b} for a, b in extra_edges]
    path = root / "structure.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _bad_text_age(tables, root):
    set_cells(tables, "T", "AGE", [3, 4], "abc")
    return _toy_csv_folder(root, tables), ["T.AGE: not a number", "'abc'", "2 rows"]


def _broken_key(tables, root):
    set_cells(tables, "T", "PID", [0, 9], 99_999)
    return _toy_csv_folder(root, tables), ["T.PID: refers to a P.PID that does not exist",
                                           "99999", "2 rows"]


def _missing_value(tables, root):
    set_cells(tables, "P", "DEAD", [1, 2, 3], "")  # written as an empty CSV field
    return _toy_csv_folder(root, tables), ["P.DEAD: missing value where the schema allows none",
                                           "3 rows"]


def _missing_table_file(tables, root):
    folder = _toy_csv_folder(root, tables)
    (folder / "T.csv").unlink()
    return folder, ["T: table missing from the input"]


def _missing_input(tables, root):
    return root / "no_such_folder", ["no_such_folder does not exist"]


def _cyclic_structure(tables, root):
    _structure_file(root, extra_edges=[("CAUSE", "DEAD")])
    return _toy_csv_folder(root, tables), ["the structure has a cycle: ", "DEAD", "CAUSE"]


def _unknown_node(tables, root):
    _structure_file(root, extra_edges=[("SITE", "STAGE")], extra_nodes=["STAGE"])
    return _toy_csv_folder(root, tables), ["node 'STAGE' is not a model variable of schema toy"]


CLI_FAILURES = [_bad_text_age, _broken_key, _missing_value, _missing_table_file, _missing_input,
                _cyclic_structure, _unknown_node]


@pytest.mark.parametrize("existing_output", [False, True], ids=["new-output", "existing-output"])
@pytest.mark.parametrize("make_failure", CLI_FAILURES, ids=lambda f: f.__name__.strip("_"))
def test_failed_cli_fit_exits_2_and_leaves_no_files(tmp_path, toy_tables, capsys, make_failure,
                                                    existing_output):
    data, expected = make_failure(toy_tables, tmp_path)
    structure = tmp_path / "structure.yaml"
    if not structure.exists():
        structure = FIXTURES / "toy_structure.yaml"
    out = tmp_path / "out"
    if existing_output:  # a previous model must survive a failed run untouched
        out.mkdir()
        (out / "model.json").write_text("previous model", encoding="utf-8")
    before = files_under(tmp_path)
    code = main(["fit", str(data), "--schema", str(FIXTURES / "toy_schema.yaml"),
                 "--structure", str(structure), "--epsilon", "1", "-o", str(out / "model.json")])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert captured.err.startswith("bayesgen fit: error: ") and captured.err.count("\n") == 1
    for fragment in expected:
        assert fragment in captured.err, captured.err
    assert files_under(tmp_path) == before  # no model file, no temporary file, no output folder
    if existing_output:
        assert (out / "model.json").read_text(encoding="utf-8") == "previous model"
    else:
        assert not out.exists()


def test_cli_fit_on_bad_simulacrum_csv_exits_2(tmp_path, simulacrum, capsys):
    _, _, registry = simulacrum
    tables = copy_tables(registry)
    gender = tables["SIM_AV_PATIENT"]["GENDER"].cat.add_categories(["7"])
    gender.iloc[[0, 1, 2]] = "7"
    tables["SIM_AV_PATIENT"]["GENDER"] = gender
    write_tables(tables, tmp_path / "data", "csv")
    out = tmp_path / "out"
    code = main(["fit", str(tmp_path / "data"), "--schema", "schemas/simulacrum_v2_core.yaml",
                 "-o", str(out / "model.json")])
    err = capsys.readouterr().err
    assert code == 2
    assert "SIM_AV_PATIENT.GENDER: unknown category" in err and "'7'" in err and "3 rows" in err
    assert not out.exists()


def test_cli_fit_on_good_csv_writes_only_the_model(tmp_path, toy_tables, capsys):
    # control for the test above: the same command on unedited data succeeds
    data = _toy_csv_folder(tmp_path, toy_tables)
    out = tmp_path / "out"
    code = main(["fit", str(data), "--schema", str(FIXTURES / "toy_schema.yaml"),
                 "--structure", str(FIXTURES / "toy_structure.yaml"),
                 "-o", str(out / "model.json")])
    captured = capsys.readouterr()
    assert code == 0 and captured.err == ""
    assert files_under(out) == ["model.json"]
    assert bg.Synthesizer.load(out / "model.json").ledger_["epsilon_spent"] == pytest.approx(1.0)


def test_model_write_failing_midway_leaves_no_partial_file(tmp_path, toy_tables, monkeypatch, capsys):
    data = _toy_csv_folder(tmp_path, toy_tables)
    out = tmp_path / "out"
    out.mkdir()
    real_write_text = Path.write_text
    calls = []

    def half_then_disk_full(self, text, *args, **kwargs):
        calls.append(self)
        real_write_text(self, text[: len(text) // 2], *args, **kwargs)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_text", half_then_disk_full)
    code = main(["fit", str(data), "--schema", str(FIXTURES / "toy_schema.yaml"),
                 "--structure", str(FIXTURES / "toy_structure.yaml"), "-o", str(out / "model.json")])
    assert code == 2  # an error message, not a traceback
    assert "No space left on device" in capsys.readouterr().err
    assert len(calls) == 1 and calls[0].parent == out  # the half-written file was in out/
    assert files_under(out) == []


# -- (b) write_tables refuses a non-empty folder ---------------------------------------------------
def test_write_tables_refuses_a_non_empty_folder(tmp_path, toy_tables):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(bg.BayesgenError) as info:
        write_tables(toy_tables, out, "csv")
    assert str(out) in str(info.value) and "overwrite" in str(info.value)
    assert files_under(tmp_path) == ["out", "out/notes.txt"]
    assert (out / "notes.txt").read_text(encoding="utf-8") == "keep me"


def test_write_tables_refuses_a_file_in_the_way(tmp_path, toy_tables):
    target = tmp_path / "out"
    target.write_text("a file", encoding="utf-8")
    with pytest.raises(bg.BayesgenError, match="exists and is not empty"):
        write_tables(toy_tables, target, "csv")
    assert files_under(tmp_path) == ["out"] and target.read_text(encoding="utf-8") == "a file"


def test_write_tables_into_empty_folder_and_with_overwrite(tmp_path, toy_tables):
    # controls for the refusals above
    out = tmp_path / "out"
    out.mkdir()
    write_tables(toy_tables, out, "csv")
    assert files_under(tmp_path) == ["out", "out/P.csv", "out/T.csv"]
    (out / "notes.txt").write_text("old", encoding="utf-8")
    write_tables({"P": toy_tables["P"]}, out, "parquet", overwrite=True)
    assert files_under(tmp_path) == ["out", "out/P.parquet"]


def test_cli_sample_refuses_a_non_empty_folder(tmp_path, toy_schema, toy_structure, toy_tables,
                                               capsys):
    model_path = tmp_path / "model.json"
    fit(toy_schema, toy_structure, toy_tables).save(model_path)
    out = tmp_path / "synthetic"
    out.mkdir()
    (out / "notes.txt").write_text("keep me", encoding="utf-8")
    before = files_under(tmp_path)
    code = main(["sample", str(model_path), "-n", "50", "-o", str(out), "--seed", "1"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("bayesgen sample: error: output folder")
    assert "--overwrite" in err
    assert files_under(tmp_path) == before


# -- (c) a writer failing midway leaves no partial output ------------------------------------------
@pytest.fixture()
def failing_writer(monkeypatch):
    """Make the second table write raise; return the list of paths the writer was called with."""
    calls = []

    def install(fmt):
        method = "to_csv" if fmt == "csv" else "to_parquet"
        real = getattr(pd.DataFrame, method)

        def write(self, path, *args, **kwargs):
            calls.append(Path(path))
            if len(calls) == 2:
                Path(path).write_bytes(b"partial")  # a half-written file, then the failure
                raise OSError(28, "No space left on device")
            return real(self, path, *args, **kwargs)

        monkeypatch.setattr(pd.DataFrame, method, write)
        return calls

    return install


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_write_failing_midway_leaves_no_output_folder(tmp_path, toy_tables, failing_writer, fmt):
    calls = failing_writer(fmt)
    out = tmp_path / "nested" / "out"
    with pytest.raises(OSError, match="No space left"):
        write_tables(toy_tables, out, fmt)
    assert [p.name for p in calls] == [f"P.{fmt}", f"T.{fmt}"]  # the first table was written
    assert not out.exists()
    assert files_under(tmp_path) == ["nested"]  # no staging folder either


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_overwrite_failing_midway_keeps_the_previous_output(tmp_path, toy_tables, failing_writer,
                                                            fmt):
    out = tmp_path / "out"
    write_tables({"P": toy_tables["P"].head(3)}, out, "csv")
    previous = (out / "P.csv").read_bytes()
    calls = failing_writer(fmt)
    with pytest.raises(OSError, match="No space left"):
        write_tables(toy_tables, out, fmt, overwrite=True)
    assert len(calls) == 2
    assert files_under(tmp_path) == ["out", "out/P.csv"]
    assert (out / "P.csv").read_bytes() == previous


def test_overwrite_failing_at_the_swap_restores_the_previous_output(tmp_path, toy_tables,
                                                                    monkeypatch):
    out = tmp_path / "out"
    write_tables(toy_tables, out, "csv")
    previous = {name: (out / name).read_bytes() for name in ("P.csv", "T.csv")}
    real_replace = table_io.os.replace
    calls = []

    def replace(src, dst):
        calls.append((src, dst))
        if len(calls) == 2:  # 1: previous output moved aside; 2: new output moved in
            raise OSError(13, "Permission denied")
        return real_replace(src, dst)

    monkeypatch.setattr(table_io.os, "replace", replace)
    with pytest.raises(OSError, match="Permission denied"):
        write_tables({"P": toy_tables["P"].head(2)}, out, "csv", overwrite=True)
    assert len(calls) >= 2
    assert files_under(tmp_path) == ["out", "out/P.csv", "out/T.csv"]  # no hidden .out.old.*
    assert {name: (out / name).read_bytes() for name in previous} == previous


# -- reading -------------------------------------------------------------------------------------
def test_read_tables_names_a_missing_input(tmp_path, toy_schema):
    with pytest.raises(bg.BayesgenError, match=r"input .*nowhere does not exist"):
        read_tables([tmp_path / "nowhere"], toy_schema)


def test_read_tables_names_the_table_of_a_non_utf8_file(tmp_path, toy_schema, toy_tables):
    folder = _toy_csv_folder(tmp_path, toy_tables)
    (folder / "T.csv").write_bytes((folder / "T.csv").read_bytes() + b"99,1,1,C500,C50,40,\xff\n")
    with pytest.raises(bg.DataValidationError) as info:
        read_tables([folder], toy_schema)
    assert (info.value.table, info.value.column) == ("T", None)
    assert str(info.value).startswith("T: file ") and "not valid UTF-8" in str(info.value)
