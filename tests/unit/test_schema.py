"""Schemas: shipped files load and round-trip, per-type encode/decode, derived columns, check_tables."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bayesgen as bg
from bayesgen import DataValidationError, Schema, SchemaError
from bayesgen.schema.check import Violation, check_tables
from bayesgen.schema.columns import Column
from bayesgen.schema.schema import SPEC_VERSION

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
SHIPPED = ["simulacrum_v2", "simulacrum_v2_core", "ncr_breast", "gbsg2"]
SCHEMA_FILES = [REPO / "schemas" / f"{name}.yaml" for name in SHIPPED] + [FIXTURES / "toy_schema.yaml"]
EPOCH = np.datetime64("1970-01-01", "D")
LAST_UNIFORM = 1.0 - 2.0**-53  # the largest uniform the sampler's counter-based generator can return
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def iso(day: int) -> str:
    return str(EPOCH + np.timedelta64(int(day), "D"))


def day(value) -> int:
    return int((np.datetime64(value, "D") - EPOCH).astype(np.int64))


@pytest.fixture(scope="module")
def simulacrum() -> Schema:
    return Schema.load("schemas/simulacrum_v2_core.yaml")


@pytest.fixture(scope="module")
def registry() -> dict[str, pd.DataFrame]:
    return bg.datasets.simulate_registry(2000, rng=0, full=False)


# -- loading and files --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_schema_loads_by_path_and_by_short_name(name):
    by_path = Schema.load(REPO / "schemas" / f"{name}.yaml")
    assert Schema.load(name) == by_path
    assert by_path.name == name
    assert by_path.root.parent is None
    seen = {by_path.root_table}
    for table in by_path.child_tables:  # a tree, listed parents first
        assert table.parent.table in seen
        seen.add(table.name)
    assert seen == set(by_path.tables)
    # every modelled column and every child count is a variable, with a consistent number of states
    variables = by_path.variables
    modelled = [c for t in by_path.tables.values() for c in t.modelled_columns]
    counted = [t for t in by_path.child_tables if t.count_variable]  # the others: fixed or event-driven rows
    assert len(variables) == len(modelled) + len(counted)
    assert {variables[t.count_variable].count_of for t in counted} == {t.name for t in counted}
    for column in modelled:
        assert variables[column.name].n_states == column.n_states == len(column.states())


def test_toy_fixture_declares_every_column_kind(toy_schema):
    columns = [c for t in toy_schema.tables.values() for c in t.columns]
    kinds = {c.type for c in columns}
    assert {"id", "categorical", "integer", "date"} <= kinds
    assert any(c.relative_to for c in columns) and any(c.missing for c in columns)
    assert {c.derived.kind for c in columns if c.derived} == {"copy", "prefix"}
    assert toy_schema.variables["NT"].count_of == "T"
    assert toy_schema.variables["NT"].states() == [1, 2]  # min_rows_per_parent 1 .. max 2


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.stem)
def test_save_then_load_gives_the_same_schema(path, tmp_path):
    schema = Schema.load(path)
    target = tmp_path / "copy.yaml"
    schema.save(target)
    again = Schema.load(target)
    assert again.to_dict() == schema.to_dict()
    assert again == schema
    # labels and descriptions do not take part in equality: check that they survive too
    labels = {(t.name, c.name): c.labels for t in schema.tables.values() for c in t.columns}
    assert {(t.name, c.name): c.labels for t in again.tables.values() for c in t.columns} == labels
    assert [p.name for p in tmp_path.iterdir()] == ["copy.yaml"]  # atomic write leaves no temp file
    # the file on disk and the YAML written back describe the same declarations
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert Schema.from_dict(raw).to_dict() == schema.to_dict()


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.stem)
def test_spec_version_is_declared_and_written(path, tmp_path):
    assert yaml.safe_load(path.read_text(encoding="utf-8"))["spec_version"] == SPEC_VERSION == 1
    Schema.load(path).save(tmp_path / "s.yaml")
    assert yaml.safe_load((tmp_path / "s.yaml").read_text(encoding="utf-8"))["spec_version"] == 1


@pytest.mark.parametrize("version", [2, 0, "1", None])
def test_unsupported_or_absent_spec_version_is_refused(version, tmp_path):
    raw = yaml.safe_load((FIXTURES / "toy_schema.yaml").read_text(encoding="utf-8"))
    if version is None:
        del raw["spec_version"]
    else:
        raw["spec_version"] = version
    target = tmp_path / "future.yaml"
    target.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(SchemaError, match=r"future\.yaml: spec_version must be 1, got"):
        Schema.load(target)


@pytest.mark.parametrize("column,message", [
    ({"name": "A", "type": "integer", "min": 0, "max": 10, "bins": [0, 5, 10]}, "end at max \\+ 1"),
    ({"name": "A", "type": "integer", "min": 0, "max": 10, "bins": [0, 5, 5, 11]}, "increase strictly"),
    ({"name": "A", "type": "continuous", "min": 0, "max": 1}, "needs 'bins'"),
    ({"name": "A", "type": "date", "min": "2001-01-01", "max": "2000-01-01", "bins": [0, 1]}, "min is after max"),
    ({"name": "A", "type": "categorical", "categories": ["x", "x"]}, "duplicated categories"),
    ({"name": "A", "type": "text"}, "type must be one of"),
    ({"name": "A", "type": "integer", "min": 0, "max": 9, "bins": [0, 10], "relative_to": "B"}, "only a date"),
])
def test_invalid_column_declarations_are_refused_with_the_column_named(column, message):
    with pytest.raises(SchemaError, match=message) as err:
        Column.from_dict(column, "TAB")
    assert str(err.value).startswith("TAB.A: ")


def test_schema_level_links_are_validated():
    raw = yaml.safe_load((FIXTURES / "toy_schema.yaml").read_text(encoding="utf-8"))
    # a prefix rule whose target lacks a produced value
    broken = yaml.safe_load(yaml.safe_dump(raw))
    broken["tables"]["T"]["columns"][4]["categories"] = ["C50"]
    with pytest.raises(SchemaError, match=r"T\.SITE3: categories lack values its rule produces: \['C61'\]"):
        Schema.from_dict(broken)
    # a constraint naming a category the column does not have
    broken = yaml.safe_load(yaml.safe_dump(raw))
    broken["constraints"][0]["then"]["in"] = ["3"]
    with pytest.raises(SchemaError, match=r"values \['3'\] are not categories of SEX"):
        Schema.from_dict(broken)


# -- encode / decode per column type ------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["categorical", "ordinal"])
def test_categories_encode_in_declaration_order_and_decode_back(kind):
    column = Column.from_dict({"name": "G", "type": kind, "categories": ["G1", "G2", 3], "missing": True}, "T")
    values = pd.Series(["G2", None, "G1", " ", 3, "3", "G2 "], dtype=object)
    codes = column.encode(values, "T")
    assert codes.dtype == np.int16
    assert codes.tolist() == [1, 3, 0, 3, 2, 2, 1]  # blanks are missing, numbers match their text
    decoded = column.decode(codes)
    assert decoded.dtype == pd.CategoricalDtype(["G1", "G2", "3"], ordered=kind == "ordinal")
    assert [None if pd.isna(v) else v for v in decoded] == ["G2", None, "G1", None, "3", "3", "G2"]
    assert column.encode(pd.Series(decoded), "T").tolist() == codes.tolist()


@pytest.mark.parametrize("declaration", [
    {"type": "categorical", "categories": ["a", "b", "c"]},
    {"type": "ordinal", "categories": ["1", "2"]},
    {"type": "integer", "min": 0, "max": 9, "bins": [0, 5, 10]},
    {"type": "continuous", "min": 0, "max": 1, "bins": [0, 0.5, 1]},
    {"type": "date", "min": "2000-01-01", "max": "2000-12-31", "bins": ["2000-01-01", "2001-01-01"]},
], ids=lambda d: d["type"])
def test_missing_gets_its_own_last_code_only_where_allowed(declaration):
    column = Column.from_dict({"name": "X", "missing": True, **declaration}, "T")
    assert column.missing_code == column.n_values == column.n_states - 1
    assert column.states()[-1] is None and None not in column.states()[:-1]
    present = {"categorical": "b", "ordinal": "2", "integer": 3, "continuous": 0.25,
               "date": "2000-06-01"}[declaration["type"]]
    codes = column.encode(pd.Series([present, None, np.nan], dtype=object), "T")
    assert codes[0] < column.missing_code and codes[1:].tolist() == [column.missing_code] * 2
    decoded = pd.Series(column.decode(codes, np.full(3, 0.5)))
    assert decoded.notna().tolist() == [True, False, False]

    strict = Column.from_dict({"name": "X", **declaration}, "T")
    assert strict.missing_code is None and strict.n_states == strict.n_values
    with pytest.raises(DataValidationError, match="missing value where the schema allows none") as err:
        strict.encode(pd.Series([present, None], dtype=object), "T")
    assert (err.value.table, err.value.column, err.value.n_rows) == ("T", "X", 1)


@st.composite
def integer_columns(draw):
    low = draw(st.integers(-500, 2000))
    widths = draw(st.lists(st.integers(1, 400), min_size=1, max_size=10))
    edges = np.cumsum([low, *widths]).tolist()
    return Column.from_dict({"name": "N", "type": "integer", "min": low, "max": edges[-1] - 1, "bins": edges,
                             "missing": draw(st.booleans())}, "T")


uniforms = st.one_of(st.sampled_from([0.0, 0.5, LAST_UNIFORM]), st.floats(0.0, 1.0, exclude_max=True))


@PROPERTY
@given(data=st.data())
def test_integer_values_decode_inside_the_bin_they_were_encoded_in(data):
    column = data.draw(integer_columns())
    values = data.draw(st.lists(st.integers(int(column.minimum), int(column.maximum)), min_size=1, max_size=20))
    draws = np.array(data.draw(st.lists(uniforms, min_size=len(values), max_size=len(values))))
    codes = column.encode(pd.Series(values), "T")
    decoded = column.decode(codes, draws)
    assert isinstance(decoded, pd.arrays.IntegerArray) and not decoded.isna().any()
    for value, code, out in zip(values, codes, decoded, strict=True):
        low, high = column.states()[code]
        assert low <= value < high
        assert low <= out < high and column.minimum <= out <= column.maximum
    assert column.encode(pd.Series(decoded), "T").tolist() == codes.tolist()


@PROPERTY
@given(data=st.data())
def test_absolute_dates_decode_to_whole_days_inside_their_bin_and_range(data):
    first = data.draw(st.integers(day("1990-01-01"), day("2030-01-01")))
    widths = data.draw(st.lists(st.integers(1, 800), min_size=1, max_size=8))
    edges = np.cumsum([first, *widths]).tolist()
    column = Column.from_dict({"name": "D", "type": "date", "min": iso(first), "max": iso(edges[-1] - 1),
                               "bins": [iso(e) for e in edges]}, "T")
    dates = data.draw(st.lists(st.dates(dt.date.fromisoformat(iso(first)),
                                        dt.date.fromisoformat(iso(edges[-1] - 1))), min_size=1, max_size=20))
    draws = np.array(data.draw(st.lists(uniforms, min_size=len(dates), max_size=len(dates))))
    codes = column.encode(pd.Series([d.isoformat() for d in dates]), "T")
    decoded = column.decode(codes, draws)
    assert decoded.dtype == np.dtype("datetime64[s]")
    assert (decoded == decoded.astype("datetime64[D]")).all()  # day granularity: always midnight
    for value, code, out in zip(dates, codes, decoded, strict=True):
        low, high = column.states()[code]
        assert low <= value.isoformat() < high  # ISO strings order like dates
        assert low <= str(out.astype("datetime64[D]")) < high
        assert column.minimum <= day(out) <= column.maximum
    assert column.encode(pd.Series(decoded), "T").tolist() == codes.tolist()


@PROPERTY
@given(data=st.data())
def test_relative_dates_decode_after_their_anchor_in_the_same_bin(data):
    widths = data.draw(st.lists(st.integers(1, 400), min_size=1, max_size=6))
    edges = np.cumsum([0, *widths]).tolist()
    low_day, high_day = day("2010-01-01"), day("2020-12-31")
    column = Column.from_dict({"name": "V", "type": "date", "min": iso(low_day), "max": iso(high_day),
                               "relative_to": "A", "bins": edges}, "T")
    anchor = data.draw(st.integers(low_day, high_day))
    offset = data.draw(st.integers(0, min(edges[-1] - 1, high_day - anchor)))
    u = data.draw(uniforms)
    anchors = np.array([float(anchor)])
    code = column.encode(pd.Series([iso(anchor + offset)]), "T", anchor_days=anchors)
    out = day(column.decode(code, np.array([u]), anchors)[0])
    low, high = column.states()[code[0]]
    assert low <= offset < high
    assert low <= out - anchor < high  # a bin that held a real value always has room before max
    assert anchor <= out <= high_day
    assert column.encode(pd.Series([iso(out)]), "T", anchor_days=anchors).tolist() == code.tolist()


def test_relative_date_with_no_room_left_is_clamped_to_the_declared_maximum():
    column = Column.from_dict({"name": "V", "type": "date", "min": "2010-01-01", "max": "2010-12-31",
                               "relative_to": "A", "bins": [0, 30, 365]}, "T")
    anchor = np.array([float(day("2010-12-20"))] * 3)
    out = column.decode(np.array([1, 1, 0], dtype=np.int16), np.array([0.0, LAST_UNIFORM, LAST_UNIFORM]), anchor)
    assert [str(v.astype("datetime64[D]")) for v in out] == ["2010-12-31", "2010-12-31", "2010-12-31"]


@st.composite
def continuous_columns(draw):
    low = draw(st.integers(-4000, 4000)) / 4
    widths = draw(st.lists(st.integers(1, 400), min_size=1, max_size=8))
    edges = (low + np.cumsum([0, *widths]) / 4).tolist()
    return Column.from_dict({"name": "C", "type": "continuous", "min": edges[0], "max": edges[-1],
                             "bins": edges}, "T")


@PROPERTY
@given(data=st.data())
def test_continuous_values_decode_inside_their_bin(data):
    column = data.draw(continuous_columns())
    values = data.draw(st.lists(st.floats(column.minimum, column.maximum), min_size=1, max_size=20))
    draws = np.array(data.draw(st.lists(uniforms, min_size=len(values), max_size=len(values))))
    codes = column.encode(pd.Series(values), "T")
    decoded = column.decode(codes, draws)
    for value, code, out in zip(values, codes, decoded, strict=True):
        low, high = column.states()[code]
        assert low <= value <= high and (value < high or value == column.maximum)
        assert low <= out < high and column.minimum <= out <= column.maximum
    assert column.encode(pd.Series(decoded), "T").tolist() == codes.tolist()


def test_continuous_decode_never_returns_the_upper_bin_edge():
    # lo + u * (hi - lo) alone rounds up to hi here for the largest uniform
    column = Column.from_dict({"name": "C", "type": "continuous", "min": 0, "max": 10, "bins": [0, 1, 3, 10]}, "T")
    out = column.decode(np.array([1], dtype=np.int16), np.array([LAST_UNIFORM]))
    assert out[0] < 3.0
    assert column.encode(pd.Series(out), "T").tolist() == [1]


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.stem)
def test_every_code_of_every_shipped_column_survives_decode_then_encode(path):
    schema = Schema.load(path)
    for table in schema.tables.values():
        for column in table.modelled_columns:
            codes = np.repeat(np.arange(column.n_states, dtype=np.int16), 3)
            draws = np.tile([0.0, 0.5, LAST_UNIFORM], column.n_states)
            # anchor relative dates so that the earliest bin (which may start before the anchor) starts on
            # the earliest allowed day: every bin then has room
            anchors = (np.full(len(codes), float(column.minimum) - min(0.0, float(column.bins[0])))
                       if column.relative_to else None)
            decoded = column.decode(codes, draws, anchors)
            again = column.encode(pd.Series(decoded), table.name, anchor_days=anchors)
            assert again.tolist() == codes.tolist(), (table.name, column.name)
            if column.type in ("integer", "date"):
                numbers = pd.Series(decoded).dropna()
                numbers = numbers.map(day) if column.type == "date" else numbers
                assert numbers.between(column.minimum, column.maximum).all(), (table.name, column.name)


# -- derived columns and whole tables ----------------------------------------------------------------


def test_derived_columns_hold_in_decoded_tables(simulacrum, registry):
    patients, tumours = registry["SIM_AV_PATIENT"], registry["SIM_AV_TUMOUR"]
    site = tumours["SITE_ICD10_O2"].astype(str)
    assert (tumours["SITE_ICD10_O2_3CHAR"].astype(str) == site.str[:3]).all()
    checked = 0
    for table in simulacrum.tables.values():
        frame = registry[table.name]
        for column in table.columns:
            rule = column.derived
            if rule is None:
                continue
            if rule.source_table:
                parents = registry[rule.source_table].set_index(simulacrum.tables[rule.source_table].primary_key)
                source = parents[rule.source_column].reindex(frame[table.parent.key]).astype(object)
            else:
                source = frame[rule.source_column].astype(object)
            expected = source.map(lambda v, r=rule: None if pd.isna(v) else str(v)[: r.length or None])
            actual = frame[column.name].astype(object).map(lambda v: None if pd.isna(v) else str(v))
            assert expected.tolist() == actual.tolist(), (table.name, column.name)
            assert frame[column.name].dtype == column.output_dtype
            checked += 1
    assert checked == 8
    assert len(patients) == 2000


def test_simulated_registry_has_no_violations(simulacrum, registry):
    structure = bg.Structure.load("structures/simulacrum_v2_core.yaml")
    assert check_tables(registry, simulacrum) == []
    assert check_tables(registry, simulacrum, structure) == []


def _copy(tables):
    return {name: frame.copy() for name, frame in tables.items()}


def test_dead_patient_without_a_cause_is_reported_on_the_constraint_column(simulacrum, registry):
    tables = _copy(registry)
    patients = tables["SIM_AV_PATIENT"]
    alive = patients.index[(patients["VITALSTATUS"] == "A") & patients["DEATHCAUSECODE_UNDERLYING"].isna()][:2]
    patients.loc[alive, "VITALSTATUS"] = "D"
    violations = check_tables(tables, simulacrum)
    assert violations == [Violation("SIM_AV_PATIENT", "DEATHCAUSECODE_UNDERLYING",
                                    "constraint 'every patient who died has an underlying cause of death'", 2)]
    assert str(violations[0]).startswith("SIM_AV_PATIENT.DEATHCAUSECODE_UNDERLYING: constraint")


def test_wrong_derived_columns_are_reported_with_their_rule(simulacrum, registry):
    tables = _copy(registry)
    tumours = tables["SIM_AV_TUMOUR"]
    not_breast = tumours.index[tumours["SITE_ICD10_O2_3CHAR"] != "C50"][:3]
    tumours.loc[not_breast, "SITE_ICD10_O2_3CHAR"] = "C50"
    tumours.loc[tumours.index[:1], "GENDER"] = "9" if tumours.loc[0, "GENDER"] != "9" else "1"
    violations = {(v.table, v.column): v for v in check_tables(tables, simulacrum)}
    assert set(violations) == {("SIM_AV_TUMOUR", "SITE_ICD10_O2_3CHAR"), ("SIM_AV_TUMOUR", "GENDER")}
    assert violations["SIM_AV_TUMOUR", "SITE_ICD10_O2_3CHAR"].n_rows == 3
    assert "prefix" in violations["SIM_AV_TUMOUR", "SITE_ICD10_O2_3CHAR"].rule
    assert violations["SIM_AV_TUMOUR", "GENDER"].n_rows == 1
    assert "SIM_AV_PATIENT.GENDER" in violations["SIM_AV_TUMOUR", "GENDER"].rule


def test_reordered_columns_are_reported(simulacrum, registry):
    tables = _copy(registry)
    tables["SIM_AV_PATIENT"] = tables["SIM_AV_PATIENT"].iloc[:, ::-1]
    assert [(v.table, v.column) for v in check_tables(tables, simulacrum)] == [("SIM_AV_PATIENT", "*")]


def test_surgery_before_diagnosis_is_refused_naming_table_and_column(simulacrum, registry):
    tables = _copy(registry)
    tumours = tables["SIM_AV_TUMOUR"]
    first_of_patient = tumours.groupby("PATIENTID").cumcount() == 0  # kept by contribution bounding
    late = tumours["DIAGNOSISDATEBEST"] >= pd.Timestamp("2013-02-01")
    row = tumours.index[tumours["DATE_FIRST_SURGERY"].notna() & first_of_patient & late][0]
    tumours.loc[row, "DATE_FIRST_SURGERY"] = tumours.loc[row, "DIAGNOSISDATEBEST"] - pd.Timedelta(days=3)
    with pytest.raises(DataValidationError, match="before its anchor DIAGNOSISDATEBEST") as err:
        check_tables(tables, simulacrum)
    assert (err.value.table, err.value.column, err.value.n_rows) == ("SIM_AV_TUMOUR", "DATE_FIRST_SURGERY", 1)


def test_rows_beyond_the_contribution_bound_are_reported(toy_schema, toy_tables):
    per_patient = toy_tables["T"].groupby("PID").size()
    beyond = int((per_patient - 2).clip(lower=0).sum())
    assert beyond > 0
    violations = check_tables(toy_tables, toy_schema)
    assert Violation("T", "*", "more rows per person than the declared bound", beyond) in violations


def test_child_row_order_does_not_create_date_violations(simulacrum, registry):
    # encoding sorts each person's child rows; the check must find the index row the same way
    tables = _copy(registry)
    tables["SIM_AV_TUMOUR"] = tables["SIM_AV_TUMOUR"].sample(frac=1, random_state=0).reset_index(drop=True)
    assert check_tables(tables, simulacrum) == []
