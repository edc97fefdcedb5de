"""Survival fidelity: Kaplan–Meier curves of a declared outcome, real against synthetic.

The curves come from lifelines' :class:`~lifelines.KaplanMeierFitter`. Two distances summarise
them over the follow-up both datasets cover well (0 to the smaller of their 95th percentiles of
follow-up time, which leaves out the unstable tail where few units remain at risk): the largest
vertical gap (``km_sup``, a Kolmogorov-type distance) and the mean absolute gap (``km_mean_abs``,
the area between the curves divided by that horizon). Survival at one, two and five years and the
median survival time are reported for both.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bayesgen.evaluate.rows import day_numbers, index_rows
from bayesgen.evaluate.specs import SurvivalSpec

HORIZON_PERCENTILE = 95


def _as_text(values: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        numbers = pd.to_numeric(values, errors="coerce")
        whole = numbers.dropna()
        if len(whole) and (whole == np.floor(whole)).all():
            return numbers.astype("Int64").astype("string")
    return values.astype("string")


def survival_arrays(tables, schema, spec: SurvivalSpec) -> tuple[np.ndarray, np.ndarray]:
    """Follow-up times (days; NaN where unknown) and event flags, one per row of ``spec.table``."""
    frame = tables[spec.table].reset_index(drop=True)
    if spec.duration:
        durations = pd.to_numeric(frame[spec.duration], errors="coerce").to_numpy(dtype=float)
    else:
        end = day_numbers(frame[spec.end])
        if spec.start in frame.columns:
            start = day_numbers(frame[spec.start])
        else:
            child = next((t for t in schema.child_tables if spec.start in t.column_names), None)
            if child is None:
                raise KeyError(f"{spec.start} is not a column of {spec.table} or of a child table")
            start = day_numbers(index_rows(tables, schema, child.name)[spec.start])
        durations = end - start
    durations = np.where(durations >= 0, durations, np.nan)
    events = _as_text(frame[spec.event]).isin(list(spec.event_values)).to_numpy(dtype=bool)
    return durations, events


def survival_times(tables, schema, spec: SurvivalSpec) -> tuple[np.ndarray, np.ndarray]:
    """Follow-up times (days) and event indicators of the units of ``spec.table``.

    Units with a missing or negative time are left out.

    Examples
    --------
    >>> from bayesgen.datasets import load_gbsg2
    >>> from bayesgen import Schema
    >>> spec = SurvivalSpec("GBSG2", event="cens", event_values=("1",), duration="time")
    >>> times, events = survival_times(load_gbsg2(), Schema.load("schemas/gbsg2.yaml"), spec)
    >>> len(times), int(events.sum())
    (686, 299)
    """
    durations, events = survival_arrays(tables, schema, spec)
    keep = np.isfinite(durations)
    return durations[keep], events[keep]


def _curve(durations, events):
    from lifelines import KaplanMeierFitter

    return KaplanMeierFitter().fit(durations, events)


def _at(fitter, times) -> np.ndarray:
    return np.asarray(fitter.survival_function_at_times(np.asarray(times, dtype=float)), dtype=float)


def km_distance(real: tuple[np.ndarray, np.ndarray], synthetic: tuple[np.ndarray, np.ndarray]) -> dict:
    """Distances between the Kaplan–Meier curves of two (times, events) samples.

    Examples
    --------
    >>> times, events = np.array([1.0, 2.0, 3.0, 4.0]), np.array([True, True, True, True])
    >>> km_distance((times, events), (times, events))["km_sup"]
    0.0
    >>> times = np.arange(1.0, 101.0)
    >>> round(km_distance((times, times > 0), (times + 10, times > 0))["km_sup"], 2)
    0.1
    """
    real_fit, synth_fit = _curve(*real), _curve(*synthetic)
    horizon = float(min(np.percentile(real[0], HORIZON_PERCENTILE), np.percentile(synthetic[0], HORIZON_PERCENTILE)))
    grid = np.union1d(np.linspace(0.0, horizon, 512), np.concatenate([real[0], synthetic[0]]))
    grid = grid[grid <= horizon]
    gap = np.abs(_at(real_fit, grid) - _at(synth_fit, grid))
    # mean absolute gap of two step functions: integrate exactly between consecutive grid points
    widths = np.diff(grid)
    mean_abs = float((gap[:-1] * widths).sum() / horizon) if horizon > 0 else 0.0
    return {"km_sup": float(gap.max()), "km_mean_abs": mean_abs, "horizon_days": horizon,
            "real_fit": real_fit, "synthetic_fit": synth_fit}


def survival_summary(real_tables, synthetic_tables, schema, spec: SurvivalSpec) -> dict:
    """Kaplan–Meier comparison of a declared outcome (see the module docstring).

    Returns
    -------
    dict
        ``km_sup``, ``km_mean_abs``, ``horizon_days``; ``n`` and ``events`` per side;
        ``survival_1y``/``_2y``/``_5y`` and ``median_days`` per side; ``curves`` (timeline and
        survival per side, for plots).
    """
    real = survival_times(real_tables, schema, spec)
    synthetic = survival_times(synthetic_tables, schema, spec)
    if len(real[0]) == 0 or len(synthetic[0]) == 0:
        raise ValueError("no unit with a usable follow-up time")
    distance = km_distance(real, synthetic)
    out = {key: distance[key] for key in ("km_sup", "km_mean_abs", "horizon_days")}
    curves = {}
    for side, data, fit in (("real", real, distance["real_fit"]), ("synthetic", synthetic, distance["synthetic_fit"])):
        out[f"n_{side}"] = int(len(data[0]))
        out[f"events_{side}"] = int(data[1].sum())
        for label, days in (("1y", 365.25), ("2y", 730.5), ("5y", 1826.25)):
            out[f"survival_{label}_{side}"] = float(_at(fit, [days])[0]) if days <= data[0].max() else float("nan")
        median = float(fit.median_survival_time_)
        out[f"median_days_{side}"] = median if np.isfinite(median) else float("nan")
        timeline = fit.survival_function_.index.to_numpy(dtype=float)
        curves[side] = {"days": timeline, "survival": fit.survival_function_.iloc[:, 0].to_numpy(dtype=float)}
    out["curves"] = curves
    return out
