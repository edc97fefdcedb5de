"""Gaussian copula: ``copulas.multivariate.GaussianMultivariate`` with SDV-style preprocessing.

The marginals are Beta distributions, SDV's default (``default_distribution="beta"``); copulas'
own default tries a set of candidates per column, including a kernel density estimate, and took
over 5 minutes to fit 10,000 rows here. SDV's ``GaussianCopulaSynthesizer`` cannot be installed here without PyTorch (its ``sdv`` package
depends on ``ctgan`` and ``deepecho``, which pull a multi-GB CUDA build of torch), so its
preprocessing is restated on the same ``copulas`` engine it uses: a categorical column becomes a
number by the uniform encoding of RDT's ``UniformEncoder`` (each category an interval of [0, 1]
as wide as its share; a value drawn uniformly inside), a number stays a number (a missing number
becomes the column mean plus a 0/1 "missing" column), a date becomes its day number (a relative
date: days after its anchor). Not private: category shares and the copula come from the exact data.

After sampling, each value is mapped back (the interval it falls in; rounding and clipping to the
declared bounds) and to its schema code; the benchmark decodes codes the same way for every method.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd

from .common import day_numbers


def _numbers(frame: pd.DataFrame, column) -> np.ndarray:
    if column.type == "date":
        days = day_numbers(frame[column.name])
        if column.relative_to:
            days = days - day_numbers(frame[column.relative_to])
        return days
    return pd.to_numeric(frame[column.name], errors="coerce").to_numpy(dtype=float)


class GaussianCopula:
    """Fit on the person-level table (typed values) and sample schema codes."""

    def __init__(self, schema, seed: int = 0):
        self.schema = schema
        self.seed = seed

    def fit(self, frame: pd.DataFrame) -> GaussianCopula:
        from copulas.multivariate import GaussianMultivariate
        from copulas.univariate import BetaUnivariate

        rng = np.random.default_rng(self.seed)
        self.columns_ = self.schema.root.modelled_columns
        self.plans_ = {}
        data = {}
        for column in self.columns_:
            if column.type in ("categorical", "ordinal"):
                codes = column.encode(frame[column.name].reset_index(drop=True), "copula").astype(np.int64)
                shares = np.bincount(codes, minlength=column.n_states) / len(codes)
                edges = np.r_[0.0, np.cumsum(shares)]
                self.plans_[column.name] = ("uniform", edges)
                data[column.name] = edges[codes] + rng.random(len(codes)) * shares[codes]
            else:
                values = _numbers(frame, column)
                missing = np.isnan(values)
                fill = float(np.nanmean(values)) if (~missing).any() else 0.0
                self.plans_[column.name] = ("number", missing.any())
                data[column.name] = np.where(missing, fill, values)
                if missing.any():
                    data[f"{column.name}#missing"] = missing.astype(float)
        self.model_ = GaussianMultivariate(distribution=BetaUnivariate)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.model_.fit(pd.DataFrame(data))
        return self

    def sample_codes(self, n: int) -> dict:
        np.random.seed(self.seed % 2**32)  # noqa: NPY002 - copulas draws from numpy's global state
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw = self.model_.sample(n)
        return self.to_codes(raw)

    def to_codes(self, raw: pd.DataFrame) -> dict:
        codes = {}
        for column in self.columns_:
            kind, detail = self.plans_[column.name]
            values = raw[column.name].to_numpy(dtype=float)
            if kind == "uniform":
                code = np.searchsorted(detail, np.clip(values, 0.0, 1.0 - 1e-12), side="right") - 1
                codes[column.name] = np.clip(code, 0, column.n_states - 1)
                continue
            if column.type in ("integer", "date"):
                values = np.round(values)
            edges = np.asarray(column.bins, dtype=float)
            low, high = (edges[0], edges[-1] - 1) if column.relative_to else (column.minimum, column.maximum)
            if column.type == "date" and not column.relative_to:
                low, high = max(low, edges[0]), min(high, edges[-1] - 1)
            values = np.clip(values, low, high)
            code = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, column.n_values - 1)
            if detail:  # the column had missing values
                code = np.where(raw[f"{column.name}#missing"].to_numpy() > 0.5, column.missing_code, code)
            codes[column.name] = code
        return codes


def run(frame: pd.DataFrame, schema, n_rows: int, seed: int) -> tuple[dict, float, float]:
    """Fit, then sample ``n_rows`` codes; returns (codes, fit seconds, sample seconds)."""
    started = time.perf_counter()
    model = GaussianCopula(schema, seed).fit(frame)
    fitted = time.perf_counter()
    codes = model.sample_codes(n_rows)
    return codes, fitted - started, time.perf_counter() - fitted
