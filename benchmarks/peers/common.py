"""What every peer adapter shares: the benchmark data, the result, and codes to typed values.

Discrete synthesizers (DataSynthesizer, MST, AIM, independent marginals) work on the schema's codes
of the person-level table (declared code sets and bins, the same discretisation bayesgen uses);
their output codes are decoded to typed values exactly as bayesgen decodes its own (numbers and
dates drawn uniformly within their bin), so that every method is evaluated by the same code path.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bayesgen.schema.columns import EPOCH
from bayesgen.schema.schema import Schema


@dataclass
class BenchData:
    """One data set, as every method sees it.

    Attributes
    ----------
    name : str
    schema : Schema
        The data set's own (possibly multi-table) schema; bayesgen fits this.
    flat_schema : Schema
        The one-table person-level schema (:func:`bayesgen.evaluate.person_schema`); peers fit this.
    train, holdout : dict of str to DataFrame
        The training persons (what every method is fitted on) and the held-out persons (never
        shown to any method; used for TSTR and the privacy baselines), in ``schema``'s tables.
    train_flat : DataFrame
        ``train`` as the person-level table.
    codes : dict of str to ndarray
        Schema codes of ``train_flat`` per column (int64).
    cards : dict of str to int
        Number of codes per column (declared, never from the data).
    structure
        What bayesgen is fitted with: a Structure, or "learn".
    """

    name: str
    schema: Schema
    flat_schema: Schema
    train: dict
    holdout: dict
    train_flat: pd.DataFrame
    codes: dict
    cards: dict
    structure: object


@dataclass
class PeerResult:
    """One fitted method: its synthetic person-level table (or why there is none) and its timings."""

    method: str
    epsilon: float
    flat: pd.DataFrame | None = None
    tables: dict | None = None          # bayesgen only: its multi-table output
    fit_seconds: float = float("nan")
    sample_seconds: float = float("nan")
    n_sampled: int = 0
    note: str = ""
    privacy: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.flat is not None


def guarded(method: str, epsilon: float, privacy: str, run) -> PeerResult:
    """Call ``run()`` (returning a PeerResult); any exception becomes a result with the reason."""
    started = time.perf_counter()
    try:
        result = run()
    except TimeoutError as exc:
        return PeerResult(method, epsilon, note=f"stopped: {exc}", privacy=privacy,
                          fit_seconds=time.perf_counter() - started)
    except ImportError as exc:
        return PeerResult(method, epsilon, note=f"not installed: {exc}", privacy=privacy)
    except Exception as exc:  # noqa: BLE001 - a failing peer must never stop the suite
        tail = traceback.format_exc().strip().splitlines()[-1]
        return PeerResult(method, epsilon, note=f"failed: {type(exc).__name__}: {tail[:200]}", privacy=privacy,
                          fit_seconds=time.perf_counter() - started)
    result.privacy = result.privacy or privacy
    return result


def codes_to_frame(codes: dict, schema: Schema, rng: np.random.Generator) -> pd.DataFrame:
    """Typed person-level rows from schema codes (one-table ``schema``), like bayesgen's decoder.

    Categories map back to their labels, numbers and dates are drawn uniformly within their bin,
    relative dates are placed after their (already decoded) anchor, ids are 1..n.
    """
    table = schema.root
    n = len(next(iter(codes.values())))
    values: dict = {}
    ordered = sorted(table.modelled_columns, key=lambda c: bool(c.relative_to))
    for column in ordered:
        code = np.asarray(codes[column.name]).astype(np.int64)
        anchor = None
        if column.relative_to:
            days = values[column.relative_to].astype("datetime64[D]")
            anchor = days.astype(np.int64).astype(np.float64)
            anchor[np.isnat(days)] = np.nan
        uniforms = rng.random(n) if column.type in ("integer", "continuous", "date") else None
        values[column.name] = column.decode(code, uniforms, anchor)
    out = {}
    for column in table.columns:
        if column.type == "id":
            out[column.name] = np.arange(1, n + 1, dtype=np.int64)
        else:
            out[column.name] = values[column.name]
    return pd.DataFrame(out)


def day_numbers(values) -> np.ndarray:
    """Day numbers (float, NaN where missing) of a date-like column."""
    days = pd.to_datetime(pd.Series(values), errors="coerce").to_numpy().astype("datetime64[D]")
    out = (days - EPOCH).astype(np.int64).astype(np.float64)
    out[np.isnat(days)] = np.nan
    return out
