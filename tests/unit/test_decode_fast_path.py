"""Column.decode's lookup-table path gives exactly the values of the direct formulas.

``Column.decode`` decodes sampler codes with per-code lookup tables (category codes, bin starts and
widths); ``Column._decode_general`` is the direct formula it replaced. Both must give the same
values, dtypes and missing masks for every column type, with and without a missing code.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayesgen.schema.columns import Column, days_to_dates
from bayesgen.schema.schema import Schema


def _columns():
    schema = Schema.load("schemas/simulacrum_v2_core.yaml")
    columns = [c for t in schema.tables.values() for c in t.modelled_columns]
    columns += [
        Column.from_dict({"name": "c", "type": "categorical", "categories": [str(i) for i in range(300)],
                          "missing": True}, "test"),  # more than 127 categories: int16 codes in pandas
        Column.from_dict({"name": "x", "type": "continuous", "min": 0, "max": 10, "bins": [0, 2.5, 10],
                          "missing": True}, "test"),
        Column.from_dict({"name": "d", "type": "date", "min": "1969-06-01", "max": "1971-01-01",
                          "bins": ["1969-06-01", "1969-12-31", "1970-03-01", "1971-01-02"], "missing": True},
                         "test"),
    ]
    return columns


def _same(a, b):
    if isinstance(a, pd.Categorical):
        assert isinstance(b, pd.Categorical) and a.dtype == b.dtype
        assert a.codes.dtype == b.codes.dtype and np.array_equal(a.codes, b.codes)
    elif isinstance(a, pd.arrays.IntegerArray):
        assert isinstance(b, pd.arrays.IntegerArray)
        assert np.array_equal(a._data, b._data) and np.array_equal(a._mask, b._mask)
    else:
        a, b = np.asarray(a), np.asarray(b)
        assert a.dtype == b.dtype
        if a.dtype.kind == "M":
            assert np.array_equal(a.view("i8"), b.view("i8"))
        else:
            assert np.array_equal(a, b, equal_nan=True)


@pytest.mark.parametrize("column", _columns(), ids=lambda c: c.name)
def test_decode_equals_direct_formulas(column):
    rng = np.random.default_rng(3)
    n = 5_000
    codes = rng.integers(0, column.n_states, n).astype(np.int16)
    codes[:column.n_states] = np.arange(column.n_states)  # every code at least once
    uniforms = rng.random(n)
    uniforms[:3] = [0.0, 0.5, np.nextafter(1.0, 0.0)]
    anchor = None
    if column.relative_to:
        anchor = rng.integers(10_000, 20_000, n).astype(np.float64)
        anchor[::7] = np.nan
    _same(column._decode_general(codes, uniforms, anchor), column.decode(codes, uniforms, anchor))


def test_decode_of_negative_codes_keeps_the_general_path():
    column = Column.from_dict({"name": "g", "type": "categorical", "categories": ["a", "b"]}, "test")
    out = column.decode(np.array([0, -1, 1]))
    assert out.isna().tolist() == [False, True, False] and out[2] == "b"


def test_days_to_dates_values():
    days = np.array([0.0, 1.5, -0.5, -366.0, np.nan, 20_000.0])
    expected = np.array(["1970-01-01", "1970-01-02", "1969-12-31", "1968-12-31", "NaT", "2024-10-04"],
                        dtype="datetime64[D]").astype("datetime64[s]")
    out = days_to_dates(days)
    assert out.dtype == np.dtype("datetime64[s]")
    assert np.array_equal(out.view("i8"), expected.view("i8"))


def _tables():
    for path in ("schemas/simulacrum_v2_core.yaml", "schemas/simulacrum_v2.yaml"):
        schema = Schema.load(path)
        for table in schema.tables.values():
            yield schema, table


@pytest.mark.parametrize("permuted", [False, True])
def test_table_decoder_kernels_equal_column_decode(permuted):
    """TableDecoder.decode_column's numba paths (categories by lookup; integer and date values drawn
    within their bins with the uniforms computed in the kernel, at the given row positions) give
    exactly ``Column.decode`` with ``TableDecoder.uniforms``."""
    from bayesgen.schema.decode import TableDecoder

    rng = np.random.default_rng(5)
    n, offset = 4_000, 12_345
    for schema, table in _tables():
        decoder = TableDecoder(schema, table, np.uint64(987_654_321))
        for column in table.modelled_columns:
            index = table.column_names.index(column.name)
            codes = rng.integers(0, column.n_states, n).astype(np.int16)
            codes[:column.n_states] = np.arange(column.n_states)
            rows = rng.permutation(n) if permuted else None
            anchor = None
            if column.relative_to:
                anchor = rng.integers(10_000, 20_000, n).astype(np.float64)
                anchor[::7] = np.nan
            uniforms = decoder.uniforms(index, offset, n, rows)
            _same(column.decode(codes, uniforms, anchor), decoder.decode_column(column.name, codes, offset, anchor, rows))


def test_table_decoder_takes_the_general_path_for_codes_out_of_range():
    from bayesgen.schema.decode import TableDecoder

    schema = Schema.load("schemas/simulacrum_v2_core.yaml")
    table = schema.tables["SIM_AV_TUMOUR"]
    decoder = TableDecoder(schema, table, np.uint64(3))
    site = decoder.decode_column("SITE_ICD10_O2", np.array([0, -1, 1], dtype=np.int16), 0)
    assert site.isna().tolist() == [False, True, False]
    age = table.column("AGE")
    codes = np.array([0, age.n_states, 1], dtype=np.int16)  # one past the last code: the general path's error
    with pytest.raises(IndexError):
        decoder.decode_column("AGE", codes, 0)


def test_day_numbers_and_dates_kernels_equal_numpy():
    from bayesgen.schema.decode import day_numbers

    rng = np.random.default_rng(8)
    days = np.r_[rng.normal(0, 30_000, 20_000), [np.nan, -0.5, 0.5, -1e-300, 1e-300, -0.0, -366.0]]
    days[::11] = np.nan
    missing = np.isnan(days)
    whole = np.floor(np.where(missing, 0.0, days)).astype(np.int64)
    expected = (whole * 86_400).view("datetime64[s]").copy()
    expected[missing] = np.datetime64("NaT")
    dates = days_to_dates(days)
    assert np.array_equal(dates.view("i8"), expected.view("i8"))
    seconds = rng.integers(-10**10, 10**10, 20_000).view("datetime64[s]")
    seconds[::9] = np.datetime64("NaT")
    as_days = seconds.astype("datetime64[D]")
    reference = as_days.astype(np.int64).astype(np.float64)
    reference[np.isnat(as_days)] = np.nan
    assert np.array_equal(day_numbers(seconds), reference, equal_nan=True)
